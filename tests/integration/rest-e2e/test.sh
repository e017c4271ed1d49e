#!/bin/bash
# test.sh PROVIDER: a REST DNS provider end to end. stsctl (in the testbed's
# server namespace) applies two domains through PROVIDER's plugin to the
# provider's fake (tests/fakes/PROVIDER/), which mirrors its zone into the
# server namespace's PowerDNS (fake.py --mirror-pdns), and the policy files
# over SFTP to the namespace's nginx; then both real MTA-STS clients, in the
# client namespace, judge the deployment through that DNS:
# postfix-mta-sts-resolver (mta-sts-query) and mailauth in strict mode.
# A mode change through the same fake gives both clients the new id and mode;
# a second apply sends no write to the fake.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
P=${1:?usage: test.sh PROVIDER}
if [ -z "${STS_TB_NS_SSH_KNOWN_HOSTS:-}" ] || ! tb_ns_srv ss -Hltn "src $STS_TB_NS_SRV_ADDR:22" | grep -q .; then
	echo "Bail out! the testbed has no sshd in the server namespace: restart it with harness/up.sh"
	exit 1
fi
. "$STS_SOURCE_ROOT/tests/fakes/common/rest.sh"
. "$STS_SOURCE_ROOT/tests/fakes/$P/env.sh"
Z=rest-$P.test SRV=$STS_TB_NS_SRV_ADDR
W=$STS_TB_RUN/rest-e2e-$P # stays for debugging; the next run starts afresh
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"
FAKE_WRAP="ip netns exec $STS_TB_NS_SRV"
trap 'fake_stop; rm -f "$STS_TB_NS_SITES/rest-e2e-$P.conf"; rm -rf "$STS_TB_NS_WWW"/mta-sts.*"$Z"' EXIT

# ---------- the server side: the fake, mirrored into PowerDNS; nginx ----------
tb_ns_pdns_zone "$Z" || echo "Bail out! cannot create zone $Z in the namespace's PowerDNS"
printf '%s' "$STS_TB_PDNS_API_KEY" >"$W/pdns.key"
fake_start "$W" --zone "$Z" --mirror-pdns "$STS_TB_NS_API" --mirror-key-file "$W/pdns.key" ||
	{ echo "Bail out! the $P fake did not start"; exit 1; }
tb_mkcert "rest-e2e-$P" "mta-sts.$Z" "mta-sts.sub.$Z" >/dev/null
cat >"$W/site.conf" <<EOC
server {
    listen $SRV:443 ssl;
    server_name mta-sts.$Z mta-sts.sub.$Z;
    ssl_certificate $STS_TB_PKI/rest-e2e-$P.chain.pem;
    ssl_certificate_key $STS_TB_PKI/rest-e2e-$P.key;
    root $STS_TB_NS_WWW/\$host;
    location = /.well-known/mta-sts.txt { default_type text/plain; }
    location / { return 404; }
}
EOC
tb_ns_nginx_site "rest-e2e-$P" "$W/site.conf" || echo "Bail out! nginx refused the site"

/usr/bin/python3 - "$W/inv.json" "$P" "$Z" "$(fake_settings "$W" "$FAKE_URL")" <<PY
import json, sys
out, plugin, z, settings = sys.argv[1:]
dns = json.loads(settings)
dns["plugin"] = plugin
inv = {"version": 1,
       "defaults": {"dns": "dns", "web": "web", "max_age": 86400, "ttl": 60,
                    "tlsrpt": {"rua": ["mailto:tlsrpt@" + z]}},
       "providers": {"dns": dns,
                     "web": {"plugin": "sftp", "host": "$SRV", "user": "$STS_TB_SSH_USER",
                             "key_file": "$STS_TB_SSH_KEY", "known_hosts": "$STS_TB_NS_SSH_KNOWN_HOSTS",
                             "root": "$STS_TB_NS_WWW/{host}", "address": ["$SRV"],
                             "verify": {"https": True, "ca_file": "$STS_TB_CA"}}},
       "domains": [{"name": z, "mode": "enforce", "mx": ["mail." + z]},
                   {"name": "sub." + z, "zone": z, "mode": "testing", "mx": ["mx1.sub." + z]}]}
json.dump(inv, open(out, "w"), indent=1)
PY
apply() { # stsctl apply inside the server namespace
	(cd "$W" && tb_ns_srv "$STSCTL" -v apply inv.json --yes --state state.db >out 2>&1)
}
stats() { fake_get _fake/stats | jq -r ".$1"; }

# ---------- the two clients ----------
cli_id() {
	tb_ns_cli dig +short +time=2 +tries=1 TXT "_mta-sts.$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//'
}
check() { # check ROUND DOMAIN MODE MX-OK MX-BAD
	local round=$1 d=$2 mode=$3 id got line
	id=$(cli_id "$d")
	[ -n "$id" ] && tb_ok "$round: '$d': the client namespace resolves the _mta-sts TXT" ||
		tb_fail "$round: '$d': the client namespace resolves the _mta-sts TXT"
	tb_expect "$round: '$d': the TLS-RPT record is served" "v=TLSRPTv1; rua=mailto:tlsrpt@$Z" \
		"$(tb_ns_cli dig +short +time=2 +tries=1 TXT "_smtp._tls.$d")"
	got=$(tb_ns_cli env SSL_CERT_FILE="$STS_TB_CA" timeout 30 mta-sts-query "$d" 2>&1 | tail -1)
	tb_expect "$round: '$d': mta-sts-query: valid" "STSFetchResult.VALID" "$got"
	tb_expect "$round: '$d': mta-sts-query: the id and the mx" "('$id', {'mx': ['$4']" "$got"
	tb_expect "$round: '$d': mta-sts-query: mode $mode" "'mode': '$mode'" "$got"
	line=$(STS_TB_MX_OK=$4 STS_TB_MX_BAD=$5 tb_mailauth "$d" 2>&1 | grep '"strict":true')
	tb_expect "$round: '$d': mailauth strict: found, with the id and mode" \
		"\"status\":\"found\",\"id\":\"$id\",\"mode\":\"$mode\"" "$line"
	tb_expect "$round: '$d': mailauth: '$4' matches, '$5' does not" '"mxOk":true,"otherMxOk":false' "$line"
	tb_expect "$round: '$d': mailauth: no warning" '"warnings":[]' "$line"
}

# ---------- round 1: publish ----------
apply
rc=$?
tb_expect_eq "apply through the $P fake exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/out"
check publish "$Z" enforce "mail.$Z" "evil.$Z"
check publish "sub.$Z" testing "mx1.sub.$Z" "mail.sub.$Z"

# ---------- a second apply: reads only ----------
$FAKE_WRAP curl -fsS -X POST -o /dev/null "$FAKE_CONTROL_URL/_fake/stats/reset"
apply
tb_expect_eq "second apply exits 0" 0 "$?"
tb_expect "second apply finds nothing to do" "0 domains changed (0 changes), 2 unchanged, 0 failed" "$(cat "$W/out")"
tb_expect_eq "second apply sent no write to the fake" 0 "$(stats writes)"

# ---------- round 2: a mode change ----------
old=$(cli_id "sub.$Z")
tb_inv_edit "$W/inv.json" 'dom("sub.'"$Z"'")["mode"] = "enforce"'
apply
tb_expect_eq "mode change: apply exits 0" 0 "$?"
new=$(cli_id "sub.$Z")
[ -n "$new" ] && [ "$new" != "$old" ] && tb_ok "mode change: a new id" || tb_fail "mode change: a new id" "'$old' -> '$new'"
check changed "sub.$Z" enforce "mx1.sub.$Z" "mail.sub.$Z"
fake_secrets "$W" >"$W/secrets"
if [ ! -s "$W/secrets" ]; then
	tb_fail "env.sh's fake_secrets names the credentials" "nothing printed"
elif grep -qF -f "$W/secrets" "$W/out"; then
	tb_fail "no credential of the fake in stsctl's verbose output"
else
	tb_ok "no credential of the fake in stsctl's verbose output"
fi
# a front before the fake (tests/fakes/README.md: a validating proxy with the
# vendor's API description) saw every request and answer of the run
if declare -F fake_front >/dev/null; then
	if fake_front_check "$W" >"$W/front.txt"; then
		tb_ok "the fake's front found no violation in any request or answer"
	else
		tb_fail "the fake's front found no violation in any request or answer" "$(head -20 "$W/front.txt")"
	fi
fi

tb_done
