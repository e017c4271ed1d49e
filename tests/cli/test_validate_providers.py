#!/usr/bin/env python3
"""validate catches what can be checked offline (issue 17, finding 2;
docs/stsctl-validate.md "Providers"): a misspelt plugin, a misspelt setting,
required settings missing, a secret in clear text, each at the line and
column of the value with its providers.NAME.key path and a "did you mean";
--secrets names an unset variable; --json carries the same; --probe gives
one line per provider within --timeout; plan with an unset secret names the
variable and the provider in one line. TAP on stdout.
Usage: test_validate_providers.py STSCTL
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from tap import done, report

STSCTL = sys.argv[1]

BROKEN = """{
  "version": 1,
  "defaults": {"mx": ["mx1.mail.example"], "web": "www", "dns": "zones"},
  "providers": {
    "www": {"plugin": "local", "root": "www"},
    "zones": {"plugin": "zonefile", "directroy": "zones"},
    "pdns-typo": {"plugin": "powerdsn", "url": "http://127.0.0.1:1"},
    "ns": {"plugin": "rfc2136", "server": "127.0.0.1"},
    "pdns-clear": {"plugin": "powerdns", "url": "http://127.0.0.1:1", "api_key": "hunter2-clear"},
    "pdns-env": {"plugin": "powerdns", "url": "http://127.0.0.1:1", "api_key": "${env:VA_UNSET_KEY}"}
  },
  "domains": [{"name": "a.example"}]
}
"""


def run(*args, cwd=None, timeout=30):
    env = dict(os.environ, VA_TSIG="c2VjcmV0")
    env.pop("VA_UNSET_KEY", None)
    p = subprocess.run([STSCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, text=True, timeout=timeout, env=env, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def pos(text, line_has, value):
    """FILE:LINE:COL of value on the line holding line_has (1-based, bytes)."""
    for i, line in enumerate(text.splitlines(), 1):
        if line_has in line:
            return f"{i}:{line.index(value, line.index(line_has)) + 1}"
    return "?"


with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "zones"))
    os.makedirs(os.path.join(tmp, "www"))
    inv = os.path.join(tmp, "inv.json")
    with open(inv, "w") as f:
        f.write(BROKEN)
    rc, out, err = run("validate", inv)
    lines = err.splitlines()

    def has(where, path, text):
        want = f"{inv}:{where}: error: {path}: {text}"
        return report(any(x.startswith(want) for x in lines), f"validate: {path}: {text}",
                      f"want {want!r} in:\n{err}")

    report(rc == 1, "validate: exit 1 for providers that cannot work", f"rc={rc} {err}")
    has(pos(BROKEN, '"pdns-typo"', '"powerdsn"'), "providers.pdns-typo.plugin",
        "unknown plugin 'powerdsn': did you mean 'powerdns'?")
    has(pos(BROKEN, '"zones": {"plugin"', '"zones"}'), "providers.zones.directroy",
        "unknown setting 'directroy' for plugin 'zonefile': did you mean 'directory'?")
    # a missing key: its full path, at the provider's object
    has(pos(BROKEN, '"ns":', '{"plugin"'), "providers.ns.key_name",
        "missing required setting 'key_name' for plugin 'rfc2136'")
    has(pos(BROKEN, '"ns":', '{"plugin"'), "providers.ns.key_secret",
        "missing required setting 'key_secret' for plugin 'rfc2136'")
    has(pos(BROKEN, '"pdns-clear"', '"hunter2-clear"'), "providers.pdns-clear.api_key",
        "setting 'api_key': not a secret reference: write ${env:NAME} or ${file:PATH}")
    report("hunter2" not in err + out, "a secret in clear text is never printed", err)
    report(not any("pdns-env" in x for x in lines), "without --secrets, an unset variable "
           "is no error", err)

    rc, out, err = run("validate", "--secrets", inv)
    lines = err.splitlines()
    has(pos(BROKEN, '"pdns-env"', '"${env:VA_UNSET_KEY}"'), "providers.pdns-env.api_key",
        "secret ${env:VA_UNSET_KEY} does not resolve: environment variable is not set")

    rc, out, err = run("validate", "--json", "--secrets", inv)
    doc = json.loads(out) if out.startswith("{") else {}
    paths = sorted({e["path"] for e in doc.get("errors", [])})
    report(rc == 1 and doc.get("valid") is False and paths == [
        "providers.ns.key_name", "providers.ns.key_secret", "providers.pdns-clear.api_key",
        "providers.pdns-env.api_key", "providers.pdns-typo.plugin",
        "providers.zones.directory", "providers.zones.directroy"],
        "--json carries the same errors with their paths", f"rc={rc} {paths}")
    typo = [e for e in doc.get("errors", []) if e["path"] == "providers.pdns-typo.plugin"]
    want = pos(BROKEN, '"pdns-typo"', '"powerdsn"').split(":")
    report(typo and [str(typo[0]["line"]), str(typo[0]["column"])] == want,
           "--json: line and column of the value", repr(typo))

    # ---- plan names the missing key with its path too ----
    ns_inv = os.path.join(tmp, "ns.json")
    ns_text = ('{"version": 1,\n "defaults": {"mx": ["mx1.mail.example"], "web": "www", '
               '"dns": "ns"},\n "providers": {"www": {"plugin": "local", "root": "www"},\n'
               '  "ns": {"plugin": "rfc2136", "server": "127.0.0.1", "key_name": "k"}},\n'
               ' "domains": [{"name": "a.example"}]}\n')
    with open(ns_inv, "w") as f:
        f.write(ns_text)
    rc, out, err = run("plan", "--state", os.path.join(tmp, "ns.db"), ns_inv, cwd=tmp)
    at = pos(ns_text, '"ns":', '{"plugin"')
    want = (f"{ns_inv}:{at}: providers.ns.key_secret: "
            "missing required setting 'key_secret' for plugin 'rfc2136'")
    report(rc == 1 and want in out + err,
           "plan: rfc2136 without key_secret: providers.ns.key_secret at the provider",
           f"rc={rc} want {want!r} in:\n{out}{err}")

    # ---- plan with an unset secret: one line naming the variable and the provider ----
    plan_inv = os.path.join(tmp, "plan.json")
    with open(plan_inv, "w") as f:
        json.dump({"version": 1,
                   "defaults": {"mx": ["mx1.mail.example"], "web": "www", "dns": "pdns"},
                   "providers": {"www": {"plugin": "local", "root": "www"},
                                 "pdns": {"plugin": "powerdns", "url": "http://127.0.0.1:1",
                                          "api_key": "${env:VA_UNSET_KEY}"}},
                   "domains": [{"name": f"d{i}.example"} for i in range(5)]}, f)
    rc, out, err = run("plan", "--state", os.path.join(tmp, "st.db"), plan_inv, cwd=tmp)
    got = [x for x in (out + err).splitlines() if "VA_UNSET_KEY" in x]
    report(rc == 1 and len(got) == 1 and got[0].startswith("provider pdns: 5 domains not "
                                                           "planned: ")
           and "${env:VA_UNSET_KEY}" in got[0],
           "plan: an unset secret is one line naming the provider and the variable",
           f"rc={rc}\n{out}\n{err}")

    # ---- --probe: one line per provider, within --timeout ----
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))
    probe_inv = os.path.join(tmp, "probe.json")
    with open(probe_inv, "w") as f:
        json.dump({"version": 1,
                   "defaults": {"mx": ["mx1.mail.example"], "web": "www", "dns": "zones"},
                   "providers": {"www": {"plugin": "local", "root": "www"},
                                 "zones": {"plugin": "zonefile", "directory": "zones"},
                                 "ns": {"plugin": "rfc2136", "server": "127.0.0.1",
                                        "port": hole.getsockname()[1], "key_name": "k",
                                        "key_secret": "${env:VA_TSIG}"}},
                   "domains": [{"name": "a.example"}]}, f)
    t0 = time.monotonic()
    rc, out, err = run("validate", "--probe", "--timeout", "1", probe_inv)
    secs = time.monotonic() - t0
    hole.close()
    report(rc == 1 and secs < 4, "--probe: exit 1 within the deadline when a probe does not "
           "answer", f"rc={rc} {secs:.1f} s {err}")
    report("probe zones: ok" in out.splitlines(), "--probe: ok for a working provider", out)
    report("probe ns: no answer within 1000 ms" in out.splitlines(),
           "--probe: the provider that does not answer in time", out)
    rc, out, err = run("validate", "--probe", "--json", "--timeout", "1", probe_inv)
    doc = json.loads(out) if out.startswith("{") else {}
    res = {p["provider"]: p["result"] for p in doc.get("probes", [])}
    report(res.get("zones") == "ok" and res.get("ns") == "timeout",
           "--probe --json: one entry per provider", repr(res))
done()
