#!/bin/bash
# Install what stsctl's build and tests need on Debian 12, as root. Idempotent.
#   install.sh --build   build dependencies only (packages-build.txt)
#   install.sh           build + test dependencies (+ packages-test.txt, Node.js,
#                        mailauth into $STS_TB_NODE for the integration tests)
# apt must not start the daemons it installs (they would take ports
# 22/25/53/80/143): when the box has no /usr/sbin/policy-rc.d, one that
# refuses every start is put in place for the duration of the install.
set -euo pipefail
H=$(cd "$(dirname "$0")" && pwd)
. "$H/lib.sh"

what=all
case ${1:-} in
--build) what=build ;;
"") ;;
*) echo "usage: install.sh [--build]" >&2; exit 2 ;;
esac

pkgs() { grep -hv '^[[:space:]]*\(#\|$\)' "$@" | tr -s ' \n' '\n'; }

list=$(pkgs "$H/packages-build.txt")
[ "$what" = all ] && list="$list $(pkgs "$H/packages-test.txt")"
# Node.js + npm for the mailauth client, unless a node with npm is already there
# (Debian's npm package conflicts with a node that ships its own npm).
[ "$what" = all ] && ! command -v npm >/dev/null && list="$list nodejs npm"

missing=$(for p in $list; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
done)

if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || { echo "install.sh: must run as root to install:" $missing >&2; exit 1; }
	made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	cleanup() { [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; return 0; }
	trap cleanup EXIT
	export DEBIAN_FRONTEND=noninteractive
	echo "install.sh: installing" $missing
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ "$what" = build ] && exit 0

# mailauth 7.1.0 into a test-private folder. It declares node >=22.19; its
# lib/mta-sts.js runs on node 20 (npm warns EBADENGINE and installs anyway).
mkdir -p "$STS_TB_NODE"
if [ ! -f "$STS_TB_NODE/node_modules/mailauth/package.json" ] ||
	! grep -q '"version": "7.1.0"' "$STS_TB_NODE/node_modules/mailauth/package.json"; then
	(cd "$STS_TB_NODE" && { [ -f package.json ] || npm init -y >/dev/null; } &&
		npm install --no-audit --no-fund --silent --loglevel=error mailauth@7.1.0)
fi

# The DNS vendors' own SDKs (and Prism for DigitalOcean's OpenAPI description)
# into another test-private folder: tests/fakes/*/sdk-check.js drive them
# against the provider fakes (tests/fakes/README.md). Pinned; installed once.
SDKS="cloudflare@7.3.0 @aws-sdk/client-route-53@3.1178.0 @google-cloud/dns@5.3.2
	@azure/arm-dns@5.1.0 @azure/identity@4.14.1 @linode/api-v4@0.158.0 @vultr/vultr-node@2.8.0
	@ovhcloud/node-ovh@3.0.0 @stoplight/prism-cli@5.16.0"
mkdir -p "$STS_TB_SDK"
if [ "$(cat "$STS_TB_SDK/.installed" 2>/dev/null)" != "$(echo $SDKS)" ]; then
	# shellcheck disable=SC2086
	(cd "$STS_TB_SDK" && { [ -f package.json ] || npm init -y >/dev/null; } &&
		npm install --no-audit --no-fund --silent --loglevel=error $SDKS) &&
		echo $SDKS >"$STS_TB_SDK/.installed"
fi
echo "install.sh: build and test dependencies present"
