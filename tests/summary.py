#!/usr/bin/env python3
"""The closing lines of tests/run.sh, computed from the real results.

Usage: summary.py RESULTS.tsv

RESULTS.tsv has one line per run of the test command, tab-separated:
    run    LABEL  BUILD_DIR  TESTLOG  SELECTION  SANITIZER_LOG_DIR
    exit   LOGBASE  STATUS      (meson test's exit status)
    broken TEXT
    phase  NAME   SECONDS
SELECTION says which tests of BUILD_DIR's meson test list the run had to
execute: "suite:unit,fuzz" (every test of those suites),
"suite:integration!teardown" (those suites less the tests also in the
suites after "!"), "name:a,b" (those tests) or "libfuzzer" (one
"libfuzzer / fuzz_x" per test of the fuzz suite).
The expected tests come from `meson introspect BUILD_DIR --tests`, never
from the log, so a test that did not run is counted as failed (MISSING).

A test passes when its result is OK or EXPECTEDFAIL, its TAP output has no
"# SKIP" (a skipped check fails the run, whatever meson made of it) and,
for runs with a sanitizer log folder, no sanitizer report was written
there. Everything else fails, and so does each "broken" line (a step that
could not run), and a meson test that exited non-zero although none of its
tests failed. Prints one line per suite (test programs, TAP checks), one
per phase (its time), the failures, and last "N passed, N failed", N
counting test programs. Exits 1 when anything failed or nothing passed.
"""
import collections
import json
import os
import re
import subprocess
import sys

GOOD = {"OK", "EXPECTEDFAIL"}
SKIP_RE = re.compile(r"^(ok|not ok)\b[^#]*#\s*skip\b|^1\.\.0\s*#\s*skip\b", re.I | re.M)
CHECK_RE = re.compile(r"^(ok|not ok)\b", re.M)
# what ASan, LSan and UBSan print; UBSan (GCC) ignores log_path, so its
# reports are found in the output a test printed
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: |"
                          r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer")

introspected = {}


def meson_tests(build):
    if build not in introspected:
        try:
            out = subprocess.run(["meson", "introspect", build, "--tests"],
                                 capture_output=True, text=True, check=True).stdout
            introspected[build] = json.loads(out)
        except (OSError, subprocess.CalledProcessError, ValueError):
            introspected[build] = None
    return introspected[build]


def full_name(t):
    # as meson's testlog names them: "project:suite1+suite2 / name"
    if not t["suite"]:
        return t["name"]
    project = t["suite"][0].split(":", 1)[0]
    return f"{project}:{'+'.join(s.split(':', 1)[-1] for s in t['suite'])} / {t['name']}"


def expected(build, selection):
    tests = meson_tests(build)
    if tests is None:
        return None
    kind, _, what = selection.partition(":")
    what, _, but = what.partition("!")
    want = set(what.split(",")) if what else set()
    drop = set(but.split(",")) if but else set()
    if kind == "suite":
        names = lambda t: {s.split(":", 1)[-1] for s in t["suite"]}
        return [full_name(t) for t in tests if names(t) & want and not names(t) & drop]
    if kind == "name":
        return [full_name(t) for t in tests if t["name"] in want]
    if kind == "libfuzzer":
        return [f"libfuzzer / {t['name']}" for t in tests
                if any(s.split(":", 1)[-1] == "fuzz" for s in t["suite"])]
    return None


def read_log(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def sanitizer_reports(folder):
    if not folder or not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if os.path.getsize(os.path.join(folder, f)) > 0)


def suite_of(name):
    return name.split(" / ", 1)[0].split(":", 1)[-1].split("+")[0]


def main():
    passed = failed = 0
    bad, phases = [], []
    suites = collections.OrderedDict()  # (label, suite) -> [programs, checks]
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    exits = {r[1]: int(r[2]) for r in rows if r[0] == "exit"}
    for row in rows:
        if row[0] == "exit":
            continue
        if row[0] == "phase":
            phases.append((row[1], int(row[2])))
            continue
        if row[0] == "broken":
            failed += 1
            bad.append(f"NOTRUN   {row[1]}")
            continue
        _, label, build, log, selection, sanlog = (row + [""] * 6)[:6]
        want = expected(build, selection)
        if want is None:
            failed += 1
            bad.append(f"NOTRUN   {label}: cannot list the tests of {build} ({selection})")
            continue
        got = {t["name"]: t for t in read_log(log)}
        reports = sanitizer_reports(sanlog)
        failed_before = failed
        for name in want:
            key = (label, suite_of(name))
            s = suites.setdefault(key, [0, 0])
            t = got.get(name)
            if t is None:
                failed += 1
                bad.append(f"MISSING  {label}: {name} (registered, did not run)")
                continue
            s[0] += 1
            out = t.get("stdout") or ""
            s[1] += len(CHECK_RE.findall(out))
            result = t["result"]
            if result in GOOD and SKIP_RE.search(out):
                result = "SKIP"
            if result in GOOD and (reports or (sanlog and SANITIZER_RE.search(
                    out + (t.get("stderr") or "")))):
                result = "SANITIZER"
            if result in GOOD:
                passed += 1
            else:
                failed += 1
                bad.append(f"{result:<8} {label}: {name}")
        base = re.sub(r"(-valgrind)?\.json$", "", log)
        if exits.get(base, 0) != 0 and failed == failed_before:
            failed += 1
            bad.append(f"NOTRUN   {label}: meson test exited {exits[base]} though none of its tests failed")
        for r in reports:
            with open(r, encoding="utf-8", errors="replace") as f:
                head = f.read().splitlines()[:12]
            bad.append(f"         sanitizer report {r}:")
            bad.extend("           " + h for h in head)
        for name in sorted(set(got) - set(want)):
            bad.append(f"EXTRA    {label}: {name} ran but is not in the selection (not counted)")
    for (label, suite), (progs, checks) in suites.items():
        print(f"suite {suite:<12} {label:<24} {progs:4d} test programs, {checks:6d} checks")
    for name, secs in phases:
        print(f"phase {secs // 60:3d} min {secs % 60:02d} s  {name}")
    for b in bad:
        print(b)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
