#!/bin/bash
# shellcheck disable=SC2016 # the sh -c scripts read their arguments as $1, $2...
# Benchmark (not a test): `stsctl ingest` of N generated .json.gz TLS reports
# from one directory, next to what people do by hand, all in one run:
#   zcat       find DIR -name '*.json.gz' -print0 | xargs -0 cat | zcat >/dev/null
#              (the limit: decompression only)
#   jq-stream  the same pipeline into one `jq -s` computing the per-domain
#              success/failure totals
#   jq-loop    `zcat FILE | jq` per file, summed in awk: measured on
#              SUBSET files and extrapolated to N (documented in the table)
#   ingest     stsctl ingest into a new state DB (parse, dedup, raw kept,
#              aggregates)
# all four once per round, REPEAT rounds. Prints wall time, CPU time (user +
# sys, children included) and peak RSS (median of REPEAT runs; max RSS) and
# the goals of docs/performance.md: ingest ≤ 3 × zcat, ≤ jq-stream, ≥ 10 ×
# faster than jq-loop, ≤ 200 MB peak RSS.
#
# The verdict uses WALL time only: each time goal is judged on the median over
# the rounds of the ratio of the two wall times measured in the same round
# (the contenders run one after another in every round, under the same load,
# from the same page cache). CPU time is printed for information.
#
# What is timed is checked, outside the clock, in every round: the per-domain
# success/failure totals of jq-stream, of `stsctl report --format json` after
# the ingest, must equal for EVERY policy domain those gen-tlsrpt.py generated
# (the same domains, none missing or extra), and the jq-loop's totals those of
# its SUBSET files; zcat must decompress every byte. Any difference fails
# the benchmark (exit 1).
#
#   tests/bench/bench-ingest.sh                         # N=100000, REPEAT=3, build/cli/stsctl
#   N=20000 STSCTL=build-x/cli/stsctl tests/bench/bench-ingest.sh
#
# Work files go to $BENCH_DIR (default /tmp/stsctl-bench-ingest; N=100000
# takes about 400 MB of disk and a minute to generate); KEEP=1 keeps them,
# and a later run with the same N reuses the reports.
# Exit: 0 goals met, 1 a command failed or the totals disagree, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100000}
REPEAT=${REPEAT:-3}
SUBSET=${SUBSET:-1000}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench-ingest}
export LC_ALL=C

[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
for b in /usr/bin/time jq zcat; do
	command -v "$b" >/dev/null || { echo "bench: '$b' missing (apt-get install time jq gzip)" >&2; exit 1; }
done
mkdir -p "$W"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
R=$W/reports
if [ "$(cat "$W/n" 2>/dev/null)" != "$N" ] || [ ! -s "$W/totals.json" ]; then
	rm -rf "$R" "$W/n"
	echo "bench: generating $N reports in '$R'" >&2
	python3 "$ROOT/tests/bench/gen-tlsrpt.py" "$N" "$R" >"$W/totals.json"
	echo "$N" >"$W/n"
fi

# the per-domain totals users compute with jq (one stream and per file)
JQ_SUM='reduce (.[].policies[]) as $p ({}; .[$p.policy["policy-domain"] // ""] |=
  {successful: ((.successful // 0) + ($p.summary["total-successful-session-count"] // 0)),
   failed: ((.failed // 0) + ($p.summary["total-failure-session-count"] // 0))})'
JQ_ONE='[.policies[] | [.policy["policy-domain"] // "", .summary["total-successful-session-count"] // 0,
  .summary["total-failure-session-count"] // 0] | @tsv] | .[]'

# measure NAME CMD...: one timed run; appends "NAME WALL_S MAXRSS_KB USER_S SYS_S"
measure() {
	local name=$1
	shift
	if ! /usr/bin/time -f '%e %M %U %S' -o "$W/time.out" "$@"; then
		echo "bench: '$name' failed: $*" >&2
		tail -5 "$W/stderr.log" 2>/dev/null >&2
		exit 1
	fi
	echo "$name $(tail -1 "$W/time.out")" >>"$W/results"
	echo "bench: $name: $(tail -1 "$W/time.out" | awk '{ printf "%s s wall, %.2f s cpu, %.1f MB", $1, $3 + $4, $2 / 1024 }')" >&2
}

: >"$W/results"
: >"$W/stderr.log"
# warm the page cache: every contender reads the same files from memory
find "$R" -name '*.json.gz' -print0 | xargs -0 cat >/dev/null
find "$R" -name '*.json.gz' | awk -v n="$SUBSET" 'NR <= n' >"$W/subset"
for _ in $(seq "$REPEAT"); do
	# zcat's pipeline ends in pipefail-less sh: its byte count is checked once, below
	measure zcat sh -c 'find "$1" -name "*.json.gz" -print0 | xargs -0 cat | zcat >/dev/null' _ "$R"
	rm -f "$W/jq.json" "$W/jq-loop.txt"
	measure jq-stream sh -c 'find "$1" -name "*.json.gz" -print0 | xargs -0 cat | zcat | jq -s "$2" >"$3"' \
		_ "$R" "$JQ_SUM" "$W/jq.json"
	measure "jq-loop ($SUBSET files)" sh -c 'while read -r f; do zcat "$f" | jq -r "$2"; done <"$1" |
		awk -F "\t" "{ s[\$1] += \$2; f[\$1] += \$3 } END { for (d in s) print d, s[d], f[d] }" >"$3"' \
		_ "$W/subset" "$JQ_ONE" "$W/jq-loop.txt"
	rm -f "$W/state.db" "$W/state.db-wal" "$W/state.db-shm"
	measure ingest sh -c '"$1" -q ingest --state "$2" "$3" 2>>"$4"' _ "$STSCTL" "$W/state.db" "$R" "$W/stderr.log"
	# this round's results, outside the clock
	"$STSCTL" -q report --state "$W/state.db" --format json >"$W/report.json" ||
		{ echo "bench: stsctl report failed" >&2; exit 1; }
	python3 - "$W/totals.json" "$W/jq.json" "$W/report.json" "$W/subset" "$W/jq-loop.txt" >>"$W/checks" <<'PY' ||
import gzip, json, sys
truth = {d: tuple(t) for d, t in json.load(open(sys.argv[1])).items()}
jq = {d: (t["successful"], t["failed"]) for d, t in json.load(open(sys.argv[2])).items()}
rep = {d["domain"]: (d["successful_sessions"], d["failed_sessions"])
       for d in json.load(open(sys.argv[3]))["domains"]}
sub = {}
for path in open(sys.argv[4]).read().split("\n"):
    if path:
        for p in json.loads(gzip.open(path).read())["policies"]:
            t = sub.setdefault(p["policy"]["policy-domain"], [0, 0])
            t[0] += p["summary"]["total-successful-session-count"]
            t[1] += p["summary"]["total-failure-session-count"]
loop = {}
for line in open(sys.argv[5]):
    d, ok, fail = line.split()
    loop[d] = (int(ok), int(fail))
sub = {d: tuple(t) for d, t in sub.items()}
def diff(name, got, want):
    bad = sorted(set(got) ^ set(want)) + sorted(d for d in set(got) & set(want) if got[d] != want[d])
    if bad:
        d = bad[0]
        sys.exit(f"bench: {name}: {len(bad)} of {len(want)} domains wrong or missing, "
                 f"e.g. '{d}': {got.get(d)} for {want.get(d)}")
diff("jq-stream", jq, truth)
diff("stsctl report after ingest", rep, truth)
diff("jq-loop", loop, sub)
print(f"jq-stream and stsctl: the totals of all {len(truth)} domains as generated; "
      f"jq-loop: all {len(sub)} domains of its subset")
PY
		exit 1
done
# zcat decompressed every byte (its pipeline has no pipefail: checked here, once)
zbytes=$(find "$R" -name '*.json.gz' -print0 | xargs -0 cat | zcat | wc -c)
want=$(find "$R" -name '*.json.gz' -print0 | xargs -0 gzip -l |
	awk '$1 ~ /^[0-9]+$/ && $4 != "(totals)" { s += $2 } END { print s }')
[ "$zbytes" = "$want" ] || { echo "bench: zcat gave $zbytes bytes, the reports hold $want" >&2; exit 1; }
echo "checked (outside the clock), in each of the $REPEAT rounds: $(sort -u "$W/checks"); zcat: all $zbytes bytes"

db_bytes=$(stat -c %s "$W/state.db")
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$W/results" "$N" "$REPEAT" "$SUBSET" "$db_bytes" "$load" "$(nproc)" <<'PY'
import statistics, sys
res, n, rep, subset, db, load, cpus = sys.argv[1:8]
n, subset = int(n), int(subset)
runs = {}
for line in open(res):
    *name, wall, rss, usr, sys_ = line.split()
    runs.setdefault(" ".join(name), []).append((float(wall), int(rss), float(usr) + float(sys_)))
med = {k: statistics.median(x[0] for x in v) for k, v in runs.items()}
cpu = {k: statistics.median(x[2] for x in v) for k, v in runs.items()}
rss = {k: max(x[1] for x in v) for k, v in runs.items()}
loop = f"jq-loop ({subset} files)"
scale = n / subset
med["jq-loop"], cpu["jq-loop"], rss["jq-loop"] = med[loop] * scale, cpu[loop] * scale, rss[loop]
print(f"{n:,} reports (.json.gz), {cpus} CPUs, load average {load} at the end; "
      f"state DB {int(db) / 1e6:.0f} MB; median of {rep} runs, peak RSS = max; "
      f"jq-loop measured on {subset} files and scaled by {scale:g}")
print()
print(f"| {'step':<10} | {'wall s':>8} | {'cpu s':>8} | {'peak RSS MB':>11} |")
print(f"|{'-' * 12}|{'-' * 10}|{'-' * 10}|{'-' * 13}|")
for k in ["zcat", "jq-stream", "jq-loop", "ingest"]:
    print(f"| {k:<10} | {med[k]:>8.2f} | {cpu[k]:>8.2f} | {rss[k] / 1024:>11.1f} |")
print()
# the rule: wall time only, the median over the rounds of the per-round ratio
walls = {k: [x[0] for x in v] for k, v in runs.items()}
walls["jq-loop"] = [w * scale for w in walls[loop]]
def ratio(a, b):
    return statistics.median(x / y if y > 0 else float("inf") for x, y in zip(walls[a], walls[b]))
print("verdict: wall time only (median over the rounds of the ratio of the two wall times "
      "measured in the same round); CPU time is for information")
ok = True
def goal(text, met):
    global ok
    ok = ok and met
    print(f"- {text}: {'met' if met else 'MISSED'}")
i = "ingest"
r = ratio(i, "zcat")
goal(f"ingest ≤ 3 × zcat (wall {r:.2f} ×; cpu {cpu[i] / cpu['zcat']:.2f} ×)", r <= 3)
r = ratio(i, "jq-stream")
goal(f"ingest ≤ jq-stream (wall {r:.2f} ×; cpu {cpu[i] / cpu['jq-stream']:.2f} ×)", r <= 1)
r = ratio("jq-loop", i)
goal(f"ingest ≥ 10 × faster than jq-loop (wall {r:.1f} ×; cpu {cpu['jq-loop'] / cpu[i]:.1f} ×)", r >= 10)
rss_ok = rss[i] <= 200 * 1024
ok = ok and rss_ok
print(f"- ingest ≤ 200 MB peak RSS ({rss[i] / 1024:.0f} MB): {'met' if rss_ok else 'MISSED'}")
print()
print("all goals met" if ok else "goal missed")
sys.exit(0 if ok else 3)
PY
