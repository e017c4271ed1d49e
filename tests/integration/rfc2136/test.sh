#!/bin/bash
# The rfc2136 plugin against the testbed's real BIND (TSIG-keyed dynamic zone), every
# result checked with dig at BIND:
#  plan; apply (zone == domain and zone != domain); idempotent re-apply (no UPDATE: the SOA
#  serial stays); mode change (new id); TTL change; foreign TXT records kept string for
#  string; a TLS-RPT record over 255 octets (the UPDATE goes over TCP); all six TSIG
#  algorithms; `tcp: true`; wrong secret (BADSIG), unknown key (BADKEY), a clock an hour off
#  (BADTIME, with faketime), a key the zone does not grant (REFUSED), a zone the server
#  does not serve: clear errors and nothing changed; a CNAME conflict reported, never
#  overwritten; removal with the injected clock. The web side is the local plugin.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
W=$(mktemp -d /tmp/stsctl-r2136.XXXXXX)
trap '[ -n "${R2136_KEEP:-}" ] || rm -rf "$W"' EXIT
S=$STSCTL
B=$(dirname "$STS_TB_TSIG_KEY")
SFX=$$$RANDOM
Z=r2136-$SFX.test
ALGS="md5 sha1 sha224 sha256 sha384 sha512"

q() { dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +short +norecurse +time=2 +tries=1 "$1" "${2:-TXT}"; }
serial() { q "$1" SOA | awk '{print $3}'; }
# what the two id helpers print when there is nothing: never an id, never each other
NO_TXT="(no v=STSv1 TXT)" NO_POLICY="(no policy file)"
sts_id() { # sts_id NAME: the id of the v=STSv1 TXT served at NAME, or $NO_TXT
	local id
	id=$(q "$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//')
	echo "${id:-$NO_TXT}"
}
policy() { echo "$2/www/mta-sts.$1/.well-known/mta-sts.txt"; }
pol_id() { # pol_id DOMAIN DIR: the id of the policy file in place, or $NO_POLICY
	local f
	f=$(policy "$1" "$2")
	if [ -e "$f" ]; then sha256sum "$f" | cut -c1-32; else echo "$NO_POLICY"; fi
}
secret_of() { sed -n 's/.*secret "\(.*\)";.*/\1/p' "$1"; }
set_inv() {
	python3 - "$1/inv.json" "$2" <<'PY'
import json, sys
p, code = sys.argv[1], sys.argv[2]
inv = json.load(open(p))
def dom(name):
    return next(d for d in inv["domains"] if d["name"] == name)
exec(code)
json.dump(inv, open(p, "w"), indent=1)
PY
}
# mkcase DIR KEYNAME ALG SECRETFILE DOMAIN...: a work dir with its inventory
mkcase() {
	local d=$1 key=$2 alg=$3 sec=$4
	shift 4
	mkdir -p "$d/www"
	cp "$sec" "$d/key.b64"
	python3 - "$d/inv.json" "$STS_TB_BIND_PORT" "$key" "$alg" "$Z" "$@" <<'PY'
import json, sys
p, port, key, alg, zone = sys.argv[1:6]
doms = [{"name": n, "zone": zone, "mx": ["mx." + zone]} for n in sys.argv[6:]]
inv = {"version": 1,
       "defaults": {"dns": "bind", "web": "www", "mode": "testing", "max_age": 86400, "ttl": 300,
                    "tlsrpt": {"rua": ["mailto:tlsrpt@example.com"]}},
       "providers": {"bind": {"plugin": "rfc2136", "server": "127.0.0.1", "port": int(port),
                              "key_name": key, "key_algorithm": "hmac-" + alg,
                              "key_secret": "${file:key.b64}"},
                     "www": {"plugin": "local", "root": "www"}},
       "domains": doms}
json.dump(inv, open(p, "w"), indent=1)
PY
}
run() { # run DIR ARGS...
	local d=$1
	shift
	(cd "$d" && "$S" "$@" >out 2>&1)
}

# ---------- a zone of our own, open to one key per algorithm ----------
for a in $ALGS; do
	tsig-keygen -a "hmac-$a" "k$SFX-$a" >"$W/k-$a.key"
	secret_of "$W/k-$a.key" >"$W/k-$a.b64"
done
secret_of "$STS_TB_TSIG_KEY" >"$W/testbed.b64"
cat >"$B/zones/$Z.zone" <<EOF
\$TTL 300
@   IN SOA ns1.$Z. hostmaster.$Z. 1 3600 600 86400 60
    IN NS  ns1.$Z.
ns1 IN A   127.0.0.1
_mta-sts IN TXT "keep" "me"
_smtp._tls.shop IN TXT "foreign tls note"
_mta-sts.cn IN CNAME elsewhere.example.net.
EOF
{
	for a in $ALGS; do cat "$W/k-$a.key"; done
	printf 'zone "%s" { type primary; file "%s"; journal "%s.jnl"; update-policy {' "$Z" "$B/zones/$Z.zone" "$B/zones/$Z.zone"
	for a in $ALGS; do printf ' grant k%s-%s zonesub ANY;' "$SFX" "$a"; done
	printf ' }; };\n'
} >>"$B/cases.conf"
rndc -c "$STS_TB_RNDC_CONF" reconfig >/dev/null
for _ in $(seq 50); do [ -n "$(serial "$Z")" ] && break; sleep 0.1; done
tb_expect_eq "BIND serves the case's dynamic zone" 1 "$(serial "$Z")"

A=$W/a
mkcase "$A" "k$SFX-sha256" sha256 "$W/k-sha256.b64" "$Z" "shop.$Z"

# ---------- plan, apply ----------
run "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan: --detailed-exitcode 2" 2 "$?"
tb_expect "plan shows the TXT to create" "+ sts-record _mta-sts.shop.$Z. TXT" "$(cat "$A/out")"
run "$A" -v apply inv.json --yes --state state.db
rc=$?
tb_expect_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$A/out"
tb_expect "one UPDATE for the zone" "zone '$Z.': 4 changes in one UPDATE" "$(cat "$A/out")"
for d in "$Z" "shop.$Z"; do
	tb_expect_eq "'$d': dig shows the id of the policy in place" "$(pol_id "$d" "$A")" "$(sts_id "_mta-sts.$d")"
	tb_expect "'$d': dig shows the TLS-RPT record" '"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"' "$(q "_smtp._tls.$d")"
done
tb_expect "the foreign TXT beside ours is kept string for string" '"keep" "me"' "$(q "_mta-sts.$Z")"
tb_expect "the foreign TXT at _smtp._tls is kept" '"foreign tls note"' "$(q "_smtp._tls.shop.$Z")"

# ---------- idempotent ----------
s0=$(serial "$Z")
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "second apply exits 0" 0 "$?"
tb_expect "second apply finds nothing to do" "0 domains changed (0 changes), 2 unchanged, 0 failed" "$(cat "$A/out")"
tb_expect_eq "second apply sent no UPDATE (serial unchanged)" "$s0" "$(serial "$Z")"
run "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan after apply: --detailed-exitcode 0" 0 "$?"

# ---------- mode change, TTL change ----------
old=$(sts_id "_mta-sts.$Z")
set_inv "$A" 'dom("'$Z'")["mode"] = "enforce"'
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "mode change: apply exits 0" 0 "$?"
new=$(sts_id "_mta-sts.$Z")
[ "$new" != "$old" ] && [ "$new" != "$NO_TXT" ] && tb_ok "mode change: a new id" || tb_fail "mode change: a new id" "$old -> $new"
tb_expect_eq "mode change: dig shows the id of the new policy" "$(pol_id "$Z" "$A")" "$new"
tb_expect_eq "mode change: exactly two TXT at _mta-sts" 2 "$(q "_mta-sts.$Z" | wc -l)"
tb_expect "mode change: the foreign TXT is still split as it was" '"keep" "me"' "$(q "_mta-sts.$Z")"
set_inv "$A" 'inv["defaults"]["ttl"] = 900'
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "TTL change: apply exits 0" 0 "$?"
tb_expect_eq "TTL change: the TLS-RPT record has the new TTL" 900 \
	"$(dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +noall +answer "_smtp._tls.$Z" TXT | awk '{print $2}' | sort -u)"
tb_expect_eq "TTL change: an rrset shared with a foreign record keeps its TTL (plan engine)" 300 \
	"$(dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +noall +answer "_mta-sts.$Z" TXT | awk '{print $2}' | sort -u)"
tb_expect "TTL change: the foreign TXT kept its strings" '"keep" "me"' "$(q "_mta-sts.$Z")"
run "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "TTL change: then nothing to do" 0 "$?"

# ---------- a TLS-RPT record longer than 255 octets: an UPDATE over 512 octets goes over TCP ----------
set_inv "$A" 'inv["defaults"]["tlsrpt"]["rua"] = ["mailto:tlsrpt-%02d@reports.example.com" % i for i in range(10)]'
run "$A" -v apply inv.json --yes --state state.db
tb_expect_eq "long TLS-RPT record: apply exits 0" 0 "$?"
tb_expect "long TLS-RPT record: the UPDATE went over TCP" "records, TCP)" "$(cat "$A/out")"
got=$(q "_smtp._tls.$Z")
[ "$(echo "$got" | grep -o '" "' | wc -l)" -ge 1 ] && tb_ok "long TLS-RPT record: served as several strings" || tb_fail "long TLS-RPT record: served as several strings" "$got"
tb_expect "long TLS-RPT record: the strings join to the record" "mailto:tlsrpt-09@reports.example.com" "$(echo "$got" | sed 's/" "//g')"
run "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "long TLS-RPT record: read back equal (plan shows nothing)" 0 "$?"

# ---------- every TSIG algorithm (sha384 also with tcp: true) ----------
for a in $ALGS; do
	D=$W/alg-$a
	mkcase "$D" "k$SFX-$a" "$a" "$W/k-$a.b64" "$a.$Z"
	[ "$a" = sha384 ] && set_inv "$D" 'inv["providers"]["bind"]["tcp"] = True'
	run "$D" apply inv.json --yes --state state.db
	rc=$?
	tb_expect_eq "hmac-$a: apply exits 0" 0 "$rc"
	[ "$rc" = 0 ] || sed 's/^/# /' "$D/out"
	tb_expect_eq "hmac-$a: dig shows the id" "$(pol_id "$a.$Z" "$D")" "$(sts_id "_mta-sts.$a.$Z")"
done

# ---------- keys that do not work: clear errors, nothing changes ----------
before=$(sts_id "_mta-sts.$Z")
s0=$(serial "$Z")
[ "$before" != "$NO_TXT" ] && tb_ok "before the failing keys: the TXT is served" || tb_fail "before the failing keys: the TXT is served"
set_inv "$A" 'dom("'$Z'")["mode"] = "testing"'
cp "$A/key.b64" "$W/good.b64"
echo "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" >"$A/key.b64"
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "wrong secret: apply exits 1" 1 "$?"
tb_expect "wrong secret: BADSIG, said clearly" "rejected the TSIG signature of key 'k$SFX-sha256.' (NOTAUTH/BADSIG)" "$(cat "$A/out")"
if grep -q -e AAAAAAAAAAAA -e "$(cat "$W/good.b64")" "$A/out"; then tb_fail "wrong secret: no secret in the output"; else tb_ok "wrong secret: no secret in the output"; fi
cp "$W/good.b64" "$A/key.b64"
set_inv "$A" 'inv["providers"]["bind"]["key_name"] = "no-such-key"'
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "unknown key: apply exits 1" 1 "$?"
tb_expect "unknown key: BADKEY, said clearly" "does not know TSIG key 'no-such-key.' with algorithm 'hmac-sha256.' (NOTAUTH/BADKEY)" "$(cat "$A/out")"
set_inv "$A" 'inv["providers"]["bind"]["key_name"] = "'$STS_TB_TSIG_NAME'"'
cp "$W/testbed.b64" "$A/key.b64"
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "a key the zone does not grant: apply exits 1" 1 "$?"
tb_expect "a key the zone does not grant: REFUSED, said clearly" "refused the update of zone '$Z.' (REFUSED)" "$(cat "$A/out")"
set_inv "$A" 'inv["providers"]["bind"]["key_name"] = "k'$SFX'-sha256"'
cp "$W/good.b64" "$A/key.b64"
(cd "$A" && ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 faketime -f '-1h' "$S" apply inv.json --yes --state state.db >out 2>&1)
tb_expect_eq "clock an hour off: apply exits 1" 1 "$?"
tb_expect "clock an hour off: BADTIME, said clearly" "rejected the TSIG time (NOTAUTH/BADTIME)" "$(cat "$A/out")"
tb_expect_eq "none of these changed the TXT (dig)" "$before" "$(sts_id "_mta-sts.$Z")"
tb_expect_eq "none of these changed the zone (serial)" "$s0" "$(serial "$Z")"
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "the right key again: apply exits 0" 0 "$?"
tb_expect_eq "the right key again: the id names the policy" "$(pol_id "$Z" "$A")" "$(sts_id "_mta-sts.$Z")"

# ---------- a zone the server does not serve; a CNAME conflict ----------
E=$W/err
mkcase "$E" "k$SFX-sha256" sha256 "$W/k-sha256.b64" "cn.$Z"
set_inv "$E" 'inv["domains"].append({"name": "x.notserved.test", "zone": "notserved.test", "mx": ["mx.notserved.test"]})'
run "$E" apply inv.json --yes --state state.db
tb_expect_eq "unserved zone, CNAME conflict: apply exits 1" 1 "$?"
tb_expect "unserved zone: said clearly" "it does not serve that zone" "$(cat "$E/out")"
tb_expect "CNAME at _mta-sts: reported as a conflict" "'_mta-sts.cn.$Z.' holds a CNAME" "$(cat "$E/out")"
tb_expect_eq "CNAME at _mta-sts: still there (dig)" "elsewhere.example.net." "$(q "_mta-sts.cn.$Z" CNAME)"

# ---------- removal with the injected clock ----------
T=$(date +%s)
export STSCTL_TEST_NOW=$T
set_inv "$A" 'inv["domains"] = [d for d in inv["domains"] if d["name"] != "shop.'$Z'"]'
run "$A" apply inv.json --yes --state state.db --allow-removal
tb_expect_eq "removal start: apply exits 0" 0 "$?"
tb_expect "removal start: mode none is served" "mode: none" "$(cat "$(policy "shop.$Z" "$A")" 2>&1)"
tb_expect_eq "removal start: dig shows the id of the none policy" "$(pol_id "shop.$Z" "$A")" "$(sts_id "_mta-sts.shop.$Z")"
export STSCTL_TEST_NOW=$((T + 86400))
run "$A" apply inv.json --yes --state state.db
tb_expect_eq "after max_age: apply exits 0" 0 "$?"
tb_expect_eq "after max_age: no _mta-sts TXT (dig)" "" "$(q "_mta-sts.shop.$Z")"
tb_expect_eq "after max_age: only the foreign TXT at _smtp._tls (dig)" '"foreign tls note"' "$(q "_smtp._tls.shop.$Z")"
tb_expect "the other domain's foreign TXT is untouched" '"keep" "me"' "$(q "_mta-sts.$Z")"
run "$A" apply inv.json --yes --state state.db
tb_expect "after the removal a second apply finds nothing to do" "0 domains changed (0 changes), 1 unchanged, 0 failed" "$(cat "$A/out")"
unset STSCTL_TEST_NOW

tb_done
