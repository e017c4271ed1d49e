#!/bin/bash
# Benchmark (not a test): the DNS side of `stsctl apply` with the powerdns plugin against the
# testbed's real PowerDNS, N domains (2 TXT rrsets each) in Z zones, with the policy files
# already in place, next to, in the same run and on the same records:
#   (a) a typical onboarding script: one curl PATCH per rrset (tests/bench/bench-dns-curl.sh)
#   (b) the limit: one hand-made batched PATCH per zone, one curl each
# Each run starts from empty zones. Prints wall times, rrsets/s, the ratios and the verdict
# against docs/performance.md: stsctl >= 20x faster than (a), within 1.5x of (b).
#
# What is timed is checked, outside the clock, after each contender: the TXT records
# of the bench zones, read back through the API, must be exactly the ones
# `stsctl render --json` gives for the inventory (name and content, every one; for (a)
# under A_LIMIT the first A_LIMIT of them), and plan must find nothing left to do
# after stsctl's apply. (a) and (b) publish those same records. Any difference fails
# the benchmark (exit 1).
#
#   tests/bench/bench-dns.sh                           # N=10000 Z=100, build/cli/stsctl
#   N=1000 Z=10 STSCTL=build-x/cli/stsctl tests/bench/bench-dns.sh
#   A_LIMIT=2000 tests/bench/bench-dns.sh              # (a) on the first 2000 rrsets only,
#                                                      # extrapolated per rrset (printed as such)
# Needs the testbed (tests/integration/harness/up.sh; its env.sh is read from
# $STS_TB_RUN). Work files in $BENCH_DIR (default /tmp/stsctl-bench-dns), removed unless
# KEEP=1. Exit: 0 goals met, 1 a step failed or published something else than
# expected, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/harness/lib.sh"
[ -e "$STS_TB_RUN/env.sh" ] || { echo "bench: testbed not running (tests/integration/harness/up.sh)" >&2; exit 1; }
. "$STS_TB_RUN/env.sh"
N=${N:-10000}
Z=${Z:-100}
A_LIMIT=${A_LIMIT:-0}
STSCTL=$(realpath "${STSCTL:-$ROOT/build/cli/stsctl}")
W=${BENCH_DIR:-/tmp/stsctl-bench-dns}
API=$STS_TB_PDNS_API
BASE=${API%/api/v1/servers/*}
K="X-API-Key: $STS_TB_PDNS_API_KEY"
export PDNS_KEY=$STS_TB_PDNS_API_KEY LC_ALL=C
[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W/run/www" "$W/b"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
now() { date +%s.%N; }
say() { echo "bench: $*" >&2; }

python3 - "$N" "$Z" "$W/run/inv.json" "$BASE" <<'PY'
import json, sys
n, z, out, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
doms = [{"name": f"d{i}.z{i % z}.dnsbench.test", "zone": f"z{i % z}.dnsbench.test",
         "mx": [f"mx1.z{i % z}.dnsbench.test"]} for i in range(n)]
inv = {"version": 1,
       "defaults": {"dns": "pdns", "web": "www", "mode": "testing", "max_age": 604800, "ttl": 3600,
                    "tlsrpt": {"rua": ["mailto:tlsrpt@dnsbench.test"]}},
       "providers": {"pdns": {"plugin": "powerdns", "url": base, "api_key": "${env:PDNS_KEY}"},
                     "www": {"plugin": "local", "root": "www"}},
       "domains": doms}
json.dump(inv, open(out, "w"))
PY
ZONES=$(seq 0 $((Z - 1)) | sed 's/^/z/; s/$/.dnsbench.test/')
# empty_zones: every bench zone anew and empty (SOA and NS only)
empty_zones() {
	local z
	for z in $ZONES; do
		curl -sS --max-time 30 -o /dev/null -H "$K" -X DELETE "$API/zones/$z." || true
		curl -fsS --max-time 30 -o /dev/null -H "$K" -H 'Content-Type: application/json' -X POST "$API/zones" \
			-d "{\"name\":\"$z.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$z.\"]}"
	done
}
# published: every TXT record of the bench zones, "ZONE<TAB>NAME<TAB>CONTENT", sorted
# (one GET per zone)
published() {
	local z
	for z in $ZONES; do curl -fsS --max-time 30 -H "$K" "$API/zones/$z."; echo; done | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        z = json.loads(line)
        for r in z["rrsets"]:
            if r["type"] == "TXT":
                for rec in r["records"]:
                    print("%s\t%s\t%s" % (z["name"], r["name"], rec["content"]))
' | sort
}
# expect WHO COUNT: the zones hold exactly the first COUNT lines of $W/records.tsv
expect() {
	published >"$W/published.tsv"
	head -n "$2" "$W/records.tsv" | sort | cmp -s - "$W/published.tsv" || {
		say "$1: published $(wc -l <"$W/published.tsv") TXT records, expected the $2 of render --json; differences:"
		head -n "$2" "$W/records.tsv" | sort | diff - "$W/published.tsv" | head -5 >&2
		exit 1
	}
	echo "$1: $2 TXT records, each as render --json gives it" >>"$W/checks"
}
RR=$((N * 2))

# the records every contender must publish, from render --json (names and zones
# absolute, contents quoted as PowerDNS stores them); its order is (a)'s
(cd "$W/run" && "$STSCTL" -q render inv.json --json) | python3 -c '
import json, sys
out = open(sys.argv[1], "w")
for d in json.load(sys.stdin)["domains"]:
    for r in d["records"]:
        if r["type"] == "TXT":
            out.write("%s.\t%s\t\"%s\"\n" % (d["zone"].rstrip("."), r["name"], r["value"]))
' "$W/records.tsv"
[ "$(wc -l <"$W/records.tsv")" = "$RR" ] || { say "render --json gives $(wc -l <"$W/records.tsv") records, expected $RR"; exit 1; }
: >"$W/checks"

say "policy files and state in place (a first apply, not timed)"
empty_zones
(cd "$W/run" && "$STSCTL" apply inv.json --yes --state state.db >"$W/warm.out" 2>&1) || { tail -5 "$W/warm.out" >&2; exit 1; }
expect "first apply (not timed)" "$RR"
# (b)'s bodies, made before the clock starts: one file per zone
python3 - "$W/records.tsv" "$W/b" <<'PY'
import collections, json, sys
by = collections.defaultdict(list)
for line in open(sys.argv[1]):
    zone, name, content = line.rstrip("\n").split("\t")
    by[zone].append({"name": name, "type": "TXT", "ttl": 3600, "changetype": "REPLACE",
                     "records": [{"content": content, "disabled": False}]})
for zone, rrsets in by.items():
    json.dump({"rrsets": rrsets}, open(f"{sys.argv[2]}/{zone}json", "w"))
PY

say "stsctl apply ($N domains, $RR rrsets, $Z zones)"
empty_zones
t0=$(now)
(cd "$W/run" && "$STSCTL" apply inv.json --yes --state state.db >"$W/apply.out" 2>&1) || { tail -5 "$W/apply.out" >&2; exit 1; }
t1=$(now)
expect "stsctl apply" "$RR"
(cd "$W/run" && "$STSCTL" plan inv.json --state state.db --detailed-exitcode >/dev/null 2>&1) || { say "stsctl: plan after apply is not empty"; exit 1; }
echo "stsctl apply: plan then finds nothing to do" >>"$W/checks"
S_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

say "(b) one batched curl PATCH per zone"
empty_zones
t0=$(now)
for z in $ZONES; do
	curl -fsS --max-time 60 -o /dev/null -H "$K" -H 'Content-Type: application/json' -X PATCH --data @"$W/b/$z.json" "$API/zones/$z."
done
t1=$(now)
expect "(b)" "$RR"
B_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

A_N=$RR
[ "$A_LIMIT" -gt 0 ] && [ "$A_LIMIT" -lt "$RR" ] && A_N=$A_LIMIT
say "(a) one curl PATCH per rrset ($A_N of $RR rrsets)"
empty_zones
t0=$(now)
head -n "$A_N" "$W/records.tsv" | API=$API KEY=$STS_TB_PDNS_API_KEY "$ROOT/tests/bench/bench-dns-curl.sh"
t1=$(now)
expect "(a)" "$A_N"
A_T=$(awk -v a="$t0" -v b="$t1" -v n="$A_N" -v all="$RR" 'BEGIN { print (b - a) * all / n }')
empty_zones
echo "checked (outside the clock):"
sed 's/^/  /' "$W/checks"

awk -v s="$S_T" -v a="$A_T" -v b="$B_T" -v rr="$RR" -v an="$A_N" -v n="$N" -v z="$Z" 'BEGIN {
	printf "%d domains, %d TXT rrsets in %d zones, PowerDNS 127.0.0.1 (gsqlite3)\n", n, rr, z
	printf "%-46s %9s %12s\n", "", "wall s", "rrsets/s"
	printf "%-46s %9.2f %12.0f\n", "stsctl apply (policies in place)", s, rr / s
	note = ""
	if (an + 0 < rr + 0)
		note = sprintf("   (measured on %d rrsets, extrapolated per rrset)", an)
	printf "%-46s %9.2f %12.0f%s\n", "(a) one curl PATCH per rrset", a, rr / a, note
	printf "%-46s %9.2f %12.0f\n", "(b) one batched curl PATCH per zone", b, rr / b
	printf "stsctl vs (a): %.1fx faster (goal >= 20x): %s\n", a / s, (a / s >= 20 ? "met" : "MISSED")
	printf "stsctl vs (b): %.2fx the time (goal <= 1.5x): %s\n", s / b, (s / b <= 1.5 ? "met" : "MISSED")
	exit (a / s >= 20 && s / b <= 1.5) ? 0 : 3 }'
