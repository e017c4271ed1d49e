#!/bin/bash
# fake-fidelity-linode: Linode's Node SDK (@linode/api-v4, installed in
# $STS_TB_SDK by tests/integration/harness/install.sh) drives the linode fake
# through every operation the plugin uses (sdk-check.js). TAP. A missing SDK
# is a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the Linode SDK" @linode/api-v4/package.json
mkdir -p "$W/a" "$W/b"
# the functional checks: two items a page, the limits' window compressed away
fake_start "$W/a" --zone sdk.test --zone other.test --zone third.test --page-size 2 --rate-scale 1000 || exit 1
PIDS+=("$FAKE_PID")
URL=$FAKE_URL
# the rate-limit check: Linode's 200 listings a minute, the window stretched
# to 20 minutes so that the burst falls in one window on a loaded machine
cp "$W/a/linode.token" "$W/b/linode.token"
fake_start "$W/b" --zone sdk.test --rate-scale 0.05 || exit 1
PIDS+=("$FAKE_PID")
urls=()
for i in $(seq 200); do urls+=("$FAKE_URL/v4/domains?page=1&page_size=25"); done
curl -sS -H "Authorization: Bearer $(cat "$W/a/linode.token")" "${urls[@]}" >/dev/null
NODE_PATH=$STS_TB_SDK/node_modules node "$HERE/sdk-check.js" "$URL" "$(cat "$W/a/linode.token")" "$FAKE_URL"
