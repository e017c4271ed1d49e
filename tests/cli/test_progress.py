#!/usr/bin/env python3
"""The progress line of the long commands (cli/cli_progress.c) as a user sees
it, on the zonefile + local plugins (the inventory of tests/bench/bench-apply.sh,
tests/bench/gen-apply-inventory.py: 2,000 domains in 20 zones). TAP.

1. A 2,000-domain apply under script(1), stderr a pseudo-terminal: the live
   line shows plan and apply progress, ends at 2000/2000 (100%) and is
   erased before the summary; standard output never sees it; -q and
   --progress=never silence it.
2. Without a terminal: none in a run shorter than the interval (10 s);
   in a slow run (a 400-domain apply, its fsyncs, with the interval cut to
   20 ms by the test hook STSCTL_TEST_PROGRESS_INTERVAL_MS) plain "stsctl:
   apply: N/400 domains (P%), R/s, ETA M:SS" lines, counts rising, the last
   one at 100%.
3. Failures so far are counted (a zone file that cannot be parsed), render -o
   shows it, --progress=always draws the live line without a terminal, and
   check and onboard keep their old --progress/--no-progress.

Usage: test_progress.py STSCTL SOURCE_ROOT true|false (the build has the test hooks)
"""
import os
import re
import subprocess
import sys
import tempfile

import ptyrun
from tap import done, report

STSCTL, ROOT, HOOKS = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3] == "true"
N, Z = 2000, 20
LIVE = re.compile(r"\r(\w+) \[[= ]{20}\] (\d+)/(\d+) domains \((\d+)%\), [\d.]+/s"
                  r"(?:, ETA \d+:\d\d)?(?:, (\d+) failed)?\x1b\[K")
PLAIN = re.compile(r"^stsctl: (\w+): (\d+)/(\d+) domains \((\d+)%\), [\d.]+/s"
                   r"(?:, ETA \d+:\d\d)?(?:, (\d+) failed)?$", re.M)


def setup(d, n=N):
    """A fresh directory (removing 2,000 published domains takes long on a busy disk)."""
    os.makedirs(os.path.join(d, "zones"))
    os.makedirs(os.path.join(d, "www"))
    subprocess.run([sys.executable, os.path.join(ROOT, "tests/bench/gen-apply-inventory.py"),
                    str(n), str(Z), os.path.join(d, "inv.json")], check=True, timeout=60)


def under_pty(d, args):
    """stsctl ARGS with stderr on a pseudo-terminal: (rc, what the terminal got, stdout)."""
    return ptyrun.under_pty(STSCTL, d, args)


def plain(d, args, env=None):
    """stsctl ARGS without a terminal: (rc, stderr, stdout), carriage returns kept."""
    p = subprocess.run([STSCTL] + args, cwd=d, capture_output=True, timeout=60,
                       env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")


with tempfile.TemporaryDirectory(prefix="stsctl-progress-") as tmp:
    d = os.path.join(tmp, "tty")
    apply = ["apply", "inv.json", "--yes", "--state", "st.db"]
    plan = ["plan", "inv.json", "--state", "st.db"]

    # 1. on a terminal
    setup(d)
    rc, tty, out = under_pty(d, apply)
    draws = [(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))
             for m in LIVE.finditer(tty)]
    applies = [x for x in draws if x[0] == "apply"]
    report(rc == 0 and "Apply: 2000 domains changed" in tty, "apply of 2,000 domains under script(1)",
           f"rc={rc} {tty[-500:]!r}")
    report(any(x[0] == "plan" for x in draws) and len(applies) >= 2,
           "the live line shows the plan and the apply", repr(draws[:5]))
    report(bool(applies) and applies[-1][1:] == (N, N, 100), "the live line ends at 2000/2000 (100%)",
           repr(applies[-3:]))
    report(all(a[1] <= b[1] for a, b in zip(applies, applies[1:])), "its counts only rise",
           repr(applies))
    last = tty.rfind("2000/2000 domains (100%)")
    summary = tty.find("Apply: ")
    report(0 <= last < summary and "\r\x1b[K" in tty[last:summary],
           "the line is erased before the summary", repr(tty[last:summary + 20]))
    report("\r" not in out and "domains (" not in out and "Apply" not in out,
           "standard output never sees it", repr(out[:300]))
    rc, tty, _ = under_pty(d, plan)
    report(rc == 0 and [m.group(1, 2) for m in LIVE.finditer(tty)][-1:] == [("plan", str(N))],
           "plan shows it too", f"rc={rc} {tty[-300:]!r}")
    for args, name in ((["-q"] + plan, "-q"), (plan + ["--progress=never"], "--progress=never")):
        rc, tty, _ = under_pty(d, args)
        report(rc == 0 and not LIVE.search(tty) and "\x1b[K" not in tty,
               f"{name}: no progress on the terminal", f"rc={rc} {tty[-300:]!r}")

    # 2. without a terminal
    rc, err, out = plain(d, plan)
    report(rc == 0 and not PLAIN.search(err) and "\r" not in err and "\x1b" not in err,
           "no terminal, a run shorter than 10 s: no progress line", repr(err[-300:]))
    if HOOKS:
        d = os.path.join(tmp, "plain")  # 400 domains: half a second or more of fsyncs
        setup(d, 400)
        rc, err, out = plain(d, apply, {"STSCTL_TEST_PROGRESS_INTERVAL_MS": "20"})
        lines = [(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))
                 for m in PLAIN.finditer(err)]
        applies = [x for x in lines if x[0] == "apply"]
        report(rc == 0 and len(applies) >= 2, "no terminal, a slow run: plain lines every interval",
               repr(err[-600:]))
        report(bool(applies) and applies[-1][1:] == (400, 400, 100)
               and all(a[1] < b[1] for a, b in zip(applies, applies[1:])),
               "they rise and the last one is 400/400 (100%)", repr(applies))
        report("\r" not in err and "\x1b" not in err and not PLAIN.search(out),
               "plain lines only: no carriage return, no escape, nothing on stdout", repr(err[:300]))
    else:
        report(True, "plain lines of a slow run # SKIP no test hooks in this build")

    # 3. failures, render -o, --progress=always, the old spelling of check and onboard
    with open(os.path.join(d, "zones", "z0.bench.test.zone"), "w", encoding="utf-8") as f:
        f.write("garbage ((( not a zone\n")
    rc, err, out = plain(d, plan + ["--progress=always"])
    n = N if d.endswith("tty") else 400
    draws = [(m.group(1), int(m.group(2)), m.group(5)) for m in LIVE.finditer(err)]
    report(rc == 1 and draws and draws[-1] == ("plan", n, str(n // Z)),
           "--progress=always without a terminal: the live line, failures counted",
           f"rc={rc} {draws[-2:]!r} {err[-300:]!r}")
    rc, err, _ = plain(d, ["render", "inv.json", "-o", "out", "--progress=always", "-d",
                           "d1.z1.bench.test", "-d", "d2.z2.bench.test"])
    draws = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in LIVE.finditer(err)]
    report(rc == 0 and draws and draws[-1] == ("render", 2, 2), "render -o shows its progress",
           f"rc={rc} {draws[-2:]!r} {err[-300:]!r}")
    rc, err, _ = plain(d, ["render", "inv.json", "-o", "out", "--progress=sometimes"])
    report(rc == 2 and "invalid --progress 'sometimes'" in err, "an unknown --progress WHEN: usage error",
           f"rc={rc} {err!r}")
    for c in ("check", "onboard"):
        rc, err, _ = plain(d, [c, "--progress", "--no-progress", "--progress=auto"])
        report(rc == 2 and "no domain to" in err, f"{c}: --progress, --no-progress and --progress=WHEN",
               f"rc={rc} {err!r}")

done()
