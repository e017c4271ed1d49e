#!/usr/bin/env python3
"""Rule ids (T4, B9, M2, ...) cited anywhere in the code, docs and tests are
defined in docs/rfc-rules.md, and so are the sections cited as
`docs/rfc-rules.md §N`; nothing refers to the old external checklist
("RFC" ".md") any more. The table itself: each id once, with an RFC section
and a statement.

What counts as a citation: a capital letter of a rule family (T P B F C M S
U R J D E H) followed by 1 to 99 (no leading zero), standing alone (not
inside a word, a shell variable or a date-time like 2024-01-01T23:59:59Z),
ranges such as B1-B13 included. Not a citation: C89/C99/C11/C17/C23 (the C
language standards). Files: those git tracks or would track (or, outside a
git checkout, every file below the root but build*/ and .git/), text only,
fuzz seed corpora and docs/rfc-rules.md itself left out.
TAP on stdout. Usage: test_rule_ids.py SOURCE_ROOT
"""
import os
import re
import subprocess
import sys

from tap import done, report

ROOT = sys.argv[1]
RULES = "docs/rfc-rules.md"
OLD = "RFC" + ".md"  # spelled so that this file does not cite it

FAMILIES = "TPBFCMSURJDEH"
ID = re.compile(r"(?<![\w$])([" + FAMILIES + r"])([1-9]\d?)(?:-\1?([1-9]\d?))?(?![\w]|:\d)")
C_STANDARD = {"C89", "C99", "C11", "C17", "C23"}
SECTION_REF = re.compile(r"docs/rfc-rules\.md[\s*#]*§(\d+(?:\.\d+)?)"
                         r"(?:\s*[-/–]\s*§?(\d+(?:\.\d+)?))?")
OLD_REF = re.compile(r"(?<![\w/-])" + re.escape(OLD))


def source_files():
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True,
                             timeout=60).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, fs in os.walk(ROOT):
            rel = os.path.relpath(d, ROOT)
            if rel == ".":
                dirs[:] = [x for x in dirs if not x.startswith("build") and x != ".git"]
            files += [os.path.normpath(os.path.join(rel, f)) for f in fs]
    for f in sorted(set(files)):
        if f == RULES or re.match(r"tests/fuzz/[^/]+\.in/", f):
            continue
        path = os.path.join(ROOT, f)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as fh:
            data = fh.read(4 << 20)
        if b"\0" in data:
            continue  # binary
        yield f, data.decode("utf-8", "replace")


# ---- the table ----
rules_text = open(os.path.join(ROOT, RULES), encoding="utf-8").read()
defined = {}
problems = []
for n, line in enumerate(rules_text.splitlines(), 1):
    m = re.match(r"\|\s*([" + FAMILIES + r"][1-9]\d?)\s*\|(.*)\|\s*$", line)
    if not m:
        continue
    rid, cells = m.group(1), [c.strip() for c in m.group(2).split("|")]
    if rid in defined:
        problems.append(f"{RULES}:{n}: {rid} defined again (first on line {defined[rid]})")
    defined[rid] = n
    if not any(re.search(r"\b84(60|61) §", c) for c in cells):
        problems.append(f"{RULES}:{n}: {rid} has no RFC section (RFC 8460/8461 §...)")
    if sum(1 for c in cells if len(c) > 20) < 1:
        problems.append(f"{RULES}:{n}: {rid} has no statement")
sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", rules_text, re.M))
report(len(defined) > 100 and not problems, f"{RULES}: {len(defined)} rules, each once, "
       "with an RFC section and a statement", "\n".join(problems))
own_cites = [f"{RULES}:{rules_text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
             for m in ID.finditer(rules_text)
             if m.group(0) not in C_STANDARD and
             any(f"{m.group(1)}{x}" not in defined for x in (m.group(2), m.group(3)) if x)]
report(not own_cites, f"{RULES} cites only ids it defines", "\n".join(own_cites))

# ---- every citation elsewhere ----
undefined, bad_sections, old_refs, cited = [], [], [], set()
n_files = 0
for rel, text in source_files():
    n_files += 1
    for m in ID.finditer(text):
        if m.group(0) in C_STANDARD:
            continue
        fam, lo, hi = m.group(1), int(m.group(2)), int(m.group(3) or m.group(2))
        line = text.count("\n", 0, m.start()) + 1
        for k in range(lo, max(lo, hi) + 1):
            rid = f"{fam}{k}"
            cited.add(rid)
            if rid not in defined:
                undefined.append(f"{rel}:{line}: {m.group(0)}: {rid} is not in {RULES}")
    for m in SECTION_REF.finditer(text):
        for sec in (m.group(1), m.group(2)):
            if sec and sec.rstrip(".") not in sections:
                line = text.count("\n", 0, m.start()) + 1
                bad_sections.append(f"{rel}:{line}: {m.group(0)!r}: no section {sec} in {RULES}")
    for m in OLD_REF.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        old_refs.append(f"{rel}:{line}: still refers to {OLD}")

report(n_files > 100, f"{n_files} files read", "too few files: is SOURCE_ROOT right?")
report(not undefined, f"every cited rule id is defined ({len(cited)} distinct ids cited)",
       "\n".join(undefined))
report(not bad_sections, f"every 'docs/rfc-rules.md §N' names a section of {RULES}",
       "\n".join(bad_sections))
report(not old_refs, f"nothing refers to {OLD}", "\n".join(old_refs))
done()
