#!/bin/bash
# Hosted MTA-STS end to end (issue 15, "Proof with real senders"): stsctl as
# the MSP's service, judged by two real MTA-STS clients. In the testbed's
# namespaces, nothing on loopback:
#   server namespace   PowerDNS :53 with the MSP zone sts.msp.example (written
#                      by the powerdns plugin: hosted.dns) and two customer
#                      zones; Pebble (the ACME test CA) on the namespace's
#                      127.0.0.1, resolving through that PowerDNS and
#                      validating tls-alpn-01 on port 443 of the edge host;
#                      `stsctl serve INVENTORY` on EDGE:443 (an address of its
#                      own on the namespace's veth, as nginx holds .2:443);
#                      stsctl onboard and apply
#   client namespace   postfix-mta-sts-resolver (mta-sts-query) and mailauth
#                      strict (harness/mta-sts-check.js), trusting only
#                      Pebble's root of this run; openssl s_client
# The customers add exactly the two CNAMEs `onboard --hosted --json` prints;
# serve obtains a certificate per customer from Pebble; apply publishes the
# policy into the store and the TXT into the MSP zone; both clients accept
# each policy through the delegation with the id apply published; a mode
# change by apply gives both a new id; the second customer has a certificate
# of its own; an unknown name gets none (unrecognized_name).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
for b in pebble openssl mta-sts-query node; do
	command -v "$b" >/dev/null || {
		echo "Bail out! '$b' not found: run tests/integration/harness/install.sh"
		exit 1
	}
done
SRV=$STS_TB_NS_SRV_ADDR
EDGE_ADDR=10.231.1.4 # serve's own address in the server namespace
VETH=$STS_TB_NETNS-vs
MSP=sts.msp.example EDGE=edge.sts.msp.example
C1=customer1.example C2=customer2.example
W=$STS_TB_RUN/hosted-e2e # stays for debugging; the next run starts afresh
rm -rf "$W"
mkdir -p "$W"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ip -n "$STS_TB_NS_SRV" addr del "$EDGE_ADDR/32" dev "$VETH" 2>/dev/null
}
trap cleanup EXIT
t_start=$(date +%s)

# ---------- DNS: the MSP zone with the edge host, two customer zones ----------
ip -n "$STS_TB_NS_SRV" addr add "$EDGE_ADDR/32" dev "$VETH" ||
	{ echo "Bail out! cannot add $EDGE_ADDR to the server namespace"; exit 1; }
for z in $MSP $C1 $C2; do
	tb_ns_pdns_zone $z || { echo "Bail out! cannot create zone $z in the namespace's PowerDNS"; exit 1; }
done
rrsets() { # rrsets NAME TYPE CONTENT [NAME TYPE CONTENT]...: a PATCH body
	python3 -c 'import json, sys
a = sys.argv[1:]
print(json.dumps({"rrsets": [{"name": a[i], "type": a[i + 1], "ttl": 60, "changetype": "REPLACE",
    "records": [{"content": a[i + 2], "disabled": False}]} for i in range(0, len(a), 3)]}))' "$@"
}
rrsets "$EDGE." A "$EDGE_ADDR" >"$W/edge.json"
tb_ns_pdns_patch $MSP "$W/edge.json" || echo "Bail out! cannot add the edge host's A record"

# ---------- Pebble in the server namespace ----------
# its API certificate from the testbed CA (the inventory's hosted.acme.ca_file)
tb_mkcert hosted-e2e-pebble localhost >/dev/null
cat >"$W/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
  "certificate": "$STS_TB_PKI/hosted-e2e-pebble.chain.pem", "privateKey": "$STS_TB_PKI/hosted-e2e-pebble.key",
  "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
ip netns exec "$STS_TB_NS_SRV" env PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
	pebble -config "$W/pebble.json" -dnsserver "$SRV:53" >"$W/pebble.log" 2>&1 &
PIDS+=($!)
up=
for _ in $(seq 50); do
	tb_ns_srv curl -sf --max-time 2 --cacert "$STS_TB_CA" https://localhost:14000/dir >/dev/null && up=1 && break
	sleep 0.1
done
if [ -z "$up" ]; then
	tb_fail "pebble starts in the server namespace" "$(tail -20 "$W/pebble.log")"
	tb_done
	exit 1
fi
tb_ok "pebble starts in the server namespace (DNS: its PowerDNS, tls-alpn-01 on :443)"
# the clients trust Pebble's root of this run, nothing else: serve must send
# the intermediate itself
tb_ns_srv curl -sf --cacert "$STS_TB_CA" https://localhost:15000/roots/0 >"$W/pebble-root.pem"
openssl x509 -in "$W/pebble-root.pem" -noout 2>/dev/null && tb_ok "Pebble's root from its management API" ||
	tb_fail "Pebble's root from its management API"

# ---------- the MSP's inventory: hosted section, two hosted customers ----------
cat >"$W/inv.json" <<EOF
{"version": 1,
 "defaults": {"max_age": 86400, "ttl": 60},
 "providers": {
   "pdns": {"plugin": "powerdns", "url": "${STS_TB_NS_API%/api/v1/servers/*}/", "api_key": "\${env:PDNS_KEY}",
            "insecure_http": true}},
 "hosted": {"zone": "$MSP", "dns": "pdns", "edge": "$EDGE", "listen": "$EDGE_ADDR:443",
            "acme": {"directory": "https://localhost:14000/dir",
                     "contact": ["mailto:hostmaster@msp.example"], "ca_file": "$STS_TB_CA"}},
 "domains": [
   {"name": "$C1", "hosting": "hosted", "mode": "testing", "mx": ["mail.$C1"],
    "verify": {"ca_file": "$W/pebble-root.pem"}},
   {"name": "$C2", "hosting": "hosted", "mode": "enforce", "mx": ["mx.$C2"],
    "verify": {"ca_file": "$W/pebble-root.pem"}}]}
EOF
st() { # stsctl in the server namespace, in $W
	(cd "$W" && tb_ns_srv env PDNS_KEY="$STS_TB_PDNS_API_KEY" "$STSCTL" "$@")
}

# ---------- onboarding: the customers add exactly what onboard prints ----------
st onboard --hosted --inventory inv.json --state state.db --json $C1 $C2 >"$W/onboard1.json" 2>"$W/onboard1.err"
tb_expect_eq "onboard --hosted: exit 1 while the CNAMEs are missing" 1 "$?"
for d in $C1 $C2; do
	python3 - "$W/onboard1.json" "$d" "$W/cname-$d.json" "$MSP" "$EDGE" <<'PY' >"$W/onboard-$d.txt" 2>&1
import json, sys
out, d, patch, msp, edge = sys.argv[1:]
dom = next(x for x in json.load(open(out))["domains"] if x["domain"] == d)
recs = dom["records"]
# exactly the two records of RFC 8461 §8.2, in the MSP's zone and to its edge
assert sorted(r["name"] for r in recs) == ["_mta-sts." + d + ".", "mta-sts." + d + "."], recs
for r in recs:
    assert r["type"] == "CNAME" and r["state"] == "missing", r
    want = dom["label"] + "._mta-sts." + msp + "." if r["name"].startswith("_") else edge + "."
    assert r["target"] == want, (r, want)
json.dump({"rrsets": [{"name": r["name"], "type": r["type"], "ttl": 60, "changetype": "REPLACE",
                       "records": [{"content": r["target"], "disabled": False}]} for r in recs]},
          open(patch, "w"))
print(dom["label"])
PY
	if [ $? = 0 ]; then
		tb_ok "onboard --hosted --json: '$d' gets two CNAMEs, to its label in $MSP and to $EDGE"
		tb_ns_pdns_patch $d "$W/cname-$d.json" || echo "# cannot add the CNAMEs of '$d'"
	else
		tb_fail "onboard --hosted --json: '$d' gets two CNAMEs, to its label in $MSP and to $EDGE" \
			"$(cat "$W/onboard-$d.txt" "$W/onboard1.json")"
	fi
done
L1=$(tail -1 "$W/onboard-$C1.txt") L2=$(tail -1 "$W/onboard-$C2.txt")
st onboard --hosted --inventory inv.json --state state.db $C1 $C2 >"$W/onboard2.txt" 2>&1
tb_expect_eq "onboard --hosted: exit 0 once the customers added them" 0 "$?"
tb_expect "onboard --hosted: both ready" "2 of 2 domains ready" "$(cat "$W/onboard2.txt")"
tb_expect "the client namespace resolves mta-sts.$C1 to the edge" "$EDGE_ADDR" \
	"$(tb_ns_cli dig +short +time=2 +tries=1 A "mta-sts.$C1")"

# ---------- serve: address and ACME account from the inventory ----------
ip netns exec "$STS_TB_NS_SRV" "$STSCTL" serve "$W/inv.json" --state "$W/state.db" \
	>"$W/serve.out" 2>"$W/serve.err" &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq 50); do
	tb_ns_srv ss -Hltn "src $EDGE_ADDR:443" | grep -q . && break
	sleep 0.1
done
tb_expect "serve listens on $EDGE_ADDR:443 (hosted.listen)" "$EDGE_ADDR:443" \
	"$(tb_ns_srv ss -Hltn "src $EDGE_ADDR:443")"

# ---------- apply: policies into the store, TXT into the MSP zone ----------
apply() { # apply OUTFILE
	st -v apply inv.json --yes --state state.db >"$1" 2>&1
}
certs_json() {
	st status inv.json --state state.db --json 2>/dev/null | python3 -c 'import json, sys
hosts = {h["host"]: h["certificate"] for h in json.load(sys.stdin)["hosted"]["hosts"]}
print(" ".join("%s=%s" % (h, "issued" if (hosts.get(h) or {}).get("issued") and
                          not hosts[h].get("last_error") else "none") for h in sys.argv[1:]))' \
		"mta-sts.$C1" "mta-sts.$C2"
}
# A new customer in ONE apply: serve orders a certificate once the policy is
# in the store; apply stores it, waits for serve's certificate
# (hosted.certificate_wait), verifies over HTTPS, then publishes the id.
tb_expect_eq "before the first apply: serve has no certificate for either customer" \
	"mta-sts.$C1=none mta-sts.$C2=none" "$(certs_json)"
t0=$(date +%s%N)
apply "$W/apply1.out"
rc=$?
echo "# first apply: $((($(date +%s%N) - t0) / 1000000)) ms"
tb_expect_eq "first apply of two new customers: exit 0 in one run" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/apply1.out"
tb_expect "first apply: waits for serve's certificate of mta-sts.$C1" \
	"waiting for serve's certificate for mta-sts.$C1" "$(cat "$W/apply1.out")"
tb_expect "first apply: waits for serve's certificate of mta-sts.$C2" \
	"waiting for serve's certificate for mta-sts.$C2" "$(cat "$W/apply1.out")"
tb_expect_eq "status --json: a valid certificate from Pebble for mta-sts.$C1 and mta-sts.$C2" \
	"mta-sts.$C1=issued mta-sts.$C2=issued" "$(certs_json)"
# serve's renewal passes (started by the store's changes) ordered both by tls-alpn-01
issued=$(sed -n 's/.*acme pass: .* issued=\([0-9]*\) failed=\([0-9]*\).*/\1 \2/p' "$W/serve.err" |
	awk '{i += $1; f += $2} END {print "issued=" i+0 " failed=" f+0}')
tb_expect_eq "serve's passes issued both, no failure (logged)" "issued=2 failed=0" "$issued"
apply "$W/apply2.out"
tb_expect_eq "second apply: exit 0" 0 "$?"
tb_expect "second apply: nothing to do" "0 domains changed (0 changes), 2 unchanged" "$(cat "$W/apply2.out")"

# ---------- the two clients ----------
stored_id() { # the id apply stored for serve
	python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT policy_id FROM hosted_policies WHERE host = ?",
                                        ("mta-sts." + sys.argv[2],)).fetchone()
print(r[0] if r else "")' "$W/state.db" "$1"
}
txt_id() { # txt_id NAME: the id of the TXT at NAME, as the client namespace resolves it
	tb_ns_cli dig +short +time=2 +tries=1 TXT "$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//'
}
check() { # check ROUND DOMAIN LABEL MODE MX-OK MX-BAD
	local round=$1 d=$2 label=$3 mode=$4 id got line
	id=$(stored_id "$d")
	[ -n "$id" ] && tb_ok "$round: '$d': apply stored a policy with an id" ||
		tb_fail "$round: '$d': apply stored a policy with an id"
	tb_expect_eq "$round: '$d': the TXT in the MSP zone ($label._mta-sts.$MSP) has that id" "$id" \
		"$(txt_id "$label._mta-sts.$MSP")"
	tb_expect_eq "$round: '$d': _mta-sts.$d resolves through the customer's CNAME to that id" "$id" \
		"$(txt_id "_mta-sts.$d")"
	got=$(tb_ns_cli env SSL_CERT_FILE="$W/pebble-root.pem" timeout 30 mta-sts-query "$d" 2>&1 | tail -1)
	tb_expect "$round: '$d': mta-sts-query: valid" "STSFetchResult.VALID" "$got"
	tb_expect "$round: '$d': mta-sts-query: the id and the mx" "('$id', {'mx': ['$5']" "$got"
	tb_expect "$round: '$d': mta-sts-query: mode $mode" "'mode': '$mode'" "$got"
	line=$(tb_ns_cli env NODE_EXTRA_CA_CERTS="$W/pebble-root.pem" NODE_PATH="$STS_TB_NODE_PATH" \
		STS_TB_MX_OK="$5" STS_TB_MX_BAD="$6" timeout 60 node "$STS_TB_MAILAUTH" "$d" 2>&1 | grep '"strict":true')
	tb_expect "$round: '$d': mailauth strict: found, with the id and mode" \
		"\"status\":\"found\",\"id\":\"$id\",\"mode\":\"$mode\"" "$line"
	tb_expect "$round: '$d': mailauth: '$5' matches, '$6' does not" '"mxOk":true,"otherMxOk":false' "$line"
	tb_expect "$round: '$d': mailauth: no warning" '"warnings":[]' "$line"
}
check publish $C1 "$L1" testing "mail.$C1" "evil.$C1"
check publish $C2 "$L2" enforce "mx.$C2" "mail.$C2"

# ---------- certificates per name ----------
peer() { # peer SNI: the certificate serve presents for SNI (subject, SAN, fingerprint)
	tb_ns_cli timeout 10 openssl s_client -connect "$EDGE_ADDR:443" -servername "$1" </dev/null 2>/dev/null |
		openssl x509 -noout -ext subjectAltName -fingerprint -sha256 2>/dev/null
}
p1=$(peer "mta-sts.$C1") p2=$(peer "mta-sts.$C2")
tb_expect "mta-sts.$C1: a certificate for its own name" "DNS:mta-sts.$C1" "$p1"
tb_expect "mta-sts.$C2: a certificate of its own (SAN)" "DNS:mta-sts.$C2" "$p2"
f1=$(echo "$p1" | grep -i fingerprint) f2=$(echo "$p2" | grep -i fingerprint)
[ -n "$f1" ] && [ -n "$f2" ] && [ "$f1" != "$f2" ] && [[ "$p2" != *"DNS:mta-sts.$C1"* ]] &&
	tb_ok "the two customers' certificates differ, neither names the other" ||
	tb_fail "the two customers' certificates differ, neither names the other" "$p1 / $p2"
u=$(tb_ns_cli timeout 10 openssl s_client -connect "$EDGE_ADDR:443" -servername mta-sts.unknown.example </dev/null 2>&1)
tb_expect "an unknown name: the handshake fails with unrecognized_name" "unrecognized name" "$u"
tb_expect "an unknown name: no certificate sent" "no peer certificate available" "$u"

# ---------- a mode change by apply ----------
old=$(stored_id $C1) old2=$(stored_id $C2)
tb_inv_edit "$W/inv.json" 'dom("'$C1'")["mode"] = "enforce"'
apply "$W/apply3.out"
rc=$?
tb_expect_eq "mode change: apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/apply3.out"
new=$(stored_id $C1)
[ -n "$new" ] && [ "$new" != "$old" ] && tb_ok "mode change: a new id for '$C1'" ||
	tb_fail "mode change: a new id for '$C1'" "'$old' -> '$new'"
tb_expect_eq "mode change: '$C2' keeps its id" "$old2" "$(stored_id $C2)"
check changed $C1 "$L1" enforce "mail.$C1" "evil.$C1"

# ---------- serve stops cleanly ----------
kill -TERM "$SPID"
for _ in $(seq 120); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$SPID" 2>/dev/null
wait "$SPID"
tb_expect_eq "serve stops on SIGTERM with status 0" 0 "$?"
echo "# hosted-e2e: $(($(date +%s) - t_start)) s"
if [ "$_tb_failed" != 0 ]; then
	sed 's/^/# serve: /' "$W/serve.err" | tail -30
	sed 's/^/# pebble: /' "$W/pebble.log" | tail -20
fi
tb_done
