#!/usr/bin/env python3
"""State you can trust (issue 17, finding 5; docs/state.md, docs/stsctl-state.md),
on the zonefile + local plugins (tests/bench/gen-apply-inventory.py). TAP.

1. A damaged or empty state file is refused with exit 2 and advice, never
   recreated: random bytes, one page of a real state zeroed with dd, an
   empty file (apply --init starts a new state in it).
2. stsctl state check: ok on a sound state (and --json); a run left
   running with no lock holder, a journal row of no run: inconsistent
   (exit 1); a run while another process holds the lock: a note (exit 0);
   a damaged page: damaged (exit 2).
3. stsctl state backup FILE while another process holds the state lock and
   an SQLite write transaction: a checked copy without the uncommitted row;
   a damaged state is not copied.
4. (test hooks) SIGINT in a 60-domain apply of 6 zones with a slow
   provider (STSCTL_TEST_ZONE_DELAY_MS): exit 130, the run recorded
   interrupted, every zone all or nothing, the rerun converges; SIGTERM: 143.
5. (test hooks) a run left running by a crash (STSCTL_TEST_CRASH_AFTER):
   plan says so, the next apply records it interrupted and converges.

Usage: test_state.py STSCTL SOURCE_ROOT true|false (the build has the test hooks)
"""
import fcntl
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from tap import done, report

STSCTL, ROOT, HOOKS = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3] == "true"
PLAN_NONE = "Plan: 0 to create, 0 to update, 0 to delete"


def run(d, args, env=None, timeout=60):
    p = subprocess.run([STSCTL] + args, cwd=d, capture_output=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def setup(d, n, z):
    os.makedirs(os.path.join(d, "zones"))
    os.makedirs(os.path.join(d, "www"))
    subprocess.run([sys.executable, os.path.join(ROOT, "tests/bench/gen-apply-inventory.py"),
                    str(n), str(z), os.path.join(d, "inv.json")], check=True, timeout=60)


def apply(d, state="st.db", extra=None, env=None):
    return run(d, ["apply", "inv.json", "--yes", "--state", state] + (extra or []), env)


def sql(path, q, args=()):
    c = sqlite3.connect(path)
    try:
        rows = c.execute(q, args).fetchall()
        c.commit()
        return rows
    finally:
        c.close()


def checkpoint(path):
    """Everything in the main file (so dd on it hits real pages)."""
    sql(path, "PRAGMA wal_checkpoint(TRUNCATE)")


def zone_counts(d):
    """Per zone file: how many _mta-sts TXT records it holds."""
    out = {}
    for f in sorted(os.listdir(os.path.join(d, "zones"))):
        with open(os.path.join(d, "zones", f), encoding="utf-8") as fh:
            out[f] = len(re.findall(r"^_mta-sts\.", fh.read(), re.M))
    return out


def refused(rc, err, what):
    return rc == 2 and what in err and "restore a backup" in err and "already exists" not in err


with tempfile.TemporaryDirectory(prefix="stsctl-state-") as tmp:
    d = os.path.join(tmp, "a")
    setup(d, 40, 4)
    rc, out, err = apply(d)
    report(rc == 0, "a 40-domain apply makes a real state", f"rc={rc} {err[-300:]}")
    good = os.path.join(d, "good.db")
    checkpoint(os.path.join(d, "st.db"))
    shutil.copy(os.path.join(d, "st.db"), good)
    pages = sql(good, "PRAGMA page_count")[0][0]

    # 1. refused, never recreated
    with open(os.path.join(d, "rnd.db"), "wb") as f:
        f.write(os.urandom(65536))
    rnd = open(os.path.join(d, "rnd.db"), "rb").read()
    rc, out, err = run(d, ["plan", "inv.json", "--state", "rnd.db"])
    report(refused(rc, err, "is damaged") and "state check" in err,
           "random bytes: plan refuses with exit 2 and advice", f"rc={rc} {err[-300:]}")
    rc, out, err = apply(d, "rnd.db")
    report(refused(rc, err, "is damaged") and open(os.path.join(d, "rnd.db"), "rb").read() == rnd,
           "random bytes: apply refuses with exit 2, the file untouched", f"rc={rc} {err[-300:]}")

    shutil.copy(good, os.path.join(d, "dmg.db"))
    with open(os.path.join(d, "dmg.db"), "r+b") as f:  # dd of=dmg.db bs=4096 seek=N count=1
        f.seek(4096 * (pages // 2))
        f.write(b"\0" * 4096)
    shutil.copy(os.path.join(d, "dmg.db"), os.path.join(d, "dmg2.db"))
    rc, out, err = run(d, ["plan", "inv.json", "--state", "dmg.db"])
    report(refused(rc, err, "is damaged") and "run 'stsctl apply'" not in err,
           "a zeroed page: plan refuses with exit 2, without advising apply", f"rc={rc} {err[-300:]}")
    rc, out, err = apply(d, "dmg.db")
    report(refused(rc, err, "is damaged"), "a zeroed page: apply refuses with exit 2",
           f"rc={rc} {err[-300:]}")
    rc, out, err = apply(d, "dmg.db", ["--init"])
    report(refused(rc, err, "is damaged"), "a zeroed page: refused with --init too",
           f"rc={rc} {err[-300:]}")

    open(os.path.join(d, "empty.db"), "w").close()
    rc, out, err = apply(d, "empty.db")
    report(refused(rc, err, "is empty") and "--init" in err
           and os.path.getsize(os.path.join(d, "empty.db")) == 0,
           "an empty file: apply refuses with exit 2 (advice: --init), the file stays empty",
           f"rc={rc} {err[-300:]}")
    rc, out, err = run(d, ["plan", "inv.json", "--state", "empty.db"])
    report(refused(rc, err, "is empty"), "an empty file: plan refuses with exit 2",
           f"rc={rc} {err[-300:]}")
    rc, out, err = apply(d, "empty.db", ["--init"])
    report(rc == 0 and sql(os.path.join(d, "empty.db"), "SELECT count(*) FROM runs")[0][0] == 1,
           "apply --init starts a new state in an empty file", f"rc={rc} {err[-300:]}")

    # 2. state check
    rc, out, err = run(d, ["state", "check", "--state", "good.db"])
    report(rc == 0 and out.strip().endswith("state database 'good.db': ok"),
           "state check: a sound state is ok (exit 0)", f"rc={rc} {out!r} {err[-300:]}")
    rc, out, err = run(d, ["state", "check", "--json", "--state", "good.db"])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    report(rc == 0 and doc.get("status") == "ok" and doc.get("findings") == [],
           "state check --json: status ok, no findings", f"rc={rc} {out[:300]!r}")
    rc, out, err = run(d, ["state", "check", "--state", "dmg2.db"])
    report(rc == 2 and re.search(r"^damaged: integrity: ", out, re.M)
           and "state database 'dmg2.db': damaged" in out,
           "state check: a zeroed page is damaged (exit 2)", f"rc={rc} {out!r} {err[-300:]}")
    rc, out, err = run(d, ["state", "check", "--state", "rnd.db"])
    report(rc == 2 and "damaged: " in out, "state check: random bytes are damaged (exit 2)",
           f"rc={rc} {out!r}")
    rc, out, err = run(d, ["state", "check", "--state", "nothere.db"])
    report(rc == 2 and "no state database" in err, "state check: no state, exit 2",
           f"rc={rc} {err!r}")

    inc = os.path.join(d, "inc.db")
    shutil.copy(good, inc)
    sql(inc, "INSERT INTO runs (command, started) VALUES ('apply', 1700000000)")
    sql(inc, "INSERT INTO journal (run_id, time, domain, step, status) "
             "VALUES (999, 1700000000, 'x.test', 'dns', 'ok')")
    rc, out, err = run(d, ["state", "check", "--state", "inc.db"])
    report(rc == 1 and re.search(r"^inconsistent: runs: run 2 \(apply, started .*\) did not "
                                 r"finish and no stsctl holds the lock", out, re.M)
           and re.search(r"^inconsistent: journal: 1 journal rows belong to no run", out, re.M),
           "state check: a run left running, a journal row of no run: inconsistent (exit 1)",
           f"rc={rc} {out!r}")
    with open(inc + ".lock", "a+") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rc, out, err = run(d, ["state", "check", "--state", "inc.db"])
    report(rc == 1 and re.search(r"^note: runs: run 2 .* is running: another stsctl holds", out,
                                 re.M),
           "state check: a run while another process holds the lock is a note",
           f"rc={rc} {out!r}")

    # 3. backup while another process holds the lock and a write transaction
    st = os.path.join(d, "st.db")
    holder = subprocess.Popen([sys.executable, "-c", """
import fcntl, sqlite3, sys
lk = open(sys.argv[1] + ".lock", "a+")
fcntl.flock(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO runs (command, started, status) VALUES ('uncommitted', 1, 'ok')")
print("held", flush=True)
sys.stdin.readline()
c.execute("ROLLBACK")
""", st], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = holder.stdout.readline().strip() == b"held"
    rc, out, err = run(d, ["apply", "inv.json", "--yes", "--state", "st.db"])
    locked = rc == 3
    t0 = time.monotonic()
    rc, out, err = run(d, ["state", "backup", os.path.join(tmp, "bk.db"), "--state", "st.db"])
    took = time.monotonic() - t0
    holder.stdin.write(b"\n")
    holder.stdin.close()
    holder.wait(timeout=30)
    bk = os.path.join(tmp, "bk.db")
    ok = rc == 0 and os.path.exists(bk)
    report(ready and locked and ok and took < 5,
           "state backup while another process holds the lock and a write transaction",
           f"ready={ready} locked={locked} rc={rc} took={took:.1f}s {err[-300:]}")
    if ok:
        report(sql(bk, "PRAGMA integrity_check") == [("ok",)]
               and sql(bk, "SELECT count(*) FROM managed_domains")[0][0] == 40
               and sql(bk, "SELECT count(*) FROM runs WHERE command = 'uncommitted'")[0][0] == 0
               and oct(os.stat(bk).st_mode & 0o777) == "0o600"
               and not [f for f in os.listdir(tmp) if ".tmp." in f],
               "the backup: consistent, the committed rows only, mode 0600, no temporary left")
        rc, out, err = run(d, ["state", "check", "--state", bk])
        report(rc == 0, "state check of the backup: ok", f"rc={rc} {out!r}")
    else:
        report(False, "the backup: consistent, the committed rows only, mode 0600, no temporary left")
        report(False, "state check of the backup: ok")
    rc, out, err = run(d, ["state", "backup", os.path.join(tmp, "bk2.db"), "--state", "dmg2.db"])
    report(rc == 2 and "damaged" in err and not os.path.exists(os.path.join(tmp, "bk2.db")),
           "state backup refuses a damaged state (exit 2), writes nothing", f"rc={rc} {err!r}")

    if not HOOKS:
        report(True, "# SKIP SIGINT/SIGTERM and crash cases need -Dtest_hooks=true")
        done()

    # 4. SIGINT / SIGTERM in a slow apply
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        e = os.path.join(tmp, f"sig{code}")
        setup(e, 60, 6)
        p = subprocess.Popen([STSCTL, "apply", "inv.json", "--yes", "--state", "st.db",
                              "--concurrency", "1"], cwd=e, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=dict(os.environ, STSCTL_TEST_ZONE_DELAY_MS="200"))
        deadline = time.monotonic() + 20
        started = False
        while time.monotonic() < deadline and p.poll() is None:  # the first zone committed
            try:  # read-only: a connect must not create the file apply is about to
                c = sqlite3.connect(f"file:{os.path.join(e, 'st.db')}?mode=ro", uri=True)
                started = c.execute("SELECT count(*) FROM journal").fetchone()[0] > 0
                c.close()
            except sqlite3.Error:
                started = False
            if started:
                break
            time.sleep(0.05)
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        err = err.decode("utf-8", "replace")
        runs = sql(os.path.join(e, "st.db"), "SELECT status FROM runs")
        zones = zone_counts(e)
        whole = all(v in (0, 10) for v in zones.values())
        some = 0 < sum(zones.values()) < 60
        report(started and p.returncode == code and runs == [("interrupted",)] and whole and some
               and "not started" in err,
               f"{signal.Signals(sig).name} in a slow apply: exit {code}, the run interrupted, "
               "each zone all or nothing",
               f"started={started} rc={p.returncode} runs={runs} zones={zones} {err[-400:]}")
        rc, out, err = apply(e)
        rc2, out2, err2 = run(e, ["plan", "inv.json", "--state", "st.db"])
        report(rc == 0 and PLAN_NONE in out2 and set(zone_counts(e).values()) == {10},
               f"after {signal.Signals(sig).name}: the rerun converges",
               f"rc={rc} {err[-300:]} {out2[-200:]}")

    # 5. a run left running by a crash
    c = os.path.join(tmp, "crash")
    setup(c, 40, 4)
    rc, out, err = apply(c, extra=["--concurrency", "1"],
                         env={"STSCTL_TEST_CRASH_AFTER": "db-commit:2"})
    running = sql(os.path.join(c, "st.db"), "SELECT id, status FROM runs")
    report(rc != 0 and running == [(1, "running")], "a crash leaves the run running",
           f"rc={rc} {running}")
    rc, out, err = run(c, ["plan", "inv.json", "--state", "st.db"])
    report(rc == 0 and re.search(r"run 1 \(apply, started [-0-9T:]+Z\) did not finish: "
                                 r"interrupted", err),
           "plan says the crashed run was interrupted", f"rc={rc} {err[-300:]}")
    rc, out, err = run(c, ["state", "check", "--state", "st.db"])
    report(rc == 1 and "inconsistent: runs: run 1" in out, "state check reports it (exit 1)",
           f"rc={rc} {out!r}")
    rc, out, err = apply(c)
    runs = sql(os.path.join(c, "st.db"), "SELECT id, status FROM runs ORDER BY id")
    report(rc == 0 and runs == [(1, "interrupted"), (2, "ok")]
           and "run 1 (apply" in err and "did not finish: interrupted" in err,
           "the next apply records it interrupted, says so and converges",
           f"rc={rc} runs={runs} {err[-300:]}")
    rc, out, err = run(c, ["state", "check", "--state", "st.db"])
    rc2, out2, err2 = run(c, ["plan", "inv.json", "--state", "st.db"])
    report(rc == 0 and PLAN_NONE in out2 and "did not finish" not in err2,
           "then state check is ok and plan has nothing to do", f"rc={rc} {out!r} {err2[-200:]}")

done()
