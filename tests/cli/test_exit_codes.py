#!/usr/bin/env python3
"""docs/exit-codes.md agrees with enum cli_exit in cli/cli.h: the same names
with the same values, in both directions, and values never reused. TAP.
Usage: test_exit_codes.py SOURCE_ROOT
"""
import os
import re
import sys

from tap import done, report

ROOT = sys.argv[1]


with open(os.path.join(ROOT, "cli", "cli.h"), encoding="utf-8") as f:
    header = f.read()
m = re.search(r"enum\s+cli_exit\s*\{(.*?)\};", header, re.S)
if not m:
    print("Bail out! no 'enum cli_exit' in cli/cli.h")
    sys.exit(1)
body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
code = {k: int(v, 0) for k, v in re.findall(r"(\w+)\s*=\s*(\w+)", body)}
report(len(code) >= 6, "cli/cli.h: enum cli_exit parsed", repr(code))

doc_path = os.path.join(ROOT, "docs", "exit-codes.md")
if not os.path.exists(doc_path):
    report(False, "docs/exit-codes.md exists")
    done()
with open(doc_path, encoding="utf-8") as f:
    doc = f.read()
# table rows "| 2 | `EXIT_USAGE` | ..."
rows = re.findall(r"^\|\s*(\d+)\s*\|\s*`?(EXIT_\w+)`?\s*\|", doc, re.M)
documented = {}
for value, name in rows:
    documented.setdefault(name, int(value))

for name, value in sorted(code.items(), key=lambda kv: kv[1]):
    report(documented.get(name) == value, f"{name} = {value} is documented",
           f"docs/exit-codes.md says {documented.get(name)}")
for name, value in sorted(documented.items(), key=lambda kv: kv[1]):
    report(code.get(name) == value, f"documented {name} = {value} exists in cli/cli.h")
values = list(code.values())
report(len(values) == len(set(values)), "no exit code value is used twice", repr(code))
report(code.get("EXIT_OK") == 0, "EXIT_OK is 0")
report("stable" in doc.lower(), "docs/exit-codes.md says the codes are stable")

done()
