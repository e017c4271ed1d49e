#!/usr/bin/env python3
"""stsctl receive under abuse, on 127.0.0.1 with a throwaway certificate.

A request path that would forge a log line ("/x%0a%3c3%3estsctl: error:
FORGED") is logged escaped on one line; a client that sends one byte every
2 s is cut off at the request deadline (4 s here), not kept alive by the 30 s
idle timeout; the per-client request limit answers 429 and the storage quota
for unauthenticated input answers 503, both with Retry-After, and nothing is
stored past the quota. Every loop is bounded in count and time.

usage: test_receive_cli.py STSCTL SOURCE_ROOT
"""
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import done, report  # noqa: E402

STSCTL, ROOT = sys.argv[1], sys.argv[2]
SAMPLE = os.path.join(ROOT, "tests", "data", "tlsrpt", "samples", "01-rfc8460-appendix-b.json")
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def post(port, path, body, ctype="application/tlsrpt+json"):
    """(status, Retry-After or None, body text)"""
    c = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=10)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": ctype})
        r = c.getresponse()
        return r.status, r.getheader("Retry-After"), r.read().decode("utf-8", "replace")
    finally:
        c.close()


def slow_client(port, every, limit):
    """Send a request head, then one body byte every `every` s until the
    receiver closes the connection or `limit` s pass: the seconds it took."""
    t0 = time.monotonic()  # the deadline counts from the connection's start
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = CTX.wrap_socket(raw)
    s.sendall(b"POST /tlsrpt HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/tlsrpt+json\r\nContent-Length: 100\r\n\r\n")
    try:
        while time.monotonic() - t0 < limit:
            r, _, _ = select.select([s], [], [], every)
            if r and not s.recv(4096):
                break
            s.sendall(b"{")
    except (OSError, ssl.SSLError):
        pass
    took = time.monotonic() - t0
    s.close()
    return took


def main():
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                        "-days", "1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True, timeout=30)
        inv = os.path.join(d, "inv.json")
        with open(inv, "w") as f:
            json.dump({"version": 1, "reports": {"https": {
                "listen": "127.0.0.1:1", "path": "/tlsrpt", "cert": cert, "key": key,
                "timeout": 30, "request_timeout": 4, "per_ip_requests": 40,
                "quota_reports": 2}}}, f)
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            json.dump({"version": 1, "reports": {"https": {
                "listen": "127.0.0.1:1", "cert": cert, "key": key, "request_timeout": 0,
                "quota_bytes": 5, "x\n<3>FORGED": 1}}}, f)
        v = subprocess.run([STSCTL, "validate", bad], capture_output=True, text=True, timeout=30)
        report(v.returncode == 1 and "request_timeout: 0 is out of range 1..3600" in v.stderr
               and "quota_bytes: 5 is out of range" in v.stderr,
               "validate: limits out of range", v.stderr)
        report("x\\x0a<3>FORGED" in v.stderr
               and not any(ln.startswith("<") for ln in v.stderr.splitlines()),
               "validate: a diagnostic quoting a newline stays one line", v.stderr)
        db = os.path.join(d, "s.db")
        errf = open(os.path.join(d, "err"), "w+")
        p = subprocess.Popen([STSCTL, "receive", "--inventory", inv, "--state", db,
                              "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=errf, text=True)
        try:
            line = ""
            r, _, _ = select.select([p.stdout], [], [], 10)
            if r:
                line = p.stdout.readline()
            if not report(line.startswith("listening on https://127.0.0.1:"), "receiver starts",
                          line):
                return
            port = int(line.rsplit(":", 1)[1].split("/")[0])

            # a path that would forge a journal entry
            st, _, _ = post(port, "/x%0a%3c3%3estsctl:%20error:%20FORGED", b"{}")
            report(st == 404, "forged path: 404", str(st))

            # one byte every 2 s: cut at the 4 s deadline, not the 30 s idle timeout
            took = slow_client(port, 2.0, 15)
            report(3.0 <= took <= 8.0, "one byte every 2 s is cut off at the deadline",
                   f"took {took:.1f} s, want about 4")

            # the storage quota for unauthenticated input: 2 quarantined, then 503
            s1 = post(port, "/tlsrpt", b"{\"x\":")[0]
            s2 = post(port, "/tlsrpt", b"[1]")[0]
            with open(SAMPLE, "rb") as f:
                st, ra, body = post(port, "/tlsrpt", f.read())
            report((s1, s2, st, ra) == (400, 400, 503, "3600"),
                   "quota full: 503 with Retry-After, before storing",
                   f"{s1} {s2} {st} {ra} {body}")

            # per client: at most 40 requests a minute, then 429 with Retry-After
            got = None
            for _ in range(45):
                st, ra, _ = post(port, "/nowhere", b"{}")
                if st == 429:
                    got = ra
                    break
            report(got is not None and 1 <= int(got) <= 60,
                   "per-client limit: 429 with Retry-After", f"Retry-After {got}")
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
        report(rc == 0, "SIGTERM stops it, exit 0", str(rc))
        errf.seek(0)
        err = errf.read()
        errf.close()
        lines = err.splitlines()
        forged = [ln for ln in lines if ln.startswith("<") or ln.startswith("stsctl: error:")]
        report(not forged, "no log line forged by a request path", "\n".join(forged) or err)
        report("POST /x\\x0a<3>stsctl: error: FORGED from 127.0.0.1: 404" in err,
               "the path is logged escaped on one line", err)
        report(any(" 408 request deadline of 4 s exceeded" in ln for ln in lines),
               "the cut-off is logged (408)", err)
        rep = subprocess.run([STSCTL, "report", "--state", db, "--format", "json"],
                             capture_output=True, text=True, timeout=30)
        doms = json.loads(rep.stdout)["domains"] if rep.returncode == 0 else None
        report(doms == [], "nothing stored past the quota", rep.stdout + rep.stderr)
    done()


main()
