#!/usr/bin/env python3
"""Print the set-up command that README.md marks with <!-- MARK -->.

Usage: readme_cmd.py README.md MARK   (MARK: setup:build or setup:test)

The command is the first ```sh block after the marker line, its indentation
removed, lines joined by newlines. Exits 1 when the marker or the block is
missing, or the marker is there twice, so a README edit cannot silently
leave the fresh-machine check running something else.
"""
import re
import sys
import textwrap


def command(text, mark):
    lines = text.split("\n")
    at = [i for i, l in enumerate(lines) if l.strip() == f"<!-- {mark} -->"]
    if len(at) != 1:
        return None
    block, inside = [], False
    for line in lines[at[0] + 1:]:
        if not inside:
            inside = re.match(r"^\s*```sh\s*$", line) is not None
            continue
        if re.match(r"^\s*```\s*$", line):
            cmd = textwrap.dedent("\n".join(block)).strip()
            return cmd or None
        block.append(line)
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        cmd = command(f.read(), sys.argv[2])
    if cmd is None:
        print(f"{sys.argv[1]}: no single <!-- {sys.argv[2]} --> followed by a ```sh block",
              file=sys.stderr)
        return 1
    print(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
