#!/bin/bash
# sdk-check.sh: the route53 fake's fidelity (tests/fakes/README.md): AWS's own
# SDK (npm @aws-sdk/client-route-53, in $STS_TB_SDK) signs its requests with
# Signature Version 4 and drives the fake through every operation the plugin
# uses, and must parse every answer (sdk-check.js, TAP). Fails, never skips,
# when node or the SDK is missing.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the AWS SDK for Route 53" @aws-sdk/client-route-53
mkdir -p "$W/main" "$W/rl"
# seven zones and pages of 5: the zone and the rrset listings span pages; the
# limit of 5 requests a second compressed 100 times, so that the checks in a
# row are not throttled
# shellcheck disable=SC2046
fake_start "$W/main" --page-size 5 --rate-scale 100 --zone sdk.test $(printf -- '--zone z%d.test ' 1 2 3 4 5 6) ||
	{ echo "Bail out! the route53 fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
MAIN_URL=$FAKE_URL
# another at Route 53's real limit (5 a second) for the Throttling check
fake_start "$W/rl" --zone rl.test ||
	{ echo "Bail out! the second route53 fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
cd "$W" && NODE_PATH=$STS_TB_SDK/node_modules R53_URL=$MAIN_URL R53_RL_URL=$FAKE_URL \
	R53_KEY_ID=$(cat "$W/main/r53.keyid") R53_SECRET=$(cat "$W/main/r53.secret") \
	R53_RL_KEY_ID=$(cat "$W/rl/r53.keyid") R53_RL_SECRET=$(cat "$W/rl/r53.secret") \
	node "$HERE/sdk-check.js"
