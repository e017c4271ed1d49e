#!/usr/bin/env python3
"""Fault-injecting HTTP proxy in front of an HTTP provider's API (python3 stdlib only).

    faultproxy.py [--style STYLE] UPSTREAM SCRIPT LOG PORTFILE

Used by tests/integration/dns-faults and the conformance suites
(tests/conformance/). STYLE picks the body of an injected error status, in
the shape the provider's own API uses, so a plugin's error parsing sees
what it would see from the real service (STYLES below; default powerdns).

Listens on 127.0.0.1 (an ephemeral port, written to PORTFILE once it
listens) and forwards every request to UPSTREAM (http://127.0.0.1:PORT),
except where the fault script says otherwise. SCRIPT is re-read before
each request, so a test can change it between runs. One rule per line:

    METHOD ACTION [ARG] [forever]

METHOD is GET, PATCH, ..., * (any), READ (GET, HEAD) or WRITE (POST, PUT,
PATCH, DELETE): a case shared by providers whose APIs write with different
methods says READ or WRITE. Each request takes the first rule
not used yet whose METHOD matches and uses it up (a rule marked `forever`
is never used up); with no such rule the request is forwarded. ACTION:

    pass            forward the request
    status CODE [retry-after=N]
                    answer CODE with an error body of STYLE, without
                    forwarding (a Retry-After header when given)
    reset           read the request, then reset the connection (RST)
    slow SECONDS    forward the request, then hold the reply SECONDS
                    (the upstream has applied it: the outcome is unknown
                    to a client that times out first)
    stall SECONDS   hold the request SECONDS without forwarding, then reset

Every request is logged to LOG as one line: "METHOD PATH ACTION".
Binds only 127.0.0.1.
"""
import http.client
import http.server
import socket
import struct
import sys
import threading
import time
import urllib.parse

# STYLE -> (content type, body of an injected CODE): the provider's error shape
STYLES = {
    "powerdns": ("application/json", lambda code: '{"error": "injected fault %d"}' % code),
    # {"success": false, "errors": [...]}: Cloudflare-like REST APIs
    "envelope": ("application/json", lambda code: (
        '{"success": false, "errors": [{"code": %d, "message": "injected fault %d"}], '
        '"messages": [], "result": null}' % (code, code))),
    # {"error": {"code": ..., "message": ...}}: tests/fakes/skeleton-dns and APIs like it
    "nested": ("application/json", lambda code: (
        '{"error": {"code": "fault_%d", "message": "injected fault %d"}}' % (code, code))),
    # {"message": ...}: many REST APIs (DigitalOcean, Hetzner-like)
    "message": ("application/json", lambda code: '{"id": "fault", "message": "injected fault %d"}' % code),
    # {"error": "...", "status": N}: Vultr API v2
    "vultr": ("application/json", lambda code: '{"error": "injected fault %d", "status": %d}' % (code, code)),
    # {"errors": [{"reason", "field"}]}: Linode's API v4
    "linode": ("application/json", lambda code: '{"errors": [{"reason": "injected fault %d"}]}' % code),
    "text": ("text/plain", lambda code: "injected fault %d\n" % code),
    # <ErrorResponse><Error><Type><Code><Message>: AWS REST/XML APIs (Route 53)
    "aws": ("text/xml", lambda code: (
        '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
        '<Error><Type>%s</Type><Code>InjectedFault%d</Code><Message>injected fault %d</Message></Error>'
        '<RequestId>fault</RequestId></ErrorResponse>' % ("Receiver" if code >= 500 else "Sender", code, code))),
    # {"error": {"code": N, "message", "errors": [{"reason"}], "status"}}: Google APIs
    "google": ("application/json", lambda code: (
        '{"error": {"code": %d, "message": "injected fault %d", "errors": [{"message": '
        '"injected fault %d", "domain": "global", "reason": "backendError"}], "status": "UNAVAILABLE"}}'
        % (code, code, code))),
    # {"class": "Client::...", "message"}: the OVHcloud API
    "ovh": ("application/json", lambda code: '{"class": "%s", "message": "injected fault %d"}' % (
        "Server::InternalServerError" if code >= 500 else
        "Client::TooManyRequests" if code == 429 else "Client::BadRequest", code)),
}

# styles whose requests are signed over the Host header (AWS Signature V4)
# or the full URL (OVH): forwarded with the Host the client sent, so that
# the signature holds
KEEP_HOST = {"aws", "ovh"}

args = sys.argv[1:]
STYLE = "powerdns"
if len(args) >= 2 and args[0] == "--style":
    STYLE = args[1]
    args = args[2:]
if STYLE not in STYLES or len(args) != 4:
    sys.exit("usage: faultproxy.py [--style %s] UPSTREAM SCRIPT LOG PORTFILE" % "|".join(STYLES))
UPSTREAM, SCRIPT, LOG, PORTFILE = args
up = urllib.parse.urlsplit(UPSTREAM)
lock = threading.Lock()
used = set()  # (line number, text) of the rules used up


CLASSES = {"READ": ("GET", "HEAD"), "WRITE": ("POST", "PUT", "PATCH", "DELETE")}


def method_matches(want, method):
    return want in ("*", method) or method in CLASSES.get(want, ())


def next_rule(method):
    with lock:
        try:
            lines = open(SCRIPT).read().splitlines()
        except FileNotFoundError:
            lines = []
        for i, line in enumerate(lines):
            f = line.split("#")[0].split()
            if not f or not method_matches(f[0], method):
                continue
            forever = f[-1] == "forever"
            if not forever and (i, line) in used:
                continue
            if not forever:
                used.add((i, line))
            return [x for x in f[1:] if x != "forever"]
        return ["pass"]


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # two writes per answer: no 40 ms delayed-ACK stall

    def log_message(self, *args):
        pass

    def reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def reply(self, code, headers, body):
        self.send_response_only(code)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, body):
        c = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
        drop = ("connection",) if STYLE in KEEP_HOST else ("host", "connection")
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in drop}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheaders(), data

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        rule = next_rule(self.command)
        action = rule[0]
        log(f"{self.command} {self.path} {' '.join(rule)}")
        if action == "status":
            code = int(rule[1])
            ctype, body_of = STYLES[STYLE]
            hdrs = [("Content-Type", ctype)]
            for a in rule[2:]:
                if a.startswith("retry-after="):
                    hdrs.append(("Retry-After", a.split("=", 1)[1]))
            self.reply(code, hdrs, body_of(code).encode())
        elif action == "reset":
            self.reset()
        elif action == "stall":
            time.sleep(float(rule[1]))
            self.reset()
        elif action == "slow":
            res = self.forward(body)
            time.sleep(float(rule[1]))
            try:
                self.reply(*res)
            except OSError:
                self.close_connection = True
        else:
            self.reply(*self.forward(body))

    do_GET = do_HEAD = do_PATCH = do_POST = do_PUT = do_DELETE = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os  # noqa: E402

os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
