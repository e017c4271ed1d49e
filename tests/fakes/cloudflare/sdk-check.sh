#!/bin/bash
# sdk-check.sh: the cloudflare fake's fidelity (tests/fakes/README.md): the
# vendor's own SDK (npm cloudflare, in $STS_TB_SDK) drives the fake through
# every operation the plugin uses and must parse every answer (sdk-check.js,
# TAP). Fails, never skips, when node or the SDK is missing.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the Cloudflare SDK" cloudflare
mkdir -p "$W/main" "$W/rl"
# seven zones and pages of 5: the zone and the record listings span pages
# shellcheck disable=SC2046
fake_start "$W/main" --page-size 5 --zone sdk.test $(printf -- '--zone z%d.test ' 1 2 3 4 5 6) ||
	{ echo "Bail out! the cloudflare fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
MAIN_URL=$FAKE_URL
# another for the rate limit: the documented 1200 requests, the 5-minute
# window compressed 3 times (100 s: long enough to use it up)
fake_start "$W/rl" --rate-scale 3 --zone rl.test ||
	{ echo "Bail out! the second cloudflare fake did not start"; exit 1; }
PIDS+=("$FAKE_PID")
cd "$W" && NODE_PATH=$STS_TB_SDK/node_modules CF_URL=$MAIN_URL CF_RL_URL=$FAKE_URL \
	CF_TOKEN=$(cat "$W/main/cf.token") CF_RL_TOKEN=$(cat "$W/rl/cf.token") node "$HERE/sdk-check.js"
