#!/usr/bin/env python3
"""One tenant at a time (issue 17, finding 4): --tenant on plan, apply, check,
status, report and watch; -t with U-labels; a scoped plan shows the removals
inside its scope (the state records each managed domain's tenant) and counts
the ones outside it, and its removals are weighed against the managed domains
of the scope (the 10% rule). Offline: the zonefile and local plugins in a temporary
directory; check and watch only ever ask a closed port of 127.0.0.1. TAP.
Usage: test_scopes.py STSCTL
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]
U = "b\u00fccher.example"  # bücher.example
A = "xn--bcher-kva.example"

DOMAINS = [("a1.example", "acme"), ("a2.example", "acme"), (U, "acme"),
           ("i1.example", "initech"), ("i2.example", "initech"), ("solo.example", None)]


def write_inventory(tmp, name, drop=(), mode="testing"):
    doms = []
    for d, t in DOMAINS:
        if d in drop:
            continue
        e = {"name": d}
        if t:
            e["tenant"] = t
        doms.append(e)
    inv = {
        "version": 1,
        "defaults": {"dns": "zones", "web": "www", "mode": mode, "mx": ["mx.mail.example"],
                     "tlsrpt": {"rua": ["mailto:tlsrpt@mail.example"]}},
        "providers": {"zones": {"plugin": "zonefile", "directory": "zones"},
                      "www": {"plugin": "local", "root": "www"}},
        "tenants": {"acme": {}, "initech": {}},
        "domains": doms,
    }
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(inv, f, ensure_ascii=False)
    return path


def run(tmp, *args):
    p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=60, cwd=tmp,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def show(rc, out, err):
    return f"rc={rc}\nout={out[-900:]!r}\nerr={err[-600:]!r}"


def headers(out):
    """The domains a text plan shows (its lines that start without a blank)."""
    return {ln.split(" ")[0] for ln in out.splitlines()
            if ln and not ln.startswith((" ", "Plan:", "!")) and "outside the scope" not in ln}


def names_in(out, key, field):
    """The set of FIELD of the objects in the list KEY of the JSON document out; None."""
    try:
        return {d[field] for d in json.loads(out)[key]}
    except (ValueError, KeyError, TypeError):
        return None


with tempfile.TemporaryDirectory(prefix="stsctl-scopes-") as tmp:
    os.makedirs(os.path.join(tmp, "zones"))
    os.makedirs(os.path.join(tmp, "www"))
    for d in ["a1.example", "a2.example", A, "i1.example", "i2.example", "solo.example"]:
        with open(os.path.join(tmp, "zones", f"{d}.zone"), "w", encoding="ascii") as f:
            f.write(f"$ORIGIN {d}.\n@ 3600 IN SOA ns1 host 1 7200 3600 1209600 3600\n")
    inv1 = write_inventory(tmp, "inv1.json")
    # a2 (acme) and i2 (initech) taken out; every other domain goes to enforce
    inv2 = write_inventory(tmp, "inv2.json", drop=("a2.example", "i2.example"), mode="enforce")
    st = os.path.join(tmp, "st.db")

    res = run(tmp, "apply", "--yes", "--state", st, inv1)
    report(res[0] == 0, "setup: apply publishes the six domains", show(*res))

    # -- the tenant of each managed domain is in the state (component "plan") --
    try:
        with sqlite3.connect(st) as db:
            rows = dict(db.execute("SELECT domain, tenant FROM managed_tenants"))
            ver = db.execute("SELECT version FROM schema_version WHERE component = 'plan'"
                             ).fetchone()
    except sqlite3.Error as e:
        rows, ver = {"error": str(e)}, None
    report(rows == {"a1.example": "acme", "a2.example": "acme", A: "acme",
                    "i1.example": "initech", "i2.example": "initech"} and ver == (1,),
           "apply records each managed domain's tenant (schema 'plan' version 1)",
           f"{rows!r} version {ver!r}")

    # -- a scoped plan shows the removals inside its scope --
    res = run(tmp, "plan", "--state", st, "--tenant", "acme", inv2)
    rc, out, err = res
    report(rc == 0 and headers(out) == {"a1.example", A, "a2.example"}
           and "a2.example (removal-start)" in out,
           "plan --tenant acme: its domains and the removal of one taken out of the inventory",
           show(*res))
    report("1 removal outside the scope not shown" in out,
           "plan --tenant acme: says that 1 removal outside the scope is not shown", show(*res))
    res = run(tmp, "plan", "--state", st, "--tenant", "acme", "--json", inv2)
    try:
        doc = json.loads(res[1])
        ok = doc["removal"]["outside_scope"] == 1 and \
            {c["domain"] for c in doc["changes"]} == {"a1.example", A, "a2.example"}
    except (ValueError, KeyError, TypeError):
        ok = False
    report(res[0] == 0 and ok, "plan --tenant acme --json: removal.outside_scope 1, changes of "
           "the tenant's domains only", show(*res))
    res = run(tmp, "plan", "--state", st, "--tenant", "acme", "--tenant", "initech", inv2)
    report(res[0] == 0 and headers(res[1]) == {"a1.example", A, "a2.example", "i1.example",
                                               "i2.example"}
           and "outside the scope" not in res[1],
           "plan --tenant acme --tenant initech: the union, both removals", show(*res))
    res = run(tmp, "plan", "--state", st, "--tenant", "initech", "-t", "solo.example", inv2)
    report(res[0] == 0 and headers(res[1]) == {"i1.example", "i2.example", "solo.example"}
           and "1 removal outside the scope not shown" in res[1],
           "plan --tenant initech -t solo.example: the tenant's domains and the -t one",
           show(*res))
    res = run(tmp, "plan", "--state", st, "-t", "a1.example", "-t", "a2.example", inv2)
    report(res[0] == 0 and headers(res[1]) == {"a1.example", "a2.example"}
           and "1 removal outside the scope not shown" in res[1],
           "plan -t: a removed domain named by -t is in scope; the other one is counted",
           show(*res))

    # -- unknown tenants: a usage error with "did you mean" --
    for cmd in (["plan", "--state", st, inv2], ["apply", "--yes", "--state", st, inv2],
                ["status", "--state", st, inv2], ["report", "--state", st, "-i", inv2],
                ["check", "--inventory", inv2], ["watch", "--once", "--dry-run", "--state", st,
                                                 inv2]):
        res = run(tmp, *cmd, "--tenant", "acmee")
        report(res[0] == 2 and "unknown tenant 'acmee': did you mean 'acme'?" in res[2],
               f"{cmd[0]} --tenant acmee: exit 2, did you mean 'acme'", show(*res))

    # -- -t takes U-labels, and an unknown one is named in both forms --
    res = run(tmp, "plan", "--state", st, "-t", U, inv2)
    report(res[0] == 0 and headers(res[1]) == {A}, f"plan -t {U}: plans {A}", show(*res))
    res = run(tmp, "plan", "--state", st, "-t", "B\u00dcCHER.example.", inv2)
    report(res[0] == 0 and headers(res[1]) == {A}, "plan -t in upper case with a root dot",
           show(*res))
    res = run(tmp, "plan", "--state", st, "-t", "b\u00fccher.test", inv2)
    report(res[0] == 2 and "'b\u00fccher.test' (xn--bcher-kva.test)" in res[2],
           "an unknown U-label is named with its A-label", show(*res))
    res = run(tmp, "plan", "--state", st, "-t", "xn--bcher-kva.test", inv2)
    report(res[0] == 2 and "'xn--bcher-kva.test' (b\u00fccher.test)" in res[2],
           "an unknown A-label is named with its U-label", show(*res))

    # -- a state from before the tenants table: the last applied spec still knows --
    st_old = os.path.join(tmp, "old.db")
    with sqlite3.connect(st) as src, sqlite3.connect(st_old) as dst:
        src.backup(dst)
    with sqlite3.connect(st_old) as db:
        db.execute("DROP TABLE IF EXISTS managed_tenants")
        db.execute("DELETE FROM schema_version WHERE component = 'plan'")
    res = run(tmp, "plan", "--state", st_old, "--tenant", "acme", inv2)
    report(res[0] == 0 and "a2.example (removal-start)" in res[1],
           "an unmigrated state: plan --tenant still finds the removed domain's tenant",
           show(*res))

    # -- apply --tenant: only that tenant, and the migration fills existing rows --
    res = run(tmp, "apply", "--yes", "--allow-removal", "--state", st_old, "--tenant", "initech",
              inv2)
    try:
        with sqlite3.connect(st_old) as db:
            started = dict(db.execute("SELECT domain, removal_started IS NOT NULL"
                                      " FROM managed_domains"))
            tenants = dict(db.execute("SELECT domain, tenant FROM managed_tenants"))
    except sqlite3.Error as e:
        started, tenants = {}, {"error": str(e)}
    report(res[0] == 0 and started.get("i2.example") == 1 and started.get("a2.example") == 0,
           "apply --tenant initech: starts i2's removal, leaves acme's a2 alone",
           f"{show(*res)}\n{started!r}")
    report(tenants.get("a2.example") == "acme" and tenants.get("solo.example") is None
           and tenants.get("i1.example") == "initech",
           "the migration takes existing rows' tenants from their last apply", repr(tenants))
    res = run(tmp, "plan", "--state", st, "--tenant", "acme", "--out",
              os.path.join(tmp, "p.json"), inv2)
    res = run(tmp, "apply", "--yes", "--state", st, "--tenant", "acme",
              os.path.join(tmp, "p.json"))
    report(res[0] == 2 and "cannot be used with a plan file" in res[2],
           "apply PLANFILE --tenant: refused", show(*res))

    # -- status, report, check and watch show only the tenant's domains --
    res = run(tmp, "status", "--state", st, "--tenant", "acme", "--json", inv2)
    names = names_in(res[1], "domains", "domain")
    report(res[0] == 0 and names == {"a1.example", A}, "status --tenant acme: its domains",
           f"{names!r}\n{show(*res)}")
    res = run(tmp, "status", "--state", st, "--tenant", "initech", inv2)
    report(res[0] == 0 and "i1.example" in res[1] and "a1.example" not in res[1]
           and "solo.example" not in res[1], "status --tenant initech (text)", show(*res))
    res = run(tmp, "report", "--state", st, "-i", inv2, "--tenant", "acme", "--format",
              "json")
    names = names_in(res[1], "domains", "domain")
    report(res[0] == 0 and names == {"a1.example", A}, "report --tenant acme: its domains",
           f"{names!r}\n{show(*res)}")
    res = run(tmp, "report", "--state", st, "-i", inv2, "-d", U.upper(), "--format", "json")
    report(res[0] == 0 and names_in(res[1], "domains", "domain") == {A},
           f"report -d {U.upper()}: the domain as stored, {A}", show(*res))
    res = run(tmp, "report", "--state", st, "--tenant", "acme")
    report(res[0] == 2 and "--tenant needs the inventory" in res[2],
           "report --tenant without --inventory: usage error", show(*res))
    # DNS goes to a closed port of 127.0.0.1 (1, tcpmux): nothing leaves the machine
    res = run(tmp, "check", "--json", "--no-smtp", "--resolver", "127.0.0.1:1",
              "--dns-timeout", "1", "--timeout", "1", "--inventory", inv2, "--tenant",
              "initech")
    names = names_in(res[1], "domains", "domain")
    report(names == {"i1.example"}, "check --inventory --tenant initech: its domains",
           f"{names!r}\n{show(*res)}")
    res = run(tmp, "watch", "--once", "--dry-run", "--json", "--state", st, "--resolver",
              "127.0.0.1:1", "--tenant", "acme", inv2)
    names = names_in(res[1], "decisions", "domain")
    report(res[0] in (0, 1) and names is not None and names <= {"a1.example", A}
           and names >= {"a1.example"},
           "watch --once --tenant acme: decisions for its domains only",
           f"{names!r}\n{show(*res)}")

# -- the 10% removal rule of a scoped plan counts within its scope --
with tempfile.TemporaryDirectory(prefix="stsctl-scopes-share-") as tmp:
    os.makedirs(os.path.join(tmp, "zones"))
    os.makedirs(os.path.join(tmp, "www"))
    doms = [(f"{t[0]}{i}.example", t) for t in ("acme", "initech") for i in range(10)]
    for d, _ in doms:
        with open(os.path.join(tmp, "zones", f"{d}.zone"), "w", encoding="ascii") as f:
            f.write(f"$ORIGIN {d}.\n@ 3600 IN SOA ns1 host 1 7200 3600 1209600 3600\n")

    def inventory(name, drop=()):
        inv = {"version": 1,
               "defaults": {"dns": "zones", "web": "www", "mx": ["mx.mail.example"]},
               "providers": {"zones": {"plugin": "zonefile", "directory": "zones"},
                             "www": {"plugin": "local", "root": "www"}},
               "tenants": {"acme": {}, "initech": {}},
               "domains": [{"name": d, "tenant": t} for d, t in doms if d not in drop]}
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
            json.dump(inv, f)
        return name

    st = os.path.join(tmp, "st.db")
    res = run(tmp, "apply", "--yes", "--state", st, inventory("full.json"))
    report(res[0] == 0, "setup: apply publishes 2 tenants of 10 domains", show(*res))
    less = inventory("less.json", drop=("a0.example", "a1.example"))  # 2 of acme's 10
    res = run(tmp, "plan", "--state", st, "--tenant", "acme", "--json", less)
    rem = (json.loads(res[1]) if res[1].startswith("{") else {}).get("removal", {})
    report(rem.get("managed") == 20 and rem.get("managed_in_scope") == 10
           and rem.get("starts") == 2 and rem.get("needs_allow_removal") is True,
           "plan --tenant acme --json: 2 removals of 10 managed in the scope need "
           "--allow-removal", f"{rem!r}\n{show(*res)}")
    res = run(tmp, "apply", "--yes", "--state", st, "--tenant", "acme", less)
    report(res[0] == 1 and "refusing to start removing 2 of 10 managed domains in its scope"
           in res[2], "apply --tenant acme: removing 2 of its 10 (20%) is refused",
           show(*res))
    with sqlite3.connect(st) as db:
        started = db.execute("SELECT count(*) FROM managed_domains"
                             " WHERE removal_started IS NOT NULL").fetchone()[0]
    report(started == 0, "... and no removal started", f"{started} started")
    res = run(tmp, "apply", "--yes", "--state", st, less)
    report(res[0] == 0, "apply without a scope: 2 of 20 (10%, not more) is allowed as before",
           show(*res))

done()
