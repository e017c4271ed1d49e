"""Minimal TAP producer shared by the CLI tests: report() each check, then done()."""
import sys

_n = 0
_failed = 0


def report(ok, name, detail=""):
    """One TAP line; detail (why it failed, a diff) as '#' comment lines."""
    global _n, _failed
    _n += 1
    if not ok:
        _failed += 1
    print(f"{'ok' if ok else 'not ok'} {_n} - {name}")
    for line in (detail if not ok else "").splitlines():
        print(f"# {line}")
    return ok


def done():
    """Print the plan and exit 1 when any check failed."""
    print(f"1..{_n}")
    sys.exit(1 if _failed else 0)
