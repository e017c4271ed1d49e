#!/bin/bash
# fake-fidelity-vultr: the Vultr Node SDK (@vultr/vultr-node, installed in
# $STS_TB_SDK by tests/integration/harness/install.sh) drives the vultr fake
# through every operation the plugin uses (sdk-check.js). TAP. A missing SDK
# is a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the Vultr SDK" @vultr/vultr-node/package.json
mkdir -p "$W/a" "$W/b"
# the functional checks: Vultr's limit compressed out of the way
fake_start "$W/a" --zone sdk.test --zone other.test --page-size 2 --rate-scale 1000 || exit 1
PIDS+=("$FAKE_PID")
URL=$FAKE_URL
# the rate-limit check: Vultr's 30 requests, the window stretched to 20 s so
# that a burst on a loaded machine still falls in one window
cp "$W/a/vultr.key" "$W/b/vultr.key"
fake_start "$W/b" --zone sdk.test --rate-scale 0.05 || exit 1
PIDS+=("$FAKE_PID")
NODE_PATH=$STS_TB_SDK/node_modules node "$HERE/sdk-check.js" "$URL" "$(cat "$W/a/vultr.key")" "$FAKE_URL"
