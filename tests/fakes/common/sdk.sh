# shellcheck shell=bash
# The common start of a fake's fidelity check (tests/fakes/<p>/sdk-check.sh,
# tests/fakes/README.md), sourced after the script sets HERE (its folder):
# the testbed's paths ($STS_TB_SDK), rest.sh, the provider's env.sh, a work
# folder W removed at exit, and PIDS, processes killed at exit (an entry may
# hold several pids: "FAKE FRONT").
#
#   sdk_need WHAT PATH...   fail (TAP) unless node and every
#                           $STS_TB_SDK/node_modules/PATH exist: a missing
#                           SDK is a failure, never a skip
ROOT=${STS_SOURCE_ROOT:-$(cd "$HERE/../../.." && pwd)}
. "$ROOT/tests/integration/harness/lib.sh"
. "$ROOT/tests/fakes/common/rest.sh"
. "$HERE/env.sh"

sdk_need() {
	local what=$1 m
	shift
	for m in "$@"; do
		if ! command -v node >/dev/null || [ ! -e "$STS_TB_SDK/node_modules/$m" ]; then
			echo "1..1"
			echo "not ok 1 - $what is in $STS_TB_SDK (node, node_modules/$m: run tests/integration/harness/install.sh)"
			exit 1
		fi
	done
}

W=$(mktemp -d "/tmp/stsctl-sdk-$FAKE_PLUGIN.XXXXXX")
PIDS=()
# shellcheck disable=SC2086 # an entry may be "FAKE FRONT"
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; rm -rf "$W"' EXIT
