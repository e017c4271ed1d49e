#!/usr/bin/env python3
"""A dead back end fails fast and visibly (issue 17, finding 3;
docs/stsctl-plan.md "Providers that are down"). One inventory, three DNS
providers: zonefile (works, 10 domains), powerdns at a closed loopback port
(connection refused, 40 zones) and rfc2136 at a loopback UDP port that reads
every query and never answers (40 zones; it counts the queries). plan must
finish in seconds, with the good provider's plan complete, one line per dead
provider ("provider X: 40 domains not planned: ...") instead of 40 errors,
the same in --json (providers_down), and a number of queries to the
blackhole bounded per provider, not per zone. Then a provider that goes down
during apply (a loopback PowerDNS that answers the plan's reads and dies at
the first PATCH): apply --json lists it in providers_down, and the summary
says so on its line. TAP on stdout.
Usage: test_provider_down.py STSCTL
"""
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from tap import done, report

STSCTL = sys.argv[1]
N_DEAD, N_GOOD = 40, 10
WAIT = 45  # the old binary waits a timeout per zone: cap it


class Blackhole:
    """Reads UDP datagrams on 127.0.0.1 and never answers; counts them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted, self.stop = 0, False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                self.sock.recv(65536)
            except OSError:
                continue
            self.accepted += 1

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


class DyingPdns:
    """A PowerDNS API on 127.0.0.1 that answers GET of a zone (empty) and
    closes its socket for good at the first PATCH: down during apply."""

    def __init__(self):
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                zone = self.path.rsplit("/", 1)[-1]
                body = json.dumps({"name": zone, "rrsets": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PATCH(self):
                owner.dead = True
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        self.dead = False
        self.srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.srv.timeout = 0.1
        self.port = self.srv.server_address[1]
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.dead:
            self.srv.handle_request()
        self.srv.server_close()  # from now on: connection refused

    def close(self):
        self.dead = True
        self.t.join()


def apply_dying(tmp, res):
    """apply --json against a PowerDNS that dies at its first PATCH: res["apply"]
    = (exit status, stdout, stderr, whether it died)."""
    top = os.path.join(tmp, "dying")
    os.makedirs(os.path.join(top, "www"))
    pdns = DyingPdns()
    try:
        inv = {"version": 1,
               "defaults": {"mx": ["mx1.mail.example"], "web": "www", "dns": "pdns-d"},
               "providers": {"www": {"plugin": "local", "root": "www"},
                             "pdns-d": {"plugin": "powerdns", "api_key": "${env:VA_PDNS_KEY}",
                                        "url": f"http://127.0.0.1:{pdns.port}",
                                        "timeout": 1, "retries": 0}},
               "domains": [{"name": f"d{i}.example"} for i in range(6)]}
        with open(os.path.join(top, "inventory.json"), "w") as f:
            json.dump(inv, f)
        env = dict(os.environ, VA_PDNS_KEY="k")
        p = subprocess.run([STSCTL, "apply", "inventory.json", "--yes", "--json", "--state",
                            "s.db", "--progress=never"], capture_output=True, text=True,
                           timeout=WAIT, cwd=top, env=env, stdin=subprocess.DEVNULL)
        res["apply"] = (p.returncode, p.stdout, p.stderr, pdns.dead)
    finally:
        pdns.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return port


def inventory(tmp, refused, blackhole):
    doms = [{"name": f"good{i}.example", "dns": "zones"} for i in range(N_GOOD)]
    doms += [{"name": f"r{i}.example", "dns": "pdns-a"} for i in range(N_DEAD)]
    doms += [{"name": f"b{i}.example", "dns": "ns-b"} for i in range(N_DEAD)]
    pdns = {"plugin": "powerdns", "api_key": "${env:VA_PDNS_KEY}", "timeout": 1, "retries": 0}
    ns = {"plugin": "rfc2136", "server": "127.0.0.1", "port": blackhole, "timeout": 1,
          "key_name": "va-key", "key_secret": "${env:VA_TSIG}"}
    inv = {
        "version": 1,
        "defaults": {"mx": ["mx1.mail.example"], "web": "www"},
        "providers": {
            "zones": {"plugin": "zonefile", "directory": "zones"},
            "www": {"plugin": "local", "root": "www"},
            "pdns-a": dict(pdns, url=f"http://127.0.0.1:{refused}"),
            "ns-b": ns,
        },
        "domains": doms,
    }
    os.makedirs(os.path.join(tmp, "zones"))
    os.makedirs(os.path.join(tmp, "www"))
    for i in range(N_GOOD):
        with open(os.path.join(tmp, "zones", f"good{i}.example.zone"), "w") as f:
            f.write(f"$ORIGIN good{i}.example.\n@ 3600 IN SOA ns1 host 1 7200 3600 1209600 3600\n")
    path = os.path.join(tmp, "inventory.json")
    with open(path, "w") as f:
        json.dump(inv, f)
    return path


def plan(tmp, inv, *extra):
    env = dict(os.environ, VA_PDNS_KEY="k", VA_TSIG="c2VjcmV0c2VjcmV0c2VjcmV0")
    t0 = time.monotonic()
    try:
        p = subprocess.run([STSCTL, "plan", *extra, inv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True, timeout=WAIT, env=env,
                           cwd=tmp)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out, f"killed after {WAIT} s", time.monotonic() - t0


with tempfile.TemporaryDirectory() as tmp:
    hole = Blackhole()
    try:
        inv = inventory(tmp, closed_port(), hole.port)
        # the text and the --json run at once (two state files): half the wall time
        # and the apply against a provider that dies during it, at the same time
        runs = {}
        threads = [threading.Thread(target=lambda k=k, x=x: runs.__setitem__(k, plan(
            tmp, inv, "--state", os.path.join(tmp, f"{k}.db"), *x)))
            for k, x in (("text", ()), ("json", ("--json",)))]
        threads.append(threading.Thread(target=apply_dying, args=(tmp, runs)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rc, out, err, secs = runs["text"]
        report(rc is not None and secs < 20, "plan finishes in seconds with 80 zones on "
               "two dead providers", f"rc={rc} {secs:.1f} s; {err[-300:]}")
        lines = out.splitlines()
        a = [x for x in lines if x.startswith("provider pdns-a: ")]
        b = [x for x in lines if x.startswith("provider ns-b: ")]
        report(len(a) == 1 and f"{N_DEAD} domains not planned: " in a[0]
               and "127.0.0.1" in a[0],
               "one line for the refusing provider, with the count and why", repr(a))
        report(len(b) == 1 and f"{N_DEAD} domains not planned: " in b[0],
               "one line for the blackholed provider, with the count and why", repr(b))
        per_domain = [x for x in lines if x.startswith(("r", "b")) and ".example" in x]
        report(not per_domain, "no line per domain of a dead provider",
               repr(per_domain[:3]))
        good = [x for x in lines if x.startswith("good") and x.endswith(".example")]
        report(len(good) == N_GOOD, "the good provider's plan is complete",
               f"{len(good)} of {N_GOOD}: {out[-400:]}")
        report(rc == 1, "exit 1: domains could not be planned", f"rc={rc}")
        # per run: 3 tries a query, times the calls before the provider is down (2)
        # plus one more in flight (2 slots): bounded per provider, not one per zone
        report(hole.accepted <= 2 * 12, "queries to the blackhole bounded per provider "
               f"(at most 12 a run for {N_DEAD} zones)", f"{hole.accepted} in two runs")

        rc, out, err, secs = runs["json"]
        doc = json.loads(out) if out.startswith("{") else {}
        down = {d["provider"]: d for d in doc.get("providers_down", [])}
        report(set(down) == {"pdns-a", "ns-b"}
               and all(d["n_domains"] == N_DEAD and len(d["domains"]) == N_DEAD
                       and d["message"] for d in down.values()),
               "--json: providers_down lists each dead provider with its domains",
               repr({k: (v["n_domains"], v["message"]) for k, v in down.items()}))
        errs = [x for x in err.splitlines() if "provider pdns-a" in x or "provider ns-b" in x]
        report(len(errs) == 2 and all("domains not planned" in x for x in errs),
               "--json: one line per dead provider on standard error", repr(errs[:4]))
        good = [c for c in doc.get("changes", []) if c["domain"].startswith("good")]
        report(len({c["domain"] for c in good}) == N_GOOD,
               "--json: the good provider's changes are all there", f"{len(good)} changes")
    finally:
        hole.close()

    rc, out, err, died = runs.get("apply", (None, "", "no apply", False))
    doc = json.loads(out) if out.startswith("{") else {}
    down = {d["provider"]: d for d in doc.get("providers_down", [])}
    report(died and rc == 1 and "pdns-d" in down and down["pdns-d"]["n_domains"] == 6
           and len(down["pdns-d"]["domains"]) == 6 and down["pdns-d"]["message"],
           "apply --json: a provider down during apply is in providers_down with its domains",
           f"rc={rc} died={died} providers_down={doc.get('providers_down')!r} {err[-400:]}")
    summary = [x for x in err.splitlines() if x.startswith("Apply: ")]
    report(len(summary) == 1 and summary[0].endswith(", 1 provider down (pdns-d)"),
           "apply: the summary line says which provider went down", err[-600:])
    lines = [x for x in err.splitlines() if "provider pdns-d: 6 domains not applied" in x]
    report(len(lines) == 1, "apply: one line for the provider that went down", err[-600:])
done()
