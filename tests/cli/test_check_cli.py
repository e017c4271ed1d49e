#!/usr/bin/env python3
"""stsctl check and stsctl onboard as a user runs them, without a network:
usage errors (exit 2, the message, the synopsis), unreadable inputs, an
invalid inventory (exit 1), and one run against a resolver on 127.0.0.1 that
does not exist (every lookup fails: exit 1, the JSON layout of
docs/stsctl-check.md, the text report). The live behaviour is tested in
tests/integration/check-*. TAP on stdout. Usage: test_check_cli.py STSCTL
"""
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]


def run(*args, stdin=None):
    p = subprocess.run([STSCTL, *args], input=stdin, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def closed_udp_port():
    """A loopback UDP port nothing listens on (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def usage_error(name, args, message):
    rc, out, err = run(*args)
    report(rc == 2 and out == "" and message in err and "usage: stsctl" in err,
           f"{name}: exit 2 with '{message}'", f"rc={rc} out={out!r} err={err!r}")


usage_error("check without a domain", ["check"], "error: no domain to check")
usage_error("check with a bad domain", ["check", "a b.test"],
            "error: invalid domain 'a b.test': only letters, digits")
usage_error("check with one label", ["check", "localhost"], "not a domain (one label)")
usage_error("check --concurrency 0", ["check", "--concurrency", "0", "a.test"],
            "invalid concurrency '0' (1 to 512)")
usage_error("check --concurrency 513", ["check", "--concurrency", "513", "a.test"],
            "invalid concurrency '513'")
usage_error("check --timeout x", ["check", "--timeout", "x", "a.test"],
            "invalid number of seconds 'x'")
usage_error("check --smtp-port 0", ["check", "--smtp-port", "0", "a.test"], "invalid port '0'")
for bad in ["nope", "[::1]", "127.0.0.1:0", "127.0.0.1:65536", "1.2.3"]:
    usage_error(f"check --resolver {bad}", ["check", "--resolver", bad, "a.test"],
                f"invalid resolver '{bad}'")
usage_error("check with an unknown option", ["check", "--frobnicate", "a.test"],
            "unknown option '--frobnicate'")
usage_error("onboard without a domain", ["onboard"], "error: no domain to onboard")
usage_error("onboard --dry-run without --inventory", ["onboard", "--dry-run", "a.test"],
            "--dry-run needs --inventory")
usage_error("onboard with a bad tenant", ["onboard", "--tenant", "a b", "a.test"],
            "invalid tenant 'a b'")

with tempfile.TemporaryDirectory() as tmp:
    rc, out, err = run("check", "--ca-file", os.path.join(tmp, "none.pem"), "a.test")
    report(rc == 2 and "cannot read CA file" in err, "check: an unreadable CA file exits 2",
           f"rc={rc} err={err!r}")
    rc, out, err = run("check", "--file", os.path.join(tmp, "none.txt"))
    report(rc == 2 and "cannot read" in err, "check: an unreadable domain list exits 2",
           f"rc={rc} err={err!r}")
    bad_inv = os.path.join(tmp, "bad.json")
    with open(bad_inv, "w") as f:
        f.write('{"version": 1, "domains": [{"name": "a.test"}]}\n')
    rc, out, err = run("check", "--inventory", bad_inv)
    report(rc == 1 and "bad.json:1:" in err and "mx" in err,
           "check: an invalid inventory exits 1 with its diagnostics", f"rc={rc} err={err!r}")
    inv = os.path.join(tmp, "inv.json")
    with open(inv, "w") as f:
        f.write('{"version": 1, "tenants": {"acme": {}}, "domains": []}\n')
    rc, out, err = run("onboard", "--inventory", inv, "--tenant", "globex", "a.test")
    report(rc == 2 and "tenant 'globex' is not defined in" in err,
           "onboard: a tenant the inventory lacks exits 2", f"rc={rc} err={err!r}")
    csv = os.path.join(tmp, "rows.csv")
    with open(csv, "w") as f:
        f.write("a.test,acme,extra\n")
    rc, out, err = run("onboard", "--csv", csv)
    report(rc == 2 and "more than two columns" in err, "onboard: a CSV row of three columns exits 2",
           f"rc={rc} err={err!r}")

    # every lookup fails: the domain fails, the report is still complete
    port = closed_udp_port()
    net = ["--resolver", f"127.0.0.1:{port}", "--dns-timeout", "0.5", "--no-smtp"]
    rc, out, err = run("check", "--json", *net, "Example.TEST.", "b.test")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    doms = doc.get("domains", [])
    report(rc == 1 and len(doms) == 2, "check: failed lookups exit 1, one object per domain",
           f"rc={rc} out={out!r} err={err!r}")
    if doms:
        d = doms[0]
        keys = {"domain", "verdict", "sender_view", "policy", "policy_host", "mx", "findings"}
        report(keys <= set(d), "check --json: the documented keys", repr(sorted(d)))
        report(d["domain"] == "example.test", "check: the name is normalised", repr(d["domain"]))
        report(d["verdict"] == "fail" and d["sender_view"] == "no-policy",
               "check: fail, no policy", repr(d))
        report(set(d["policy_host"]) == {"cert_valid", "cert_days_left"}
               and d["policy_host"]["cert_valid"] is None, "check: policy_host unknown is null",
               repr(d["policy_host"]))
        rules = {f["rule"] for f in d["findings"]}
        sev = {f["severity"] for f in d["findings"]}
        report({"T1", "M1"} <= rules and sev <= {"error", "warning", "info"},
               "check: findings name rules and severities", repr(d["findings"]))
    rc, out, err = run("check", *net, "b.test")
    report(rc == 1 and out.startswith("b.test: fail, senders see no-policy\n")
           and "  error: [T1] lookup of '_mta-sts.b.test' TXT failed" in out,
           "check: the text report", f"rc={rc} out={out!r}")
    rc, out, err = run("onboard", *net[:-1], "b.test")
    report(rc == 1 and "'b.test' not added: MX lookup" in err and json.loads(out)["domains"] == [],
           "onboard: a domain without MX is flagged, the printed inventory is empty",
           f"rc={rc} out={out!r} err={err!r}")

    # onboard --hosted (docs/stsctl-onboard.md): usage, no hosted section, the label in the state
    usage_error("onboard --hosted without --inventory", ["onboard", "--hosted", "a.test"],
                "--hosted needs --inventory")
    usage_error("onboard --json without --hosted", ["onboard", "--json", "a.test"],
                "--json and --state need --hosted")
    rc, out, err = run("onboard", "--hosted", "--inventory", inv, "a.test")
    report(rc == 1 and "has no 'hosted' section" in err,
           "onboard --hosted: an inventory without a hosted section exits 1", f"rc={rc} err={err!r}")
    hinv = os.path.join(tmp, "hosted.json")
    with open(hinv, "w") as f:
        f.write('{"version": 1, "providers": {"z": {"plugin": "zonefile", "directory": "z"}},\n'
                ' "hosted": {"zone": "sts.msp.test", "dns": "z", "edge": "edge.msp.test",\n'
                '  "acme": {"directory": "https://127.0.0.1/dir"}},\n'
                ' "domains": [{"name": "c.test", "mx": ["mx.c.test"], "hosting": "hosted"}]}\n')
    state = os.path.join(tmp, "hosted.db")
    label = base64.b32encode(hashlib.sha256(b"c.test").digest()).decode()[:26].lower()
    hosted = ["onboard", "--hosted", "--inventory", hinv, "--state", state, *net[:-1]]
    rc, out, err = run(*hosted, "--dry-run", "c.test")
    report(rc == 1 and f"c.test (label {label}, computed)\n" in out
           and f"  _mta-sts.c.test. CNAME {label}._mta-sts.sts.msp.test.\n" in out
           and "  mta-sts.c.test. CNAME edge.msp.test.\n" in out
           and "    unknown: the lookup failed" in out and "computed, not stored" in err
           and not os.path.exists(state),
           "onboard --hosted --dry-run: the records, the computed label, nothing stored",
           f"rc={rc} out={out!r} err={err!r}")
    rc, out, err = run(*hosted, "--json", "c.test", "new.test")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {"domains": []}
    doms = doc["domains"]
    report(rc == 1 and [d["label_source"] for d in doms] == ["allocated", "allocated"]
           and doms[0]["label"] == label and doms[0]["inventory_hosting"] == "hosted"
           and doms[1]["inventory_hosting"] is None and doc.get("pending") == 2
           and {r["state"] for d in doms for r in d["records"]} == {"unknown"},
           "onboard --hosted --json: labels allocated, a prospective customer, records unknown",
           f"rc={rc} out={out!r} err={err!r}")
    rc, out, err = run(*hosted, "c.test")
    report(rc == 1 and f"c.test (label {label}, stored)\n" in out,
           "onboard --hosted: the stored label on the next run", f"rc={rc} out={out!r}")

done()
