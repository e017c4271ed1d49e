#!/bin/bash
# shellcheck disable=SC2016 # the sh -c scripts read their arguments as $1, $2...
# Benchmark (not a test): apply from an empty state of N domains in Z zones on
# the zonefile + local plugins, next to the bare cost of writing the same
# policy files atomically (create, write, fsync, rename; a small loop in this
# same run, tests/bench/bench-apply-baseline.py), then plan with no changes,
# then a second apply that finds nothing to do. Prints wall time, CPU time
# and peak RSS of each, and the verdict against the goals in docs/performance.md:
#   apply from empty <= 2 x the bare atomic-write loop; plan with no changes <= 1 s.
#
# What is timed is checked, outside the clock: the baseline must have written N
# policy files; after the first apply, www/ must hold exactly N policy files and
# zones/ exactly Z zone files with 2N TXT records (the numbers come from the
# inventory), and every policy file and record (with its id) must be the one
# `stsctl render --json` gives (tests/bench/verify-tree.py); plan must then
# find no change, and the second apply must leave every file as it was.
# Any difference fails the benchmark (exit 1).
#
#   tests/bench/bench-apply.sh                  # N=10000 Z=100, build/cli/stsctl
#   N=1000 Z=10 STSCTL=build-x/cli/stsctl tests/bench/bench-apply.sh
#
# Work files go to $BENCH_DIR (default /tmp/stsctl-bench-apply), removed at the
# end unless KEEP=1. Exit: 0 goals met, 1 a command failed or wrote something
# else than expected, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-10000}
Z=${Z:-100}
REPEAT=${REPEAT:-3}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench-apply}
export LC_ALL=C

STSCTL=$(realpath "$STSCTL" 2>/dev/null || echo "$STSCTL")
[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W/run/zones" "$W/run/www"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT

python3 "$ROOT/tests/bench/gen-apply-inventory.py" "$N" "$Z" "$W/run/inv.json"

: >"$W/results"
# measure NAME CMD...: one timed run in $W/run; appends "NAME WALL USER SYS MAXRSS_KB"
measure() {
	local name=$1
	shift
	sync
	if ! (cd "$W/run" && /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "$@"); then
		echo "bench: '$name' failed: $*" >&2
		tail -5 "$W/stderr.log" >&2 || true
		exit 1
	fi
	echo "$name $(tail -1 "$W/time.out")" >>"$W/results"
}

# the baseline: the same files, written the bare way, in the same run
sync
base=$(python3 "$ROOT/tests/bench/bench-apply-baseline.py" "$W/run/inv.json" "$W/baseline")
base_files=$(find "$W/baseline" -type f -name mta-sts.txt | wc -l)
[ "$base_files" = "$N" ] || { echo "bench: the baseline wrote $base_files policy files, expected $N" >&2; exit 1; }
rm -rf "$W/baseline"
echo "atomic-write-loop $base - - -" >>"$W/results"

measure "apply (from empty)" sh -c '"$1" -q apply inv.json --yes --state state.db >/dev/null 2>>"$2"' _ "$STSCTL" "$W/stderr.log"
# what apply wrote, against the inventory and render --json (every domain)
(cd "$W/run" && "$STSCTL" -q render inv.json --json --state state.db >"$W/render.json") ||
	{ echo "bench: render --json failed" >&2; exit 1; }
checked=$(python3 "$ROOT/tests/bench/verify-tree.py" apply "$W/run/inv.json" "$W/render.json" "$W/run") ||
	{ echo "bench: apply wrote something else than expected" >&2; exit 1; }
# the second apply must change nothing: every file's content and mtime as before
snapshot() { (cd "$W/run" && find www zones -type f -printf '%p %T@ %s\n' | sort | sha256sum); }
before=$(snapshot)
for _ in $(seq "$REPEAT"); do
	measure "plan (no changes)" sh -c '"$1" -q plan inv.json --state state.db --detailed-exitcode >/dev/null 2>>"$2"' _ "$STSCTL" "$W/stderr.log"
done
measure "apply (nothing to do)" sh -c '"$1" -q apply inv.json --yes --state state.db >/dev/null 2>>"$2"' _ "$STSCTL" "$W/stderr.log"
[ "$(snapshot)" = "$before" ] || { echo "bench: the apply with nothing to do rewrote files" >&2; exit 1; }

echo "N=$N domains in Z=$Z zones; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checked: baseline $base_files policy files; apply $checked; plan found no change; the second apply rewrote nothing"
printf '%-24s %9s %9s %9s %10s\n' step "wall s" "user s" "sys s" "max RSS"
python3 - "$W/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    *name, wall, user, sys_, rss = line.split()
    rows.setdefault(" ".join(name), []).append((wall, user, sys_, rss))
for name, runs in rows.items():
    med = sorted(runs, key=lambda r: float(r[0]))[len(runs) // 2]
    rss = "-" if med[3] == "-" else "%d MB" % (int(med[3]) // 1024)
    print("%-24s %9s %9s %9s %10s" % (name, med[0], med[1], med[2], rss))
PY
python3 - "$W/results" <<'PY'
import sys
wall = {}
for line in open(sys.argv[1]):
    *name, w, _, _, _ = line.split()
    wall.setdefault(" ".join(name), []).append(float(w))
med = lambda k: sorted(wall[k])[len(wall[k]) // 2]
base, apply_, plan = med("atomic-write-loop"), med("apply (from empty)"), med("plan (no changes)")
ok1 = apply_ <= 2 * base
ok2 = plan <= 1.0
print("apply from empty: %.2f s = %.2f x the atomic-write loop (goal <= 2): %s" % (apply_, apply_ / base, "met" if ok1 else "MISSED"))
print("plan with no changes: %.2f s (goal <= 1 s): %s" % (plan, "met" if ok2 else "MISSED"))
sys.exit(0 if ok1 and ok2 else 3)
PY
