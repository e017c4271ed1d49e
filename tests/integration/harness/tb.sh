# shellcheck shell=bash
# Sourced by every integration case: `. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"`.
# Brings the testbed up when this test runs alone (the `testbed-up` fixture
# normally did it already), sources $STS_TB_RUN/env.sh, and offers:
#   TAP output      tb_ok NAME, tb_fail NAME WHY, tb_expect NAME WANT GOT (substring),
#                   tb_expect_eq NAME WANT GOT, tb_done (prints the plan; exit status)
#   PKI             tb_mkcert NAME DNSNAME...    -> $STS_TB_PKI/NAME.{key,chain.pem}
#   BIND            tb_bind_zone ZONE FILE       load or reload ZONE from FILE
#                   tb_dig_bind NAME TYPE        dig +short at the loopback BIND
#   nginx           tb_nginx_site NAME CONF      install a server block, reload
#                   tb_nginx_site_rm NAME
#                   tb_curl_policy DOMAIN OUT    fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt
#   namespaces      tb_ns_cli CMD...             run in the client namespace
#                   tb_ns_pdns_patch JSON        PATCH rrsets into zone of the srv PowerDNS
#                   tb_ns_nginx_site NAME CONF   server block for the srv nginx
#                   tb_mailauth DOMAIN...        mailauth getPolicy from the client namespace
#   inventories     tb_inv_edit FILE PYTHON      edit FILE in place: PYTHON sees `inv` and dom(name)
#   test hooks      tb_need_test_hooks           bail out unless $STSCTL was built with
#                                                -Dtest_hooks=true (STSCTL_TEST_NOW, ..._CRASH_AFTER)
# Needs: STS_SOURCE_ROOT (source tree) and STSCTL (the built binary) from meson.
set -uo pipefail
_TB_H=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_TB_H/lib.sh"

if [ ! -e "$STS_TB_RUN/env.sh" ]; then
	tb_log "testbed not running, starting it for this test"
	"$_TB_H/up.sh" || {
		echo "Bail out! testbed did not start"
		exit 1
	}
fi
. "$STS_TB_RUN/env.sh"
# This image presets these to the system bundle; never let them leak into a test.
unset SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE

# A case that sets STSCTL_TEST_NOW or STSCTL_TEST_CRASH_AFTER needs a build
# that has the hooks (meson -Dtest_hooks=true, as tests/run.sh configures):
# without them it fails at once, saying so, instead of testing nothing.
tb_need_test_hooks() {
	if ! grep -q STSCTL_TEST_NOW "$STSCTL"; then
		echo "Bail out! $STSCTL has no test hooks: configure the build with -Dtest_hooks=true"
		exit 1
	fi
}

_tb_n=0
_tb_failed=0
tb_ok() {
	_tb_n=$((_tb_n + 1))
	echo "ok $_tb_n - $1"
}
tb_fail() {
	_tb_n=$((_tb_n + 1))
	_tb_failed=$((_tb_failed + 1))
	echo "not ok $_tb_n - $1"
	[ $# -lt 2 ] || printf '%s\n' "$2" | sed 's/^/# /'
}
tb_expect() { # substring match
	if [[ "$3" == *"$2"* ]]; then tb_ok "$1"; else tb_fail "$1" "want '$2' in: $3"; fi
}
tb_expect_eq() {
	if [ "$2" = "$3" ]; then tb_ok "$1"; else tb_fail "$1" "want '$2' got '$3'"; fi
}
tb_done() {
	echo "1..$_tb_n"
	[ "$_tb_failed" = 0 ]
}

tb_mkcert() {
	"$_TB_H/mkcert.sh" "$STS_TB_PKI" "$@"
}

_tb_rndc() { rndc -c "$STS_TB_RNDC_CONF" "$@"; }

# tb_bind_zone ZONE FILE: copy FILE into the BIND's zone folder, add a zone
# statement (rndc reconfig) or reload it, and wait until its SOA answers.
tb_bind_zone() {
	local zone=$1 src=$2 dst
	dst=$(dirname "$STS_TB_TSIG_KEY")/zones/$zone.zone
	cp "$src" "$dst" || return 1
	if grep -q "^zone \"$zone\" " "$(dirname "$STS_TB_TSIG_KEY")/cases.conf"; then
		_tb_rndc reload "$zone" >/dev/null || return 1
	else
		printf 'zone "%s" { type primary; file "%s"; };\n' "$zone" "$dst" \
			>>"$(dirname "$STS_TB_TSIG_KEY")/cases.conf"
		_tb_rndc reconfig >/dev/null || return 1
	fi
	local serial
	serial=$(awk '/SOA/ { for (i = 1; i <= NF; i++) if ($i == "SOA") { print $(i + 3); exit } }' "$src")
	for _ in $(seq 50); do
		[ "$(tb_dig_bind "$zone" SOA | awk '{print $3}')" = "$serial" ] && return 0
		sleep 0.1
	done
	echo "tb_bind_zone: zone '$zone' not served with serial '$serial'" >&2
	return 1
}

tb_dig_bind() {
	dig @127.0.0.1 -p "$STS_TB_BIND_PORT" +short +norecurse +time=2 +tries=1 "$1" "$2"
}

_tb_nginx_reload() { # _tb_nginx_reload PREFIX [netns]
	local prefix=$1 pid
	pid=$(cat "$prefix/logs/nginx.pid") || return 1
	if [ $# -gt 1 ]; then
		ip netns exec "$2" nginx -q -t -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" || return 1
	else
		nginx -q -t -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" || return 1
	fi
	local before
	before=$(pgrep -P "$pid" | sort)
	kill -HUP "$pid" || return 1
	# reloaded when the old workers are gone and a new one runs
	for _ in $(seq 100); do
		local now
		now=$(pgrep -P "$pid" | sort)
		if [ -n "$now" ] && [ -z "$(comm -12 <(echo "$before") <(echo "$now"))" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "tb: nginx under '$prefix' did not reload" >&2
	return 1
}

tb_nginx_site() {
	cp "$2" "$STS_TB_NGINX_SITES/$1.conf" && _tb_nginx_reload "$(dirname "$STS_TB_NGINX_SITES")"
}
tb_nginx_site_rm() {
	rm -f "$STS_TB_NGINX_SITES/$1.conf" && _tb_nginx_reload "$(dirname "$STS_TB_NGINX_SITES")"
}

# tb_curl_policy DOMAIN OUTFILE: GET the policy from the loopback nginx the way
# a sender does (SNI + certificate checked against the testbed CA, no
# redirects); prints "HTTP_CODE CONTENT_TYPE".
tb_curl_policy() {
	curl -sS --max-time 10 --proto =https --cacert "$STS_TB_CA" \
		--resolve "mta-sts.$1:$STS_TB_HTTPS_PORT:127.0.0.1" -o "$2" -w '%{http_code} %{content_type}' \
		"https://mta-sts.$1:$STS_TB_HTTPS_PORT/.well-known/mta-sts.txt"
}

tb_ns_cli() {
	ip netns exec "$STS_TB_NS_CLI" "$@"
}
tb_ns_srv() {
	ip netns exec "$STS_TB_NS_SRV" "$@"
}

# tb_ns_pdns_zone ZONE: (re)create an empty native zone in the srv PowerDNS.
tb_ns_pdns_zone() {
	tb_ns_srv curl -sS -o /dev/null -H "X-API-Key: $STS_TB_PDNS_API_KEY" -X DELETE "$STS_TB_NS_API/zones/$1." 2>/dev/null
	tb_ns_srv curl -fsS -o /dev/null -H "X-API-Key: $STS_TB_PDNS_API_KEY" -H 'Content-Type: application/json' \
		-X POST "$STS_TB_NS_API/zones" -d "{\"name\":\"$1.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$1.\"]}"
}
# tb_ns_pdns_patch ZONE JSONFILE: one PATCH of rrsets (batch them: each PATCH costs O(zone)).
tb_ns_pdns_patch() {
	tb_ns_srv curl -fsS -o /dev/null -H "X-API-Key: $STS_TB_PDNS_API_KEY" -H 'Content-Type: application/json' \
		-X PATCH "$STS_TB_NS_API/zones/$1." --data @"$2"
}
tb_ns_nginx_site() {
	cp "$2" "$STS_TB_NS_SITES/$1.conf" && _tb_nginx_reload "$(dirname "$STS_TB_NS_SITES")" "$STS_TB_NS_SRV"
}

tb_mailauth() {
	tb_ns_cli env NODE_EXTRA_CA_CERTS="$STS_TB_CA" NODE_PATH="$STS_TB_NODE_PATH" \
		node "$STS_TB_MAILAUTH" "$@"
}

# tb_inv_edit FILE PYTHON: edit a JSON inventory in place, e.g.
#   tb_inv_edit "$W/inv.json" 'dom("a.test")["mode"] = "enforce"'
tb_inv_edit() {
	python3 - "$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    inv = json.load(f)
def dom(name):
    return next(d for d in inv["domains"] if d["name"] == name)
exec(code)
with open(path, "w", encoding="utf-8") as f:
    json.dump(inv, f, indent=1, ensure_ascii=False)
    f.write("\n")
PY
}
