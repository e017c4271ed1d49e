#!/bin/bash
# The powerdns plugin against the testbed's real PowerDNS (gsqlite3, HTTP API), every
# result checked with dig at PowerDNS's DNS port:
#  plan; apply; idempotent re-apply (no PATCH: the SOA serial stays); mode change (new id);
#  foreign TXT records at the owned names kept string for string, a disabled record kept;
#  a TLS-RPT record over 255 octets split in strings and read back unchanged; zone != domain;
#  wrong API key and unknown zone: clear errors, nothing changed, the key never printed;
#  a CNAME conflict reported, never overwritten; removal with the injected clock.
# The web side is the local plugin.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
W=$(mktemp -d /tmp/stsctl-pdns.XXXXXX)
trap '[ -n "${PDNS_KEEP:-}" ] || rm -rf "$W"' EXIT
S=$STSCTL
API=$STS_TB_PDNS_API
BASE=${API%/api/v1/servers/*}
K="X-API-Key: $STS_TB_PDNS_API_KEY"
export PDNS_KEY=$STS_TB_PDNS_API_KEY
ZA=pdns-a.test ZB=pdns-b.test

pdns() { # pdns METHOD PATH [JSON]
	curl -sS -H "$K" -H 'Content-Type: application/json' -X "$1" "$API$2" ${3:+--data "$3"}
}
newzone() {
	pdns DELETE "/zones/$1." >/dev/null 2>&1
	pdns POST /zones "{\"name\":\"$1.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$1.\"]}" >/dev/null
}
q() { dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +short +norecurse +time=2 +tries=1 "$1" "${2:-TXT}"; }
serial() { q "$1" SOA | awk '{print $3}'; }
# what the two id helpers print when there is nothing: never an id, never each other
NO_TXT="(no v=STSv1 TXT)" NO_POLICY="(no policy file)"
# sts_id NAME: the id of the v=STSv1 TXT served at NAME, or $NO_TXT
sts_id() {
	local id
	id=$(q "$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//')
	echo "${id:-$NO_TXT}"
}
pol_id() { # the id of the policy file in place, or $NO_POLICY
	local f=$W/www/mta-sts.$1/.well-known/mta-sts.txt
	if [ -e "$f" ]; then sha256sum "$f" | cut -c1-32; else echo "$NO_POLICY"; fi
}
run() { (cd "$W" && "$S" "$@" >out 2>&1); }
set_inv() {
	python3 - "$W/inv.json" "$1" <<'PY'
import json, sys
p, code = sys.argv[1], sys.argv[2]
inv = json.load(open(p))
def dom(name):
    return next(d for d in inv["domains"] if d["name"] == name)
exec(code)
json.dump(inv, open(p, "w"), indent=1)
PY
}

newzone $ZA
newzone $ZB
# foreign records at the owned names: a split TXT beside ours, a TXT and a disabled TXT at _smtp._tls
pdns PATCH "/zones/$ZA." '{"rrsets":[
 {"name":"_mta-sts.'$ZA'.","type":"TXT","ttl":300,"changetype":"REPLACE","records":[{"content":"\"keep-this\" \"-verification\"","disabled":false}]},
 {"name":"_smtp._tls.'$ZA'.","type":"TXT","ttl":300,"changetype":"REPLACE","records":[{"content":"\"foreign tls note\"","disabled":false},{"content":"\"disabled one\"","disabled":true}]}]}'
mkdir -p "$W/www"
cat >"$W/inv.json" <<EOF
{"version": 1,
 "defaults": {"dns": "pdns", "web": "www", "mode": "testing", "max_age": 86400, "ttl": 300,
              "tlsrpt": {"rua": ["mailto:tlsrpt@example.com"]}},
 "providers": {"pdns": {"plugin": "powerdns", "url": "$BASE/", "api_key": "\${env:PDNS_KEY}", "server_id": "localhost"},
               "www": {"plugin": "local", "root": "www"}},
 "domains": [{"name": "$ZA", "mx": ["mx.$ZA"]},
             {"name": "shop.$ZB", "zone": "$ZB", "mx": ["mx.$ZB"]}]}
EOF

# ---------- plan, apply ----------
run plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan on empty zones: --detailed-exitcode 2" 2 "$?"
tb_expect "plan shows the TXT to create" "+ sts-record _mta-sts.shop.$ZB. TXT" "$(cat "$W/out")"
run apply inv.json --yes --state state.db
rc=$?
tb_expect_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/out"
for d in $ZA shop.$ZB; do
	tb_expect_eq "'$d': dig shows the id of the policy in place" "$(pol_id "$d")" "$(sts_id "_mta-sts.$d")"
	tb_expect_eq "'$d': dig shows the TLS-RPT record" '"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"' \
		"$(q "_smtp._tls.$d" | grep TLSRPT)"
done
tb_expect_eq "zone != domain: the records went into zone '$ZB'" 1 "$(pdns GET "/zones/$ZB." | grep -c "_mta-sts.shop.$ZB.")"
tb_expect "the foreign TXT beside ours is kept string for string" '"keep-this" "-verification"' "$(q "_mta-sts.$ZA")"
tb_expect "the foreign TXT at _smtp._tls is kept" '"foreign tls note"' "$(q "_smtp._tls.$ZA")"
tb_expect "the disabled record is kept (API)" '"disabled one' "$(pdns GET "/zones/$ZA.")"
tb_expect_eq "TTL of the rrset" 300 "$(dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +noall +answer "_mta-sts.$ZA" TXT | awk '{print $2}' | sort -u)"

# ---------- idempotent ----------
sa=$(serial $ZA) sb=$(serial $ZB)
run apply inv.json --yes --state state.db
tb_expect_eq "second apply exits 0" 0 "$?"
tb_expect "second apply finds nothing to do" "0 domains changed (0 changes), 2 unchanged, 0 failed" "$(cat "$W/out")"
tb_expect_eq "second apply sent no PATCH (serials unchanged)" "$sa $sb" "$(serial $ZA) $(serial $ZB)"
run plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan after apply: --detailed-exitcode 0" 0 "$?"

# ---------- mode change ----------
old=$(sts_id "_mta-sts.$ZA")
set_inv 'dom("'$ZA'")["mode"] = "enforce"'
run -v apply inv.json --yes --state state.db
tb_expect_eq "mode change: apply exits 0" 0 "$?"
tb_expect "mode change: one PATCH for the zone" "zone '$ZA.': 1 rrsets in one PATCH" "$(cat "$W/out")"
new=$(sts_id "_mta-sts.$ZA")
[ "$new" != "$old" ] && [ "$new" != "$NO_TXT" ] && tb_ok "mode change: a new id" || tb_fail "mode change: a new id" "$old -> $new"
tb_expect_eq "mode change: dig shows the id of the new policy" "$(pol_id $ZA)" "$new"
tb_expect "mode change: the foreign TXT is still split as it was" '"keep-this" "-verification"' "$(q "_mta-sts.$ZA")"
tb_expect_eq "mode change: exactly two TXT at _mta-sts" 2 "$(q "_mta-sts.$ZA" | wc -l)"

# ---------- a TLS-RPT record longer than 255 octets ----------
set_inv 'inv["defaults"]["tlsrpt"]["rua"] = ["mailto:tlsrpt-%02d@reports.example.com" % i for i in range(10)]'
run apply inv.json --yes --state state.db
tb_expect_eq "long TLS-RPT record: apply exits 0" 0 "$?"
got=$(q "_smtp._tls.shop.$ZB")
n_str=$(echo "$got" | grep -o '" "' | wc -l)
[ "$n_str" -ge 1 ] && tb_ok "long TLS-RPT record: served as several strings" || tb_fail "long TLS-RPT record: served as several strings" "$got"
joined=$(echo "$got" | sed 's/" "//g; s/^"//; s/"$//')
tb_expect "long TLS-RPT record: the strings join to the record" "rua=mailto:tlsrpt-00@reports.example.com,mailto:tlsrpt-01@" "$joined"
tb_expect "long TLS-RPT record: ... up to the last address" "mailto:tlsrpt-09@reports.example.com" "$joined"
run plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "long TLS-RPT record: read back equal (plan shows nothing)" 0 "$?"
tb_expect "the disabled record survived the rewrite of its rrset" '"disabled one' "$(pdns GET "/zones/$ZA.")"

# ---------- wrong API key: clear error, nothing changes, the key is never printed ----------
before=$(sts_id "_mta-sts.$ZA")
[ "$before" != "$NO_TXT" ] && tb_ok "before the wrong API key: the TXT is served" || tb_fail "before the wrong API key: the TXT is served"
set_inv 'dom("'$ZA'")["mode"] = "testing"'
(cd "$W" && PDNS_KEY=not-the-key-4711 "$S" apply inv.json --yes --state state.db >out 2>&1)
tb_expect_eq "wrong API key: apply exits 1" 1 "$?"
tb_expect "wrong API key: the error says so" "rejected the API key (HTTP 401)" "$(cat "$W/out")"
tb_expect_eq "wrong API key: the TXT is unchanged (dig)" "$before" "$(sts_id "_mta-sts.$ZA")"
if grep -q -e not-the-key-4711 -e "$STS_TB_PDNS_API_KEY" "$W/out"; then tb_fail "wrong API key: no key in the output"; else tb_ok "wrong API key: no key in the output"; fi
(cd "$W" && "$S" -v apply inv.json --yes --state state.db >out 2>&1)
tb_expect_eq "the right key again: apply exits 0" 0 "$?"
if grep -q "$STS_TB_PDNS_API_KEY" "$W/out"; then tb_fail "verbose apply: no key in the output"; else tb_ok "verbose apply: no key in the output"; fi
tb_expect_eq "the right key again: the id names the policy" "$(pol_id $ZA)" "$(sts_id "_mta-sts.$ZA")"

# ---------- unknown zone; CNAME conflict (own inventory and state: failed domains stay managed) ----------
E=$W/err
mkdir -p "$E/www"
python3 - "$W/inv.json" "$E/inv.json" "$ZB" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
z = sys.argv[3]
inv["domains"] = [{"name": "x.nozone.test", "zone": "nozone.test", "mx": ["mx.nozone.test"]},
                  {"name": "cn." + z, "zone": z, "mx": ["mx." + z]}]
json.dump(inv, open(sys.argv[2], "w"))
PY
pdns PATCH "/zones/$ZB." '{"rrsets":[{"name":"_mta-sts.cn.'$ZB'.","type":"CNAME","ttl":300,"changetype":"REPLACE","records":[{"content":"elsewhere.example.net.","disabled":false}]}]}'
(cd "$E" && "$S" apply inv.json --yes --state state.db >out 2>&1)
tb_expect_eq "unknown zone, CNAME conflict: apply exits 1" 1 "$?"
tb_expect "unknown zone: the error names it" "zone 'nozone.test.' not found on PowerDNS server 'localhost'" "$(cat "$E/out")"
tb_expect "CNAME at _mta-sts: reported as a conflict" "'_mta-sts.cn.$ZB.' holds a CNAME" "$(cat "$E/out")"
tb_expect_eq "CNAME at _mta-sts: still there (dig)" "elsewhere.example.net." "$(q "_mta-sts.cn.$ZB" CNAME)"
tb_expect_eq "CNAME at _mta-sts: no TXT beside it (API)" 0 "$(pdns GET "/zones/$ZB." | grep -c '_smtp._tls.cn')"

# ---------- removal with the injected clock ----------
T=$(date +%s)
export STSCTL_TEST_NOW=$T
set_inv 'inv["domains"] = [d for d in inv["domains"] if d["name"] != "shop.'$ZB'"]'
run apply inv.json --yes --state state.db --allow-removal
tb_expect_eq "removal start: apply exits 0" 0 "$?"
tb_expect "removal start: mode none is served" "mode: none" "$(cat "$W/www/mta-sts.shop.$ZB/.well-known/mta-sts.txt")"
tb_expect_eq "removal start: dig shows the id of the none policy" "$(pol_id shop.$ZB)" "$(sts_id "_mta-sts.shop.$ZB")"
export STSCTL_TEST_NOW=$((T + 86400))
run apply inv.json --yes --state state.db
tb_expect_eq "after max_age: apply exits 0" 0 "$?"
tb_expect_eq "after max_age: no _mta-sts TXT (dig)" "" "$(q "_mta-sts.shop.$ZB")"
tb_expect_eq "after max_age: no _smtp._tls TXT (dig)" "" "$(q "_smtp._tls.shop.$ZB")"
tb_expect_eq "after max_age: the rrsets are gone from the zone (API)" 0 "$(pdns GET "/zones/$ZB." | grep -c "shop.$ZB")"
tb_expect "the other domain's foreign TXT is untouched" '"keep-this" "-verification"' "$(q "_mta-sts.$ZA")"
run apply inv.json --yes --state state.db
tb_expect "after the removal a second apply finds nothing to do" "0 domains changed (0 changes), 1 unchanged, 0 failed" "$(cat "$W/out")"
unset STSCTL_TEST_NOW

pdns DELETE "/zones/$ZA." >/dev/null
pdns DELETE "/zones/$ZB." >/dev/null
tb_done
