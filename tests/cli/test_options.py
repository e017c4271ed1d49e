#!/usr/bin/env python3
"""The option tables (cli/cli_opts.c) and the shared setup (cli/cli_ctx.c) as a
user meets them: the same usage errors and the same inventory messages and exit
codes for every command (docs/exit-codes.md "Global behaviour"). Runs in a
temporary directory; nothing talks to the network. TAP.
Usage: test_options.py STSCTL
"""
import json
import os
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]


def run(args, cwd):
    p = subprocess.run([STSCTL] + args, capture_output=True, text=True, timeout=60, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def expect(name, args, rc_want, err_want, cwd, out_want=None):
    rc, out, err = run(args, cwd)
    ok = rc == rc_want and err_want in err and (out_want is None or out_want in out)
    report(ok, name, f"args={args!r}\nrc={rc} (want {rc_want})\nerr={err!r}\n(want {err_want!r})"
           f"\nout={out[:400]!r}")


with tempfile.TemporaryDirectory(prefix="stsctl-options-") as tmp:
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w", encoding="utf-8") as f:
        f.write('{"version": 1, "domains": [{"name": "example.com"}]}\n')  # no mx: invalid
    good = os.path.join(tmp, "good.json")
    with open(good, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "domains": [{"name": "example.com", "mx": ["mx.example.com"]}]},
                  f)
    missing = os.path.join(tmp, "missing.json")

    # the option tables
    expect("plan: missing INVENTORY", ["plan"], 2, "error: missing INVENTORY", tmp)
    expect("plan: too many arguments", ["plan", "a", "b"], 2, "error: too many arguments", tmp)
    expect("apply: missing INVENTORY or PLANFILE", ["apply"], 2,
           "missing INVENTORY or PLANFILE", tmp)
    expect("apply: unknown option", ["apply", "--bogus", good], 2,
           "unknown option '--bogus'", tmp)
    expect("plan: a value is missing", [
           "plan", good, "--concurrency"], 2, "option '--concurrency' needs a value", tmp)
    expect("check: a value is missing", ["check", "--timeout"], 2,
           "option '--timeout' needs a value", tmp)
    expect("plan: --concurrency out of range", ["plan", good, "--concurrency", "0"], 2,
           "--concurrency needs a number from 1 to 256, not '0'", tmp)
    expect("plan: --concurrency not digits", ["plan", good, "--concurrency", "+4"], 2,
           "not '+4'", tmp)
    expect("ingest: --jobs out of range", ["ingest", "-j", "65", "x"], 2,
           "invalid --jobs '65': expected 1..64", tmp)
    expect("watch: --concurrency out of range", ["watch", good, "--once", "--concurrency", "513"],
           2, "invalid concurrency '513' (1 to 512)", tmp)
    expect("check: --max-mx out of range", ["check", "--max-mx", "0", "a.test"], 2,
           "invalid MX limit '0' (1 to 1000)", tmp)
    expect("prune: --raw-days not a number", ["prune", "--raw-days", "x"], 2,
           "invalid --raw-days 'x': expected 0..100000 days", tmp)
    expect("report: --format unknown", ["report", "--format", "xml"], 2,
           "invalid --format 'xml'", tmp)
    expect("status: --now not RFC 3339", ["status", good, "--now", "yesterday"], 2,
           "--now: 'yesterday' is not an RFC 3339 time", tmp)
    expect("watch: --json without --once", ["watch", good, "--json"], 2,
           "--json, --now and --dry-run need --once", tmp)
    expect("receive: --inventory is required", ["receive"], 2, "missing --inventory FILE", tmp)
    expect("lint: missing what to lint", ["lint"], 2, "missing what to lint", tmp)
    expect("render: -o or --json", ["render", good], 2,
           "give exactly one of '-o DIR' and '--json'", tmp)
    expect("-h in a cluster of short options", ["apply", "-yh"], 0, "", tmp,
           out_want="stsctl apply INVENTORY|PLANFILE")
    expect("plan --detailed-exitcode: a usage error is 1", ["plan", "--detailed-exitcode"], 1,
           "missing INVENTORY", tmp)
    expect("plan --detailed-exitcode: an unreadable inventory is 1",
           ["plan", "--detailed-exitcode", missing], 1, "cannot load inventory", tmp)

    # one inventory load, one set of messages and exit codes
    for args in (["plan", "INV"], ["apply", "--yes", "INV"], ["status", "INV"],
                 ["render", "INV", "--json"], ["watch", "--once", "INV"],
                 ["ingest", "-i", "INV", "x.json"], ["report", "-i", "INV"],
                 ["prune", "-i", "INV", "--dry-run"], ["receive", "-i", "INV"],
                 ["check", "--inventory", "INV"], ["onboard", "--inventory", "INV", "a.test"]):
        cmd = args[0]
        expect(f"{cmd}: an invalid inventory is 1",
               [bad if a == "INV" else a for a in args], 1, f"inventory '{bad}' is invalid", tmp)
        expect(f"{cmd}: an unreadable inventory is 2",
               [missing if a == "INV" else a for a in args], 2,
               f"cannot load inventory '{missing}'", tmp)
    report(not os.path.exists(os.path.join(tmp, "stsctl.db")),
           "no state database is created for an inventory that does not load")

    # the options reach the command: repeated --domain, --json, --state
    rc, out, err = run(["render", good, "--json", "-d", "example.com", "-d", "example.com",
                        "--state", os.path.join(tmp, "st.db")], tmp)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    report(rc == 0 and doc is not None, "render --json -d D -d D --state PATH",
           f"rc={rc} err={err!r}")
    expect("render -d an unknown domain: 2", ["render", good, "--json", "-d", "other.test"], 2,
           "other.test", tmp)
done()
