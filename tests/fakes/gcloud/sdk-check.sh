#!/bin/bash
# fake-fidelity-gcloud: Google's Node SDK (@google-cloud/dns with
# google-auth-library, installed in $STS_TB_SDK by
# tests/integration/harness/install.sh) drives the gcloud fake through every
# operation the plugin uses (sdk-check.js), the service account's JWT grant
# included. TAP. A missing SDK is a failure, never a skip.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common/sdk.sh"
sdk_need "the Google Cloud DNS SDK" @google-cloud/dns/package.json google-auth-library/package.json
# 2 rrsets a page; the quota's window stretched to 10 minutes so that the
# burst of the rate-limit check falls in one window on a loaded machine
fake_start "$W" --zone sdk.test --zone other.test --page-size 2 --rate-scale 0.1 || exit 1
PIDS+=("$FAKE_PID")
for i in $(seq 1 9); do
	curl -fsS -o /dev/null -H 'Content-Type: application/json' -X POST "$FAKE_URL/_fake/seed" \
		-d "{\"zone\": \"sdk.test\", \"name\": \"p$i.sdk.test\", \"type\": \"TXT\", \"ttl\": 300, \"content\": \"\\\"page $i\\\"\"}" ||
		exit 1
done
fake_settings "$W" "$FAKE_URL" >/dev/null
fake_bad_settings "$W" "$FAKE_URL" >/dev/null
NODE_PATH=$STS_TB_SDK/node_modules node "$HERE/sdk-check.js" "$FAKE_URL" "$W/gc-key.json" "$W/gc-bad.json"
