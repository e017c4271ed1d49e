#!/usr/bin/env python3
"""stsctl serve on 127.0.0.1 with a throwaway CA and per-host certificates.

Two hosted names with their own certificates get 200 with the exact bytes
(verified against the CA), HEAD too; another path 404, POST 405, a Host
header naming the other customer 421; an unknown name, no name, and a name
with a policy but no certificate are refused with the unrecognized_name
alert and no certificate; TLS 1.1 is refused; acme-tls/1 gets the challenge
certificate only for the name it is set for (test hook) and the connection
is closed after the handshake; HTTP-01 on the plain listener; a policy and
a certificate written while serve runs are served within 1.5 s (the policy
also on a connection handshaken before the change); the
per-client connection limit, the handshake deadline and the header cap;
the heartbeat row with its counters; server names with control bytes
(a raw ClientHello) refused and never logged raw; an inventory's
hosted.listen as the address of `serve INVENTORY`, and --listen winning
over it; hosted.acme.ca_file as ${env:NAME}; `watch --once` posting a
failing or expiring certificate once per condition to a webhook on
127.0.0.1 (python http.server). Rows are written with Python's sqlite3
into the schema serve creates. Every loop is bounded in count and time.

usage: test_serve_cli.py STSCTL HOOKS(true|false)
"""
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import done, report  # noqa: E402

STSCTL, HOOKS = sys.argv[1], sys.argv[2] == "true"
A, B, C = "mta-sts.a.example", "mta-sts.b.example", "mta-sts.c.example"
POLICY = {
    A: b"version: STSv1\r\nmode: enforce\r\nmx: mx.a.example\r\nmax_age: 604800\r\n",
    B: b"version: STSv1\r\nmode: testing\r\nmx: *.b.example\r\nmax_age: 86400\r\n",
    C: b"version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n",
}


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """A CA, a certificate for A (twice), B, and the challenge name."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
       "-subj", "/CN=serve test CA", "-days", "2")
    for name, host in (("a", A), ("a2", A), ("b", B), ("chal", "mta-sts.x.example")):
        sh("openssl", "req", *ec, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
           "-subj", f"/CN={name}")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(f"subjectAltName=DNS:{host}\n")
        sh("openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem",
           "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/{name}.pem",
           "-days", "2", "-extfile", f"{d}/{name}.ext")


def read(path):
    with open(path) as f:
        return f.read()


def put_policy(db, host, body):
    with sqlite3.connect(db, timeout=10) as c:
        c.execute("INSERT OR REPLACE INTO hosted_policies VALUES (?,?,?,?,?,?,?,?)",
                  (host, host[len("mta-sts."):], body, "id%d" % len(body),
                   hashlib.sha256(body).hexdigest(), 86400, 604800, int(time.time())))


def put_cert(db, d, host, name):
    with sqlite3.connect(db, timeout=10) as c:
        c.execute("INSERT OR REPLACE INTO hosted_certs (host, chain_pem, key_pem, updated)"
                  " VALUES (?,?,?,?)", (host, read(f"{d}/{name}.pem") + read(f"{d}/ca.pem"),
                                        read(f"{d}/{name}.key"), int(time.time())))


def client_ctx(d, alpn=None, verify=True):
    ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls(port, ctx, sni):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni)
    except Exception:
        raw.close()
        raise


def request(s, method="GET", path="/.well-known/mta-sts.txt", host=None, extra=""):
    """(status, headers dict, body) of one request on s, which is closed after."""
    hdr = f"Host: {host}\r\n" if host else ""
    s.sendall(f"{method} {path} HTTP/1.1\r\n{hdr}{extra}Connection: close\r\n\r\n".encode())
    data, t0 = b"", time.monotonic()
    try:
        while time.monotonic() - t0 < 5:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, ssl.SSLError):
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return 0, {}, b""
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def fetch(port, d, sni, **kw):
    return request(tls(port, client_ctx(d), sni), host=kw.pop("host", sni), **kw)


def refused(port, d, sni):
    """The handshake's error text, or None when it succeeded."""
    try:
        s = tls(port, client_ctx(d, verify=False), sni)
        s.close()
        return None
    except (ssl.SSLError, OSError) as e:
        return str(e)


def main():
    with tempfile.TemporaryDirectory(prefix="sv-serve-") as d:
        make_pki(d)
        db = f"{d}/state.db"
        env = dict(os.environ)
        if HOOKS:
            env["STSCTL_TEST_SERVE_ALPN"] = f"mta-sts.x.example {d}/chal.pem {d}/chal.key"
            env["STSCTL_TEST_SERVE_HTTP01"] = "tok-1_A keyauth.value"
        p = subprocess.Popen([STSCTL, "-v", "serve", "--listen", "127.0.0.1:0", "--http",
                              "127.0.0.1:0", "--state", db, "--per-ip-connections", "4",
                              "--handshake-timeout", "2", "--max-header", "1024"],
                             stdout=subprocess.PIPE, stderr=open(f"{d}/log", "w"), env=env,
                             text=True)
        try:
            line = p.stdout.readline()
            ok = report(line.startswith("listening on https port "), "serve starts", line)
            if not ok:
                return
            words = line.replace(",", "").split()
            port, hport = int(words[4]), int(words[-1])
            with sqlite3.connect(db, timeout=10) as c:
                rows = c.execute("SELECT instance, pid FROM serve_instances").fetchall()
            report(len(rows) == 1 and rows[0][1] == p.pid, "heartbeat row at start", repr(rows))
            for h in (A, B, C):
                put_policy(db, h, POLICY[h])
            put_cert(db, d, A, "a")
            put_cert(db, d, B, "b")
            time.sleep(1.2)  # no handshake yet: nothing cached, but be fair to the poll

            for h in (A, B):
                st, hd, body = fetch(port, d, h)
                report(st == 200 and body == POLICY[h] and hd.get("content-type") == "text/plain",
                       f"{h}: 200 text/plain, the exact bytes, its own certificate",
                       f"{st} {hd} {body!r}")
            st, hd, body = fetch(port, d, A, method="HEAD")
            report(st == 200 and body == b"" and hd.get("content-length") == str(len(POLICY[A])),
                   "HEAD: 200, no body", f"{st} {hd} {body!r}")
            st, _, _ = fetch(port, d, A, path="/.well-known/other.txt")
            report(st == 404, "another path: 404", str(st))
            st, _, _ = fetch(port, d, A, path="/.well-known/mta-sts.txt?x=1")
            report(st == 404, "a query: 404", str(st))
            st, hd, _ = fetch(port, d, A, method="POST")
            report(st == 405 and "GET" in hd.get("allow", ""), "POST: 405 with Allow", str(st))
            st, _, _ = fetch(port, d, A, method="OPTIONS")
            report(st == 405, "OPTIONS: 405", str(st))
            st, _, body = fetch(port, d, A, host=B)
            report(st == 421 and POLICY[B] not in body, "Host of another customer: 421", str(st))
            st, _, _ = fetch(port, d, A, host=A + ".:443")
            report(st == 200, "Host with port and final dot: 200", str(st))

            e = refused(port, d, "mta-sts.unknown.example")
            report(e is not None and "UNRECOGNIZED_NAME" in e.upper(),
                   "unknown name: unrecognized_name alert", str(e))
            e = refused(port, d, None)
            report(e is not None and "UNRECOGNIZED_NAME" in e.upper(),
                   "no SNI: unrecognized_name alert", str(e))
            e = refused(port, d, C)
            report(e is not None and "UNRECOGNIZED_NAME" in e.upper(),
                   "a policy without a certificate: unrecognized_name alert", str(e))
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                "-servername", "mta-sts.unknown.example"],
                               input="", capture_output=True, text=True, timeout=10)
            report("BEGIN CERTIFICATE" not in r.stdout and "no peer certificate" in r.stdout,
                   "unknown name: no certificate sent (openssl s_client)", r.stdout[-400:])
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                "-servername", A, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                               input="", capture_output=True, text=True, timeout=10)
            report(r.returncode != 0 and "alert protocol version" in r.stderr,
                   "TLS 1.1: refused by the server (protocol_version alert)", r.stderr[-400:])
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                                "-servername", A, "-tls1_2"],
                               input="", capture_output=True, text=True, timeout=10)
            report("TLSv1.2" in r.stdout, "TLS 1.2 accepted", r.stdout[-300:])

            # acme-tls/1: only with a challenge set for that name
            s = tls(port, client_ctx(d, ["acme-tls/1", "http/1.1"]), A)
            report(s.selected_alpn_protocol() == "http/1.1",
                   "acme-tls/1 offered without a challenge: not selected",
                   str(s.selected_alpn_protocol()))
            s.close()
            if HOOKS:
                s = tls(port, client_ctx(d, ["acme-tls/1"]), "mta-sts.x.example")
                cert = s.getpeercert(binary_form=True)
                want = ssl.PEM_cert_to_DER_cert(read(f"{d}/chal.pem"))
                alpn = s.selected_alpn_protocol()
                s.settimeout(3)
                try:
                    closed = s.recv(1) == b""
                except (ssl.SSLError, OSError):
                    closed = True
                s.close()
                report(alpn == "acme-tls/1" and cert == want and closed,
                       "tls-alpn-01: challenge certificate, acme-tls/1, closed after", str(alpn))
                e = refused(port, d, "mta-sts.x.example")
                report(e is not None and "UNRECOGNIZED_NAME" in e.upper(),
                       "the challenge name without acme-tls/1: refused", str(e))
                plain = socket.create_connection(("127.0.0.1", hport), timeout=5)
                st, _, body = request(plain, path="/.well-known/acme-challenge/tok-1_A", host=A)
                report(st == 200 and body == b"keyauth.value", "http-01: the key authorization",
                       f"{st} {body!r}")
                plain = socket.create_connection(("127.0.0.1", hport), timeout=5)
                st, _, _ = request(plain, path="/.well-known/mta-sts.txt", host=A)
                report(st == 404, "plain listener: anything else 404", str(st))

            # changes within 1.5 s, without a restart
            new = POLICY[A].replace(b"enforce", b"testing")
            held = tls(port, client_ctx(d), A)  # handshaken before the change
            put_policy(db, A, new)
            t0, got = time.monotonic(), None
            while time.monotonic() - t0 < 1.5:
                got = fetch(port, d, A)[2]
                if got == new:
                    break
                time.sleep(0.1)
            report(got == new, "a new policy served within 1.5 s", repr(got))
            got = request(held, host=A)[2]
            report(got == new, "a connection handshaken before the change gets the new policy",
                   repr(got))
            put_cert(db, d, A, "a2")
            want = ssl.PEM_cert_to_DER_cert(read(f"{d}/a2.pem"))
            t0, cert = time.monotonic(), None
            while time.monotonic() - t0 < 1.5:
                s = tls(port, client_ctx(d), A)
                cert = s.getpeercert(binary_form=True)
                s.close()
                if cert == want:
                    break
                time.sleep(0.1)
            report(cert == want, "a replaced certificate on the next handshakes within 1.5 s")

            # limits
            st, _, _ = fetch(port, d, A, extra="X-Big: " + "x" * 2000 + "\r\n")
            report(st in (0, 400, 413, 431), "a header past --max-header: refused", str(st))
            held = [tls(port, client_ctx(d), A) for _ in range(4)]
            e = refused(port, d, A)
            report(e is not None, "a 5th connection of one client: closed before TLS", str(e))
            for s in held:
                s.close()
            time.sleep(0.3)
            st, _, _ = fetch(port, d, A)
            report(st == 200, "after they closed: served again", str(st))
            raw = socket.create_connection(("127.0.0.1", port), timeout=6)
            t0 = time.monotonic()
            try:
                gone = raw.recv(1) == b""
            except OSError:
                gone = True
            took = time.monotonic() - t0
            raw.close()
            report(gone and 1.5 < took < 4, "a silent client is cut at the handshake deadline",
                   f"{took:.1f}s")
            # hostile server names, sent as raw bytes (ssl refuses to send them)
            answers = [hostile_hello(port, n) for n in HOSTILE]
            report(all(a[:1] == b"\x15" for a in answers),
                   "a server name with control bytes: refused with an alert", repr(answers))
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
            report(rc == 0, "SIGTERM: exit 0", str(rc))
        with sqlite3.connect(db, timeout=10) as c:
            row = c.execute("SELECT counters FROM serve_instances").fetchone()
        cnt = json.loads(row[0]) if row and row[0] else {}
        report(cnt.get("ok", 0) >= 5 and cnt.get("refused_names", 0) >= 3 and
               cnt.get("hosts", {}).get(A, {}).get("requests", 0) >= 3 and
               cnt.get("refused_connections", 0) >= 1,
               "final heartbeat: counters per host", json.dumps(cnt))
        log = read(f"{d}/log")
        report("has a policy but no certificate yet" in log,
               "the log says why a hosted name was refused", log[-600:])
        with open(f"{d}/log", "rb") as f:
            raw = f.read()
        bad = sorted({b for b in raw if (b < 0x20 and b != 0x0a) or b == 0x7f})
        forged = [ln for ln in raw.split(b"\n") if ln.startswith((b"<3>", b"forged"))]
        report(not bad and not forged, "no hostile server name reaches the log raw",
               f"bytes {bad} lines {forged[:3]}")


HOSTILE = [b"mta-sts.a.example\x1b[2J\x1b[31m", b"a.example\n<3>forged line",
           b"\x07\x08\x7f\x1b]0;title\x07.example", b"x\r\nforged: yes"]


def hostile_hello(port, sni):
    """Send a TLS 1.2/1.3 ClientHello naming sni (raw bytes); the first bytes answered."""
    def ext(t, body):
        return struct.pack("!HH", t, len(body)) + body
    name = struct.pack("!BH", 0, len(sni)) + sni
    exts = (ext(0, struct.pack("!H", len(name)) + name) +
            ext(10, struct.pack("!HHH", 4, 0x001d, 0x0017)) +          # supported_groups
            ext(13, struct.pack("!HHHH", 6, 0x0403, 0x0804, 0x0401)) +  # signature_algorithms
            ext(43, b"\x04" + struct.pack("!HH", 0x0304, 0x0303)) +     # supported_versions
            ext(51, struct.pack("!HHH", 36, 0x001d, 32) + os.urandom(32)))  # key_share
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" +
            struct.pack("!HHHH", 6, 0x1301, 0xc02b, 0xc02f) + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
        c.sendall(b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs)
        try:
            return c.recv(64)
        except OSError:
            return b""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_port(args, d):
    """Start serve with args, its printed HTTPS port (None if none), stopped by SIGTERM."""
    p = subprocess.Popen([STSCTL, "serve", "--state", f"{d}/inv.db", *args],
                         stdout=subprocess.PIPE, stderr=open(f"{d}/inv.log", "a"), text=True)
    try:
        line = p.stdout.readline()
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    words = line.split()
    return int(words[4]) if line.startswith("listening on https port ") else None


def hosted_inventory(d, listen=None, **sections):
    """d/inventory.json: one hosted domain, hosted.listen when given, other sections."""
    hosted = {"zone": "sts.msp.example", "dns": "msp", "edge": "edge.msp.example",
              "acme": {"directory": "https://127.0.0.1:1/dir"}}
    if listen:
        hosted["listen"] = listen
    with open(f"{d}/inventory.json", "w") as f:
        json.dump({"version": 1, "providers": {"msp": {"plugin": "zonefile",
                                                       "directory": "zones"}},
                   "hosted": hosted, **sections,
                   "domains": [{"name": "a.example", "mx": ["mx.a.example"],
                                "hosting": "hosted"}]}, f)
    return f"{d}/inventory.json"


def inventory_listen():
    """An inventory's hosted.listen is serve's default address; --listen wins."""
    with tempfile.TemporaryDirectory(prefix="sv-serve-inv-") as d:
        port = free_port()
        inv = hosted_inventory(d, listen=f"127.0.0.1:{port}")
        got = serve_port([inv], d)
        report(got == port, "serve INVENTORY listens on hosted.listen",
               f"{got} != {port}: {read(f'{d}/inv.log')[-400:]}")
        got = serve_port(["--inventory", inv, "--listen", "127.0.0.1:0"], d)
        report(got is not None and got != port, "--listen wins over hosted.listen",
               f"{got}: {read(f'{d}/inv.log')[-400:]}")
        # hosted.acme.ca_file as ${env:NAME}: accepted by the inventory, resolved by serve
        with open(inv) as f:
            doc = json.load(f)
        doc["hosted"]["acme"]["ca_file"] = "${env:STS_TEST_ACME_CA}"
        with open(inv, "w") as f:
            json.dump(doc, f)
        v = subprocess.run([STSCTL, "validate", inv], capture_output=True, text=True)
        report(v.returncode == 0, "validate accepts hosted.acme.ca_file ${env:NAME}",
               v.stdout + v.stderr)
        os.environ["STS_TEST_ACME_CA"] = "ca.pem"
        got = serve_port(["--inventory", inv, "--listen", "127.0.0.1:0"], d)
        report(got is not None, "serve resolves hosted.acme.ca_file ${env:NAME}",
               read(f"{d}/inv.log")[-400:])
        del os.environ["STS_TEST_ACME_CA"]
        p = subprocess.run([STSCTL, "serve", "--state", f"{d}/inv.db", "--inventory", inv,
                            "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=30)
        report(p.returncode == 2 and "STS_TEST_ACME_CA" in p.stderr,
               "an unset ${env:NAME} for hosted.acme.ca_file: exit 2 naming it",
               f"{p.returncode} {p.stderr[-300:]}")


class Hook(http.server.BaseHTTPRequestHandler):
    """The webhook: every POSTed document kept in got."""
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.got.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def watch_certs():
    """watch posts a failed or soon expiring certificate once per condition, a healthy one never."""
    with tempfile.TemporaryDirectory(prefix="sv-watch-") as d:
        hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        inv = hosted_inventory(d, watch={"webhook": f"http://127.0.0.1:{hook.server_port}/h"})
        serve_port(["--listen", "127.0.0.1:0"], d)  # the hosted schema
        db, now, bad = f"{d}/inv.db", int(time.time()), "order failed: \x1b[31m\nforged"

        def cert(host, not_after, error=None, failures=0):
            with sqlite3.connect(db, timeout=10) as c:
                c.execute("INSERT OR REPLACE INTO hosted_certs (host, chain_pem, key_pem,"
                          " not_after, updated, last_error, failures, alerted) VALUES"
                          " (?,?,?,?,?,?,?,(SELECT alerted FROM hosted_certs WHERE host=?))",
                          (host, "PEM" if not_after else None, "KEY" if not_after else None,
                           not_after, now, error, failures, host))

        def cycle():
            Hook.got.clear()
            r = subprocess.run([STSCTL, "watch", "--once", inv, "--state", db],
                               capture_output=True, text=True, timeout=60)
            ev = {e["host"]: e for doc in Hook.got for e in doc.get("events", [])}
            return r, ev

        cert("mta-sts.ok.example", now + 60 * 86400)
        cert("mta-sts.soon.example", now + 5 * 86400)
        cert("mta-sts.fail.example", None, bad, 3)
        r, ev = cycle()
        report(r.returncode == 0 and sorted(ev) == ["mta-sts.fail.example",
                                                    "mta-sts.soon.example"],
               "one event per certificate failing or expiring within 14 days, none healthy",
               f"{r.returncode} {ev} {r.stderr[-400:]}")
        f, s = ev.get("mta-sts.fail.example", {}), ev.get("mta-sts.soon.example", {})
        report(f.get("type") == "hosted.certificate" and f.get("condition") == "failing" and
               f.get("last_error") == bad and f.get("failures") == 3 and
               f.get("not_after") is None and s.get("condition") == "expiring" and
               s.get("not_after", "").endswith("Z"),
               "the events: type, condition, last_error as JSON, failures, not_after", str(ev))
        report("\x1b" not in r.stderr and "\\x1b" in r.stderr,
               "the failure is logged with its control bytes escaped", r.stderr[-400:])
        _, ev = cycle()
        report(ev == {}, "the next cycle posts nothing new", str(ev))
        cert("mta-sts.fail.example", now + 80 * 86400)
        cert("mta-sts.soon.example", now - 60)
        _, ev = cycle()
        report(sorted(ev) == ["mta-sts.soon.example"] and
               ev["mta-sts.soon.example"]["condition"] == "expired",
               "a new condition is posted, a recovery is not", str(ev))
        cert("mta-sts.fail.example", now + 80 * 86400, "rateLimited", 1)
        _, ev = cycle()
        report(sorted(ev) == ["mta-sts.fail.example"], "a failure after a recovery is posted",
               str(ev))
        # status without INVENTORY: the hosted part alone, times in RFC 3339
        st = subprocess.run([STSCTL, "status", "--state", db], capture_output=True, text=True,
                            timeout=30)
        lines = {ln.split(":")[0]: ln for ln in st.stdout.splitlines()}
        ok = lines.get("mta-sts.ok.example", "")
        report(st.returncode == 0 and re.search(r"valid until 20\d\d-\d\d-\d\dT[\d:]+Z", ok) and
               "last error: rateLimited (1 failures" in lines.get("mta-sts.fail.example", ""),
               "status without INVENTORY: each certificate, valid until (RFC 3339), last error",
               st.stdout + st.stderr)
        sj = subprocess.run([STSCTL, "status", "--json", "--state", db], capture_output=True,
                            text=True, timeout=30)
        hosts = {h["host"]: h for h in json.loads(sj.stdout or "{}").get("hosted", {})
                 .get("hosts", [])} if sj.returncode == 0 else {}
        na = (hosts.get("mta-sts.ok.example", {}).get("certificate") or {}).get("not_after")
        report(isinstance(na, str) and na.endswith("Z") and len(hosts) == 3,
               "status --json without INVENTORY: the hosted part, not_after in RFC 3339",
               sj.stdout[:300] + sj.stderr)
        # --tenant without INVENTORY: the hosts of the domains the state records for it
        with sqlite3.connect(db, timeout=10) as c:
            c.executemany("INSERT INTO managed_domains (domain, first_seen, spec)"
                          " VALUES (?, 0, ?)", [("ok.example", '{"tenant": "acme"}'),
                                                ("fail.example", '{"tenant": "initech"}')])
        sj = subprocess.run([STSCTL, "status", "--json", "--tenant", "acme", "--state", db],
                            capture_output=True, text=True, timeout=30)
        got = [h["host"] for h in json.loads(sj.stdout or "{}").get("hosted", {})
               .get("hosts", [])] if sj.returncode == 0 else None
        report(got == ["mta-sts.ok.example"],
               "status --tenant without INVENTORY: only that tenant's hosts (state's tenants)",
               f"{got} {sj.stderr}")
        st = subprocess.run([STSCTL, "status", "--tenant", "acme", "--tenant", "initech",
                             "--state", db], capture_output=True, text=True, timeout=30)
        shown = sorted(ln.split(":")[0] for ln in st.stdout.splitlines()
                       if ln.startswith("mta-sts."))
        report(st.returncode == 0 and shown == ["mta-sts.fail.example", "mta-sts.ok.example"],
               "status --tenant twice without INVENTORY: both tenants' hosts", st.stdout + st.stderr)
        st = subprocess.run([STSCTL, "status", "--tenant", "nobody", "--state", db],
                            capture_output=True, text=True, timeout=30)
        report(st.returncode == 2 and
               "unknown tenant 'nobody': no domain of the state" in st.stderr and not st.stdout,
               "status --tenant without INVENTORY: a tenant the state does not record: exit 2",
               f"{st.returncode} {st.stdout} {st.stderr}")
        st = subprocess.run([STSCTL, "status", "--state", f"{d}/none.db"], capture_output=True,
                            text=True, timeout=30)
        report(st.returncode == 2 and "missing INVENTORY" in st.stderr,
               "status without INVENTORY on a state without a hosted service: exit 2",
               f"{st.returncode} {st.stderr}")
        hook.shutdown()
        hook.server_close()


main()
inventory_listen()
watch_certs()
done()
