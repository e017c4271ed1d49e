#!/bin/bash
# shellcheck disable=SC2016 # the sh -c scripts read their arguments as $1, $2...
# Benchmark (not a test): the REST DNS providers against their fakes
# (tests/fakes/<provider>/, tests/fakes/README.md). Per provider: apply N
# domains in Z zones from an empty state (the web side is the local plugin),
# with the vendor's documented rate limit enforced by the fake and its window
# compressed SCALE times (fake.py --rate-scale), then a second apply. SCALE=auto
# (the default) compresses each vendor's limit to an average of RPS requests a
# second (default 200: stsctl and a fake reach about 800 on this machine, so
# the limit, not the machine, sets the pace); the factor is printed.
# Prints per provider:
#   requests sent (reads, writes) and writes per changed domain and per zone;
#   the answers the fake limited (429);
#   wall time, and the floor the scaled limit allows for that many requests:
#   a fixed window of L requests per W/SCALE seconds, so R requests need at
#   least (ceil(R / L) - 1) * W / SCALE seconds;
#   the second apply's requests (it must send only reads).
# Goals (docs/performance.md): with a batch or atomic multi-change API at
# most one write request per zone and step, plus paging; with a per-record
# API at most one write per changed record, plus paging (and one commit per
# zone and step where the API publishes only after one: OVH's refresh);
# wall time within 1.2 x the floor (when the floor is at least one window);
# a second apply sends no write.
#
# What is timed is checked, outside the clock: after the first apply the
# fake must hold, for every domain, exactly the _mta-sts and _smtp._tls TXT
# records `stsctl render --json` gives (every domain, with its id), and the
# local web root N policy files; the second apply must change nothing.
# Any difference fails the benchmark (exit 1).
#
#   tests/bench/bench-rest.sh                      # every provider, N=10000 Z=100 SCALE=auto
#   N=1000 Z=10 SCALE=100 tests/bench/bench-rest.sh cloudflare route53
#
# STSCTL (default build/cli/stsctl; its build's plugins are used), BENCH_DIR
# (default /tmp/stsctl-bench-rest, removed unless KEEP=1). Exit: 0 goals met,
# 1 a command failed or the result is wrong, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-10000}
Z=${Z:-100}
SCALE=${SCALE:-auto}
RPS=${RPS:-200}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench-rest}
export LC_ALL=C
STSCTL=$(realpath "$STSCTL" 2>/dev/null || echo "$STSCTL")
[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
BUILD=$(dirname "$(dirname "$STSCTL")")
. "$ROOT/tests/fakes/common/rest.sh"

providers=("$@")
if [ ${#providers[@]} = 0 ]; then
	for e in "$ROOT"/tests/fakes/*/env.sh; do
		p=$(basename "$(dirname "$e")")
		[ -e "$BUILD/plugins/$p.so" ] && providers+=("$p")
	done
fi
[ ${#providers[@]} -gt 0 ] || { echo "bench: no REST provider plugin built in $BUILD" >&2; exit 1; }

rm -rf "$W"
mkdir -p "$W"
[ "${KEEP:-0}" = 1 ] || trap 'fake_stop; rm -rf "$W"' EXIT
trap 'fake_stop' INT TERM

zones=()
for ((i = 0; i < Z; i++)); do zones+=(--zone "z$i.bench.test"); done
echo "bench-rest: $N domains in $Z zones; rate-limit windows compressed: $([ "$SCALE" = auto ] && echo "to $RPS requests/s on average" || echo "${SCALE}x"); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-13s %-22s %6s %8s %7s %7s %9s %9s %7s %8s %8s %6s %9s  %s\n' provider "limit (vendor)" scale requests reads writes "w/domain" "w/zone" limited wall_s floor_s ratio "2nd:w/r" verdict
verdict_all=0
for P in "${providers[@]}"; do
	D=$W/$P
	mkdir -p "$D/run/www"
	unset -f fake_args fake_settings fake_bad_settings fake_secrets fake_front 2>/dev/null || true
	unset FAKE_BENCH_LIMIT FAKE_RATE
	. "$ROOT/tests/fakes/$P/env.sh"
	# no validating front (DigitalOcean's Prism): it checks the wire format in
	# the tests; here it would only add its own latency to every request
	unset -f fake_front
	# the vendor's limits that bind this workload: env.sh's FAKE_BENCH_LIMIT
	# ("KIND L/W[,L/W...]", KIND all or writes, W in seconds), else the fake's
	# class attribute rate_limit = (L, W) for all requests
	rate=${FAKE_BENCH_LIMIT:-}
	[ -n "$rate" ] || rate="all $(/usr/bin/python3 -c 'import ast, sys
for cls in ast.walk(ast.parse(open(sys.argv[1]).read())):
    if isinstance(cls, ast.Assign) and any(getattr(t, "id", "") == "rate_limit" for t in cls.targets):
        print("%d/%d" % ast.literal_eval(cls.value)); break' "$ROOT/tests/fakes/$P/fake.py")"
	scale=$SCALE
	# SCALE=auto: the slowest long-run rate of those windows becomes RPS
	[ "$scale" = auto ] && scale=$(/usr/bin/python3 -c 'import sys
wins = [tuple(map(float, w.split("/"))) for w in sys.argv[1].split()[1].split(",")]
print("%g" % (float(sys.argv[2]) / min(l / w for l, w in wins)))' "$rate" "$RPS")
	fake_start "$D" "${zones[@]}" --page-size "${PAGE:-100}" --rate-scale "$scale" ||
		{ echo "bench: the $P fake did not start" >&2; exit 1; }
	STSCTL_PLUGIN_PATH="$BUILD/plugins" "$STSCTL" plugins --json >"$D/plugins.json"
	/usr/bin/python3 - "$N" "$Z" "$P" "$(fake_settings "$D" "$FAKE_URL")" "$D/run/inv.json" "$D/plugins.json" "$scale" <<'PY'
import json, re, sys
n, z, plugin, settings, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
scale = float(sys.argv[7])
dns = json.loads(settings)
dns["plugin"] = plugin
# every rate-limit setting of the plugin (rate_limit, write_rate_limit, ...)
# at its default, its windows compressed as the fake's: "L/Ws" while a
# window stays whole seconds; below that the limiter's evenly spaced rate
# form ("R/s", no burst) at 95 % of the fake's average rate
UNIT = {"s": 1, "m": 60, "h": 3600}
def scaled(spec):
    parts = []
    for w in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)/(\d*)([smh])\s*", w)
        limit, window = int(m.group(1)), int(m.group(2) or 1) * UNIT[m.group(3)] / scale
        if window >= 1 and window == int(window):
            parts.append("%d/%ds" % (limit, window))
        else:
            parts.append("%d/s" % max(1, int(0.95 * limit / window)))
    return ", ".join(parts)
for p in json.load(open(sys.argv[6]))["plugins"]:
    if p["name"] == plugin:
        for st in p["settings"]:
            if st["key"].endswith("rate_limit") and st.get("default"):
                dns[st["key"]] = scaled(st["default"])  # the vendor's, not the tests' own
doms = [{"name": f"d{i}.z{i % z}.bench.test", "zone": f"z{i % z}.bench.test",
         "mx": [f"mx1.z{i % z}.bench.test"]} for i in range(n)]
json.dump({"version": 1,
           "defaults": {"dns": "dns", "web": "www", "mode": "testing", "max_age": 604800, "ttl": 300,
                        "tlsrpt": {"rua": ["mailto:tlsrpt@bench.test"]}},
           "providers": {"dns": dns, "www": {"plugin": "local", "root": "www"}},
           "domains": doms}, open(out, "w"))
PY
	curl -fsS -X POST -o /dev/null "$FAKE_CONTROL_URL/_fake/stats/reset"
	t0=$(date +%s.%N)
	if ! (cd "$D/run" && STSCTL_PLUGIN_PATH="$BUILD/plugins" "$STSCTL" -q apply inv.json --yes --state state.db \
		>"$D/apply.out" 2>&1); then
		echo "bench: $P: apply failed:" >&2
		tail -5 "$D/apply.out" >&2
		exit 1
	fi
	t1=$(date +%s.%N)
	fake_get _fake/stats >"$D/stats1.json"
	fake_get _fake/state >"$D/state.json"
	(cd "$D/run" && "$STSCTL" -q render inv.json --json --state state.db >"$D/render.json")
	# what apply published, against render --json, outside the clock
	/usr/bin/python3 - "$D/render.json" "$D/state.json" "$D/run/www" "$N" <<'PY' || exit 1
import json, os, sys
render, state, www, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
have = {}
for apex, recs in state["zones"].items():
    for r in recs:
        if r["type"] == "TXT":
            have.setdefault(r["name"], []).append(r["content"])
def joined(content):
    import re
    return "".join(m.group(1) for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', content)).replace('\\"', '"')
bad, checked = [], 0
doms = render["domains"] if isinstance(render, dict) else render
for d in doms:
    for rec in d["records"]:
        if rec.get("type") != "TXT":
            continue
        name = rec["name"].rstrip(".").lower()
        got = [joined(c) for c in have.get(name, [])]
        if rec["value"] not in got:
            bad.append("%s: want %r, fake has %r" % (name, rec["value"], got))
        checked += 1
files = sum(len(fs) for _, _, fs in os.walk(www))
if len(doms) != n or checked != 2 * n or files != n or bad:
    print("bench: wrong result: %d domains rendered, %d TXT checked (want %d), %d policy files (want %d)"
          % (len(doms), checked, 2 * n, files, n), file=sys.stderr)
    for b in bad[:5]:
        print("bench:   " + b, file=sys.stderr)
    sys.exit(1)
PY
	curl -fsS -X POST -o /dev/null "$FAKE_CONTROL_URL/_fake/stats/reset"
	(cd "$D/run" && STSCTL_PLUGIN_PATH="$BUILD/plugins" "$STSCTL" -q apply inv.json --yes --state state.db \
		>"$D/apply2.out" 2>&1) || { echo "bench: $P: second apply failed" >&2; tail -5 "$D/apply2.out" >&2; exit 1; }
	fake_get _fake/stats >"$D/stats2.json"
	fake_get _fake/state >"$D/state2.json"
	cmp -s "$D/state.json" "$D/state2.json" || { echo "bench: $P: the second apply changed the fake's records" >&2; exit 1; }
	fake_stop
	# does the plugin declare batch (stsctl plugins --json)?
	batch=$(/usr/bin/python3 -c 'import json, sys
doc = json.load(open(sys.argv[2]))
for p in (doc.get("plugins", doc) if isinstance(doc, dict) else doc):
    if p.get("name") == sys.argv[1]:
        print(1 if "batch" in p.get("capabilities", []) else 0)
        break' "$P" "$D/plugins.json")
	/usr/bin/python3 - "$P" "$D/stats1.json" "$D/stats2.json" "$t0" "$t1" "$N" "$Z" "$scale" "$rate" \
		"${FAKE_RATE:-?}" "$batch" "$D/verdict" <<'PY'
import json, math, sys
(p, s1, s2, t0, t1, n, z, scale, rate, rate_text, batch, out) = sys.argv[1:]
s1, s2 = json.load(open(s1)), json.load(open(s2))
n, z, scale = int(n), int(z), float(scale)
wall = float(t1) - float(t0)
kind, wins = rate.split()
wins = [tuple(map(float, w.split("/"))) for w in wins.split(",")]
r = s1["writes"] if kind == "writes" else s1["requests"] - s1["limited"]
# the least time the vendor's windows (compressed) allow for r requests
floor = max((math.ceil(r / l) - 1) * w / scale for l, w in wins)
window = min(w for _, w in wins)
writes, reads = s1["writes"], s1["reads"]
per_zone, per_domain = writes / z, writes / n
misses = []
# batch (declared): one write per zone and step, and apply publishes a new
# domain in two DNS steps (the _mta-sts TXT once its policy is served, then
# _smtp._tls: docs/stsctl-apply.md); per-record: one write per changed
# record (2 new TXT per domain), plus at most one commit per zone and step
# for an API that serves changes only after one (OVH's POST .../refresh)
STEPS = 2
if batch == "1" and writes > STEPS * z:
    misses.append("%d writes for %d zones (batch: one per zone and step)" % (writes, z))
if batch != "1" and writes > 2 * n + STEPS * z:
    misses.append("%d writes for %d new records in %d zones" % (writes, 2 * n, z))
if s2["writes"]:
    misses.append("second apply wrote %d" % s2["writes"])
ratio = wall / floor if floor >= window / scale and floor > 0 else None
if ratio is not None and ratio > 1.2:
    misses.append("wall %.1fx the floor" % ratio)
verdict = "met" if not misses else "MISSED: " + "; ".join(misses)
print("%-13s %-22s %6g %8d %7d %7d %9.2f %9.1f %7d %8.1f %8.1f %6s %4d/%-4d  %s" % (
    p, rate_text[:22], scale, s1["requests"], reads, writes, per_domain, per_zone, s1["limited"], wall, floor,
    "%.2f" % ratio if ratio else "n/a", s2["writes"], s2["reads"], verdict))
open(out, "w").write("ok" if not misses else "miss")
PY
	[ "$(cat "$D/verdict")" = ok ] || verdict_all=3
done
echo "floor: (ceil(requests / limit) - 1) x window / SCALE; ratio n/a when the requests fit in one window"
echo "writes: per-record APIs (2 new TXT per domain) may write 2 per domain (+1 commit per zone and step: OVH's refresh); batch/atomic APIs 1 per zone and step (2 steps)"
exit $verdict_all
