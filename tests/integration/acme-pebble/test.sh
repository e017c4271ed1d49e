#!/bin/bash
# The ACME client (core/acme) against a real Pebble (Debian's pebble 2.4.0)
# on loopback, started and stopped here (random free ports, a temp folder,
# everything killed on exit); no testbed servers. Pebble resolves every
# name to 127.0.0.1 through pebble-challtestsrv's DNS and validates the
# challenges against acme_driver's own responder (tls-alpn-01 on Pebble's
# tlsPort, http-01 on its httpPort). Checks, in TAP:
#   issuance by tls-alpn-01 and by http-01, each chain verifying against
#   the root from Pebble's management port (/roots/0); the account found
#   again by its key on a second run (same kid); a wrong key authorization
#   failing with an error that names the identifier; and, with Pebble
#   rejecting half the nonces (PEBBLE_WFE_NONCEREJECT=50), an issuance
#   carried by the badNonce retries; `stsctl serve --acme-directory`
#   issuing at start for a policy without a certificate and serving it;
#   `stsctl serve INVENTORY` doing the same with its address and ACME
#   account from the inventory's hosted section, no --acme-* option;
#   serve's renewal pass (acme_driver --serve, its clock given by --at)
#   renewing past two thirds of the lifetime and not just before, and
#   issuing again a certificate deleted from the store or expired.
# A missing pebble or pebble-challtestsrv is a failure, not a skip
# (tests/integration/harness/packages-test.txt installs them).
set -u
DRIVER=${ACME_DRIVER:?ACME_DRIVER: the acme_driver binary}
STSCTL=${STSCTL:?STSCTL: the stsctl binary}
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
finish() {
	echo "1..$n"
	[ "$failed" = 0 ]
	exit $?
}

for b in pebble pebble-challtestsrv openssl curl; do
	if ! command -v "$b" >/dev/null; then
		notok "$b is installed (tests/integration/harness/packages-test.txt)"
		finish
	fi
done

W=$(mktemp -d /tmp/acme-pebble.XXXXXX)
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}
trap 'stop_all; [ -n "${ACME_KEEP:-}" ] || rm -rf "$W"' EXIT

# eleven free loopback ports: API, management, DNS, challtestsrv management,
# tls-alpn-01 and http-01 responders, five fault proxies
read -r API MGMT DNS CTMGMT TLS HTTP FP1 FP2 FP3 FP4 FP5 < <(python3 - <<'EOF'
import socket
ss = [socket.socket() for _ in range(11)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
EOF
)

# a throwaway CA and a certificate for Pebble's API (127.0.0.1, localhost)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=acme-pebble test CA" -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
	-keyout "$W/api.key" -out "$W/api.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$W/api.ext"
openssl x509 -req -in "$W/api.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
	-days 2 -extfile "$W/api.ext" -out "$W/api.pem" 2>/dev/null
cat >"$W/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$API", "managementListenAddress": "127.0.0.1:$MGMT",
  "certificate": "$W/api.pem", "privateKey": "$W/api.key",
  "httpPort": $HTTP, "tlsPort": $TLS, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
EOF

pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS" \
	-http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$CTMGMT" \
	>"$W/challtestsrv.log" 2>&1 &
PIDS+=($!)

answers() { # answers PORT: an ACME directory there within 5 s
	local _
	for _ in $(seq 50); do
		curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$1/dir" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
start_pebble() { # start_pebble NONCEREJECT
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=$1 \
		pebble -config "$W/pebble.json" -dnsserver "127.0.0.1:$DNS" >>"$W/pebble.log" 2>&1 &
	PEBBLE=$!
	PIDS+=("$PEBBLE")
	answers "$API"
}
stop_pebble() {
	kill "$PEBBLE" 2>/dev/null
	wait "$PEBBLE" 2>/dev/null
}

DIRURL=https://127.0.0.1:$API/dir
driver() { # driver OUTDIR ARGS...
	local out=$1
	shift
	mkdir -p "$out"
	local t0 rc
	t0=$(date +%s%N)
	timeout 60 "$DRIVER" --dir "$DIRURL" --ca "$W/ca.pem" --tls-port "$TLS" \
		--http-port "$HTTP" --out "$out" "$@" >"$out/stdout" 2>"$out/stderr"
	rc=$?
	echo "# ${out##*/}: $((($(date +%s%N) - t0) / 1000000)) ms"
	return $rc
}
# the chain verifies against Pebble's root of this run
verifies() { # verifies OUTDIR NAME
	curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$MGMT/roots/0" >"$W/root.pem" &&
		openssl x509 -in "$1/chain.pem" -out "$1/leaf.pem" &&
		openssl verify -CAfile "$W/root.pem" -untrusted "$1/chain.pem" \
			-verify_hostname "$2" "$1/leaf.pem" >/dev/null
}
show() { sed 's/^/# /' "$1"/stdout "$1"/stderr; }

if ! start_pebble 0; then
	notok "pebble starts"
	sed 's/^/# /' "$W/pebble.log"
	finish
fi
ok "pebble starts (API :$API, tls-alpn-01 :$TLS, http-01 :$HTTP)"

ID1=mta-sts.alpn.example.com
driver "$W/r1" --account "$W/account.key" --ident "$ID1" --challenge tls-alpn-01 || show "$W/r1"
check "tls-alpn-01 issuance" grep -q '^issued tls-alpn-01 ' "$W/r1/stdout"
check "tls-alpn-01 chain verifies against Pebble's root for $ID1" verifies "$W/r1" "$ID1"
check "account key stored 0600" test "$(stat -c %a "$W/account.key")" = 600
check "no badNonce without PEBBLE_WFE_NONCEREJECT" grep -q '^badnonce 0$' "$W/r1/stdout"
check "certificate key stored 0600" test "$(stat -c %a "$W/r1/key.pem")" = 600

ID2=mta-sts.http.example.com
driver "$W/r2" --account "$W/account.key" --ident "$ID2" --challenge http-01 || show "$W/r2"
check "http-01 issuance" grep -q '^issued http-01 ' "$W/r2/stdout"
check "http-01 chain verifies against Pebble's root for $ID2" verifies "$W/r2" "$ID2"
check "the account is found again by its key (same kid)" \
	test "$(grep '^kid ' "$W/r1/stdout")" = "$(grep '^kid ' "$W/r2/stdout")"
check "the kid is an account URL" grep -q "^kid https://127.0.0.1:$API/" "$W/r1/stdout"

ID3=mta-sts.wrong.example.com
for c in tls-alpn-01 http-01; do
	if driver "$W/w-$c" --account "$W/account.key" --ident "$ID3" --challenge "$c" --wrong; then
		notok "$c with a wrong key authorization fails"
	else
		ok "$c with a wrong key authorization fails"
	fi
	show "$W/w-$c"
	check "$c failure names the identifier and the challenge" \
		grep -q "^error $ID3: challenge $c failed" "$W/w-$c/stdout"
	check "$c failure carries the server's problem" \
		grep -q 'problem=urn:ietf:params:acme:error:' "$W/w-$c/stdout"
done

# through the fault proxy (faultproxy.py): 429 with Retry-After on newOrder
# ends the call with the time to try again; a 503 and a connection dropped
# during finalisation keep the order, which a second call resumes (one
# newOrder in all)
proxy() { # proxy PORT NAME FAULT (started in the background; answers PORT waits)
	python3 "$(dirname "$0")/faultproxy.py" --listen "$1" --upstream "https://127.0.0.1:$API" \
		--cert "$W/api.pem" --key "$W/api.key" --ca "$W/ca.pem" --log "$W/$2.log" \
		--fault "$3" 2>>"$W/$2.err" &
	PIDS+=($!)
}
proxy "$FP1" p429 "POST:/order-plz:1:429:120"
proxy "$FP2" p503 "POST:/finalize-order/:1:503"
proxy "$FP3" pdrop "POST:/finalize-order/:1:drop"
proxy "$FP4" pserve "POST:/order-plz:1:429:120"
proxy "$FP5" presume "POST:/finalize-order/:1:503"
for p in "$FP1" "$FP2" "$FP3" "$FP4" "$FP5"; do
	answers "$p" || notok "fault proxy on :$p starts"
done
ID5=mta-sts.faults.example.com
now=$(date +%s)
DIRURL=https://127.0.0.1:$FP1/dir driver "$W/f429" --account "$W/account.key" --ident "$ID5" \
	--resume && notok "429 on newOrder fails the call" || ok "429 on newOrder fails the call"
show "$W/f429"
ra=$(sed -n 's/^retry_at //p' "$W/f429/stdout")
check "429 names the identifier and says to try again later" \
	grep -q "^error $ID5: creating the order: urn:ietf:params:acme:error:rateLimited.*HTTP 429.*try again later" "$W/f429/stdout"
after=$(date +%s)
check "429: retry_at from Retry-After: 120 (run $now..$after, retry_at $ra)" \
	test "${ra:-0}" -ge $((now + 119)) -a "${ra:-0}" -le $((after + 121))
check "429: nothing finalized, no order kept" grep -q '^order_url -$' "$W/f429/stdout"
for f in p503 pdrop; do
	DIRURL=https://127.0.0.1:$([ $f = p503 ] && echo "$FP2" || echo "$FP3")/dir \
		driver "$W/$f" --account "$W/account.key" --ident "$ID5" --challenge http-01 \
		--resume || show "$W/$f"
	sed 's/^/# proxy: /' "$W/$f.log" | grep -v 'nonce-plz'
	grep -E '^(error|resumed|issued)' "$W/$f/stdout" | sed 's/^/# /'
	if [ $f = p503 ]; then
		check "503 on finalize: the order is kept" grep -q '^order_url https://' "$W/$f/stdout"
		check "503 on finalize: the same order resumed and issued" \
			grep -q '^resumed$' "$W/$f/stdout"
	else
		# libcurl re-sends the request the connection died under; Pebble
		# refuses the replay, and the client reads the order on
		check "dropped finalize: the fault happened" grep -q ' drop$' "$W/$f.log"
		check "dropped finalize: issued (in the same call or resumed)" \
			grep -q '^issued ' "$W/$f/stdout"
	fi
	check "$f: one newOrder in all" test "$(grep -c '^POST /order-plz ' "$W/$f.log")" = 1
	check "$f: its chain verifies for $ID5" verifies "$W/$f" "$ID5"
done

# the renewal pass of `stsctl serve` (core/hosted/sts_serve_acme.c): serve's
# own listeners answer the challenge, the certificate lands in the hosted
# store, a second pass finds nothing due
for c in tls-alpn-01 http-01; do
	ID6=mta-sts.serve-${c%%-01}.example.com
	driver "$W/s-$c" --serve "$W/s-$c.db" --ident "$ID6" --challenge "$c" || show "$W/s-$c"
	check "serve pass ($c): one host due, issued" \
		grep -q '^pass1 success hosts=1 due=1 issued=1 failed=0$' "$W/s-$c/stdout"
	check "serve pass ($c): the stored chain verifies for $ID6" verifies "$W/s-$c" "$ID6"
	check "serve pass ($c): a second pass finds nothing due" \
		grep -q '^pass2 success hosts=1 due=0 issued=0 failed=0$' "$W/s-$c/stdout"
done

# renewal, deletion, expiry, on the store the http-01 serve pass above
# filled (the pass's clock given by --at, no waiting): a pass just before
# the stored next attempt (two thirds of the lifetime, earlier by a jitter
# of at most a thirtieth) finds nothing due; one past two thirds renews
# (a new serial); a certificate deleted from the store, or one whose
# not_after has passed, is issued again, each chain verifying
IDR=mta-sts.serve-http.example.com
DBR=$W/s-http-01.db
serial() { openssl x509 -noout -serial -in "$1/chain.pem" 2>/dev/null; }
read -r nb na due < <(sed -n 's/^stored \([0-9]*\) \([0-9]*\) next \([0-9]*\)$/\1 \2 \3/p' \
	"$W/s-http-01/stdout")
life=$((${na:-0} - ${nb:-0}))
two3=$((${nb:-0} + life * 2 / 3))
check "renewal: due at two thirds of the lifetime less the jitter ($nb..$na, due ${due:-none})" \
	test "$life" -gt 0 -a "${due:-0}" -ge $((two3 - life / 30 - 1)) -a "${due:-0}" -le $((two3 + 1))
driver "$W/rn0" --serve "$DBR" --ident "$IDR" --challenge http-01 --at $((${due:-0} - 1)) ||
	show "$W/rn0"
check "renewal: a pass 1 s before the due time finds nothing due" \
	grep -q '^pass1 success hosts=1 due=0 issued=0 failed=0$' "$W/rn0/stdout"
prev=$(serial "$W/s-http-01")
for t in renew:$((two3 + 1)) deleted: expired:$((${na:-0} + 1)); do
	what=${t%%:*}
	at=${t#*:}
	[ "$what" != deleted ] || python3 -c 'import sqlite3,sys
d = sqlite3.connect(sys.argv[1]); d.execute("DELETE FROM hosted_certs WHERE host=?", (sys.argv[2],))
d.commit()' "$DBR" "$IDR" || notok "deleted: the row of $IDR deleted"
	driver "$W/rn-$what" --serve "$DBR" --ident "$IDR" --challenge http-01 ${at:+--at "$at"} ||
		show "$W/rn-$what"
	check "$what: the pass${at:+ at $at} finds the host due and issues it again" \
		grep -q '^pass1 success hosts=1 due=1 issued=1 failed=0$' "$W/rn-$what/stdout"
	cur=$(serial "$W/rn-$what")
	check "$what: a new certificate ($prev, now ${cur:-none})" test -n "$cur" -a "$cur" != "$prev"
	check "$what: its chain verifies for $IDR against Pebble's root" verifies "$W/rn-$what" "$IDR"
	check "$what: the pass after it finds nothing due" \
		grep -q '^pass2 success hosts=1 due=0 issued=0 failed=0$' "$W/rn-$what/stdout"
	prev=$cur
done

# a failed pass (429 + Retry-After: 120) is recorded with its next attempt,
# and the next pass leaves the host alone until then
now=$(date +%s)
DIRURL=https://127.0.0.1:$FP4/dir driver "$W/s-429" --serve "$W/s-429.db" \
	--ident mta-sts.serve-429.example.com || show "$W/s-429"
check "serve pass with 429: recorded as a failure" \
	grep -q '^pass1 success hosts=1 due=1 issued=0 failed=1$' "$W/s-429/stdout"
next=$(sed -n 's/^failure next \([0-9]*\) failures 1: .*rateLimited.*/\1/p' "$W/s-429/stdout")
after=$(date +%s)
check "serve pass with 429: next attempt after Retry-After (run $now..$after, next ${next:-none})" \
	test "${next:-0}" -ge $((now + 119)) -a "${next:-0}" -le $((after + 121))
check "serve pass with 429: the next pass waits" \
	grep -q '^pass2 success hosts=1 due=0 issued=0 failed=0$' "$W/s-429/stdout"

# an order interrupted in one serve pass is finished by the next pass, in
# another process (the order URL and its CSR key kept in hosted_certs,
# schema v3): the first pass gets a 503 on finalize (not forwarded: the
# order stays "ready" at Pebble); the next pass, at the stored next attempt,
# finalizes THE SAME order: no second newOrder, the stored order URL's
# finalize forwarded, a chain that verifies
ID10=mta-sts.serve-resume.example.com
DIRURL=https://127.0.0.1:$FP5/dir driver "$W/sr1" --serve "$W/sr.db" --ident "$ID10" \
	--challenge http-01 || show "$W/sr1"
check "interrupted pass: 503 on finalize, recorded as a failure" \
	grep -q '^pass1 success hosts=1 due=1 issued=0 failed=1$' "$W/sr1/stdout"
ourl=$(sed -n 's/^order \(https:.*\)/\1/p' "$W/sr1/stdout")
oid=${ourl##*/}
check "interrupted pass: the order is kept in the store (${ourl:-none})" test -n "$oid"
check "interrupted pass: the pass after it, before the next attempt, leaves it alone" \
	grep -q '^pass2 success hosts=1 due=0 issued=0 failed=0$' "$W/sr1/stdout"
DIRURL=https://127.0.0.1:$FP5/dir driver "$W/sr2" --serve "$W/sr.db" --ident "$ID10" \
	--challenge http-01 --at-next || show "$W/sr2"
sed 's/^/# proxy: /' "$W/presume.log" | grep -v 'nonce-plz'
check "next pass (another process): issued, the kept order cleared" \
	grep -qz 'pass1 success hosts=1 due=1 issued=1 failed=0.order -' "$W/sr2/stdout"
check "both passes: one newOrder in all" test "$(grep -c '^POST /order-plz ' "$W/presume.log")" = 1
check "next pass: THE SAME order finalized (${oid:-none}: 503, then forwarded)" \
	test "$(grep "^POST /finalize-order/${oid:-none} " "$W/presume.log" | cut -d' ' -f3 |
		tr '\n' ' ')" = "503 200 "
check "next pass: its chain verifies for $ID10 against Pebble's root" verifies "$W/sr2" "$ID10"

# `stsctl serve --acme-directory` on Pebble's tlsPort: its renewal thread
# issues at start for a hosted policy without a certificate (tls-alpn-01
# answered by serve itself); within 20 s the policy is fetched over the
# issued chain, byte for byte, and `status --json` shows its not_after
ID7=mta-sts.serve-cli.example.com
SC=$W/sc
driver "$SC" --serve "$SC/state.db" --ident "$ID7" --policy-only || show "$SC"
printf 'version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n' \
	>"$SC/expected"
{ curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$MGMT/roots/0" &&
	curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$MGMT/intermediates/0"; } >"$SC/trust.pem"
"$STSCTL" serve --state "$SC/state.db" --listen "127.0.0.1:$TLS" --acme-directory "$DIRURL" \
	--acme-ca-file "$W/ca.pem" --acme-contact mailto:hostmaster@example.com \
	>"$SC/serve.out" 2>"$SC/serve.err" &
SPID=$!
PIDS+=("$SPID")
# fetched DIR HOST: the policy of HOST from serve within 20 s into DIR/got
# over Pebble's chain (DIR/trust.pem); got= the milliseconds it took
fetched() {
	local t0 _
	t0=$(date +%s%N)
	got=
	for _ in $(seq 100); do
		[ $(($(date +%s%N) - t0)) -lt 20000000000 ] || break
		if curl -sf --max-time 2 --cacert "$1/trust.pem" --resolve "$2:$TLS:127.0.0.1" \
			"https://$2:$TLS/.well-known/mta-sts.txt" -o "$1/got"; then
			got=$((($(date +%s%N) - t0) / 1000000))
			break
		fi
		sleep 0.2
	done
}
fetched "$SC" "$ID7"
echo "# stsctl serve --acme-directory: served after ${got:-more than 20000} ms"
check "serve --acme-directory: the policy is served over an issued certificate within 20 s" \
	test -n "$got"
check "serve --acme-directory: the exact policy bytes" cmp -s "$SC/expected" "$SC/got"
check "serve --acme-directory: the pass is logged (one host due, issued)" \
	grep -q 'acme pass: hosts=1 due=1 issued=1 failed=0' "$SC/serve.err"
now=$(date +%s)
"$STSCTL" status "$(dirname "$0")/../../../examples/single-domain.json" --state "$SC/state.db" \
	--json >"$SC/status.json" 2>"$SC/status.err"
na=$(python3 -c 'import calendar,json,sys,time
h=[h for h in json.load(open(sys.argv[1]))["hosted"]["hosts"] if h["host"]==sys.argv[2]]
print(calendar.timegm(time.strptime(h[0]["certificate"]["not_after"], "%Y-%m-%dT%H:%M:%SZ")))' \
	"$SC/status.json" "$ID7" 2>/dev/null)
check "status --json: the certificate's not_after (${na:-none}) is in the future" \
	test "${na:-0}" -gt "$now"
stop_serve() { # stop_serve PID: SIGTERM, then rc= its exit status
	local _
	kill -TERM "$1"
	t0=$(date +%s)
	for _ in $(seq 150); do # serve waits 10 s at most for a running pass
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
	rc=$?
}
stop_serve "$SPID"
check "serve stops on SIGTERM with status 0 (status $rc, $(($(date +%s) - t0)) s)" test "$rc" = 0
if [ -z "$got" ] || [ "$rc" != 0 ] || [ -z "$na" ]; then
	sed 's/^/# serve: /' "$SC/serve.out" "$SC/serve.err" | tail -30
	sed 's/^/# status: /' "$SC/status.err"
fi

# `stsctl serve INVENTORY` with no --listen or --acme-* option: the address
# and the ACME account (directory, contact, ca_file as ${file:..} relative
# to the inventory) come from its hosted section; ID8 CNAMEs to the edge
# host (challtestsrv's DNS as --resolver) and is issued, ID9 does not and
# gets the failure "not delegated" without an order
ID8=mta-sts.serve-inv.example.com
ID9=mta-sts.serve-nodeleg.example.com
SI=$W/si
driver "$SI" --serve "$SI/state.db" --ident "$ID8" --policy-only || show "$SI"
driver "$SI/9" --serve "$SI/state.db" --ident "$ID9" --policy-only || show "$SI/9"
curl -sf -X POST -d "{\"host\": \"$ID8.\", \"target\": \"edge.msp.example.\"}" \
	"http://127.0.0.1:$CTMGMT/set-cname" || notok "challtestsrv sets the CNAME of $ID8"
cp "$SC/trust.pem" "$SI/trust.pem"
cat >"$SI/inventory.json" <<EOF
{"version": 1, "providers": {"msp": {"plugin": "zonefile", "directory": "zones", "create": true}},
 "hosted": {"zone": "sts.msp.example", "dns": "msp", "edge": "edge.msp.example",
  "acme": {"directory": "$DIRURL",
   "contact": ["mailto:hostmaster@example.com", "mailto:security@example.com"],
   "ca_file": "\${file:../ca.pem}"},
  "listen": "127.0.0.1:$TLS"},
 "domains": [{"name": "serve-inv.example.com", "mx": ["mail.example.com"],
  "hosting": "hosted"}]}
EOF
"$STSCTL" serve "$SI/inventory.json" --state "$SI/state.db" --resolver "127.0.0.1:$DNS" \
	>"$SI/serve.out" 2>"$SI/serve.err" &
SPID=$!
PIDS+=("$SPID")
fetched "$SI" "$ID8"
echo "# stsctl serve INVENTORY: served after ${got:-more than 20000} ms"
check "serve INVENTORY: hosted.listen and hosted.acme used, the policy served within 20 s" \
	test -n "$got"
check "serve INVENTORY: the exact policy bytes" cmp -s "$SC/expected" "$SI/got"
for _ in $(seq 50); do # the pass logs after its last host
	grep -q 'acme pass:' "$SI/serve.err" && break
	sleep 0.1
done
check "serve INVENTORY: the pass is logged (two hosts due, one issued, one not delegated)" \
	grep -q 'acme pass: hosts=2 due=2 issued=1 failed=1' "$SI/serve.err"
err9=$(python3 -c 'import sqlite3,sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT last_error FROM hosted_certs WHERE host=?",
      (sys.argv[2],)).fetchone()[0])' "$SI/state.db" "$ID9" 2>&1)
check "serve INVENTORY: $ID9 without the CNAME not ordered ($err9)" \
	test "$err9" = "not delegated: $ID9 does not point at edge.msp.example"
contact=$(python3 -c 'import sqlite3,sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT contact FROM hosted_acme_account")
      .fetchone()[0])' "$SI/state.db" 2>&1)
check "serve INVENTORY: the account has every hosted.acme.contact ($contact)" \
	test "$contact" = "mailto:hostmaster@example.com,mailto:security@example.com"
stop_serve "$SPID"
check "serve INVENTORY stops on SIGTERM with status 0 (status $rc)" test "$rc" = 0
if [ -z "$got" ] || [ "$rc" != 0 ]; then
	sed 's/^/# serve: /' "$SI/serve.out" "$SI/serve.err" | tail -30
fi

# half the nonces rejected: the issuance goes through on badNonce retries
stop_pebble
if start_pebble 50; then
	ID4=mta-sts.nonce.example.com
	driver "$W/r4" --account "$W/account2.key" --ident "$ID4" --challenge tls-alpn-01 \
		--bad-nonce 20 || show "$W/r4"
	check "issuance with PEBBLE_WFE_NONCEREJECT=50" grep -q '^issued tls-alpn-01 ' "$W/r4/stdout"
	check "that chain verifies for $ID4" verifies "$W/r4" "$ID4"
	check "badNonce answers were retried ($(grep '^badnonce' "$W/r4/stdout"))" \
		grep -q '^badnonce [1-9]' "$W/r4/stdout"
else
	notok "pebble restarts with PEBBLE_WFE_NONCEREJECT=50"
fi
if [ "$failed" != 0 ]; then
	echo "# pebble log (tail):"
	tail -30 "$W/pebble.log" | sed 's/^/# /'
fi
finish
