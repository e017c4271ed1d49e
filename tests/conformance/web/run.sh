#!/bin/bash
# run.sh PLUGIN: the web conformance cases (cases.json) against PLUGIN,
# through the driver (tests/conformance/conformance.c). Writes the target
# file the driver reads: the provider instance's settings, wrong
# credentials, and where the published file lands on this machine (the
# driver checks its mode, inode and that www-data reads it):
#   local  a web root in a temp dir
#   sftp   the testbed's OpenSSH (key-only, strict known_hosts), a web root
#          in a temp dir on this machine
# Needs STS_SOURCE_ROOT, STS_BUILD_ROOT (meson sets them).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PLUGIN=$1
W=$(mktemp -d "/tmp/stsctl-conf-$PLUGIN.XXXXXX")
trap '[ -n "${CONF_KEEP:-}" ] || rm -rf "$W"' EXIT
chmod 755 "$W" # the web server's user must reach the files
mkdir -m 755 "$W/www"

target() {
	python3 -c 'import json,sys; json.dump(eval(sys.argv[2]), open(sys.argv[1], "w"), indent=1)' "$1" "$2"
}

case "$PLUGIN" in
local)
	target "$W/target.json" "{'plugin': 'local', 'kind': 'web', 'zone': 'conf.test',
		'file': '$W/www/{host}/.well-known/mta-sts.txt', 'settings': {'root': '$W/www'}}"
	;;
sftp)
	. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
	ssh-keygen -q -t ed25519 -N '' -C stranger -f "$W/id_stranger" || exit 1
	target "$W/target.json" "{'plugin': 'sftp', 'kind': 'web', 'zone': 'conf.test',
		'file': '$W/www/{host}/.well-known/mta-sts.txt',
		'settings': {'host': '127.0.0.1', 'port': $STS_TB_SSH_PORT, 'user': '$STS_TB_SSH_USER',
			'key_file': '$STS_TB_SSH_KEY', 'known_hosts': '$STS_TB_SSH_KNOWN_HOSTS',
			'root': '$W/www/{host}', 'timeout': 10},
		'bad_settings': {'host': '127.0.0.1', 'port': $STS_TB_SSH_PORT, 'user': '$STS_TB_SSH_USER',
			'key_file': '$W/id_stranger', 'known_hosts': '$STS_TB_SSH_KNOWN_HOSTS',
			'root': '$W/www/{host}', 'timeout': 10},
		'bad_credentials_text': 'refused the key'}"
	;;
*)
	echo "Bail out! no conformance target for web plugin '$PLUGIN' in $0"
	exit 1
	;;
esac
# the plugins of this build, as the build tree's stsctl finds them
STSCTL_PLUGIN_PATH=$STS_BUILD_ROOT/plugins "$STS_BUILD_ROOT/tests/conformance/conformance" "$W/target.json" "$HERE/cases.json"
