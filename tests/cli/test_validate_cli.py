#!/usr/bin/env python3
"""stsctl validate as a user runs it (docs/stsctl-validate.md): exit codes,
the diagnostics on stderr and the summary on stdout, --json, standard input.
TAP on stdout. Usage: test_validate_cli.py STSCTL SOURCE_ROOT
"""
import json
import os
import subprocess
import sys

from tap import done, report

STSCTL, ROOT = sys.argv[1], sys.argv[2]
DATA = os.path.join(ROOT, "tests", "data", "inventory")


def run(*args, stdin=None):
    p = subprocess.run([STSCTL, *args], input=stdin, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail):
    report(cond, name, detail)


# a valid inventory: exit 0, nothing on stderr, the summary on stdout
example = os.path.join(ROOT, "examples", "single-domain.json")
rc, out, err = run("validate", example)
check("valid: exit 0 and summary", rc == 0 and out == f"{example}: 1 domain, 0 errors, 0 warnings\n"
      and err == "", f"rc={rc} out={out!r} err={err!r}")

# the MSP example: the U-label conversion is said on stderr
msp = os.path.join(ROOT, "examples", "msp.json")
rc, out, err = run("validate", msp)
check("msp: valid, U-label announced", rc == 0 and out.endswith("300 domains, 0 errors, 0 warnings\n")
      and "info: domains[6].name: converted 'bücher-shop.example' to A-label "
          "'xn--bcher-shop-9db.example'" in err, f"rc={rc} out={out!r} err={err!r}")
rc, out, err = run("--quiet", "validate", msp)
check("--quiet: no info, no summary", rc == 0 and out == "" and err == "",
      f"rc={rc} out={out!r} err={err!r}")

# an invalid one: exit 1, every diagnostic in position order, then the summary
broken = os.path.join(DATA, "broken.json")
rc, out, err = run("validate", broken)
lines = err.splitlines()
positions = [tuple(int(x) for x in l.split(":")[1:3]) for l in lines]
check("invalid: exit 1", rc == 1, f"rc={rc}")
check("invalid: summary", out == f"{broken}: 21 domains, 32 errors, 1 warning\n", repr(out))
check("invalid: 34 diagnostics sorted by position",
      len(lines) == 34 and positions == sorted(positions) and
      all(l.startswith(broken + ":") for l in lines), err)
check("invalid: format FILE:LINE:COL: error: PATH: message",
      f"{broken}:17:35: error: domains[1].mx[0]: [B7] invalid mx pattern '192.0.2.25': "
      "IP addresses are not allowed: mx needs a host name" in lines, err)

# --json: one object on stdout, nothing on stderr
rc, out, err = run("validate", "--json", broken)
try:
    doc = json.loads(out)
except ValueError as e:
    doc = {"error": str(e)}
check("--json: exit 1, shape", rc == 1 and err == "" and doc.get("valid") is False and
      doc.get("domains") == 21 and len(doc.get("errors", [])) == 32 and
      len(doc.get("warnings", [])) == 1 and len(doc.get("info", [])) == 1, out + err)
first = (doc.get("errors") or [{}])[0]
check("--json: error fields", first == {
    "file": broken, "line": 2, "column": 14, "path": "version",
    "message": "unsupported version 2: this stsctl reads version 1"}, repr(first))
mx = [e for e in doc.get("errors", []) if e.get("path") == "domains[1].mx[0]"]
check("--json: rule is a field of its own", len(mx) == 1 and mx[0].get("rule") == "B7" and
      mx[0]["message"].startswith("invalid mx pattern"), repr(mx))

# standard input, and JSON that does not parse
rc, out, err = run("validate", "-", stdin='{"version": 1,\n "domains": [1,]}')
check("stdin: syntax error at its position", rc == 1 and
      err == "-:2:16: error: domains[1]: invalid JSON: expected a value\n" and
      out == "-: 0 domains, 1 error, 0 warnings\n", f"rc={rc} out={out!r} err={err!r}")

# usage and unreadable files: exit 2, nothing on stdout
for name, args in [("no argument", ["validate"]), ("two arguments", ["validate", "a", "b"]),
                   ("unknown option", ["validate", "--bogus", example]),
                   ("missing file", ["validate", "/nonexistent/inventory.json"]),
                   ("missing file --json", ["validate", "--json", "/nonexistent/inventory.json"]),
                   ("a directory", ["validate", DATA])]:
    rc, out, err = run(*args)
    check(f"exit 2: {name}", rc == 2 and out == "" and err.startswith("stsctl: error: "),
          f"rc={rc} out={out!r} err={err!r}")

done()
