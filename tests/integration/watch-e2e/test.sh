#!/bin/bash
# End to end in the namespace testbed: a real domain is published through the
# real powerdns and local plugins (PowerDNS and nginx of the server namespace),
# its MX is a real Postfix with STARTTLS, reports are POSTed over HTTPS to the
# real receiver (configured as trusted: one reporter, named lab-proxy, however
# many organisations the reports name), and stsctl watch walks it
# none -> testing -> enforce through the live checks; the enforce policy is then
# served by nginx and seen by dig. Everything runs in the server namespace.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/check-lib/lib.sh"
Z=watche2e.test
D=shop.$Z
MXA=10.231.1.40
W=$STS_TB_RUN/watch-e2e
rm -rf "$W"
mkdir -p "$W/www" "$W/z"
chmod 755 "$W" "$W/www"
RCV=
cleanup() {
	[ -n "$RCV" ] && kill "$RCV" 2>/dev/null
	chk_postfix_stop we2e-mx
}
trap cleanup EXIT
S=$STSCTL
SRV() { tb_ns_srv "$@"; }

# ---- the MX, the zone with what stsctl does not manage, the policy host ----
tb_mkcert we2e-mx "mx.$Z"
tb_mkcert we2e-policy "mta-sts.$D"
tb_mkcert we2e-rcv "localhost"
if chk_postfix we2e-mx "$MXA" tls we2e-mx; then tb_ok "Postfix MX with STARTTLS"; else
	tb_fail "Postfix MX with STARTTLS"
	tb_done
	exit 1
fi
printf '%s\n' "mx.$Z A $MXA" "$D MX 10 mx.$Z." "mta-sts.$D A $STS_TB_NS_SRV_ADDR" >"$W/rr.txt"
chk_rrsets "$W/rr.txt" >"$W/patch.json"
chk_policy_block "mta-sts.$D" we2e-policy "$W/www/mta-sts.$D/.well-known/mta-sts.txt" >"$W/site.conf"
if tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" && chk_site watch-e2e "$W/site.conf"; then
	tb_ok "zone and policy host ready"
else
	tb_fail "zone and policy host ready"
fi

RPORT=$((STS_TB_PORT_BASE + 77))
NSBASE=${STS_TB_NS_API%/api/v1/servers/*}
cat >"$W/inv.json" <<EOF2
{"version": 1,
 "defaults": {"mode": "none", "max_age": 86400, "dns": "pdns", "web": "www",
   "tlsrpt": {"rua": ["https://localhost:$RPORT/tlsrpt"]},
   "verify": {"https": true, "ca_file": "$STS_TB_CA", "resolve": "$STS_TB_NS_SRV_ADDR"},
   "rollout": {"min_days_in_testing": 0, "window_days": 1, "min_sessions": 100,
               "min_reporting_orgs": 1}},
 "providers": {
   "pdns": {"plugin": "powerdns", "url": "$NSBASE/", "api_key": "\${env:PDNS_KEY}",
            "server_id": "localhost", "insecure_http": true},
   "www": {"plugin": "local", "root": "$W/www"}},
 "reports": {"https": {"listen": "127.0.0.1:$RPORT", "path": "/tlsrpt",
                       "cert": "$STS_TB_PKI/we2e-rcv.chain.pem", "key": "$STS_TB_PKI/we2e-rcv.key",
                       "trusted": true, "name": "lab-proxy"}},
 "watch": {"check_interval": 60},
 "domains": [{"name": "$D", "mx": ["mx.$Z"], "zone": "$Z"}]}
EOF2
export PDNS_KEY=$STS_TB_PDNS_API_KEY
cd "$W" || exit 1
out=$(SRV env PDNS_KEY="$PDNS_KEY" "$S" apply --yes inv.json 2>&1)
rc=$?
tb_expect_eq "apply publishes mode none through powerdns and local" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
txt=$(SRV dig +short @"$STS_TB_NS_SRV_ADDR" TXT "_mta-sts.$D")
tb_expect "the _mta-sts TXT is served" "v=STSv1; id=" "$txt"

W1=$(SRV env PDNS_KEY="$PDNS_KEY" "$S" watch inv.json --once --json --resolver "$STS_TB_NS_SRV_ADDR" 2>"$W/w1.err")
tb_expect "cycle 1: none -> testing on the live check" '"to": "testing"' "$W1"
pol=$(cat "$W/www/mta-sts.$D/.well-known/mta-sts.txt" 2>/dev/null)
tb_expect "the testing policy is published" "mode: testing" "$pol"

# ---- reports POSTed to the receiver: two organisations, today, about the testing policy ----
SRV env PDNS_KEY="$PDNS_KEY" "$S" receive --inventory inv.json >"$W/rcv.out" 2>"$W/rcv.err" &
RCV=$!
for _ in $(seq 100); do SRV ss -Hlnt "src 127.0.0.1:$RPORT" | grep -q . && break; sleep 0.1; done
day=$(date -u +%Y-%m-%d)
n201=0
for org in google.com microsoft.com; do
	python3 - "$org" "$day" "$D" "$Z" >"$W/$org.json" <<'PY'
import json, sys
org, day, dom, z = sys.argv[1:5]
print(json.dumps({"organization-name": org, "contact-info": "tls@" + org, "report-id": f"{org}-{day}",
  "date-range": {"start-datetime": f"{day}T00:00:00Z", "end-datetime": f"{day}T23:59:59Z"},
  "policies": [{"policy": {"policy-type": "sts", "policy-domain": dom,
                           "policy-string": ["mx: mx." + z, "mode: testing", "version: STSv1", "max_age: 86400"]},
                "summary": {"total-successful-session-count": 120, "total-failure-session-count": 0}}]}))
PY
	code=$(SRV curl -s -o /dev/null -w '%{http_code}' --cacert "$STS_TB_CA" \
		-H 'Content-Type: application/tlsrpt+json' --data-binary @"$W/$org.json" \
		"https://localhost:$RPORT/tlsrpt")
	[ "$code" = 201 ] && n201=$((n201 + 1))
done
tb_expect_eq "the receiver stored both reports (201)" 2 "$n201"
kill "$RCV" 2>/dev/null
wait "$RCV" 2>/dev/null
RCV=

st=$(SRV "$S" status inv.json --json | python3 -c '
import json,sys
d=json.load(sys.stdin)["domains"][0]
print(d["stage"], d["health"]["sessions"], d["health"]["reporting_orgs"], ",".join(b["gate"] for b in d["blocking"]))')
tb_expect_eq "status: testing, 240 sessions from one reporter (the trusted receiver), only the live check left" "testing 240 1 live-check" "$st"

W2=$(SRV env PDNS_KEY="$PDNS_KEY" "$S" watch inv.json --once --json --resolver "$STS_TB_NS_SRV_ADDR" 2>"$W/w2.err")
tb_expect "cycle 2: testing -> enforce" '"to": "enforce"' "$W2"
tb_expect "cycle 2: the reason names the evidence" "promoted: 240 sessions" "$W2"
served=$(SRV curl -s --cacert "$STS_TB_CA" "https://mta-sts.$D/.well-known/mta-sts.txt" \
	--resolve "mta-sts.$D:443:$STS_TB_NS_SRV_ADDR")
tb_expect "nginx serves the enforce policy" "mode: enforce" "$served"
txt2=$(SRV dig +short @"$STS_TB_NS_SRV_ADDR" TXT "_mta-sts.$D")
if [ -n "$txt2" ] && [ "$txt2" != "$txt" ]; then
	tb_ok "the TXT id changed after the policy"
else
	tb_fail "the TXT id changed after the policy" "before $txt after $txt2"
fi
hist=$(sqlite3 stsctl.db "select group_concat(from_stage || '>' || to_stage, ' ') from rollout_transitions where domain='$D'")
tb_expect_eq "history" ">none none>testing testing>enforce" "$hist"
tb_done
