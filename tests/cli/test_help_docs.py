#!/usr/bin/env python3
"""--help must equal the documentation (git t0450, curl test1139).

For every command in `stsctl help`'s list, `stsctl CMD --help` must print
exactly the fenced code block of the SYNOPSIS section of docs/stsctl-CMD.md,
and `stsctl --help`'s usage lines (before the command list) the one of
docs/stsctl.md, which must also link every command's page. A missing doc, a doc without
that block, a difference, or a docs/stsctl-X.md for no command fails.
TAP on stdout. Usage: test_help_docs.py STSCTL SOURCE_ROOT
"""
import difflib
import os
import re
import subprocess
import sys

from tap import done, report

STSCTL, ROOT = sys.argv[1], sys.argv[2]
DOCS = os.path.join(ROOT, "docs")


def run(*args):
    p = subprocess.run([STSCTL, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def list_commands():
    rc, out, err = run("help")
    if rc != 0:
        raise SystemExit(f"Bail out! 'stsctl help' exited {rc}: {err}")
    m = re.search(r"^commands:\n((?:  \S.*\n)+)", out, re.M)
    if not m:
        raise SystemExit("Bail out! 'stsctl help' has no 'commands:' list")
    return [line.split()[0] for line in m.group(1).splitlines()]


def synopsis(path):
    """The first fenced block after a heading named Synopsis, or None."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^#+[ \t]+synopsis[ \t]*\n", text, re.M | re.I)
    if not m:
        return None
    m = re.search(r"^(```+|~~~+)[^\n]*\n(.*?)^\1[ \t]*$", text[m.end():], re.M | re.S)
    return m.group(2) if m else None


def check(name, doc, args, head_only=False):
    rel = os.path.relpath(doc, ROOT)
    if not os.path.exists(doc):
        report(False, f"{name}: '{rel}' exists", f"write {rel} with a '## Synopsis' code block")
        return
    want = synopsis(doc)
    if want is None:
        report(False, f"{name}: '{rel}' has a synopsis block",
               "no fenced code block under a 'Synopsis' heading")
        return
    rc, got, err = run(*args)
    if head_only:  # stsctl --help: the usage lines before the command list
        got = got.split("\n\n", 1)[0] + "\n"
    if rc != 0:
        report(False, f"{name}: 'stsctl {' '.join(args)}' exits 0", f"exit {rc}: {err}")
        return
    diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                        f"{rel} (synopsis)", f"stsctl {' '.join(args)}"))
    report(got == want, f"{name}: --help equals the synopsis of '{rel}'", diff)


cmds = list_commands()
check("stsctl", os.path.join(DOCS, "stsctl.md"), ["--help"], head_only=True)
if os.path.exists(os.path.join(DOCS, "stsctl.md")):
    with open(os.path.join(DOCS, "stsctl.md"), encoding="utf-8") as f:
        top = f.read()
    unlinked = [c for c in cmds if f"(stsctl-{c}.md)" not in top]
    report(not unlinked, "docs/stsctl.md links the page of every command",
           "no link to: " + ", ".join(f"stsctl-{c}.md" for c in unlinked) if unlinked else "")
for c in cmds:
    check(c, os.path.join(DOCS, f"stsctl-{c}.md"), [c, "--help"])

orphans = sorted(f for f in os.listdir(DOCS) if re.fullmatch(r"stsctl-.+\.md", f)
                 and f[len("stsctl-"):-len(".md")] not in cmds) if os.path.isdir(DOCS) else []
report(not orphans, "every docs/stsctl-*.md documents a listed command",
       "no command for: " + ", ".join(orphans) if orphans else "")

done()
