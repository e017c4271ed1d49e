#!/usr/bin/env python3
"""Every C source and header is formatted as the committed .clang-format says.

One check per file: `clang-format --dry-run` reports nothing for it. The files are those git tracks (or, outside a git checkout, every
.c/.h under cli/, core/, plugins/ and tests/). A missing clang-format is a
failure, never a skip: tests/integration/harness/packages-test.txt installs
it. TAP on stdout. Usage: test_format.py SOURCE_ROOT
"""
import os
import shutil
import subprocess
import sys

from tap import done, report


def sources(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", "*.c", "*.h"],
                             capture_output=True, check=True).stdout
        files = [f.decode() for f in out.split(b"\0") if f]
        if files:
            return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = []
    for top in ("cli", "core", "plugins", "tests"):
        for d, _, names in os.walk(os.path.join(root, top)):
            found += [os.path.relpath(os.path.join(d, n), root)
                      for n in names if n.endswith((".c", ".h"))]
    return sorted(found)


def main():
    root = sys.argv[1]
    tool = shutil.which("clang-format")
    if not report(tool is not None, "clang-format is installed"):
        done()
    report(os.path.isfile(os.path.join(root, ".clang-format")), ".clang-format is committed")
    files = sources(root)
    report(len(files) > 50, f"{len(files)} C files found", "expected the whole tree")
    # one run over every file; its findings start with "FILE:LINE:COL: "
    r = subprocess.run([tool, "--dry-run"] + files, cwd=root, capture_output=True, text=True)
    out = (r.stdout + r.stderr).splitlines()
    report(r.returncode == 0, "clang-format ran", "\n".join(out[:20]))
    for f in files:
        mine = [l for l in out if l.startswith(f + ":")]
        report(not mine, f"{f} is clang-formatted",
               "\n".join(mine[:12]) + f"\nfix: clang-format -i {f}")
    done()


if __name__ == "__main__":
    main()
