#!/usr/bin/env python3
"""The progress of `stsctl ingest` and the redraw limit (issue 16, item 6: "plan,
apply, check, onboard, ingest and render -o show a live progress line ... at
most 10 updates a second"; tests/cli/test_progress.py covers the others). TAP.

1. 3,000 report files under script(1) (stderr a pseudo-terminal): the live
   line "ingest: N inputs, R/s" appears, its counts rise, it ends at 3000 and
   is erased before the summary; standard output never sees it.
2. The same with --progress=always and no terminal, timed: at most 10
   redraws a second of the run (plus the first and the last), so a broken
   limit (one redraw per input) fails.
3. -q, --progress=never, and auto without a terminal in a short run: no line.

Usage: test_progress_ingest.py STSCTL SOURCE_ROOT
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import ptyrun
from tap import done, report

STSCTL, ROOT = os.path.abspath(sys.argv[1]), sys.argv[2]
N = 3000
LIVE = re.compile(r"\ringest: (\d+) inputs, [\d.]+/s(?:, (\d+) failed)?\x1b\[K")
SAMPLE = "tests/data/tlsrpt/samples/12-postfix-tlsrpt-reporter-2025-no-policy-domain.json"


def reports(d):
    with open(os.path.join(ROOT, SAMPLE), encoding="utf-8") as f:
        doc = json.load(f)
    os.makedirs(os.path.join(d, "r"))
    for i in range(N):
        doc["report-id"] = f"progress-{i}@reporter.example"
        with open(os.path.join(d, "r", f"{i}.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f)


def plain(d, args):
    e = {k: v for k, v in os.environ.items() if k != "STSCTL_STATE"}
    p = subprocess.run([STSCTL] + args, cwd=d, capture_output=True, timeout=120, env=e,
                       stdin=subprocess.DEVNULL)
    return rc, p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")


with tempfile.TemporaryDirectory(prefix="stsctl-progress-ingest-") as d:
    reports(d)

    # 1. on a terminal
    rc, tty, out = ptyrun.under_pty(STSCTL, d, ["ingest", "r", "--state", "tty.db"], 120)
    counts = [int(m.group(1)) for m in LIVE.finditer(tty)]
    report(rc == 0 and f"Ingest: {N} inputs, {N} reports stored" in tty,
           f"ingest of {N} files under script(1)", f"rc={rc} {tty[-500:]!r}")
    report(counts and counts[-1] == N and counts == sorted(counts),
           f"the live line rises and ends at {N} inputs", repr(counts[-10:]))
    at = tty.find("Ingest:")
    report(bool(counts) and at > 0 and tty[:at].endswith("\r\x1b[K"),
           "the line is erased before the summary", repr(tty[max(0, at - 80):at + 20]))
    report("\r" not in out and "inputs," not in out, "standard output never sees it", repr(out))

    # 2. the redraw limit, timed
    t0 = time.monotonic()
    rc, err, out = plain(d, ["ingest", "r", "--state", "always.db", "--progress=always"])
    secs = time.monotonic() - t0
    counts = [int(m.group(1)) for m in LIVE.finditer(err)]
    report(rc == 0 and counts and counts[-1] == N,
           "--progress=always without a terminal draws the live line", err[-300:])
    report(len(counts) <= 10 * secs + 2,
           f"at most 10 redraws a second: {len(counts)} in {secs:.2f} s",
           f"{len(counts)} redraws in {secs:.2f} s")

    # 3. silenced
    for args, name in ((["-q"], "-q"), (["--progress=never"], "--progress=never"),
                       ([], "auto without a terminal, a run shorter than 10 s")):
        rc, err, out = plain(d, ["ingest", "r", "--state", "q.db"] + args)
        report(rc == 0 and (name == "-q" or f"Ingest: {N} inputs" in err) and not LIVE.search(err)
               and "\x1b" not in err and "\r" not in err and "stsctl: ingest:" not in err,
               f"{name}: no progress line", err[-300:])
done()
