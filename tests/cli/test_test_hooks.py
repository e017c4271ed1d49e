#!/usr/bin/env python3
"""The test-only hooks (STSCTL_TEST_NOW, STSCTL_TEST_CRASH_AFTER, ...) exist
only in a build configured with -Dtest_hooks=true. TAP.

1. Every getenv("STSCTL_TEST_...") under cli/, core/ and plugins/ sits inside
   #ifdef STS_TEST_HOOKS ... #endif.
2. Each file with a hook, preprocessed as a release build compiles it (this
   build's compile command without -DSTS_TEST_HOOKS), has no hook variable
   left, and has it with the define: a release binary cannot abort on
   STSCTL_TEST_CRASH_AFTER or move its clock on STSCTL_TEST_NOW.
3. The binary of this build has the hooks exactly when it was configured
   with them (tb_need_test_hooks in the integration harness relies on it).

Usage: test_test_hooks.py STSCTL SOURCE_ROOT BUILD_ROOT true|false
"""
import json
import os
import re
import shlex
import subprocess
import sys

from tap import done, report

STSCTL, ROOT, BUILD, HOOKS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "true"
HOOK = re.compile(r'getenv\("(STSCTL_TEST_\w+)"\)')


def guarded(lines, i):
    """Is line i inside #ifdef STS_TEST_HOOKS (nesting counted)?"""
    stack = []
    for line in lines[:i]:
        s = line.strip()
        if re.match(r"#\s*if", s):
            stack.append("STS_TEST_HOOKS" in s and not re.match(r"#\s*ifndef", s))
        elif re.match(r"#\s*else", s) and stack:
            stack[-1] = False
        elif re.match(r"#\s*endif", s) and stack:
            stack.pop()
    return any(stack)


hooked = {}
for top in ("cli", "core", "plugins"):
    for d, _, files in os.walk(os.path.join(ROOT, top)):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            for i, line in enumerate(lines):
                m = HOOK.search(line)
                if m:
                    rel = os.path.relpath(path, ROOT)
                    hooked.setdefault(rel, set()).add(m.group(1))
                    report(guarded(lines, i), f"{rel}:{i + 1}: {m.group(1)} only with STS_TEST_HOOKS")
report("cli/cmd_apply.c" in hooked, "the crash hook is found in cli/cmd_apply.c", repr(hooked))

with open(os.path.join(BUILD, "compile_commands.json"), encoding="utf-8") as f:
    commands = json.load(f)


def preprocess(rel, with_hooks):
    for c in commands:
        if os.path.normpath(os.path.join(c["directory"], c["file"])) != os.path.join(ROOT, rel):
            continue
        argv = [a for a in shlex.split(c["command"]) if a != "-DSTS_TEST_HOOKS=1"]
        out = []
        skip = False
        for a in argv:  # drop -c FILE, -o OUT, the dependency file options
            if skip:
                skip = False
            elif a in ("-o", "-MF", "-MQ", "-MT"):
                skip = True
            elif a not in ("-c", "-MD", "-MMD"):
                out.append(a)
        out += ["-E", "-P", "-o", "-"]
        if with_hooks:
            out.append("-DSTS_TEST_HOOKS=1")
        r = subprocess.run(out, cwd=c["directory"], capture_output=True, text=True)
        return r.returncode, r.stdout, r.stderr
    return None, "", f"{rel} is not in compile_commands.json"


for rel, names in sorted(hooked.items()):
    rc, release, err = preprocess(rel, False)
    left = [n for n in names if n in release]
    report(rc == 0 and not left, f"{rel} without -Dtest_hooks: no {', '.join(sorted(names))}",
           err[-2000:] or f"left: {left}")
    rc, test, err = preprocess(rel, True)
    report(rc == 0 and all(n in test for n in names), f"{rel} with -Dtest_hooks: the hooks are there",
           err[-2000:])

with open(STSCTL, "rb") as f:
    binary = f.read()
has = b"STSCTL_TEST_NOW" in binary and b"STSCTL_TEST_CRASH_AFTER" in binary
report(has == HOOKS, f"the stsctl of this build (test_hooks={str(HOOKS).lower()}) "
       f"{'has' if HOOKS else 'has no'} test hooks", f"found: {has}")
report(HOOKS or b"STSCTL_TEST_" not in binary, "no STSCTL_TEST_ string in a build without hooks")
done()
