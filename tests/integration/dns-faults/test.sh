#!/bin/bash
# The powerdns plugin through a fault-injecting proxy (tests/fakes/faultproxy/) in front of the real
# PowerDNS API; results checked with dig and the API behind the proxy:
#  1. 503, resets and a reply slower than the timeout on GET; 429 with Retry-After, 500, a
#     reset and a slow reply (applied upstream, timed out here) on PATCH: one apply still
#     converges, nothing is duplicated, and the requests sent are exactly the bounded number
#  2. every PATCH fails (502): a clear final error, exit 1, at most 3 operations x 4 tries
#     before the provider counts as down; the state DB is consistent and a rerun converges
#  3. every request 503: bounded (4 tries per zone); a Retry-After of an hour ends at once
#  4. nothing listening: "cannot reach", exit 1, nothing changed
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
W=$(mktemp -d /tmp/stsctl-faults.XXXXXX)
PROXY=
cleanup() {
	[ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null
	[ -n "${FAULTS_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
S=$STSCTL
API=$STS_TB_PDNS_API
BASE=${API%/api/v1/servers/*}
K="X-API-Key: $STS_TB_PDNS_API_KEY"
export PDNS_KEY=$STS_TB_PDNS_API_KEY
ZA=faults-a.test ZB=faults-b.test
DOMS="$ZA d1.$ZA d2.$ZA d1.$ZB d2.$ZB"

pdns() { curl -sS -H "$K" -H 'Content-Type: application/json' -X "$1" "$API$2" ${3:+--data "$3"}; }
newzone() {
	pdns DELETE "/zones/$1." >/dev/null 2>&1
	pdns POST /zones "{\"name\":\"$1.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$1.\"]}" >/dev/null
}
q() { dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +short +norecurse +time=2 +tries=1 "$1" TXT; }
sts_id() {
	local id
	id=$(q "$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//')
	echo "${id:--}"
}
pol_id() {
	local f=$W/www/mta-sts.$1/.well-known/mta-sts.txt
	if [ -e "$f" ]; then sha256sum "$f" | cut -c1-32; else echo -; fi
}
# every domain's id names its policy, and each _mta-sts name holds exactly one v=STSv1 TXT
all_ok() {
	local d bad=""
	for d in $DOMS; do
		[ "$(pol_id "$d")" = "$(sts_id "_mta-sts.$d")" ] || bad="$bad $d:id"
		[ "$(q "_mta-sts.$d" | grep -c 'v=STSv1')" = 1 ] || bad="$bad $d:count"
		[ "$(q "_smtp._tls.$d" | grep -c 'v=TLSRPTv1')" = 1 ] || bad="$bad $d:tlsrpt"
	done
	echo "${bad:-ok}"
}
count() { grep -c "^$1 " "$W/proxy.log" 2>/dev/null || true; }
faults() { printf '%s\n' "$@" >"$W/script"; : >"$W/proxy.log"; }
start_proxy() {
	rm -f "$W/port"
	python3 "$STS_SOURCE_ROOT/tests/fakes/faultproxy/faultproxy.py" --style powerdns "$BASE" "$W/script" "$W/proxy.log" "$W/port" &
	PROXY=$!
	for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
	PORT=$(cat "$W/port")
}
set_mode() {
	python3 - "$W/inv.json" "$1" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
inv["defaults"]["mode"] = sys.argv[2]
json.dump(inv, open(sys.argv[1], "w"), indent=1)
PY
}
apply() { # exit status; output in $W/out; seconds in $W/secs
	local t0 t1 rc
	t0=$(date +%s.%N)
	(cd "$W" && "$S" apply inv.json --yes --state state.db "$@" >out 2>&1)
	rc=$?
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d\n", b - a + 0.5 }' >"$W/secs"
	return $rc
}

newzone $ZA
newzone $ZB
pdns PATCH "/zones/$ZA." '{"rrsets":[{"name":"_mta-sts.'$ZA'.","type":"TXT","ttl":300,"changetype":"REPLACE","records":[{"content":"\"foreign\" \"record\"","disabled":false}]}]}'
faults
start_proxy
mkdir -p "$W/www"
python3 - "$W/inv.json" "$PORT" "$ZA" "$ZB" <<'PY'
import json, sys
p, port, za, zb = sys.argv[1:]
doms = [{"name": za}] + [{"name": f"d{i}.{z}", "zone": z} for z in (za, zb) for i in (1, 2)]
for d in doms:
    d["mx"] = ["mx.example.net"]
inv = {"version": 1,
       "defaults": {"dns": "pdns", "web": "www", "mode": "testing", "max_age": 86400,
                    "tlsrpt": {"rua": ["mailto:tlsrpt@example.com"]}},
       "providers": {"pdns": {"plugin": "powerdns", "url": f"http://127.0.0.1:{port}",
                              "api_key": "${env:PDNS_KEY}", "timeout": 2, "retries": 3,
                              "max_concurrency": 1},
                     "www": {"plugin": "local", "root": "www"}},
       "domains": doms}
json.dump(inv, open(p, "w"), indent=1)
PY

# ---------- 1. transient faults: one apply converges ----------
faults "GET status 503" "GET reset" "GET slow 3" \
	"PATCH status 429 retry-after=1" "PATCH status 500" "PATCH reset" "PATCH slow 3"
apply
rc=$?
tb_expect_eq "transient faults: apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/out"
tb_expect_eq "transient faults: every id published once and naming its policy (dig)" ok "$(all_ok)"
tb_expect "transient faults: the foreign TXT is kept" '"foreign" "record"' "$(q "_mta-sts.$ZA")"
tb_expect_eq "transient faults: nothing duplicated (API: 2 records at _mta-sts.$ZA)" 2 \
	"$(pdns GET "/zones/$ZA." | python3 -c 'import json,sys; print(sum(len(r["records"]) for r in json.load(sys.stdin)["rrsets"] if r["name"] == "_mta-sts.'$ZA'."))')"
tb_expect_eq "transient faults: GETs sent: 4 tries for the first zone, 1 for the second" 5 "$(count GET)"
tb_expect_eq "transient faults: PATCHes sent: 5 for the first zone (429, 500, reset, slow, ok), 1 for the second" 6 "$(count PATCH)"
(cd "$W" && "$S" plan inv.json --state state.db --detailed-exitcode >out 2>&1)
tb_expect_eq "transient faults: then nothing left to do" 0 "$?"

# ---------- 2. every PATCH fails: bounded, clear, consistent; a rerun converges ----------
set_mode enforce
faults "PATCH status 502 forever"
apply
tb_expect_eq "PATCH always 502: apply exits 1" 1 "$?"
tb_expect "PATCH always 502: the final error names the status" "answered HTTP 502 to PATCH zone" "$(cat "$W/out")"
tb_expect "PATCH always 502: then the provider counts as down" "is down (3 failures in a row" "$(cat "$W/out")"
tb_expect "PATCH always 502: every domain failed" "0 domains changed" "$(grep '^Apply:' "$W/out")"
n=$(count PATCH)
[ "$n" -ge 4 ] && [ "$n" -le 12 ] && tb_ok "PATCH always 502: bounded ($n PATCHes: at most 3 operations x 4 tries)" ||
	tb_fail "PATCH always 502: bounded" "$n PATCHes"
[ "$(cat "$W/secs")" -le 30 ] && tb_ok "PATCH always 502: bounded in time ($(cat "$W/secs") s)" || tb_fail "PATCH always 502: bounded in time" "$(cat "$W/secs") s"
ids=$(for d in $DOMS; do sts_id "_mta-sts.$d"; done | sort -u | tr '\n' ' ')
tb_expect_eq "PATCH always 502: the published ids did not change (dig)" "$(for d in $DOMS; do sqlite3 "$W/state.db" "SELECT policy_id FROM served_policies WHERE domain = '$d' AND mode = 'testing'"; done | sort -u | tr '\n' ' ')" "$ids"
tb_expect_eq "PATCH always 502: state DB journal has the failed dns step of every domain" 5 \
	"$(sqlite3 "$W/state.db" "SELECT count(DISTINCT domain) FROM journal WHERE step = 'dns' AND status = 'failed'")"
tb_expect_eq "PATCH always 502: state DB still manages every domain" 5 "$(sqlite3 "$W/state.db" 'SELECT count(*) FROM managed_domains')"
faults
apply
tb_expect_eq "provider back: the rerun exits 0" 0 "$?"
tb_expect_eq "provider back: every id names the enforce policy (dig)" ok "$(all_ok)"
tb_expect "provider back: the policies say enforce" "mode: enforce" "$(cat "$W/www/mta-sts.d2.$ZB/.well-known/mta-sts.txt")"
(cd "$W" && "$S" plan inv.json --state state.db --detailed-exitcode >out 2>&1)
tb_expect_eq "provider back: then nothing left to do" 0 "$?"

# ---------- 3. every request 503; a Retry-After beyond the budget ----------
set_mode testing
faults "* status 503 forever"
apply
tb_expect_eq "always 503: apply exits 1" 1 "$?"
tb_expect "always 503: the final error names the status" "answered HTTP 503 to GET zone '$ZA.' after 4 attempts" "$(cat "$W/out")"
tb_expect_eq "always 503: 4 tries per zone, no more" 8 "$(count GET)"
tb_expect_eq "always 503: no PATCH" 0 "$(count PATCH)"
faults "PATCH status 429 retry-after=3600 forever"
apply
tb_expect_eq "Retry-After of an hour: apply exits 1" 1 "$?"
[ "$(cat "$W/secs")" -le 15 ] && tb_ok "Retry-After of an hour: no waiting ($(cat "$W/secs") s)" || tb_fail "Retry-After of an hour: no waiting" "$(cat "$W/secs") s"
tb_expect "Retry-After of an hour: the final error names the status" "answered HTTP 429" "$(cat "$W/out")"

# ---------- 4. nothing listening ----------
kill "$PROXY"
wait "$PROXY" 2>/dev/null
PROXY=
before=$(for d in $DOMS; do sts_id "_mta-sts.$d"; done | tr '\n' ' ')
apply
tb_expect_eq "nothing listening: apply exits 1" 1 "$?"
tb_expect "nothing listening: cannot reach, said clearly" "cannot reach PowerDNS at 'http://127.0.0.1:$PORT'" "$(cat "$W/out")"
tb_expect_eq "nothing listening: nothing changed (dig)" "$before" "$(for d in $DOMS; do sts_id "_mta-sts.$d"; done | tr '\n' ' ')"
faults
start_proxy
python3 - "$W/inv.json" "$PORT" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
inv["providers"]["pdns"]["url"] = "http://127.0.0.1:" + sys.argv[2]
json.dump(inv, open(sys.argv[1], "w"), indent=1)
PY
apply
tb_expect_eq "after every fault: the rerun exits 0" 0 "$?"
tb_expect_eq "after every fault: every id names its policy, once (dig)" ok "$(all_ok)"

pdns DELETE "/zones/$ZA." >/dev/null
pdns DELETE "/zones/$ZB." >/dev/null
tb_done
