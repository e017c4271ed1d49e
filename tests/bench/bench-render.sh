#!/bin/bash
# shellcheck disable=SC2016 # the sh -c scripts read their arguments as $1, $2...
# Benchmark (not a test): validate, render --json and render -o of a generated
# N-domain inventory, next to the baseline `tar -x` of the same output tree +
# `sync`, all in one run. Prints a table of wall time and peak RSS (median of
# REPEAT runs, max RSS) and the verdict against the goals in docs/performance.md;
# render -o is compared with the tar -x of the same repeat (median of the ratios).
#
# What is timed is checked (tests/bench/verify-tree.py), after each repeat and
# outside the clock: render --json writes $BENCH_DIR/render.json, which must
# list exactly the inventory's domains and be byte-identical in every repeat;
# every render -o tree and every tar -x tree must hold the number of files the
# inventory gives (a policy and an nginx file per domain, a zone file per
# zone), and SAMPLE domains (default 1000) of each tree are compared with
# render --json: policy text, records and policy ids. Any difference fails
# the benchmark (exit 1).
#
#   tests/bench/bench-render.sh                 # N=100000, REPEAT=3, build/cli/stsctl
#   N=1000 STSCTL=build-x/cli/stsctl tests/bench/bench-render.sh
#   SKIP_TREE=1 REPEAT=9 tests/bench/bench-render.sh   # validate and render --json only
#   SAMPLE=0 ...                                       # compare every domain, not 1000
#   TREE_N=10000 tests/bench/bench-render.sh           # render -o and tar -x of 10,000 domains
#
# TREE_N (default N) is the size of the render -o / tar -x steps: they render the
# first TREE_N domains of the same generator (an inventory of their own), while
# validate and render --json keep N. Each repeat's two trees are deleted after
# they are checked, outside the clock, followed by a sync (deleting is slow on a
# disk mounted with `discard`: about 20 minutes per 500,000 entries here).
#
# Work files go to $BENCH_DIR (default /tmp/stsctl-bench, about 2.5 GB at
# TREE_N=100000), removed at the end unless KEEP=1 (which also keeps every
# repeat's trees). Exit: 0 goals met, 1 a command failed or its output was
# wrong, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100000}
REPEAT=${REPEAT:-3}
SAMPLE=${SAMPLE:-1000}
TREE_N=${TREE_N:-$N}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench}
export LC_ALL=C

[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
INV=$W/inventory.json
VERIFY=$ROOT/tests/bench/verify-tree.py

python3 "$ROOT/tests/bench/gen-inventory.py" "$N" "$INV"
# the inventory of the render -o steps and its render --json (for the checks)
TINV=$INV TJSON=$W/render.json
if [ "$TREE_N" != "$N" ]; then
	TINV=$W/tree-inventory.json TJSON=$W/tree-render.json
	python3 "$ROOT/tests/bench/gen-inventory.py" "$TREE_N" "$TINV"
fi

# measure NAME CMD...: one timed run; appends "NAME WALL_S MAXRSS_KB USER_S SYS_S" to $W/results
measure() {
	local name=$1
	shift
	sync
	if ! /usr/bin/time -f '%e %M %U %S' -o "$W/time.out" "$@"; then
		echo "bench: '$name' failed: $*" >&2
		tail -5 "$W/stderr.log" >&2
		exit 1
	fi
	echo "$name $(tail -1 "$W/time.out")" >>"$W/results"
	echo "bench: $name: $(tail -1 "$W/time.out" | awk '{ printf "%s s wall, %.2f s cpu, %.1f MB", $1, $3 + $4, $2 / 1024 }')" >&2
}

# verify WHAT INVENTORY JSON ROOT: the tree ROOT (or "-": JSON alone) against INVENTORY
verify() {
	local out
	out=$(python3 "$VERIFY" "$([ "$4" = - ] && echo json || echo render)" "$2" "$3" "$4" "$SAMPLE") ||
		{ echo "bench: $1 wrote something else than expected" >&2; exit 1; }
	echo "bench: checked $1: $out" >&2
	echo "$1: $out" >>"$W/checks"
}

# Every run writes into its own new directory, deleted after the checks.
render_o() { # render_o RUN
	mkdir "$W/out.$1"
	measure "render -o" sh -c '"$1" -q render "$2" -o "$3" 2>>"$4"' _ "$STSCTL" "$TINV" "$W/out.$1" "$W/stderr.log"
}
tar_x() { # tar_x RUN
	mkdir "$W/x.$1"
	measure "tar -x + sync" sh -c 'tar -xf "$1" -C "$2" && sync' _ "$W/out.tar" "$W/x.$1"
}

: >"$W/results"
files=0 bytes=0
for run in $(seq "$REPEAT"); do
	measure "validate" sh -c '"$1" -q validate "$2" >/dev/null 2>>"$3"' _ "$STSCTL" "$INV" "$W/stderr.log"
	measure "render --json" sh -c '"$1" -q render "$2" --json >"$3" 2>>"$4"' _ "$STSCTL" "$INV" "$W/render.json" "$W/stderr.log"
	sum=$(sha256sum <"$W/render.json")
	if [ "$run" = 1 ]; then
		json_sum=$sum
		verify "render --json" "$INV" "$W/render.json" -
	elif [ "$sum" != "$json_sum" ]; then
		echo "bench: render --json of repeat $run differs from repeat 1" >&2
		exit 1
	fi
	[ "${SKIP_TREE:-0}" = 1 ] && continue
	if [ "$run" = 1 ] && [ "$TREE_N" != "$N" ]; then
		"$STSCTL" -q render "$TINV" --json >"$TJSON"
		verify "render --json ($TREE_N domains, for the trees)" "$TINV" "$TJSON" -
	fi
	render_o "$run"
	verify "render -o (repeat $run)" "$TINV" "$TJSON" "$W/out.$run"
	if [ "$run" = 1 ]; then
		tar -cf "$W/out.tar" -C "$W/out.1" .
		files=$(find "$W/out.1" -type f | wc -l)
		bytes=$(du -sb "$W/out.1" | cut -f1)
	fi
	tar_x "$run"
	verify "tar -x (repeat $run)" "$TINV" "$TJSON" "$W/x.$run"
	if [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$W/out.$run" "$W/x.$run"
		sync
	fi
done
echo "render --json: the same bytes in all $REPEAT repeats" >>"$W/checks"

inv_bytes=$(stat -c %s "$INV")
fs=$(df -T "$W" | awk 'NR == 2 { print $2 }')

echo "checked (outside the clock), all as expected:"
sed 's/^/  /' "$W/checks"
python3 - "$W/results" "$N" "$REPEAT" "$files" "$bytes" "$inv_bytes" "$fs" "$TREE_N" <<'PY'
import statistics, sys
res, n, rep, files, size, inv, fs, tree_n = sys.argv[1:9]
runs = {}
for line in open(res):
    *name, wall, rss, usr, sys_ = line.split()
    runs.setdefault(" ".join(name), []).append((float(wall), int(rss), float(usr) + float(sys_)))
med = {k: statistics.median(x[0] for x in v) for k, v in runs.items()}
rss = {k: max(x[1] for x in v) for k, v in runs.items()}
cpu = {k: statistics.median(x[2] for x in v) for k, v in runs.items()}
print(f"inventory: {int(n):,} domains, {int(inv) / 1e6:.1f} MB; render -o tree: {int(tree_n):,} domains, "
      f"{int(files):,} files, "
      f"{int(size) / 1e6:.1f} MB on {fs}; median of {rep} runs, peak RSS = max")
print()
print(f"| {'step':<14} | {'wall s':>7} | {'cpu s':>6} | {'peak RSS MB':>11} | goal | verdict |")
print(f"|{'-' * 16}|{'-' * 9}|{'-' * 8}|{'-' * 13}|---|---|")
ok = True
# render -o and tar -x ran back to back in each repeat: compare them pairwise
ratios = [r[0] / t[0] if t[0] > 0 else float("inf")
          for r, t in zip(runs.get("render -o", []), runs.get("tar -x + sync", []))]
ratio = statistics.median(ratios) if ratios else None
goals = {
    "validate": ("≤ 1 s, ≤ 256 MB", med["validate"] <= 1.0 and rss["validate"] <= 256 * 1024),
    "render --json": ("≤ 1 s, ≤ 256 MB", med["render --json"] <= 1.0 and rss["render --json"] <= 256 * 1024),
    "render -o": (f"≤ 1.5 × tar (is {ratio:.2f} ×)" if ratio else "", ratio <= 1.5 if ratio else None),
    "tar -x + sync": ("baseline", None),
}
for k in [k for k in ["validate", "render --json", "render -o", "tar -x + sync"] if k in runs]:
    goal, good = goals[k]
    if good is False:
        ok = False
    verdict = "-" if good is None else ("met" if good else "MISSED")
    print(f"| {k:<14} | {med[k]:>7.2f} | {cpu[k]:>6.2f} | {rss[k] / 1024:>11.1f} | {goal} | {verdict} |")
print()
if ratios:
    print("render -o / tar -x per run: " + " ".join(f"{r:.2f}" for r in ratios) + f" (median {ratio:.2f})")
print("all goals met" if ok else "goal missed")
sys.exit(0 if ok else 3)
PY
