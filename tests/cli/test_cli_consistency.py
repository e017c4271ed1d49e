#!/usr/bin/env python3
"""The consistency pass over the command line (issue 17, finding 6;
docs/stsctl.md, docs/stsctl-apply.md, docs/stsctl-report.md): the global
options -q, -v, --json and --state before or after the command name, and
no command option clashing with them; "did you mean" for a misspelt
command; apply --json and report --json; report -o FILE in every format,
written atomically; apply's summary counting the changes of failed domains
as failed; every error line starting 'stsctl: '. Runs on loopback-free
local plugins (zonefile, local) in a temporary directory, in about a
second. TAP on stdout. Usage: test_cli_consistency.py STSCTL
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tap import done, report

STSCTL = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="stsctl-cl-")
DOMAINS = ["a.example", "b.example", "c.example"]


def run(*args, cwd=TMP, prefix=()):
    p = subprocess.run([*prefix, STSCTL, *args], capture_output=True, text=True, timeout=60,
                       cwd=cwd, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def inventory(path, web=None):
    """Three domains on the zonefile and local plugins; the zone files exist
    (the zonefile plugin creates none without "create": true)."""
    d = os.path.dirname(path)
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    for name in DOMAINS:
        with open(os.path.join(d, "zones", name + ".zone"), "w") as f:
            f.write("; zone %s\n" % name)
    webp = {"plugin": "local", "root": "www"}
    webp.update(web or {})
    doc = {"version": 1,
           "defaults": {"dns": "zones", "web": "www", "mode": "testing", "max_age": 86400,
                        "tlsrpt": {"rua": ["mailto:tlsrpt@example.net"]}},
           "providers": {"zones": {"plugin": "zonefile", "directory": "zones"}, "www": webp},
           "domains": [{"name": n, "mx": ["mx." + n]} for n in DOMAINS]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return path


def json_ok(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def commands():
    rc, out, _ = run("help")
    return re.findall(r"^  (\S+)", out.split("commands:\n", 1)[-1], re.M) if rc == 0 else []


def error_lines_ok(err):
    """Every line of an error: 'stsctl: ', a usage line, a '(see ...)' hint,
    a finding in a file (FILE:LINE:COL: ...) or an apply failure line."""
    bad = [l for l in err.splitlines()
           if not re.match(r"(stsctl: |usage: |   or: |\(see |  failed: |Apply: |[^\s:]+:\d+:\d+: )", l)]
    return bad


W = os.path.join(TMP, "w")
os.makedirs(W)
INV = inventory(os.path.join(W, "inv.json"))

# ---- global options after the command name, and before it ----
rc, out, err = run("apply", "-q", INV, "--yes", "--state", "s.db", cwd=W)
report(rc == 0 and out == "" and err == "",
       "'apply -q INV --yes': nothing on stdout or stderr, exit 0 (as 'stsctl -q apply')",
       f"exit {rc}, stdout {out[:300]!r}, stderr {err[:300]!r}")
rc2, out2, err2 = run("-q", "apply", INV, "--yes", "--state", "s.db", cwd=W)
report(rc2 == 0 and out2 == "" and err2 == "", "'stsctl -q apply INV --yes' (nothing to do): quiet",
       f"exit {rc2}, stdout {out2[:300]!r}, stderr {err2[:300]!r}")
rc, out, err = run("plan", INV, "-v", "--state", "s.db", cwd=W)
report(rc == 0, "'plan INV -v': exit 0", f"exit {rc}, stderr {err[:300]!r}")

rc, out, err = run("--json", "plugins")
doc = json_ok(out)
report(rc in (0, 1) and isinstance(doc, dict) and "plugins" in doc and "getopt" not in err
       and "unrecognized" not in err,
       "'stsctl --json plugins' is 'stsctl plugins --json'", f"exit {rc}, stdout {out[:200]!r}, stderr {err[:300]!r}")
rc, out, err = run("--json", "status", INV, "--state", "s.db", cwd=W)
report(rc == 0 and isinstance(json_ok(out), (dict, list)), "'stsctl --json status INV': JSON",
       f"exit {rc}, stdout {out[:200]!r}, stderr {err[:300]!r}")
rc, out, err = run("--state", "other.db", "apply", INV, "--yes", cwd=W)
report(rc == 0 and os.path.exists(os.path.join(W, "other.db"))
       and not os.path.exists(os.path.join(W, "stsctl.db")),
       "'stsctl --state PATH apply': the state at PATH", f"exit {rc}, stderr {err[:300]!r}, files {sorted(os.listdir(W))}")
rc, out, err = run("--state", "ignored.db", "status", INV, "--state", "s.db", "--json", cwd=W)
report(rc == 0 and not os.path.exists(os.path.join(W, "ignored.db")),
       "--state after the command name wins over --state before it", f"exit {rc}, stderr {err[:300]!r}")
rc, out, err = run("--json", "completion", "bash")
report(rc == 2 and out == "" and re.search(r"^stsctl: error: 'stsctl completion' has no --json$", err, re.M),
       "--json before a command without --json: usage error 2", f"exit {rc}, stderr {err[:300]!r}")
rc, out, err = run("--no-such-option", "help")
report(rc == 2 and out == "" and err.startswith("stsctl: error: unknown option '--no-such-option'"),
       "an unknown global option: 'stsctl: error:', exit 2", f"exit {rc}, stderr {err[:300]!r}")

# no command has a -q/-v/--quiet/--verbose of its own; each takes the global ones after its name
for c in commands():
    _, usage, _ = run(c, "--help")
    clash = re.findall(r"^\s+(-[qv],|--quiet|--verbose)", usage, re.M)
    rc, out, err = run(c, "-q", "-v", "--no-such-option-x", cwd=W)
    report(not clash and "'-q'" not in err and "'-v'" not in err and "--no-such-option-x" in err,
           f"'{c}' takes -q and -v after its name, without a clash",
           f"clash {clash}, exit {rc}, stderr {err[:300]!r}")

# ---- did you mean ----
rc, out, err = run("plna")
report(rc == 2 and out == "" and "stsctl: error: unknown command 'plna': did you mean 'plan'?" in err,
       "'stsctl plna': did you mean 'plan', exit 2", f"exit {rc}, stderr {err[:300]!r}")
rc, out, err = run("help", "stauts")
report(rc == 2 and "did you mean 'status'?" in err, "'stsctl help stauts': did you mean 'status'",
       f"exit {rc}, stderr {err[:300]!r}")
rc, out, err = run("xyzzy")
report(rc == 2 and "did you mean" not in err and "unknown command 'xyzzy'" in err,
       "no suggestion for a word far from every command", f"exit {rc}, stderr {err[:300]!r}")

# ---- apply --json ----
J = os.path.join(TMP, "j")
os.makedirs(J)
JINV = inventory(os.path.join(J, "inv.json"))
rc, out, err = run("apply", JINV, "--yes", "--json", "--state", "s.db", cwd=J)
doc = json_ok(out)
ap = doc.get("applied", {}) if isinstance(doc, dict) else {}
report(rc == 0 and isinstance(doc, dict) and len(doc.get("changes", [])) == 9
       and ap.get("domains_changed") == 3 and ap.get("changes_applied") == 9
       and ap.get("changes_failed") == 0 and ap.get("failures") == [] and ap.get("run", 0) > 0,
       "apply --json: the plan's changes and 'applied' (3 domains, 9 changes)",
       f"exit {rc}, stdout {out[:400]!r}, stderr {err[:300]!r}")
rc, out, err = run("--json", "apply", JINV, "--yes", "--state", "s.db", cwd=J)
doc = json_ok(out)
report(rc == 0 and isinstance(doc, dict) and doc.get("changes") == []
       and doc.get("applied", {}).get("domains_unchanged") == 3,
       "'stsctl --json apply' again: nothing to do, 3 unchanged", f"exit {rc}, stdout {out[:300]!r}")

# ---- report --json, report -o FILE in every format ----
rc, out_fmt, err = run("report", "--format", "json", "--state", "s.db", "-i", JINV, cwd=J)
rc2, out_json, err2 = run("report", "--json", "--state", "s.db", "-i", JINV, cwd=J)
report(rc == 0 and rc2 == 0 and out_json == out_fmt and isinstance(json_ok(out_json), dict),
       "report --json equals report --format json", f"exit {rc2}, stderr {err2[:300]!r}")
rc, out, err = run("--json", "report", "--state", "s.db", cwd=J)
report(rc == 0 and isinstance(json_ok(out), dict), "'stsctl --json report'", f"exit {rc}, stderr {err[:300]!r}")
rc, out, err = run("report", "--json", "--format", "csv", "--state", "s.db", cwd=J)
report(rc == 2 and out == "" and err.startswith("stsctl: error: "),
       "report --json --format csv: usage error", f"exit {rc}, stderr {err[:300]!r}")
for fmt in ("text", "json", "csv", "html"):
    _, want, _ = run("report", "--format", fmt, "--state", "s.db", "-i", JINV, cwd=J)
    dest = os.path.join(J, "out", f"report.{fmt}")
    rc, out, err = run("report", "--format", fmt, "-o", dest, "--state", "s.db", "-i", JINV, cwd=J)
    got = open(dest).read() if os.path.exists(dest) else None
    leftovers = [f for f in os.listdir(os.path.dirname(dest)) if f.startswith(".")] \
        if os.path.isdir(os.path.dirname(dest)) else []
    report(rc == 0 and out == "" and got == want and want != "" and not leftovers,
           f"report --format {fmt} -o FILE: the same bytes as on stdout, no temp file left",
           f"exit {rc}, stdout {out[:100]!r}, stderr {err[:300]!r}, file {None if got is None else got[:100]!r}")
dest = os.path.join(J, "out", "report.text")
before = open(dest).read() if os.path.exists(dest) else None
rc, out, err = run("report", "--output", "/proc/version/x", "--state", "s.db", cwd=J)
report(rc == 2 and err.startswith("stsctl: error: cannot write the report to '/proc/version/x'"),
       "report -o into a place that cannot be written: exit 2, the file named", f"exit {rc}, stderr {err[:300]!r}")

# ---- apply against a web root it cannot write: failed changes count as failed ----
R = os.path.join(TMP, "ro")
os.makedirs(os.path.join(R, "www"))
RINV = inventory(os.path.join(R, "inv.json"), web={"address": ["192.0.2.10", "2001:db8::10"]})
prefix = ()
if os.geteuid() == 0:
    # root writes anywhere, whatever the mode: the web root is a directory of
    # sysfs, where nobody can create files (a bind mount or a run as nobody
    # both fail in the fresh-machine check's chroot, where the build is
    # under /root, 0700)
    RINV = inventory(os.path.join(R, "inv.json"), web={"address": ["192.0.2.10", "2001:db8::10"]})
    with open(RINV) as f:
        j = json.load(f)
    j["providers"]["www"]["root"] = "/sys/kernel"
    with open(RINV, "w") as f:
        json.dump(j, f)
os.chmod(os.path.join(R, "www"), 0o555)
rc, out, err = run("apply", RINV, "--yes", "--state", "s.db", cwd=R, prefix=prefix)
summary = [l for l in err.splitlines() if l.startswith("Apply:")]
report(rc == 1 and summary == ["Apply: 0 domains changed, 9 changes failed, 6 changes applied, "
                               "0 unchanged, 3 failed"],
       "apply to a read-only web root: '0 domains changed, 9 changes failed', exit 1",
       f"exit {rc}, summary {summary}, stderr {err[:500]!r}")
rc, out, err = run("apply", RINV, "--yes", "--json", "--state", "s.db", cwd=R, prefix=prefix)
ap = (json_ok(out) or {}).get("applied", {})
report(rc == 1 and ap.get("domains_failed") == 3 and ap.get("domains_changed") == 0
       and ap.get("changes_failed") == 9 and len(ap.get("failures", [])) == 3
       and all(f.get("step") == "policy-put" and f.get("message") for f in ap.get("failures", [])),
       "apply --json lists the failures with step and message", f"exit {rc}, stdout {out[:400]!r}")

# ---- zonefile creates a missing zone file only with "create": true ----
Z = os.path.join(TMP, "z")
ZINV = inventory(os.path.join(Z, "inv.json"))
os.unlink(os.path.join(Z, "zones", "b.example.zone"))  # its real file is elsewhere, say
rc, out, err = run("apply", ZINV, "--yes", "--state", "s.db", cwd=Z)
zpath = os.path.join(Z, "zones", "b.example.zone")
report(rc == 1 and not os.path.exists(zpath)
       and "/zones/b.example.zone' does not exist" in err and '"create": true' in err,
       "zonefile: a missing zone file is refused (the file and the setting named), not created",
       f"exit {rc}, created {os.path.exists(zpath)}, stderr {err[:500]!r}")
with open(ZINV) as f:
    zdoc = json.load(f)
zdoc["providers"]["zones"]["create"] = True
with open(ZINV, "w") as f:
    json.dump(zdoc, f)
rc, out, err = run("apply", ZINV, "--yes", "--state", "s.db", cwd=Z)
report(rc == 0 and os.path.exists(zpath) and "_mta-sts.b.example." in open(zpath).read(),
       'zonefile with "create": true creates the missing zone file', f"exit {rc}, stderr {err[:500]!r}")

# ---- every error line starts 'stsctl: ' ----
with open(os.path.join(W, "bad.json"), "w") as f:
    f.write("{")
for args in (["plan", "inv.json", "-t", "nosuch.example", "--state", "s.db"], ["--version", "x"],
             ["plan", "bad.json"], ["status", "inv.json", "--now", "x"], ["report", "--since", "x"],
             ["apply", "nosuch.json", "--yes"], ["nosuch"], ["lint", "policy", "nosuch.txt"]):
    rc, out, err = run(*args, cwd=W)
    bad = error_lines_ok(err)
    report(rc != 0 and "stsctl: error: " in err and not bad, f"'stsctl {' '.join(args)}': every error line starts 'stsctl: '",
           f"exit {rc}, lines {bad}")

shutil.rmtree(TMP, ignore_errors=True)
done()
