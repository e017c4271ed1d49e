#!/bin/bash
# fake-fidelity-ovh: the OVHcloud Node SDK (@ovhcloud/node-ovh, installed in
# $STS_TB_SDK by tests/integration/harness/install.sh) drives the ovh fake
# through every operation the plugin uses (sdk-check.js), signed with the
# SDK's own signature code. TAP. A missing SDK is a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the OVHcloud SDK" @ovhcloud/node-ovh/package.json
mkdir -p "$W/a" "$W/b"
fake_start "$W/a" --zone sdk.test --zone other.test --rate-scale 1000 || exit 1
PIDS+=("$FAKE_PID")
PORT=${FAKE_URL##*:}
# the rate-limit check: 60 requests, the window stretched to 20 minutes so
# that a burst on a loaded machine still falls in one window
cp "$W/a"/ovh.* "$W/b/"
fake_start "$W/b" --zone sdk.test --rate-scale 0.05 || exit 1
PIDS+=("$FAKE_PID")
NODE_PATH=$STS_TB_SDK/node_modules node "$HERE/sdk-check.js" "$PORT" "$(cat "$W/a/ovh.ak")" \
	"$(cat "$W/a/ovh.as")" "$(cat "$W/a/ovh.ck")" "${FAKE_URL##*:}"
