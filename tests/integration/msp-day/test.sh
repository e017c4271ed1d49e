#!/bin/bash
# An MSP engineer's day (issue 17), against the testbed's real servers: 300
# domains in three tenants, alpha on zone files (the test loads one into the
# testbed's BIND to dig it), bravo on the testbed's PowerDNS (REST API),
# charlie on RFC 2136 (one zone per domain, TSIG-signed UPDATEs to the
# testbed's BIND); the web host is the local plugin under a folder the
# testbed's nginx serves.
#  - validate catches the broken providers of a copy of the inventory (a
#    misspelt plugin and setting, no key_secret, an api_key in clear text)
#    with file:line:col, the providers.NAME.KEY path and a "did you mean";
#    --secrets names an unset variable; --probe names the dead server.
#  - charlie's server is down (hole.py: accepts, reads, never answers): plan
#    says so in one line, its other work goes on, the attempts are bounded
#    per provider (not per zone) and the plan ends in seconds; a plan and
#    apply scoped to the healthy tenants publish (dig, https); charlie back.
#  - the brake: a domain set to enforce, then its inventory mode lowered to
#    none: the plan says (inventory brake), apply publishes none (https, a new
#    TXT id), a running watch daemon does not undo it.
#  - state check finds a zeroed page of a table; state backup's copy is sound.
#  - SIGINT in a 5,000-domain apply (zone files): exit 130, the run
#    interrupted, a rerun converges.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
C=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/stsctl-msp.XXXXXX)
chmod 755 "$W" # nginx workers read the web root
PIDS="" BIG=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -e "$STS_TB_NGINX_SITES/msp-day.conf" ] && tb_nginx_site_rm msp-day
	[ -n "${MSP_KEEP:-}" ] || rm -rf "$W" ${BIG:+"$BIG"}
}
trap cleanup EXIT
S=$STSCTL
SFX=$$$RANDOM
CH=charlie-$SFX.test # charlie's parent label: BIND's zones are new each run
ms() { echo $(($(date +%s%N) / 1000000)); }
# stop PID SIG: send SIG, wait at most 30 s for the end, then SIGKILL; returns its exit status
stop() {
	kill "-$2" "$1" 2>/dev/null
	for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}
T_START=$(ms) T_SEC=$(ms)
# section NAME: a TAP comment with the time the part before took (the budget is 2 minutes)
section() {
	echo "# --- $1 (the part before took $(($(ms) - T_SEC)) ms)"
	T_SEC=$(ms)
}
cd "$W" || exit 1
mkdir -p zones www broken
# started first, in the background: a python3 start takes seconds on a loaded machine
python3 "$C/hole.py" "$W/hole.count" >"$W/hole.port" &
PIDS="$PIDS $!"
# on tmpfs when there is one: 15,000 files written and deleted on a disk
# mounted with discard took 40 s more than the whole rest of the case
BIG=$(mktemp -d -p /dev/shm stsctl-msp.XXXXXX 2>/dev/null) || BIG=$W/big
mkdir -p "$BIG/zones" "$BIG/www"
python3 "$STS_SOURCE_ROOT/tests/bench/gen-apply-inventory.py" 5000 50 "$BIG/inv.json" &
GEN_PID=$!

qb() { dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +short +norecurse +time=2 +tries=1 "$1" "${2:-TXT}"; }
qp() { dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +short +norecurse +time=2 +tries=1 "$1" "${2:-TXT}"; }
# txt_id TXT-ANSWER: the id of a v=STSv1 TXT, or "(none)"
txt_id() {
	local id
	id=$(grep -o 'v=STSv1; id=[A-Za-z0-9]*' <<<"$1" | sed 's/.*id=//')
	echo "${id:-(none)}"
}
# the id of the policy file in place (sha256 prefix, docs/stsctl-render.md)
pol_id() { sha256sum "www/mta-sts.$1/.well-known/mta-sts.txt" 2>/dev/null | cut -c1-32; }
# served DOMAIN: "HTTP_CODE mode: MODE" of the policy nginx serves, and its id
served() {
	local code
	code=$(tb_curl_policy "$1" "$W/fetched" 2>&1 | cut -d' ' -f1)
	echo "$code $(grep -o 'mode: [a-z]*' "$W/fetched" 2>/dev/null)"
}
served_id() { sha256sum "$W/fetched" | cut -c1-32; }
pdns() { # pdns METHOD PATH [JSON]
	curl -sS -H "X-API-Key: $STS_TB_PDNS_API_KEY" -H 'Content-Type: application/json' \
		-X "$1" "$STS_TB_PDNS_API$2" ${3:+--data "$3"}
}
stage() { sqlite3 state.db "select coalesce(pending, stage) from rollout_state where domain='$1'"; }

# ---------- the inventory: 3 tenants x 100 domains ----------
# alpha: d<i>.a<i%10>.msp-alpha.test in 10 zone files; bravo: d<i>.b<i%4>.msp-bravo.test
# in 4 PowerDNS zones; charlie: c<i>.$CH, each its own zone in BIND.
# Written at once with the day's other versions: inv-down.json (charlie's
# server at the listener that never answers), inv-brake.json (D's mode
# lowered to none), broken/inv.json (the providers validate must catch).
D=d1.b1.msp-bravo.test # the domain the operator brakes
for _ in $(seq 100); do [ -s "$W/hole.port" ] && break; sleep 0.1; done
HOLE=$(cat "$W/hole.port")
python3 - "$CH" "$STS_TB_PDNS_API" "$STS_TB_BIND_PORT" "$STS_TB_TSIG_NAME" "$HOLE" "$D" <<'PY'
import copy, json, sys
ch, api, bind_port, key, hole, brake = sys.argv[1:]
base = api.split("/api/v1/")[0] + "/"
doms = []
for i in range(100):
    doms.append({"name": f"d{i}.a{i % 10}.msp-alpha.test", "zone": f"a{i % 10}.msp-alpha.test",
                 "tenant": "alpha"})
    doms.append({"name": f"d{i}.b{i % 4}.msp-bravo.test", "zone": f"b{i % 4}.msp-bravo.test",
                 "tenant": "bravo"})
    doms.append({"name": f"c{i}.{ch}", "tenant": "charlie"})
inv = {"version": 1,
       "defaults": {"web": "www", "mode": "testing", "max_age": 86400, "ttl": 300,
                    "mx": ["mx1.msp.test"], "tlsrpt": {"rua": ["mailto:tlsrpt@msp.test"]}},
       "tenants": {"alpha": {"dns": "a-zones"}, "bravo": {"dns": "b-pdns"},
                   "charlie": {"dns": "c-bind"}},
       "providers": {
           "a-zones": {"plugin": "zonefile", "directory": "zones"},
           "b-pdns": {"plugin": "powerdns", "url": base, "api_key": "${env:MSP_PDNS_KEY}",
                      "timeout": 5},
           "c-bind": {"plugin": "rfc2136", "server": "127.0.0.1", "port": int(bind_port),
                      "key_name": key, "key_secret": "${file:tsig.b64}", "timeout": 1},
           "www": {"plugin": "local", "root": "www"}},
       "domains": doms}

def write(path, inv):
    with open(path, "w") as f:
        json.dump(inv, f, indent=1)


write("inv.json", inv)
down = copy.deepcopy(inv)
down["providers"]["c-bind"]["port"] = int(hole)
write("inv-down.json", down)
br = copy.deepcopy(inv)
next(d for d in br["domains"] if d["name"] == brake)["mode"] = "none"
write("inv-brake.json", br)
p = inv["providers"]
p["a-zones"]["directroy"] = p["a-zones"].pop("directory")
p["b-pdns"]["api_key"] = "clear-text-pdns-key"
del p["c-bind"]["key_secret"]
p["b-pdns-new"] = {"plugin": "powerdsn", "url": p["b-pdns"]["url"], "api_key": "${env:MSP_PDNS_KEY}"}
write("broken/inv.json", inv)
PY
export MSP_PDNS_KEY=$STS_TB_PDNS_API_KEY
sed -n 's/.*secret "\(.*\)";.*/\1/p' "$STS_TB_TSIG_KEY" >tsig.b64
for z in $(seq 0 9); do
	printf '$TTL 300\n$ORIGIN a%s.msp-alpha.test.\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n' \
		"$z" >"zones/a$z.msp-alpha.test.zone"
done
ok=1
for z in 0 1 2 3; do
	pdns DELETE "/zones/b$z.msp-bravo.test." >/dev/null 2>&1
	pdns POST /zones "{\"name\":\"b$z.msp-bravo.test.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.msp-bravo.test.\"]}" \
		| grep -q '"serial"' || ok=0
done
B=$(dirname "$STS_TB_TSIG_KEY")
for i in $(seq 0 99); do
	z=c$i.$CH
	printf '$TTL 300\n@ IN SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n  IN NS ns1.%s.\nns1 IN A 127.0.0.1\n' \
		"$z" "$z" "$z" >"$B/zones/$z.zone"
	printf 'zone "%s" { type primary; file "%s"; journal "%s.jnl"; update-policy { grant %s zonesub ANY; }; };\n' \
		"$z" "$B/zones/$z.zone" "$B/zones/$z.zone" "$STS_TB_TSIG_NAME"
done >>"$B/cases.conf"
rndc -c "$STS_TB_RNDC_CONF" reconfig >/dev/null || ok=0
for _ in $(seq 50); do [ -n "$(qb "c99.$CH" SOA)" ] && break; sleep 0.1; done
[ -n "$(qb "c99.$CH" SOA)" ] || ok=0
[ -n "$HOLE" ] || ok=0
[ $ok = 1 ] && tb_ok "setup: 10 zone files, 4 PowerDNS zones, 100 BIND zones" ||
	tb_fail "setup: 10 zone files, 4 PowerDNS zones, 100 BIND zones"
out=$("$S" validate inv.json --secrets 2>&1)
tb_expect_eq "validate --secrets: the 300-domain inventory is valid" 0 $?
[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /' | head -5

# ---------- validate catches the broken providers ----------
section "validate"
# at NEEDLE TOKEN: "FILE:LINE:COL" of TOKEN on the first line of broken/inv.json holding NEEDLE
at() {
	LC_ALL=C awk -v f="$W/broken/inv.json" -v needle="$1" -v token="$2" '
		(i = index($0, needle)) { print f ":" NR ":" (i - 1 + index(substr($0, i), token)); exit }' "$W/broken/inv.json"
}
out=$(cd broken && "$S" validate "$W/broken/inv.json" 2>&1)
rc=$?
tb_expect_eq "validate: the broken copy exits 1 (docs/exit-codes.md)" 1 $rc
tb_expect "validate: the misspelt plugin, at its value, with a suggestion" \
	"$(at '"plugin": "powerdsn"' '"powerdsn"'): error: providers.b-pdns-new.plugin: unknown plugin 'powerdsn': did you mean 'powerdns'?" "$out"
tb_expect "validate: the misspelt setting, at its value, with a suggestion" \
	"$(at '"directroy"' '"zones"'): error: providers.a-zones.directroy: unknown setting 'directroy' for plugin 'zonefile': did you mean 'directory'?" "$out"
tb_expect "validate: the rfc2136 provider without key_secret, at its object" \
	"$(at '"c-bind": {' '{'): error: providers.c-bind.key_secret: missing required setting 'key_secret' for plugin 'rfc2136'" "$out"
tb_expect "validate: the api_key in clear text, at its value" \
	"$(at '"clear-text-pdns-key"' '"clear-text-pdns-key"'): error: providers.b-pdns.api_key: setting 'api_key': not a secret reference" "$out"
[[ $out == *clear-text-pdns-key* ]] && tb_fail "validate: the clear-text key is never printed" "$out" ||
	tb_ok "validate: the clear-text key is never printed"
out=$(env -u MSP_PDNS_KEY "$S" validate --secrets inv.json 2>&1)
rc=$?
tb_expect_eq "validate --secrets with \$MSP_PDNS_KEY unset exits 1" 1 $rc
tb_expect "validate --secrets names the unset variable" \
	'providers.b-pdns.api_key: secret ${env:MSP_PDNS_KEY} does not resolve: environment variable is not set' "$out"

# ---------- charlie's server is down ----------
section "charlie down"
cp inv.json inv-up.json
cp inv-down.json inv.json
t0=$(ms)
out=$(timeout 30 "$S" validate --probe --timeout 1 inv.json 2>&1)
rc=$?
t=$(($(ms) - t0))
[ $rc = 1 ] && [ $t -lt 5000 ] && tb_ok "validate --probe: exit 1 in ${t} ms" || tb_fail "validate --probe: exit 1 in seconds" "rc=$rc ${t} ms"
tb_expect "validate --probe names the dead server" "probe c-bind: no answer within 1000 ms" "$out"
tb_expect "validate --probe: PowerDNS answers" "probe b-pdns: ok" "$out"
read -r _ u0 _ c0 <"$W/hole.count"

t0=$(ms)
timeout 60 "$S" plan inv.json --state state.db >plan.out 2>plan.err
rc=$? # 124: still running after 60 s
t=$(($(ms) - t0))
read -r _ u1 _ c1 <"$W/hole.count"
n=$((u1 - u0 + c1 - c0))
tb_expect_eq "plan with charlie down exits 1" 1 $rc
[ $t -lt 60000 ] && tb_ok "plan with charlie down ends in ${t} ms (< 60 s; was 15 s per zone)" ||
	tb_fail "plan with charlie down ends in < 60 s" "${t} ms"
# the breaker opens after two calls that fail in a row, with up to two more in flight
# (max_concurrency), each call 3 tries (docs/stsctl-plan.md): 12 at most, of 100 zones
[ "$n" -le 12 ] && tb_ok "attempts to the dead server bounded per provider: $n for 100 zones (<= 12)" ||
	tb_fail "attempts to the dead server bounded per provider (<= 12 for 100 zones)" "udp $((u1 - u0)) tcp $((c1 - c0))"
got=$(grep -c '^provider c-bind: ' plan.out)
tb_expect_eq "one line for the dead provider" 1 "$got"
tb_expect "... with the count of its domains" "provider c-bind: 100 domains not planned: " "$(grep '^provider ' plan.out)"
grep '^provider ' plan.out | sed 's/^/# /'
got=$(grep -c "^c[0-9]*\.$CH" plan.out plan.err | awk -F: '{s += $2} END {print s}')
tb_expect_eq "no line per domain of the dead provider" 0 "$got"
got=$(grep -cE '^d[0-9]+\.(a[0-9]\.msp-alpha|b[0-3]\.msp-bravo)\.test' plan.out)
tb_expect_eq "the healthy tenants' plan goes on: 200 domains planned" 200 "$got"

# scoped to the healthy tenants
"$S" plan inv.json --state state.db --tenant alpha --tenant bravo --detailed-exitcode >plan.out 2>plan.err
tb_expect_eq "plan --tenant alpha --tenant bravo: exit 2 (changes), no failure" 2 $?
tb_expect_eq "... and says nothing of charlie" "" "$(grep -i -e c-bind -e "$CH" plan.out plan.err)"
tb_mkcert msp-day mta-sts.d0.a0.msp-alpha.test mta-sts.d0.b0.msp-bravo.test \
	mta-sts.d1.b1.msp-bravo.test >/dev/null
cat >site.conf <<EOF
server {
    listen 127.0.0.1:$STS_TB_HTTPS_PORT ssl;
    server_name mta-sts.d0.a0.msp-alpha.test mta-sts.d0.b0.msp-bravo.test mta-sts.d1.b1.msp-bravo.test;
    ssl_certificate     $STS_TB_PKI/msp-day.chain.pem;
    ssl_certificate_key $STS_TB_PKI/msp-day.key;
    root $W/www/\$host;
    location = /.well-known/mta-sts.txt { default_type text/plain; }
    location / { return 404; }
}
EOF
err=$(tb_nginx_site msp-day site.conf 2>&1) && tb_ok "nginx serves the web root" || tb_fail "nginx serves the web root" "$err"
t0=$(ms)
"$S" apply inv.json --yes --state state.db --tenant alpha --tenant bravo >apply.out 2>apply.err
rc=$?
t=$(($(ms) - t0))
tb_expect_eq "apply --tenant alpha --tenant bravo exits 0 (${t} ms)" 0 $rc
[ $rc = 0 ] || head -5 apply.err | sed 's/^/# /'
tb_expect "... 200 domains changed" "200 domains changed" "$(grep '^Apply: ' apply.err)"
tb_bind_zone a0.msp-alpha.test zones/a0.msp-alpha.test.zone
for d in d0.a0.msp-alpha.test d10.a0.msp-alpha.test; do
	tb_expect_eq "alpha '$d': BIND serves the zone file's TXT, with the policy's id" \
		"$(pol_id $d)" "$(txt_id "$(qb "_mta-sts.$d")")"
done
for d in d0.b0.msp-bravo.test d99.b3.msp-bravo.test; do
	tb_expect_eq "bravo '$d': PowerDNS serves the TXT, with the policy's id" \
		"$(pol_id $d)" "$(txt_id "$(qp "_mta-sts.$d")")"
done
tb_expect "bravo: PowerDNS serves the TLS-RPT record" "v=TLSRPTv1; rua=mailto:tlsrpt@msp.test" \
	"$(qp _smtp._tls.d0.b0.msp-bravo.test)"
tb_expect_eq "the web host serves the policy (https)" "200 mode: testing" "$(served d0.b0.msp-bravo.test)"
tb_expect_eq "... the file published (its id in DNS)" "$(txt_id "$(qp _mta-sts.d0.b0.msp-bravo.test)")" "$(served_id)"
tb_expect_eq "charlie untouched (dig)" "" "$(qb "_mta-sts.c0.$CH")"

# charlie's server is back
section "charlie back"
cp inv-up.json inv.json
"$S" apply inv.json --yes --state state.db >apply.out 2>apply.err
rc=$?
tb_expect_eq "charlie back: apply exits 0" 0 $rc
[ $rc = 0 ] || head -5 apply.err | sed 's/^/# /'
tb_expect "... 100 domains changed, 200 unchanged" "100 domains changed (300 changes), 200 unchanged, 0 failed" "$(grep '^Apply: ' apply.err)"
for d in c0.$CH c99.$CH; do
	tb_expect_eq "charlie '$d': BIND serves the TXT, with the policy's id" \
		"$(pol_id "$d")" "$(txt_id "$(qb "_mta-sts.$d")")"
done

# ---------- the brake ----------
section "the brake"
out=$("$S" rollout set enforce "$D" -i inv.json --force --reason "msp-day: migrated enforced" --state state.db 2>&1)
tb_expect_eq "rollout set enforce --force '$D'" 0 $?
"$S" apply inv.json --yes --state state.db --tenant bravo >apply.out 2>&1
tb_expect_eq "apply publishes it" 0 $?
tb_expect_eq "the web host serves enforce" "200 mode: enforce" "$(served "$D")"
id_enf=$(txt_id "$(qp "_mta-sts.$D")")
tb_expect_eq "PowerDNS serves the enforce policy's id" "$(served_id)" "$id_enf"
cp inv-brake.json inv.json
"$S" plan inv.json --state state.db --tenant bravo >plan.out 2>&1
tb_expect "plan says why: (inventory brake)" "mode: enforce -> none (inventory brake)" "$(head -20 plan.out)"
"$S" apply inv.json --yes --state state.db --tenant bravo >apply.out 2>&1
tb_expect_eq "apply of the brake exits 0" 0 $?
tb_expect_eq "the web host serves none" "200 mode: none" "$(served "$D")"
id_none=$(txt_id "$(qp "_mta-sts.$D")")
[ "$id_none" != "$id_enf" ] && [ "$id_none" = "$(served_id)" ] && tb_ok "a new TXT id in DNS, the served policy's" ||
	tb_fail "a new TXT id in DNS, the served policy's" "enforce $id_enf, now $id_none, served $(served_id)"

# the watch daemon, cycles a second apart, does not undo it
section "the watch daemon"
STSCTL_TEST_WATCH_INTERVAL=1 "$S" -v watch inv.json --state state.db --tenant bravo \
	--resolver 127.0.0.1:9 >watch.log 2>&1 &
WD=$!
PIDS="$PIDS $WD"
for _ in $(seq 300); do [ "$(grep -c 'cycle: ' watch.log)" -ge 2 ] && break; sleep 0.1; done
cycles=$(grep -c 'cycle: ' watch.log)
stop "$WD" TERM
rc=$?
[ "$cycles" -ge 2 ] && [ $rc = 0 ] && tb_ok "watch daemon: $cycles cycles, SIGTERM exits 0" ||
	tb_fail "watch daemon: 2 cycles, SIGTERM exits 0" "$cycles cycles, exit $rc: $(tail -5 watch.log)"
tb_expect_eq "after the daemon: the stage is still none" none "$(stage "$D")"
tb_expect_eq "after the daemon: the web host still serves none" "200 mode: none" "$(served "$D")"
tb_expect_eq "after the daemon: the TXT id is unchanged" "$id_none" "$(txt_id "$(qp "_mta-sts.$D")")"
tb_expect "the rollout history shows the operator demotion" "enforce|none|operator demotion" \
	"$(sqlite3 state.db "select from_stage, to_stage, reason from rollout_transitions where domain='$D' order by id")"

# ---------- state check finds a damaged page ----------
section "state check"
"$S" state backup good.db --state state.db >/dev/null 2>&1
tb_expect_eq "state backup exits 0" 0 $?
out=$("$S" state check --state good.db 2>&1)
tb_expect_eq "state check accepts the backup (exit 0)" 0 $?
cp good.db dmg.db
psize=$(sqlite3 good.db 'pragma page_size')
pages=$(sqlite3 good.db "select pageno from dbstat where name = 'journal' and pagetype = 'leaf' order by pageno" 2>/dev/null)
n=$(echo "$pages" | grep -c .)
pg=$(echo "$pages" | sed -n "$((n / 2 + 1))p")
[ -n "$pg" ] && [ "$pg" -gt 1 ] || pg=$(($(sqlite3 good.db 'pragma page_count') / 2))
dd if=/dev/zero of=dmg.db bs="$psize" seek=$((pg - 1)) count=1 conv=notrunc status=none
out=$("$S" state check --state dmg.db 2>&1)
rc=$?
tb_expect_eq "state check: a zeroed page (page $pg of the journal table) exits 2" 2 $rc
tb_expect "state check says what is wrong" "damaged: integrity: " "$out"
tb_expect "... and that the state is damaged" "state database 'dmg.db': damaged" "$out"

# ---------- SIGINT in a 5,000-domain apply ----------
section "SIGINT"
wait "$GEN_PID" || tb_fail "the 5,000-domain inventory written"
cd "$BIG" || exit 1
t0=$(ms)
"$S" apply inv.json --yes --state state.db >apply.out 2>apply.err &
AP=$!
PIDS="$PIDS $AP"
started=
for _ in $(seq 200); do
	[ -n "$(find www -name mta-sts.txt -print -quit)" ] && started=1 && break
	kill -0 "$AP" 2>/dev/null || break
	sleep 0.05
done
stop "$AP" INT
rc=$?
t=$(($(ms) - t0))
[ -n "$started" ] && tb_ok "5,000-domain apply: SIGINT once it wrote" || tb_fail "5,000-domain apply: SIGINT once it wrote"
tb_expect_eq "SIGINT: exit 130 (${t} ms)" 130 $rc
tb_expect "SIGINT: says what was left" "stopped by SIGINT after the zones in flight" "$(grep SIGINT apply.err)"
tb_expect_eq "SIGINT: the run is recorded interrupted" interrupted "$(sqlite3 state.db 'select status from runs')"
t0=$(ms)
"$S" apply inv.json --yes --state state.db >apply.out 2>apply.err
rc=$?
t=$(($(ms) - t0))
tb_expect_eq "the rerun exits 0 (${t} ms)" 0 $rc
[ $rc = 0 ] || tail -5 apply.err | sed 's/^/# /'
"$S" plan inv.json --state state.db --detailed-exitcode >plan.out 2>&1
tb_expect_eq "then plan --detailed-exitcode: 0 (converged)" 0 $?
tb_expect_eq "5,000 policies published" 5000 "$(find www -name mta-sts.txt | wc -l)"
cd "$W" || exit 1

section "end: msp-day took $(($(ms) - T_START)) ms"
tb_done
