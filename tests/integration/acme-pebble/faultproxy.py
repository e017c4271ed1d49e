#!/usr/bin/env python3
"""HTTPS fault proxy in front of Pebble (Pebble enforces no rate limits).

Terminates TLS with the test's API certificate, forwards every request to
the upstream ACME server (verified with the test CA) with the client's Host
header, from which Pebble builds its URLs: the client stays behind the
proxy (any upstream URL left in a body or header is rewritten too). Faults are given as
    METHOD:PATH_PART:N:ACTION[:RETRY_AFTER]
the Nth request (1-based) whose method is METHOD and whose path contains
PATH_PART gets ACTION instead of the upstream's answer: a status (429,
503, 500; with Retry-After when given), or `drop` (the request IS
forwarded, then the connection is closed without an answer, as a
connection lost during finalisation). Every request is logged to --log as
"METHOD PATH ACTION".
Usage: faultproxy.py --listen PORT --upstream https://127.0.0.1:PORT
       --cert C --key K --ca CA --log FILE [--fault SPEC]...
"""
import argparse
import http.client
import http.server
import ssl
import sys
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--listen", type=int, required=True)
ap.add_argument("--upstream", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--ca", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--fault", action="append", default=[])
args = ap.parse_args()

UP_HOST, UP_PORT = args.upstream.split("//", 1)[1].split(":")
ME = "https://127.0.0.1:%d" % args.listen
faults = []
for f in args.fault:
    p = f.split(":")
    faults.append({"method": p[0], "path": p[1], "n": int(p[2]), "action": p[3],
                   "retry": p[4] if len(p) > 4 else None, "seen": 0})
lock = threading.Lock()
upctx = ssl.create_default_context(cafile=args.ca)


def log(line):
    with lock, open(args.log, "a") as f:
        f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def fault(self):
        with lock:
            for f in faults:
                if f["method"] == self.command and f["path"] in self.path:
                    f["seen"] += 1
                    if f["seen"] == f["n"]:
                        return f
        return None

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        f = self.fault()
        if f and f["action"] != "drop":
            st = int(f["action"])
            doc = b'{"type":"urn:ietf:params:acme:error:rateLimited","detail":"fault proxy"}' \
                if st == 429 else b'{"type":"urn:ietf:params:acme:error:serverInternal",' \
                b'"detail":"fault proxy"}'
            self.send_response(st)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Content-Length", str(len(doc)))
            if f["retry"]:
                self.send_header("Retry-After", f["retry"])
            self.end_headers()
            self.wfile.write(doc)
            log("%s %s %s" % (self.command, self.path, st))
            return
        c = http.client.HTTPSConnection(UP_HOST, int(UP_PORT), context=upctx, timeout=20)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("connection", "content-length")}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read().replace(args.upstream.encode(), ME.encode())
        c.close()
        if f:  # drop: forwarded, then no answer
            log("%s %s drop" % (self.command, self.path))
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-length", "connection", "transfer-encoding", "date",
                             "server"):
                continue
            self.send_header(k, v.replace(args.upstream, ME))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        log("%s %s %d" % (self.command, self.path, r.status))

    do_GET = do_POST = do_HEAD = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.listen), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", file=sys.stderr, flush=True)
srv.serve_forever()
