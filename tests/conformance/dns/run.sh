#!/bin/bash
# run.sh PLUGIN: the DNS conformance cases (cases.json) against PLUGIN's real
# server or fake, through the driver (tests/conformance/conformance.c).
# Writes the target file the driver reads (the provider instance's settings,
# wrong credentials, the instance behind the fault proxy); hook.sh is what the
# driver calls to put a foreign record in place out of band and to show a
# record in the provider's own form:
#   zonefile  zone files in a temp dir (no server)
#   powerdns  a fresh zone in the testbed's PowerDNS (REST API); the fault
#             proxy (tests/fakes/faultproxy/) in front of it
#   rfc2136   the testbed's BIND, its TSIG-keyed dynamic zone, names under
#             a label of this run
#   skeleton  the REST example (examples/plugin-skeleton/) against its fake
#             (tests/fakes/skeleton-dns/), the fault proxy in front
#   any other a REST provider against its fake tests/fakes/PLUGIN/ (env.sh,
#             tests/fakes/README.md), the fault proxy in front
# Needs STS_SOURCE_ROOT, STS_BUILD_ROOT (meson sets them).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

PLUGIN=$1
W=$(mktemp -d "/tmp/stsctl-conf-$PLUGIN.XXXXXX")
PROXY=
FAKE=
ZONE=
cleanup() {
	[ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null
	declare -F fake_stop >/dev/null && fake_stop
	if [ "$PLUGIN" = powerdns ] && [ -n "$ZONE" ]; then
		curl -sS -o /dev/null -H "X-API-Key: $STS_TB_PDNS_API_KEY" -X DELETE "$STS_TB_PDNS_API/zones/$ZONE."
	fi
	[ -n "${CONF_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
export CONF_W=$W

# wait_port FILE WHAT: a server of ours wrote its port to FILE (bounded wait)
wait_port() {
	for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "Bail out! $2 did not start"
	exit 1
}
# start_proxy STYLE UPSTREAM: the fault proxy in front of UPSTREAM, its
# script empty (everything forwarded) until a case writes one; sets PROXY
start_proxy() {
	: >"$W/script"
	python3 "$STS_SOURCE_ROOT/tests/fakes/faultproxy/faultproxy.py" --style "$1" "$2" \
		"$W/script" "$W/proxy.log" "$W/port" &
	PROXY=$!
	wait_port "$W/port" "the fault proxy"
}

# target FILE PYTHON-DICT: the driver's target file (python: the settings are data)
target() {
	python3 -c 'import json,sys; json.dump(eval(sys.argv[2]), open(sys.argv[1], "w"), indent=1)' "$1" "$2"
}

case "$PLUGIN" in
zonefile)
	ZONE=conf.test
	mkdir -p "$W/zones"
	printf '$TTL 300\n@\tIN SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 60\n\tIN NS ns1.%s.\nns1\tIN A 127.0.0.1\n' \
		"$ZONE" "$ZONE" "$ZONE" >"$W/zones/$ZONE.zone"
	target "$W/target.json" "{'plugin': 'zonefile', 'kind': 'dns', 'zone': '$ZONE', 'hook': '$HERE/hook.sh',
		'settings': {'directory': '$W/zones', 'serial': 'increment'}}"
	;;
powerdns)
	. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
	ZONE=conf-$$.test
	K="X-API-Key: $STS_TB_PDNS_API_KEY"
	curl -sS -o /dev/null -H "$K" -X DELETE "$STS_TB_PDNS_API/zones/$ZONE." 2>/dev/null
	curl -fsS -o /dev/null -H "$K" -H 'Content-Type: application/json' -X POST "$STS_TB_PDNS_API/zones" \
		-d "{\"name\":\"$ZONE.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$ZONE.\"]}" || {
		echo "Bail out! cannot create zone $ZONE in PowerDNS"
		exit 1
	}
	BASE=${STS_TB_PDNS_API%/api/v1/servers/*}
	start_proxy powerdns "$BASE"
	printf '%s' "$STS_TB_PDNS_API_KEY" >"$W/key"
	printf 'not-the-key' >"$W/badkey"
	target "$W/target.json" "{'plugin': 'powerdns', 'kind': 'dns', 'zone': '$ZONE', 'hook': '$HERE/hook.sh',
		'settings': {'url': '$BASE', 'api_key': '\${file:$W/key}', 'timeout': 5},
		'bad_settings': {'url': '$BASE', 'api_key': '\${file:$W/badkey}'},
		'bad_credentials_text': 'rejected the API key (HTTP 401)',
		'faulty_settings': {'url': 'http://127.0.0.1:$(cat "$W/port")', 'api_key': '\${file:$W/key}',
			'timeout': 2, 'retries': 1},
		'fault_script': '$W/script', 'fault_log': '$W/proxy.log'}"
	;;
rfc2136)
	. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
	ZONE=$STS_TB_BIND_ZONE
	sed -n 's/.*secret "\(.*\)";.*/\1/p' "$STS_TB_TSIG_KEY" >"$W/key.b64"
	# the same key name with another secret: BIND answers BADSIG
	printf 'c3RzY3RsIGNvbmZvcm1hbmNlIHdyb25nIHNlY3JldCE=' >"$W/bad.b64"
	target "$W/target.json" "{'plugin': 'rfc2136', 'kind': 'dns', 'zone': '$ZONE', 'prefix': 'c$$', 'hook': '$HERE/hook.sh',
		'settings': {'server': '127.0.0.1', 'port': $STS_TB_BIND_PORT, 'key_name': '$STS_TB_TSIG_NAME',
			'key_secret': '\${file:$W/key.b64}', 'zones': ['$ZONE']},
		'bad_settings': {'server': '127.0.0.1', 'port': $STS_TB_BIND_PORT, 'key_name': '$STS_TB_TSIG_NAME',
			'key_secret': '\${file:$W/bad.b64}', 'zones': ['$ZONE']},
		'bad_credentials_text': 'BADSIG'}"
	;;
skeleton)
	# the REST example against its fake (paged listings: 20 records a page),
	# the fault proxy in front with the fake's error shape
	ZONE=conf.test
	TOKEN=conf-token-$$
	echo "{\"zones\": {\"$ZONE\": []}}" >"$W/seed.json"
	python3 "$STS_SOURCE_ROOT/tests/fakes/skeleton-dns/fakedns.py" --port-file "$W/fake.port" \
		--token "$TOKEN" --seed "$W/seed.json" --page-size 20 &
	FAKE=$!
	wait_port "$W/fake.port" "the fake API"
	API=http://127.0.0.1:$(cat "$W/fake.port")
	start_proxy nested "$API"
	printf '%s' "$TOKEN" >"$W/token"
	printf 'not-the-token' >"$W/badtoken"
	export STS_FAKE_API=$API STS_FAKE_TOKEN=$TOKEN
	target "$W/target.json" "{'plugin': 'skeleton', 'kind': 'dns', 'zone': '$ZONE', 'hook': '$HERE/hook.sh',
		'settings': {'url': '$API/v1', 'token': '\${file:$W/token}', 'per_page': 20, 'rate_limit': '1000/s', 'timeout': 5},
		'bad_settings': {'url': '$API/v1', 'token': '\${file:$W/badtoken}', 'rate_limit': '1000/s'},
		'bad_credentials_text': 'missing or invalid bearer token',
		'faulty_settings': {'url': 'http://127.0.0.1:$(cat "$W/port")/v1', 'token': '\${file:$W/token}',
			'per_page': 20, 'rate_limit': '1000/s', 'timeout': 2},
		'fault_script': '$W/script', 'fault_log': '$W/proxy.log'}"
	;;
*)
	# a REST provider: its fake (tests/fakes/PLUGIN/, tests/fakes/README.md),
	# small pages, the fault proxy in front with the vendor's error shape
	if [ ! -f "$STS_SOURCE_ROOT/tests/fakes/$PLUGIN/env.sh" ]; then
		echo "Bail out! no conformance target for DNS plugin '$PLUGIN' in $0"
		exit 1
	fi
	. "$STS_SOURCE_ROOT/tests/fakes/common/rest.sh"
	. "$STS_SOURCE_ROOT/tests/fakes/$PLUGIN/env.sh"
	ZONE=conf.test
	fake_start "$W" --zone "$ZONE" --page-size 20 || {
		echo "Bail out! the $PLUGIN fake did not start"
		exit 1
	}
	FAKE=$FAKE_PID
	start_proxy "$FAKE_STYLE" "$FAKE_URL"
	PURL=http://127.0.0.1:$(cat "$W/port")
	export STS_FAKE_API=$FAKE_CONTROL_URL # the /_fake/ controls: the fake itself, not a front
	python3 - "$W/target.json" "$PLUGIN" "$ZONE" "$HERE/hook.sh" "$FAKE_BAD_TEXT" "$W/script" "$W/proxy.log" \
		"$(fake_settings "$W" "$FAKE_URL")" "$(fake_bad_settings "$W" "$FAKE_URL")" \
		"$(fake_settings "$W" "$PURL")" <<'PY'
import json, sys
(out, plugin, zone, hook, bad_text, script, log, good, bad, faulty) = sys.argv[1:]
faulty = json.loads(faulty)
faulty.setdefault("timeout", 2)
json.dump({"plugin": plugin, "kind": "dns", "zone": zone, "hook": hook,
           "settings": json.loads(good), "bad_settings": json.loads(bad),
           "bad_credentials_text": bad_text, "faulty_settings": faulty,
           "fault_script": script, "fault_log": log}, open(out, "w"), indent=1)
PY
	;;
esac
{
	printf 'CONF_PLUGIN=%q\nCONF_ZONE=%q\n' "$PLUGIN" "$ZONE"
	env | grep -E '^STS_(TB_PDNS_API|TB_PDNS_API_KEY|TB_BIND_PORT|TB_TSIG_KEY|FAKE_API|FAKE_TOKEN)=' | sed 's/^/export /; s/=\(.*\)/="\1"/'
} >"$W/hook.env"
# the plugins of this build, as the build tree's stsctl finds them, and the skeleton
STSCTL_PLUGIN_PATH=$STS_BUILD_ROOT/plugins:$STS_BUILD_ROOT/tests/conformance "$STS_BUILD_ROOT/tests/conformance/conformance" "$W/target.json" "$HERE/cases.json"
rc=$?
# a fake's front (tests/fakes/README.md: a validating proxy) that found a
# request or an answer wrong fails the run
if declare -F fake_front_check >/dev/null && ! fake_front_check "$W" >"$W/front.txt"; then
	echo "Bail out! the $PLUGIN fake's front found violations:"
	sed 's/^/# /' "$W/front.txt" | head -40
	exit 1
fi
exit $rc
