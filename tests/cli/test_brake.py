#!/usr/bin/env python3
"""The operator's brake (issue 17, docs/rollout.md "Start and ceiling"), offline
through the zonefile and local providers, one subtest per rule:

1. target: rollout.target is the ceiling: a domain under rollout in enforce
   whose target is lowered to testing is published in testing at the next
   apply (the text plan says `mode: enforce -> testing (rollout.target)`),
   recorded as an operator demotion; a domain not under rollout with mode
   enforce and target none publishes none.
2. start: a new `mode: enforce` domain comes under rollout (watch --once)
   in testing, and its published policy says testing.
3. brake: lowering a domain's inventory mode below its stage (enforce ->
   none) publishes none at the next apply (`mode: enforce -> none
   (inventory brake)` in the plan, an operator demotion in the history), and
   holds it there at the next apply; raising the mode again resumes the walk
   from none (no jump to enforce); a domain under rollout in enforce whose
   default mode never changed is not demoted.
4. watch-reread: a watch daemon started before the brake reads the edited
   inventory before its next cycle (no SIGHUP): the brake stays (needs the
   test hooks: STSCTL_TEST_WATCH_INTERVAL).
5. rollout: `stsctl rollout hold|release|set` recorded with their reasons,
   status shows the hold, set enforce refused by the gates without --force,
   set above the target refused.
6. render: `stsctl render` writes the mode apply would publish: never above
   rollout.target, the stage of a domain under rollout, the inventory brake;
   without a state, the inventory mode capped by the target.
7. rollout-live: `rollout set enforce` on a domain whose other gates pass
   runs the live check (every name fails to resolve: --resolver 127.0.0.1:9)
   and is refused with its reason; --force sets it, recorded as forced.
TAP on stdout. Usage: test_brake.py STSCTL [HOOKS]; BRAKE_ONLY=NAME runs one subtest.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from tap import done, report

STSCTL = sys.argv[1]
HOOKS = len(sys.argv) > 2 and sys.argv[2] == "true"

# schema 1 of the rollout component (docs/rollout.md): a state made by an
# older stsctl, so that the migration to 2 is exercised as well
ROLLOUT_V1 = """
CREATE TABLE rollout_state (
  domain TEXT PRIMARY KEY, stage TEXT NOT NULL, since INTEGER NOT NULL,
  pending TEXT, pending_reason TEXT, pending_evidence TEXT, pending_at INTEGER,
  last_check INTEGER NOT NULL DEFAULT 0);
CREATE TABLE rollout_transitions (
  id INTEGER PRIMARY KEY, domain TEXT NOT NULL, time INTEGER NOT NULL,
  from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,
  reason TEXT NOT NULL, evidence TEXT NOT NULL);
CREATE INDEX rollout_transitions_domain ON rollout_transitions(domain, id);
INSERT INTO schema_version (component, version) VALUES ('rollout', 1);
"""


class Env:
    def __init__(self, top):
        self.top = top
        self.inv = os.path.join(top, "inv.json")
        self.state = os.path.join(top, "stsctl.db")
        os.makedirs(os.path.join(top, "zones"))
        os.makedirs(os.path.join(top, "www"))

    def write(self, domains, defaults=None, **top):
        d = {"dns": "zones", "web": "www", "max_age": 86400, "ttl": 300}
        d.update(defaults or {})
        inv = {"version": 1, "defaults": d,
               "providers": {"zones": {"plugin": "zonefile", "directory": "zones"},
                             "www": {"plugin": "local", "root": "www"}},
               "tenants": {"t1": {}},
               "domains": domains}
        inv.update(top)
        with open(self.inv, "w") as f:
            json.dump(inv, f)
        for x in domains:  # each zone file exists, with its SOA
            z = os.path.join(self.top, "zones", x["name"] + ".zone")
            if not os.path.exists(z):
                with open(z, "w") as f:
                    f.write(f"$ORIGIN {x['name']}.\n@ 3600 IN SOA ns.{x['name']}. "
                            f"hostmaster.{x['name']}. 1 3600 600 86400 300\n")

    def run(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=60,
                           cwd=self.top, stdin=subprocess.DEVNULL, env=e)
        return p.returncode, p.stdout, p.stderr

    def apply(self):
        return self.run("apply", self.inv, "--yes", "--state", self.state)

    def plan(self):
        return self.run("plan", self.inv, "--state", self.state, "--progress=never")

    def mode(self, domain):
        """The mode of the published policy file."""
        p = os.path.join(self.top, "www", "mta-sts." + domain, ".well-known", "mta-sts.txt")
        try:
            with open(p) as f:
                for line in f:
                    if line.startswith("mode:"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    def under_rollout(self, rows, checked=0):
        """Put domains under rollout at a stage, as an older stsctl recorded them
        (with a live check at time checked: none due before a day passed)."""
        db = sqlite3.connect(self.state)
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'rollout_state'").fetchone():
            db.executescript(ROLLOUT_V1)
        for dom, stage in rows:
            db.execute("INSERT INTO rollout_state (domain, stage, since, last_check)"
                       " VALUES (?, ?, 0, ?)", (dom, stage, checked))
            db.execute("INSERT INTO rollout_transitions (domain, time, from_stage, to_stage,"
                       " reason, evidence) VALUES (?, 0, '', ?, 'test', 'null')", (dom, stage))
        db.commit()
        db.close()

    def history(self, domain):
        db = sqlite3.connect(self.state)
        try:
            return db.execute("SELECT from_stage, to_stage, reason FROM rollout_transitions"
                              " WHERE domain = ? ORDER BY id", (domain,)).fetchall()
        except sqlite3.OperationalError:  # no rollout tables: nobody under rollout
            return []
        finally:
            db.close()

    def status(self):
        """status --json: {domain: its entry}, {} when it fails."""
        rc, out, err = self.run("status", self.inv, "--json", "--state", self.state)
        return {d["domain"]: d for d in json.loads(out).get("domains", [])} if rc == 0 else {}

    def stage(self, domain):
        db = sqlite3.connect(self.state)
        try:
            row = db.execute("SELECT coalesce(pending, stage) FROM rollout_state"
                             " WHERE domain = ?", (domain,)).fetchone()
        except sqlite3.OperationalError:
            row = None
        finally:
            db.close()
        return row[0] if row else None


def dom(name, mode=None, **kw):
    d = {"name": name, "mx": ["mx." + name]}
    if mode:
        d["mode"] = mode
    d.update(kw)
    return d


def step(name, ok, what, detail=""):
    """report() that returns ok, so a subtest stops at its first failure."""
    report(ok, f"{name}: {what}", detail)
    return ok


def test_target(top):
    e = Env(top)
    e.write([dom("a.example", "enforce"), dom("n.example", "enforce",
                                              rollout={"target": "none"})])
    rc, out, err = e.apply()
    if not step("target", rc == 0, "first apply", err):
        return
    step("target", e.mode("n.example") == "none",
         "a domain not under rollout is published at most at its target (none)",
         f"published {e.mode('n.example')}")
    e.under_rollout([("a.example", "enforce")])
    e.write([dom("a.example", "enforce", rollout={"target": "testing"}),
             dom("n.example", "enforce", rollout={"target": "none"})])
    rc, out, err = e.plan()
    step("target", "mode: enforce -> testing (rollout.target)" in out,
         "the text plan says why: 'mode: enforce -> testing (rollout.target)'", out + err)
    rc, out, err = e.apply()
    if not step("target", rc == 0, "apply after lowering the target", err):
        return
    step("target", e.mode("a.example") == "testing",
         "lowering rollout.target demotes at the next apply (policy mode testing)",
         f"published {e.mode('a.example')}")
    h = e.history("a.example")
    step("target", e.stage("a.example") == "testing" and
         any(t == "testing" and "operator demotion" in r for _, t, r in h),
         "recorded as an operator demotion to testing", repr(h))


def test_start(top):
    e = Env(top)
    e.write([dom("new.example", "enforce")])
    rc, out, err = e.run("watch", e.inv, "--once", "--state", e.state,
                         "--resolver", "127.0.0.1:9")
    h = e.history("new.example")
    step("start", e.stage("new.example") == "testing" and h[:1] and h[0][:2] == ("", "testing"),
         "a new mode: enforce domain comes under rollout in testing",
         f"stage {e.stage('new.example')}, history {h}; exit {rc}: {err}")
    step("start", e.mode("new.example") == "testing",
         "and its published policy says testing", f"published {e.mode('new.example')}")
    rc, out, err = e.plan()
    step("start", "Plan: 0 to create, 0 to update, 0 to delete" in out,
         "a plan afterwards has nothing to change", out + err)


def test_brake(top):
    e = Env(top)
    e.write([dom("a.example", "enforce"), dom("d.example")])  # d: the default mode
    rc, out, err = e.apply()
    if not step("brake", rc == 0, "first apply", err):
        return
    e.under_rollout([("a.example", "enforce"), ("d.example", "enforce")])
    rc, out, err = e.apply()  # records the inventory modes seen
    if not step("brake", rc == 0 and e.mode("a.example") == "enforce",
                "a domain under rollout in enforce publishes enforce", err):
        return
    step("brake", e.mode("d.example") == "enforce" and e.stage("d.example") == "enforce",
         "an unchanged default mode (testing) never demotes a domain in enforce",
         f"published {e.mode('d.example')}, stage {e.stage('d.example')}")
    e.write([dom("a.example", "none"), dom("d.example")])
    rc, out, err = e.plan()
    step("brake", "mode: enforce -> none (inventory brake)" in out,
         "the text plan says 'mode: enforce -> none (inventory brake)'", out + err)
    rc, out, err = e.apply()
    step("brake", rc == 0 and e.mode("a.example") == "none",
         "lowering the inventory mode to none publishes none at the next apply",
         f"exit {rc}, published {e.mode('a.example')}: {err}")
    h = e.history("a.example")
    step("brake", e.stage("a.example") == "none" and
         any(f == "enforce" and t == "none" and "operator demotion" in r and
             "inventory brake" in r for f, t, r in h),
         "recorded in the rollout history as an operator demotion", repr(h))
    step("brake", e.mode("d.example") == "enforce", "the other domain stays in enforce",
         f"published {e.mode('d.example')}")
    rc, out, err = e.apply()
    step("brake", rc == 0 and e.mode("a.example") == "none" and e.stage("a.example") == "none",
         "the next apply holds it at none", f"published {e.mode('a.example')}")
    st = e.status()
    step("brake", st.get("a.example", {}).get("brake") == "none",
         "status shows the brake", repr(st.get("a.example")))
    e.write([dom("a.example", "enforce"), dom("d.example")])
    rc, out, err = e.apply()
    step("brake", rc == 0 and e.mode("a.example") == "none" and e.stage("a.example") == "none",
         "raising the mode again resumes the walk from none (no jump to enforce)",
         f"published {e.mode('a.example')}, stage {e.stage('a.example')}")
    st = e.status()
    step("brake", "brake" not in st.get("a.example", {"brake": 1}),
         "and the brake is released", repr(st.get("a.example")))


def test_watch_reread(top):
    if not HOOKS:
        report(True, "watch-reread: # SKIP needs -Dtest_hooks=true")
        return
    e = Env(top)
    e.write([dom("a.example", "enforce")])
    rc, out, err = e.apply()
    if not step("watch-reread", rc == 0, "first apply", err):
        return
    e.under_rollout([("a.example", "enforce")], checked=int(time.time()))
    e.apply()
    log = open(os.path.join(top, "watch.log"), "w")
    env = dict(os.environ, STSCTL_TEST_WATCH_INTERVAL="1")
    w = subprocess.Popen([STSCTL, "-v", "watch", e.inv, "--state", e.state,
                          "--resolver", "127.0.0.1:9"], cwd=top, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, env=env)
    try:
        time.sleep(1.5)
        e.write([dom("a.example", "none")])  # the brake, without a SIGHUP
        for _ in range(20):  # the daemon holds the lock during its cycles
            rc, out, err = e.apply()
            if rc != 3:
                break
            time.sleep(0.2)
        step("watch-reread", rc == 0 and e.mode("a.example") == "none",
             "apply publishes the brake while the daemon runs", f"exit {rc}: {err}")
        time.sleep(3)  # cycles of the daemon, seconds apart
        st = e.status()
        alive = w.poll() is None
        step("watch-reread", alive and st.get("a.example", {}).get("brake") == "none" and
             e.stage("a.example") == "none" and e.mode("a.example") == "none",
             "the daemon read the new inventory: its cycles keep the brake",
             f"alive {alive}, status {st.get('a.example')}, stage {e.stage('a.example')}")
    finally:
        w.send_signal(signal.SIGTERM)
        try:
            w.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()
        log.close()
    with open(os.path.join(top, "watch.log")) as f:
        text = f.read()
    step("watch-reread", "reloaded inventory" in text, "the daemon logged the re-read", text)


def test_rollout_cmd(top):
    e = Env(top)
    e.write([dom("a.example", "enforce", tenant="t1"), dom("b.example", tenant="t1"),
             dom("c.example", rollout={"target": "testing"})])
    rc, out, err = e.apply()
    if not step("rollout", rc == 0, "first apply", err):
        return
    rc, out, err = e.run("rollout", "hold", "--tenant", "t1", "-i", e.inv, "--reason",
                         "MX migration 4711", "--state", e.state)
    step("rollout", rc == 0 and "a.example: held" in out and "b.example: held" in out,
         "hold --tenant holds every domain of the tenant", f"exit {rc}: {out}{err}")
    h = e.history("b.example")
    step("rollout", any("MX migration 4711" in r for _, _, r in h),
         "the hold is recorded with its reason", repr(h))
    st = e.status()
    step("rollout", "MX migration 4711" in (st.get("a.example", {}).get("held") or ""),
         "status shows the held domain with the reason", repr(st.get("a.example")))
    rc, out, err = e.run("status", e.inv, "--state", e.state)
    step("rollout", "held" in out, "the text status too", out + err)
    rc, out, err = e.run("watch", e.inv, "--once", "--json", "--state", e.state,
                         "--resolver", "127.0.0.1:9")
    dec = {d["domain"]: d for d in json.loads(out or "{}").get("decisions", [])} if out else {}
    step("rollout", "held" in (dec.get("b.example", {}).get("reason") or ""),
         "watch holds it", out + err)
    rc, out, err = e.run("rollout", "release", "b.example", "--state", e.state,
                         "--reason", "done")
    step("rollout", rc == 0 and "b.example: released" in out, "release", out + err)
    rc, out, err = e.run("rollout", "set", "enforce", "b.example", "-i", e.inv, "--state",
                         e.state)
    step("rollout", rc == 1 and "refused" in err and "reports" in err,
         "set enforce is refused while a promotion gate fails", f"exit {rc}: {err}")
    rc, out, err = e.run("rollout", "set", "enforce", "c.example", "-i", e.inv, "--state",
                         e.state, "--force")
    step("rollout", rc == 1 and "rollout.target is testing" in err,
         "set above the target is refused, even with --force", f"exit {rc}: {err}")
    rc, out, err = e.run("rollout", "set", "enforce", "b.example", "-i", e.inv, "--state",
                         e.state, "--force", "--reason", "lab", "--json")
    ok = rc == 0 and json.loads(out)["domains"][0]["ok"] is True
    step("rollout", ok and e.stage("b.example") == "enforce",
         "set enforce --force sets it (JSON)", f"exit {rc}: {out}{err}")
    rc, out, err = e.apply()
    step("rollout", rc == 0 and e.mode("b.example") == "enforce",
         "and the next apply publishes it", f"published {e.mode('b.example')}: {err}")
    step("rollout", any("set by the operator: lab" in r for _, _, r in e.history("b.example")),
         "set is recorded with its reason", repr(e.history("b.example")))
    rc, out, err = e.run("rollout", "hold", "--state", e.state)
    step("rollout", rc == 2, "no domain and no tenant: usage error", f"exit {rc}: {err}")


def rendered(top, domain):
    """The mode of a policy file stsctl render -o wrote under top."""
    try:
        with open(os.path.join(top, "mta-sts." + domain, ".well-known", "mta-sts.txt")) as f:
            return next((x.split(":", 1)[1].strip() for x in f if x.startswith("mode:")), None)
    except OSError:
        return None


def test_render(top):
    """render writes what apply would publish: target, stage and brake."""
    e = Env(top)
    e.write([dom("n.example", "enforce", rollout={"target": "none"}),
             dom("s.example", "enforce"), dom("k.example", "enforce")])
    rc, out, err = e.apply()
    if not step("render", rc == 0, "first apply", err):
        return
    e.under_rollout([("s.example", "testing"), ("k.example", "enforce")])
    rc, out, err = e.apply()  # records the inventory mode seen (enforce)
    if not step("render", rc == 0, "apply under rollout", err):
        return
    e.write([dom("n.example", "enforce", rollout={"target": "none"}),
             dom("s.example", "enforce"), dom("k.example", "none")])
    rc, out, err = e.run("render", e.inv, "-o", "out", "--state", e.state)
    got = {d: rendered(os.path.join(top, "out"), d)
           for d in ("n.example", "s.example", "k.example")}
    step("render", rc == 0 and got["n.example"] == "none",
         "target none, mode enforce: render writes mode none", f"exit {rc}: {got} {err}")
    step("render", got["s.example"] == "testing",
         "a domain in stage testing (mode enforce): render writes testing", repr(got))
    step("render", got["k.example"] == "none",
         "a domain in enforce whose mode was lowered to none: render writes none", repr(got))
    rc, out, err = e.plan()
    step("render", rc in (0, 1) and "mode: enforce -> none (inventory brake)" in out,
         "the plan publishes the same (none, inventory brake)", out + err)
    rc, out, err = e.run("render", e.inv, "--json", "--state", e.state)
    modes = {d["domain"]: d["policy"]["mode"] for d in json.loads(out or "{}")["domains"]}
    step("render", modes == {"n.example": "none", "s.example": "testing",
                             "k.example": "none"}, "render --json says the same", repr(modes))
    rc, out, err = e.run("render", e.inv, "--json", "--state", "missing.db")
    modes = {d["domain"]: d["policy"]["mode"] for d in json.loads(out or "{}")["domains"]}
    step("render", modes.get("n.example") == "none" and modes.get("s.example") == "enforce",
         "without a state: the inventory mode, never above rollout.target", repr(modes))


def test_rollout_live(top):
    """set enforce runs the live check once the other gates pass; --force skips it."""
    e = Env(top)
    easy = {"min_days_in_testing": 0, "min_sessions": 1, "min_reporting_orgs": 1}
    e.write([dom("a.example", "testing", rollout=easy)], reports={"evidence": "all"})
    rc, out, err = e.apply()
    if not step("rollout-live", rc == 0, "first apply (testing)", err):
        return
    with open(os.path.join(top, "www", "mta-sts.a.example", ".well-known",
                           "mta-sts.txt")) as f:
        policy = [x for x in f.read().splitlines() if x]
    day = time.strftime("%Y-%m-%d", time.gmtime())
    os.makedirs(os.path.join(top, "in"))
    with open(os.path.join(top, "in", "r1.json"), "w") as f:
        json.dump({"organization-name": "R", "report-id": "r1",
                   "contact-info": "tlsrpt@reporter.example",
                   "date-range": {"start-datetime": day + "T00:00:00Z",
                                  "end-datetime": day + "T23:59:59Z"},
                   "policies": [{"policy": {"policy-type": "sts", "policy-string": policy,
                                            "policy-domain": "a.example"},
                                 "summary": {"total-successful-session-count": 500,
                                             "total-failure-session-count": 0}}]}, f)
    rc, out, err = e.run("ingest", "--state", e.state, "-i", e.inv, "in")
    if not step("rollout-live", rc == 0, "ingest a report that passes the gates", err):
        return
    # the MX (and everything else) cannot resolve: nothing answers on 127.0.0.1:9
    rc, out, err = e.run("rollout", "set", "enforce", "a.example", "-i", e.inv, "--state",
                         e.state, "--resolver", "127.0.0.1:9", "--reason", "trial")
    step("rollout-live", rc == 1 and "refused" in err and "live-check" in err,
         "set enforce is refused by a failing live check, with its reason (exit 1)",
         f"exit {rc}: {out}{err}")
    step("rollout-live", e.stage("a.example") != "enforce", "and the stage is not enforce",
         f"stage {e.stage('a.example')}")
    rc, out, err = e.run("rollout", "set", "enforce", "a.example", "-i", e.inv, "--state",
                         e.state, "--resolver", "127.0.0.1:9", "--reason", "trial",
                         "--force")
    step("rollout-live", rc == 0 and e.stage("a.example") == "enforce",
         "--force sets it", f"exit {rc}: {out}{err}; stage {e.stage('a.example')}")
    h = e.history("a.example")
    step("rollout-live", any(t == "enforce" and "trial" in r and "--force" in r
                             for _, t, r in h),
         "recorded with the reason, and that it was forced", repr(h))


for name, fn in [("target", test_target), ("start", test_start), ("brake", test_brake),
                 ("watch-reread", test_watch_reread), ("rollout", test_rollout_cmd),
                 ("render", test_render), ("rollout-live", test_rollout_live)]:
    if os.environ.get("BRAKE_ONLY", name) != name:
        continue
    with tempfile.TemporaryDirectory(prefix=f"stsctl-brake-{name}-") as top:
        fn(top)
done()
