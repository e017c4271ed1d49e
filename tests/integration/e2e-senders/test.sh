#!/bin/bash
# End to end: a deployment made by `stsctl apply` that two independent, real
# MTA-STS sender implementations accept. All of it in the testbed's network
# namespaces, nothing on loopback:
#   server namespace   PowerDNS :53 (driven by the powerdns plugin through its
#                      API), sshd :22 (the sftp plugin uploads there), nginx
#                      :443 serving the sftp root with a certificate from the
#                      testbed CA; stsctl itself runs here, so its HTTPS
#                      verification resolves the policy host through the real
#                      DNS, like a sender
#   client namespace   postfix-mta-sts-resolver (`mta-sts-query`, one shot, no
#                      cache) and mailauth's MTA-STS module in strict mode with
#                      a policy cache kept between runs (mailauth-cache.js)
# Domains: an apex in enforce, a subdomain in testing (zone = its parent),
# mode none, and a wildcard mx. Both clients must accept each policy with the
# expected id, mode and mx; then stsctl changes two modes and both clients see
# the new id and mode (mailauth fetches again because the id changed, and
# keeps its cached policy for the domains whose id did not).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
if [ -z "${STS_TB_NS_SSH_KNOWN_HOSTS:-}" ] || ! tb_ns_srv ss -Hltn "src $STS_TB_NS_SRV_ADDR:22" | grep -q .; then
	echo "Bail out! the testbed has no sshd in the server namespace: restart it with harness/up.sh"
	exit 1
fi
ZA=e2e-a.test ZB=e2e-b.test SRV=$STS_TB_NS_SRV_ADDR
W=$STS_TB_RUN/e2e-senders # stays for debugging; the next run starts afresh
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"
trap 'rm -f "$STS_TB_NS_SITES/e2e-senders.conf"; rm -rf "$STS_TB_NS_WWW"/mta-sts.*.test' EXIT

# domain | zone | mode | mx patterns (JSON) | an MX that must match | one that must not
DOMAINS="
$ZA         |$ZA|enforce|[\"mail.$ZA\"]              |mail.$ZA       |evil.$ZA
testing.$ZA |$ZA|testing|[\"mx1.$ZA\", \"mx2.$ZA\"] |mx2.$ZA        |mail.testing.$ZA
$ZB         |$ZB|none   |[\"mail.$ZB\"]              |mail.$ZB       |anything.example
wild.$ZB    |$ZB|enforce|[\"*.mx.$ZB\"]              |a.mx.$ZB       |b.a.mx.$ZB
"
field() { echo "$1" | cut -d'|' -f"$2" | tr -d ' '; }
each() { echo "$DOMAINS" | grep -v '^$'; }

# ---------- the server side ----------
tb_ns_pdns_zone $ZA && tb_ns_pdns_zone $ZB || echo "Bail out! cannot create the zones"
hosts=$(each | while read -r l; do printf 'mta-sts.%s ' "$(field "$l" 1)"; done)
# shellcheck disable=SC2086
tb_mkcert e2e $hosts >/dev/null
cat >"$W/site.conf" <<EOF
server {
    listen $SRV:443 ssl;
    server_name $hosts;
    ssl_certificate $STS_TB_PKI/e2e.chain.pem;
    ssl_certificate_key $STS_TB_PKI/e2e.key;
    root $STS_TB_NS_WWW/\$host;
    location = /.well-known/mta-sts.txt { default_type text/plain; }
    location / { return 404; }
}
EOF
tb_ns_nginx_site e2e-senders "$W/site.conf" || echo "Bail out! nginx refused the site"

doms=$(each | while read -r l; do
	printf '%s{"name": "%s", "zone": "%s", "mode": "%s", "mx": %s}' "${sep:-}" "$(field "$l" 1)" \
		"$(field "$l" 2)" "$(field "$l" 3)" "$(echo "$l" | cut -d'|' -f4 | sed 's/ *$//')"
	sep=", "
done | sed 's/}{/}, {/g')
cat >"$W/inv.json" <<EOF
{"version": 1,
 "defaults": {"dns": "pdns", "web": "web", "max_age": 86400, "ttl": 60,
              "tlsrpt": {"rua": ["mailto:tlsrpt@$ZA"]}},
 "providers": {
   "pdns": {"plugin": "powerdns", "url": "${STS_TB_NS_API%/api/v1/servers/*}/", "api_key": "\${env:PDNS_KEY}",
            "insecure_http": true},
   "web": {"plugin": "sftp", "host": "$SRV", "user": "$STS_TB_SSH_USER", "key_file": "$STS_TB_SSH_KEY",
           "known_hosts": "$STS_TB_NS_SSH_KNOWN_HOSTS", "root": "$STS_TB_NS_WWW/{host}",
           "address": ["$SRV"], "verify": {"https": true, "ca_file": "$STS_TB_CA"}}},
 "domains": [$doms]}
EOF
apply() { # stsctl apply inside the server namespace
	(cd "$W" && tb_ns_srv env PDNS_KEY="$STS_TB_PDNS_API_KEY" "$STSCTL" -v apply inv.json --yes --state state.db >out 2>&1)
}

# ---------- the two clients ----------
cli_id() { # the id a client-namespace resolver sees
	tb_ns_cli dig +short +time=2 +tries=1 TXT "_mta-sts.$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//'
}
mta_sts_query() {
	tb_ns_cli env SSL_CERT_FILE="$STS_TB_CA" timeout 30 mta-sts-query "$1" 2>&1 | tail -1
}
mailauth() { # mailauth-cache.js over every domain; one JSON line each
	local args=()
	while read -r l; do args+=("$(field "$l" 1),$(field "$l" 5),$(field "$l" 6)"); done < <(each)
	tb_ns_cli env NODE_EXTRA_CA_CERTS="$STS_TB_CA" NODE_PATH="$STS_TB_NODE_PATH" \
		timeout 60 node "$STS_SOURCE_ROOT/tests/integration/e2e-senders/mailauth-cache.js" \
		"$W/mailauth-cache.json" "${args[@]}" 2>&1
}
mx_py() { # the mx list as Python prints it: ['a', 'b']
	echo "$1" | sed "s/\"/'/g"
}
mx_js() { # ... and as JSON.stringify does: ["a","b"]
	echo "$1" | sed 's/", "/","/g'
}

# check ROUND STATUS_OF_DOMAIN...: both clients against every domain
check() {
	local round=$1 ma l d mode mx id got line
	ma=$(mailauth)
	while read -r l; do
		d=$(field "$l" 1) mode=$(field "$l" 3)
		mx=$(echo "$l" | cut -d'|' -f4 | sed 's/ *$//')
		id=$(cli_id "$d")
		[ -n "$id" ] && tb_ok "$round: '$d': the client namespace resolves the _mta-sts TXT" ||
			tb_fail "$round: '$d': the client namespace resolves the _mta-sts TXT"
		tb_expect_eq "$round: '$d': the policy host resolves to the server" "$SRV" \
			"$(tb_ns_cli dig +short +time=2 +tries=1 A "mta-sts.$d")"
		got=$(mta_sts_query "$d")
		tb_expect "$round: '$d': mta-sts-query: valid" "STSFetchResult.VALID" "$got"
		tb_expect "$round: '$d': mta-sts-query: the id and the mx" "('$id', {'mx': $(mx_py "$mx")" "$got"
		tb_expect "$round: '$d': mta-sts-query: mode $mode" "'mode': '$mode'" "$got"
		line=$(echo "$ma" | grep "^{\"domain\":\"$d\"")
		tb_expect "$round: '$d': mailauth strict: $(status_of "$d") with the id, mode and mx" \
			"\"status\":\"$(status_of "$d")\",\"id\":\"$id\",\"mode\":\"$mode\",\"mx\":$(mx_js "$mx")" "$line"
		case $mode in
		none) want='"mxOk":true,"otherMxOk":true' ;; # mode none checks nothing
		*) want='"mxOk":true,"otherMxOk":false' ;;
		esac
		tb_expect "$round: '$d': mailauth validateMx: '$(field "$l" 5)' matches, '$(field "$l" 6)' $([ "$mode" = none ] && echo 'passes too (mode none)' || echo "does not")" \
			"$want" "$line"
		tb_expect "$round: '$d': mailauth: no error, no warning" '"warnings":[]}' "$line"
	done < <(each)
}

# ---------- round 1: publish ----------
apply
rc=$?
tb_expect_eq "apply in the server namespace exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$W/out"
tb_expect_eq "one SSH connection for all four domains" 1 "$(grep -c '\[web:sftp\] connected to' "$W/out")"
status_of() { echo found; }
check "publish"

# the cache holds: without a change mailauth keeps every cached policy
out=$(mailauth)
tb_expect_eq "unchanged: mailauth renews all four from its cache (same ids)" 4 "$(echo "$out" | grep -c '"status":"renewed"')"

# ---------- round 2: a mode change through stsctl ----------
old_t=$(cli_id "testing.$ZA") old_b=$(cli_id "$ZB") old_a=$(cli_id "$ZA")
# the comparisons below mean something only if all three were published
[ -n "$old_t" ] && [ -n "$old_b" ] && [ -n "$old_a" ] && tb_ok "before the mode change: three ids resolve" ||
	tb_fail "before the mode change: three ids resolve" "testing.$ZA '$old_t', $ZB '$old_b', $ZA '$old_a'"
python3 - "$W/inv.json" "$ZA" "$ZB" <<'PY'
import json, sys
p, za, zb = sys.argv[1:]
inv = json.load(open(p))
for d in inv["domains"]:
    if d["name"] == "testing." + za:
        d["mode"] = "enforce"
    if d["name"] == zb:
        d["mode"] = "testing"
json.dump(inv, open(p, "w"), indent=1)
PY
DOMAINS=$(echo "$DOMAINS" | sed -e "s/^testing.$ZA |$ZA|testing|/testing.$ZA |$ZA|enforce|/" \
	-e "s/^$ZB         |$ZB|none   |/$ZB         |$ZB|testing|/")
apply
tb_expect_eq "mode change: apply exits 0" 0 "$?"
tb_expect "mode change: two domains changed" "2 domains changed" "$(cat "$W/out")"
new_t=$(cli_id "testing.$ZA") new_b=$(cli_id "$ZB")
[ -n "$new_t" ] && [ -n "$new_b" ] && [ "$new_t" != "$old_t" ] && [ "$new_b" != "$old_b" ] && tb_ok "mode change: new ids for both" ||
	tb_fail "mode change: new ids for both" "testing.$ZA '$old_t' -> '$new_t'; $ZB '$old_b' -> '$new_b'"
tb_expect_eq "mode change: the unchanged domain keeps its id" "$old_a" "$(cli_id "$ZA")"
status_of() { case $1 in "testing.$ZA" | "$ZB") echo found ;; *) echo renewed ;; esac; }
check "changed"

tb_done
