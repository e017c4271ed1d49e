#!/usr/bin/env python3
"""The README's main job: `stsctl apply examples/quickstart.json --yes`
(README.md, "Set-up on a fresh Debian 12 machine"), run on a copy of the
example in a temporary directory, laid out as in the repository, with a
temporary state database. Checks: exit 0; the policy files and zone
fragments that apply publishes, byte for byte, derived from the inventory
itself (policy lines with CRLF, TXT records carrying the policy's id, which
is the first 32 hex digits of SHA-256 of the policy, docs/stsctl-render.md
POLICY ID) and recorded as served in the state database; each published
text passes `stsctl lint`; a second apply finds
nothing to do (exit 0, an empty plan, "0 domains changed", no file
rewritten; docs/stsctl-apply.md); `plan --detailed-exitcode` says no
changes (exit 0); and nothing is written into the source tree.
TAP on stdout. Usage: test_quickstart.py STSCTL SOURCE_ROOT
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL, ROOT = sys.argv[1], sys.argv[2]
EXAMPLE = os.path.join(ROOT, "examples", "quickstart.json")


def run(*args, cwd):
    p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=120,
                       cwd=cwd, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def snapshot(top, names=None):
    """{relative path: (size, mtime_ns)} of the files below top (or only of
    the given top-level names)."""
    snap = {}
    if not os.path.isdir(top):
        return snap
    for entry in sorted(names if names is not None else os.listdir(top)):
        path = os.path.join(top, entry)
        if os.path.isfile(path) or os.path.islink(path):
            st = os.lstat(path)
            snap[entry] = (st.st_size, st.st_mtime_ns)
        elif os.path.isdir(path):
            for d, _, files in os.walk(path):
                for f in files:
                    p = os.path.join(d, f)
                    st = os.lstat(p)
                    snap[os.path.relpath(p, top)] = (st.st_size, st.st_mtime_ns)
    return snap


def source_tree_state():
    """What apply could pollute: examples/ (its quickstart.out/ included),
    and a state database or output directory at the top of the checkout or in
    the directory the test runs in."""
    def tops(d):
        return [n for n in os.listdir(d) if n.startswith("stsctl.db") or n in
                ("quickstart.out", "out", "zones", "www")]
    return (snapshot(os.path.join(ROOT, "examples")), snapshot(ROOT, tops(ROOT)),
            snapshot(os.getcwd(), tops(os.getcwd())))


with open(EXAMPLE, encoding="utf-8") as f:
    inv = json.load(f)
defaults = inv.get("defaults", {})
providers = inv["providers"]


def setting(dom, key):
    return dom.get(key, defaults.get(key))


# What the inventory says apply must publish: per domain the policy text, and
# per zone file the TXT records (docs/stsctl-render.md, docs/inventory.md).
expected_policies = {}  # path relative to the temp dir -> bytes
expected_records = {}   # zone file path -> list of record lines
expected_ids = {}
for dom in inv["domains"]:
    name = dom["name"]
    lines = ["version: STSv1", f"mode: {setting(dom, 'mode')}"]
    lines += [f"mx: {mx}" for mx in setting(dom, "mx")]
    lines.append(f"max_age: {setting(dom, 'max_age')}")
    text = "".join(line + "\r\n" for line in lines).encode("ascii")
    web = providers[setting(dom, "web")]
    dns = providers[setting(dom, "dns")]
    assert web["plugin"] == "local" and dns["plugin"] == "zonefile", "the quickstart changed"
    policy = os.path.join("examples", web["root"], f"mta-sts.{name}", ".well-known",
                          "mta-sts.txt")
    expected_policies[policy] = text
    pid = hashlib.sha256(text).hexdigest()[:32]
    expected_ids[name] = pid
    ttl = setting(dom, "ttl")
    rua = ",".join(setting(dom, "tlsrpt")["rua"])
    zone = os.path.join("examples", dns["directory"], dom.get("zone", name) + ".zone")
    expected_records.setdefault(zone, []).extend([
        f'_mta-sts.{name}.\t{ttl}\tIN\tTXT\t"v=STSv1; id={pid};"',
        f'_smtp._tls.{name}.\t{ttl}\tIN\tTXT\t"v=TLSRPTv1; rua={rua}"',
    ])

before = source_tree_state()
tmp = tempfile.mkdtemp(prefix="stsctl-quickstart-")
try:
    # the layout of the repository: examples/quickstart.json, whose provider
    # paths (quickstart.out/...) are relative to the inventory's directory
    os.mkdir(os.path.join(tmp, "examples"))
    shutil.copy(EXAMPLE, os.path.join(tmp, "examples", "quickstart.json"))
    os.makedirs(os.path.join(tmp, "examples", "quickstart.out", "zones"))  # as README's mkdir -p
    state = os.path.join(tmp, "state", "stsctl.db")
    os.mkdir(os.path.dirname(state))
    apply_args = ("apply", "examples/quickstart.json", "--yes", "--state", state)

    rc, out, err = run(*apply_args, cwd=tmp)
    n = len(inv["domains"])
    report(rc == 0, "first apply: exit 0", f"rc={rc}\nout={out}\nerr={err}")
    report(f"Apply: {n} domains changed ({3 * n} changes), 0 unchanged, 0 failed\n" == err,
           "first apply: summary on stderr", f"err={err!r}")
    report(out.endswith(f"Plan: {3 * n} to create, 0 to update, 0 to delete in {n} of {n} "
                        "domains\n"), "first apply: the plan on stdout", out)
    for name, pid in expected_ids.items():
        report(f'+ sts-record _mta-sts.{name}. TXT "v=STSv1; id={pid};"' in out,
               f"first apply: plan shows the id of {name}", out)

    # the files apply wrote, exactly: policies, zone fragments, the state
    written = sorted(os.path.relpath(os.path.join(d, f), tmp)
                     for d, _, fs in os.walk(tmp) for f in fs)
    want = sorted(list(expected_policies) + list(expected_records) +
                  ["examples/quickstart.json", "state/stsctl.db", "state/stsctl.db.lock"])
    report(written == want, "first apply: exactly the expected files",
           f"written={written}\nwant={want}")

    for rel, text in expected_policies.items():
        path = os.path.join(tmp, rel)
        got = open(path, "rb").read() if os.path.exists(path) else None
        report(got == text, f"policy {rel}", f"got={got!r}\nwant={text!r}")
        rc, out, err = run("lint", "policy", path, cwd=tmp)
        report(rc == 0 and out == "valid\n", f"lint policy {rel}",
               f"rc={rc} out={out!r} err={err!r}")
    for rel, records in expected_records.items():
        path = os.path.join(tmp, rel)
        got = open(path, encoding="ascii").read().splitlines() if os.path.exists(path) else []
        body = [l for l in got if l and not l.startswith(";")]
        report(body == records, f"zone fragment {rel}: the TXT records with the policy ids",
               "got:\n" + "\n".join(got) + "\nwant:\n" + "\n".join(records))
        for line in body:
            txt = line.split("\t", 4)[4].strip('"')
            what = "sts-record" if txt.startswith("v=STSv1") else "tlsrpt-record"
            rc, out, err = run("lint", what, txt, cwd=tmp)
            report(rc == 0 and out == "valid\n", f"lint {what} '{txt}'",
                   f"rc={rc} out={out!r} err={err!r}")

    # the state database serves the same ids (docs/state.md, served_policies)
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
    try:
        served = dict(db.execute("SELECT domain, policy_id FROM served_policies "
                                 "WHERE current = 1").fetchall())
    finally:
        db.close()
    report(served == expected_ids, "state: the current policy ids", f"{served} != {expected_ids}")

    # a second apply finds nothing to do and rewrites nothing
    published = snapshot(os.path.join(tmp, "examples"))
    rc, out, err = run(*apply_args, cwd=tmp)
    report(rc == 0, "second apply: exit 0", f"rc={rc}\nout={out}\nerr={err}")
    report(out == f"Plan: 0 to create, 0 to update, 0 to delete in 0 of {n} domains\n",
           "second apply: an empty plan", repr(out))
    report(err == f"Apply: 0 domains changed (0 changes), {n} unchanged, 0 failed\n",
           "second apply: nothing changed", repr(err))
    report(snapshot(os.path.join(tmp, "examples")) == published,
           "second apply: no file rewritten", "")
    rc, out, err = run("plan", "examples/quickstart.json", "--detailed-exitcode",
                       "--state", state, cwd=tmp)
    report(rc == 0, "plan --detailed-exitcode after apply: 0 (no changes)",
           f"rc={rc}\nout={out}\nerr={err}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

after = source_tree_state()
report(after == before, "the source tree and the working directory are left alone",
       f"before={before}\nafter={after}")
done()
