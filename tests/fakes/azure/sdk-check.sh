#!/bin/bash
# sdk-check.sh: the azure fake's fidelity (tests/fakes/README.md): the
# vendor's own SDK (npm @azure/arm-dns with @azure/identity's
# ClientSecretCredential, in $STS_TB_SDK) drives the fake through every
# operation the plugin uses, the token flow included, and must parse every
# answer (sdk-check.js, TAP). Fails, never skips, when node or the SDK is
# missing.
#
# The SDKs refuse a bearer token or an authority over plain http, so the
# check puts a TLS front of its own (sdk-check.js, a throwaway certificate
# made here and trusted through NODE_EXTRA_CA_CERTS) before each listener
# of the fake; the fake itself stays plain http on 127.0.0.1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the Azure SDK" @azure/arm-dns @azure/identity
mkdir -p "$W/main" "$W/rl"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$W/tls.key" -out "$W/tls.crt" 2>"$W/openssl.err" ||
	{ echo "Bail out! cannot make the TLS front's certificate"; cat "$W/openssl.err" >&2; exit 1; }
# four zones and pages of 2: the zone and the record set listings span pages
fake_start "$W/main" --page-size 2 --zone sdk.test --zone z1.test --zone z2.test --zone z3.test ||
	{ echo "Bail out! the azure fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
MAIN_URL=$FAKE_URL MAIN_LOGIN=http://127.0.0.1:$(cat "$W/main/login.port")
# another for the rate limit: writes lowered to 2 an hour
fake_start "$W/rl" --write-limit 2 --zone rl.test || { echo "Bail out! the second azure fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
cd "$W" && NODE_PATH=$STS_TB_SDK/node_modules NODE_EXTRA_CA_CERTS=$W/tls.crt \
	AZ_URL=$MAIN_URL AZ_LOGIN=$MAIN_LOGIN AZ_RL_URL=$FAKE_URL AZ_RL_LOGIN=http://127.0.0.1:$(cat "$W/rl/login.port") \
	AZ_TLS_KEY=$W/tls.key AZ_TLS_CRT=$W/tls.crt AZ_TENANT=$AZ_FAKE_TENANT AZ_CLIENT=$AZ_FAKE_CLIENT \
	AZ_SUB=$AZ_FAKE_SUB AZ_RG=$AZ_FAKE_RG AZ_SECRET=$(cat "$W/main/az.secret") AZ_RL_SECRET=$(cat "$W/rl/az.secret") \
	node "$HERE/sdk-check.js"
