#!/usr/bin/env python3
"""Where the state lives (issue 18, first bullet; issue 16, item 7;
docs/state.md, Where the state lives). TAP.

1. Precedence, observed by the file each run creates: --state, else
   STSCTL_STATE (empty: unset), else the inventory's state.url (a relative
   path relative to the inventory's directory), else ./stsctl.db; each
   source wins over the next. `state check -i` and the `watch` daemon's
   PATH.watch.lock follow the inventory's state.url too.
2. A postgresql:// URL with a password (user:pass@ or ?password=) is refused
   from --state, STSCTL_STATE (exit 2, the source named) and state.url
   (validate: FILE:LINE:COL and state.url), the password never echoed.
3. The state section is validated with positions: a clear-text password,
   an unknown key (did you mean), a wrong type, a password for a path.
4. STSCTL_STATE (even one that would be refused) does not make a command
   that keeps no state fail; --state still does (exit 2).
5. A URL state creates no file named after it (no lock); opening it fails
   as "not built in" (a build without libpq) or as a server it cannot reach
   (127.0.0.1:1), with exit 2; state backup prints the pg_dump command
   (exit 2, FILE not written), state check says it is not supported yet;
   an unresolvable state.password names the reference, a resolved one is
   never printed.
6. Which URL forms carry a password: user:pass@ (a "@" in the password too),
   an empty password, password= in any case, a bare password parameter; and
   which do not: no user info, IPv6, a socket directory, passwordfile=, "@"
   after the path or inside a parameter value.

Usage: test_state_location.py STSCTL
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from tap import done, report

STSCTL = os.path.abspath(sys.argv[1])
PW = "Zq9-not-for-logs"


def run(d, args, env=None, timeout=60):
    e = {k: v for k, v in os.environ.items() if k != "STSCTL_STATE"}
    e.update(env or {})
    p = subprocess.run([STSCTL] + args, cwd=d, capture_output=True, timeout=timeout, env=e,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def inventory(path, state=None, raw=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    doc = {"version": 1, "domains": []}
    if state is not None:
        doc["state"] = state
    with open(path, "w", encoding="utf-8") as f:
        f.write(raw if raw is not None else json.dumps(doc, indent=1) + "\n")


def files(d):
    out = set()
    for top, _, names in os.walk(d):
        for n in names:
            out.add(os.path.relpath(os.path.join(top, n), d))
    return out


def pos_of(text, needle):
    """1-based line and column of the first byte of needle in text."""
    i = text.index(needle)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def precedence(d):
    inventory(os.path.join(d, "cfg", "inv.json"), {"url": "st/inv.db"})
    inventory(os.path.join(d, "plain.json"))
    os.makedirs(os.path.join(d, "cfg", "st"))
    inv = os.path.join("cfg", "inv.json")

    # the default: ./stsctl.db, as before
    rc, _, err = run(d, ["apply", "plain.json", "--yes"])
    report(rc == 0 and "stsctl.db" in files(d), "no source: ./stsctl.db (unchanged)",
           f"rc={rc} {err} {sorted(files(d))}")

    # the inventory's state.url, relative to the inventory's directory
    rc, _, err = run(d, ["apply", inv, "--yes"])
    made = files(d)
    report(rc == 0 and "cfg/st/inv.db" in made and "st/inv.db" not in made,
           "state.url wins over the default, relative to the inventory's directory",
           f"rc={rc} {err} {sorted(made)}")
    rc, out, err = run(d, ["state", "check", "-i", inv])
    report(rc == 0 and "state database 'cfg/st/inv.db': ok" in out,
           "state check -i reads the inventory's state.url", f"rc={rc} {out} {err}")

    # STSCTL_STATE wins over state.url; empty is unset
    rc, _, err = run(d, ["apply", inv, "--yes"], {"STSCTL_STATE": "env.db"})
    report(rc == 0 and "env.db" in files(d), "STSCTL_STATE wins over state.url",
           f"rc={rc} {err} {sorted(files(d))}")
    rc, out, err = run(d, ["state", "check"], {"STSCTL_STATE": "env.db"})
    report(rc == 0 and "state database 'env.db': ok" in out, "state check reads STSCTL_STATE",
           f"rc={rc} {out} {err}")
    rc, out, err = run(d, ["state", "check", "-i", inv], {"STSCTL_STATE": ""})
    report(rc == 0 and "'cfg/st/inv.db'" in out, "an empty STSCTL_STATE is unset",
           f"rc={rc} {out} {err}")

    # --state wins over STSCTL_STATE, before or after the command name
    rc, _, err = run(d, ["apply", inv, "--yes", "--state", "opt.db"], {"STSCTL_STATE": "env2.db"})
    made = files(d)
    report(rc == 0 and "opt.db" in made and "env2.db" not in made,
           "--state wins over STSCTL_STATE", f"rc={rc} {err} {sorted(made)}")
    rc, _, err = run(d, ["--state", "opt2.db", "apply", inv, "--yes"], {"STSCTL_STATE": "env2.db"})
    made = files(d)
    report(rc == 0 and "opt2.db" in made and "env2.db" not in made,
           "--state before the command wins over STSCTL_STATE", f"rc={rc} {err} {sorted(made)}")

    # the watch daemon's lock follows the inventory's state
    e = {k: v for k, v in os.environ.items() if k != "STSCTL_STATE"}
    p = subprocess.Popen([STSCTL, "watch", inv], cwd=d, env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lock = os.path.join(d, "cfg", "st", "inv.db.watch.lock")
    for _ in range(100):  # 10 s at most
        if os.path.exists(lock) or p.poll() is not None:
            break
        time.sleep(0.1)
    seen = os.path.exists(lock)
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    report(seen and not os.path.exists(os.path.join(d, "stsctl.db.watch.lock")),
           "watch (daemon) holds STATE.watch.lock of the inventory's state.url",
           f"{err.decode(errors='replace')} {sorted(files(d))}")


def passwords(d):
    inventory(os.path.join(d, "inv.json"))
    for url in ("postgresql://sts:%s@db.example/sts" % PW,
                "postgres://sts@db.example/sts?sslmode=verify-full&password=%s" % PW):
        before = files(d)
        rc, out, err = run(d, ["apply", "inv.json", "--yes", "--state", url])
        report(rc == 2 and "--state: a password in the URL is refused" in err and PW not in out + err
               and files(d) == before, "a password in --state is refused, not echoed",
               f"rc={rc} {out} {err}")
        rc, out, err = run(d, ["plan", "inv.json"], {"STSCTL_STATE": url})
        report(rc == 2 and "STSCTL_STATE: a password in the URL is refused" in err
               and PW not in out + err, "a password in STSCTL_STATE is refused, not echoed",
               f"rc={rc} {out} {err}")
    url = "postgresql://sts:%s@db.example/sts" % PW
    inventory(os.path.join(d, "pw.json"), {"url": url})
    with open(os.path.join(d, "pw.json"), encoding="utf-8") as f:
        line, col = pos_of(f.read(), json.dumps(url))
    for cmd in (["validate", "pw.json"], ["plan", "pw.json"]):
        rc, out, err = run(d, cmd)
        report(rc == 1 and f"pw.json:{line}:{col}: error: state.url: a password in the URL "
               "is refused" in err and PW not in out + err,
               f"a password in state.url: {cmd[0]} names FILE:LINE:COL and state.url",
               f"rc={rc} {out} {err}")


def url_forms(d):
    """Which URLs carry a password (sts_state_location_problem), through --state."""
    refused = ["postgresql://u:%s@h/db" % PW, "postgres://u:@h/db",
               "postgresql://u:p%s@ss@h/db" % PW, "POSTGRESQL://u:%s@h/db" % PW,
               "postgresql://h/db?password=%s" % PW, "postgresql://h/db?sslmode=require&PASSWORD=x",
               "postgresql://h/db?password"]
    accepted = ["postgresql://u@h/db", "postgresql://[::1]:5432/db", "postgres:///db",
                "postgresql:///db?host=/run/postgresql", "postgresql://h/db?passwordfile=x",
                "postgresql://h/a:b@c", "postgresql://u@h/db?application_name=a:b@c"]
    for url in refused:
        rc, out, err = run(d, ["state", "check", "--state", url])
        want = "not a path or a postgresql://" if url.startswith("POSTGRESQL") else \
            "a password in the URL is refused"
        report(rc == 2 and want in err and PW not in out + err, f"refused: {url.replace(PW, 'PW')}",
               f"rc={rc} {err}")
    for url in accepted:
        rc, out, err = run(d, ["state", "check", "--state", url])
        report(rc == 2 and "not supported on PostgreSQL yet" in err, f"accepted: {url}",
               f"rc={rc} {err}")


def section(d):
    cases = [
        ({"url": "postgresql://db.example/sts", "password": PW}, '"' + PW,
         "state.password: a password in clear text: write ${env:NAME} or ${file:PATH}"),
        ({"url": "x.db", "pasword": "${env:X}"}, '"pasword"',
         "state.pasword: unknown key 'pasword': did you mean 'password'?"),
        ({"url": 5}, "5", "state.url: expected a string"),
        ({"url": "x.db", "password": "${file:pw}"}, '"${file:pw}"',
         "state.password: a password for a path: only a postgresql:// URL takes one"),
        ({"url": "mysql://db.example/sts"}, '"mysql:', "state.url: not a path or a postgresql"),
    ]
    for i, (st, needle, msg) in enumerate(cases):
        p = os.path.join(d, f"s{i}.json")
        inventory(p, st)
        with open(p, encoding="utf-8") as f:
            line, col = pos_of(f.read(), needle)
        rc, out, err = run(d, ["validate", f"s{i}.json"])
        report(rc == 1 and f"s{i}.json:{line}:{col}: error: {msg}" in err
               and (i != 0 or PW not in out + err), f"validate: {msg}", f"rc={rc} {out} {err}")


def no_state_commands(d):
    inventory(os.path.join(d, "inv.json"))
    bad = "postgresql://sts:%s@db.example/sts" % PW
    for val in ("some.db", bad):
        for cmd in (["validate", "inv.json"], ["plugins"], ["completion", "bash"],
                    ["help", "plan"], ["lint", "sts-record", "v=STSv1; id=20250101;"]):
            rc, out, err = run(d, cmd, {"STSCTL_STATE": val})
            report(rc == 0 and PW not in err, f"STSCTL_STATE={val[:12]}...: {cmd[0]} exits 0",
                   f"rc={rc} {err}")
    rc, _, err = run(d, ["--state", "x.db", "validate", "inv.json"])
    report(rc == 2 and "'stsctl validate' has no --state" in err, "--state on validate: exit 2",
           err)
    rc, _, err = run(d, ["lint", "sts-record", "--state", "x.db", "v=STSv1; id=1;"])
    report(rc == 2 and "unknown option '--state'" in err, "--state on lint: exit 2", err)


def url_state(d):
    # loopback port 1: nothing listens, the connection is refused at once
    url = "postgresql://sts@127.0.0.1:1/sts?sslmode=verify-full"
    # a build without libpq says so; with it, the open names the server it could not reach
    unreachable = ("PostgreSQL state: not built in",
                   "cannot connect to the PostgreSQL state at 127.0.0.1:1/sts: ")
    inventory(os.path.join(d, "inv.json"))
    before = files(d)
    rc, out, err = run(d, ["apply", "inv.json", "--yes", "--state", url])
    report(rc == 2 and any(u in err for u in unreachable) and files(d) == before,
           "a URL state: not built in or unreachable (exit 2), no file and no lock named after it",
           f"rc={rc} {out} {err} {sorted(files(d) - before)}")
    rc, out, err = run(d, ["state", "backup", "it's.dump"], {"STSCTL_STATE": url})
    report(rc == 2 and out == f"pg_dump --format=custom --file='it'\\''s.dump' '{url}'\n"
           and "pg_dump" in err and not os.path.exists(os.path.join(d, "it's.dump")),
           "state backup on a URL prints the pg_dump command, writes nothing (exit 2)",
           f"rc={rc} {out!r} {err}")
    rc, out, err = run(d, ["state", "check", "--state", url])
    report(rc == 2 and "not supported on PostgreSQL yet" in err, "state check on a URL: exit 2",
           f"rc={rc} {out} {err}")
    inventory(os.path.join(d, "ref.json"), {"url": url, "password": "${env:STS_TEST_PGPW}"})
    rc, out, err = run(d, ["plan", "ref.json"])
    report(rc == 2 and "secret ${env:STS_TEST_PGPW} does not resolve" in err,
           "an unresolvable state.password names its reference (exit 2)", f"rc={rc} {out} {err}")
    rc, out, err = run(d, ["plan", "ref.json"], {"STS_TEST_PGPW": PW})
    report(rc == 2 and any(u in err for u in unreachable) and PW not in out + err,
           "a resolved state.password is never printed", f"rc={rc} {out} {err}")


for part in (precedence, passwords, url_forms, section, no_state_commands, url_state):
    with tempfile.TemporaryDirectory() as tmp:
        part(tmp)
done()
