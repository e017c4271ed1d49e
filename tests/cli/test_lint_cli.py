#!/usr/bin/env python3
"""stsctl lint mx-match as a user runs it (docs/stsctl-lint.md): names are
compared as A-labels, U-labels converted as the inventory converts them;
a name libidn2 refuses is an error that names the argument (exit 1); the
JSON view; and the mx lines the inventory renders match the same hosts.
TAP on stdout. Usage: test_lint_cli.py STSCTL
"""
import json
import os
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]
U = "x.\u00f1aca.com"  # x.ñaca.com
A = "x.xn--aca-6ma.com"


def run(*args, cwd=None):
    """args may be str or bytes (a name that is not UTF-8)."""
    argv = [STSCTL] + [a if isinstance(a, bytes) else os.fsencode(a) for a in args]
    p = subprocess.run(argv, capture_output=True, timeout=60, cwd=cwd)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def expect(name, args, rc_want, out_want, err_want=""):
    rc, out, err = run("lint", "mx-match", *args)
    report(rc == rc_want and out == out_want and err == err_want, name,
           f"args={args!r}\nrc={rc} (want {rc_want})\nout={out!r} (want {out_want!r})\n"
           f"err={err!r} (want {err_want!r})")


# U-labels and A-labels on either side, plain and wildcard
expect("A-label pattern, U-label host", [A, U], 0, "match\n")
expect("U-label pattern, A-label host", [U, A], 0, "match\n")
expect("U-label pattern, U-label host", [U, U], 0, "match\n")
expect("wildcard U-label pattern, A-label host", ["*.\u00f1aca.com", A], 0, "match\n")
expect("wildcard A-label pattern, U-label host", ["*.xn--aca-6ma.com", U], 0, "match\n")
expect("wildcard U-label, upper case host with a root dot",
       ["*.\u00f1aca.com", "MX.\u00d1ACA.COM."], 0, "match\n")
expect("wildcard covers one label only (U-label)", ["*.\u00f1aca.com", "a." + U], 1,
       "no match\n")
expect("wildcard does not cover the parent", ["*.\u00f1aca.com", "xn--aca-6ma.com"], 1,
       "no match\n")
expect("a different name stays different", ["x.naca.com", U], 1, "no match\n")
expect("ASCII still works", ["*.example.com", "mail.example.com"], 0, "match\n")

# names libidn2 refuses: exit 1, "invalid", a finding naming the argument
expect("invalid U-label in PATTERN", ["x.-\u00f1.com", "x.com"], 1, "invalid\n",
       "stsctl: error: [B7] invalid mx pattern 'x.-\u00f1.com' (PATTERN): not a valid IDNA2008 name: "
       "string start/ends with forbidden hyphen\n")
expect("invalid U-label in HOSTNAME", ["*.example.com", "a.-\u00f1.example.com"], 1,
       "invalid\n",
       "stsctl: error: [M2] invalid host name 'a.-\u00f1.example.com' (HOSTNAME): not a valid IDNA2008 "
       "name: string start/ends with forbidden hyphen\n")
rc, out, err = run("lint", "mx-match", "*.example.com", b"a.\xff.example.com")
report(rc == 1 and out == "invalid\n" and "(HOSTNAME): not a valid IDNA2008 name" in err
       and "[M2]" in err, "HOSTNAME that is not UTF-8", f"rc={rc} out={out!r} err={err!r}")
rc, out, err = run("lint", "mx-match", "\u2603.example", "x.example")
report(rc == 1 and out == "invalid\n" and "(PATTERN): not a valid IDNA2008 name" in err,
       "PATTERN with a code point IDNA2008 disallows", f"rc={rc} out={out!r} err={err!r}")
# an ASCII pattern problem keeps its message; an empty host is a usage error (2)
expect("IP address pattern", ["192.0.2.1", "x.com"], 1, "invalid\n",
       "stsctl: error: [B7] invalid mx pattern '192.0.2.1': IP addresses are not allowed: "
       "mx needs a host name\n")
rc, out, err = run("lint", "mx-match", U, "")
report(rc == 2 and out == "" and "empty hostname" in err, "empty HOSTNAME: usage, exit 2",
       f"rc={rc} out={out!r} err={err!r}")

# --json: the names as given and as compared
rc, out, err = run("lint", "mx-match", "--json", "*.\u00f1aca.com", "MX.\u00f1aca.com.")
try:
    doc = json.loads(out)
except ValueError:
    doc = None
report(rc == 0 and err == "" and doc == {
    "match": True, "pattern": "*.\u00f1aca.com", "hostname": "MX.\u00f1aca.com.",
    "pattern_alabel": "*.xn--aca-6ma.com", "hostname_alabel": "mx.xn--aca-6ma.com"},
    "--json match with A-labels", f"rc={rc} out={out!r} err={err!r}")
rc, out, err = run("lint", "mx-match", "--json", "*.example.com", "a.-\u00f1.example.com")
try:
    doc = json.loads(out)
except ValueError:
    doc = None
report(rc == 1 and doc is not None and doc.get("match") is False and doc.get("valid") is False
       and doc.get("pattern_alabel") == "*.example.com" and doc.get("hostname_alabel") is None
       and [e["rule"] for e in doc.get("errors", [])] == ["M2"]
       and "(HOSTNAME)" in doc["errors"][0]["message"],
       "--json invalid HOSTNAME", f"rc={rc} out={out!r} err={err!r}")

# lint --json and validate --json share one diagnostics schema (sts_diag_json.h):
# {"valid","errors","warnings","info"}, each finding {"file","line","column","path",
# "message","rule"?}; lint's fields of before (rule, message, line, column) are kept
FINDING = {"file", "line", "column", "path", "message", "rule"}
with tempfile.TemporaryDirectory(prefix="stsctl-lint-cli-") as tmp:
    pol = os.path.join(tmp, "mta-sts.txt")
    with open(pol, "w", encoding="ascii") as f:
        f.write("version: STSv1\nmode: enforce\nmax_age: 86400\n")
    rc, out, err = run("lint", "policy", "--json", pol)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    errs = doc.get("errors") or [{}]
    report(rc == 1 and doc.get("valid") is False and {"errors", "warnings", "info"} <= set(doc)
           and all(set(e) == FINDING for e in errs) and errs[0].get("file") == pol
           and errs[0].get("path") is None and errs[0].get("rule") == "B7"
           and isinstance(errs[0].get("line"), int),
           "lint policy --json: the shared diagnostics schema", f"rc={rc} out={out!r} err={err!r}")
    inv = os.path.join(tmp, "inv.json")
    with open(inv, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "domains": [{"name": "example.com"}]}, f)
    rc, out, err = run("validate", "--json", inv)
    try:
        vdoc = json.loads(out)
    except ValueError:
        vdoc = {}
    verrs = vdoc.get("errors") or [{}]
    report(rc == 1 and set(vdoc) - {"domains"} == set(doc) - {"policy"}
           and all(set(e) == FINDING for e in verrs),
           "validate --json: the same document and finding keys as lint --json",
           f"rc={rc} out={out!r} lint keys={sorted(doc)}")

# the inventory and lint agree: mx lines rendered from U-labels match U-label hosts
with tempfile.TemporaryDirectory(prefix="stsctl-lint-cli-") as tmp:
    inv = os.path.join(tmp, "inv.json")
    with open(inv, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "domains": [{"name": "example.com",
                   "mx": ["*.\u00f1aca.com", "MX.\u00d1aca.com."]}]}, f, ensure_ascii=False)
    rc, out, err = run("render", inv, "-o", "out", "--state", "st.db", cwd=tmp)
    policy = os.path.join(tmp, "out", "mta-sts.example.com", ".well-known", "mta-sts.txt")
    mx = []
    if rc == 0 and os.path.exists(policy):
        with open(policy, encoding="ascii") as f:
            mx = [l[len("mx: "):].rstrip("\r\n") for l in f if l.startswith("mx: ")]
    report(mx == ["*.xn--aca-6ma.com", "mx.xn--aca-6ma.com"], "render writes A-label mx lines",
           f"rc={rc} err={err!r} mx={mx!r}")
    for pat in mx:
        for host in ("mx.\u00f1aca.com", "mx.xn--aca-6ma.com"):
            rc, out, err = run("lint", "mx-match", pat, host)
            report(rc == 0 and out == "match\n", f"rendered '{pat}' matches '{host}'",
                   f"rc={rc} out={out!r} err={err!r}")

done()
