#!/bin/bash
# with-cluster.sh [--tls] CMD ARGS...: runs CMD against a throwaway PostgreSQL
# 15 cluster of its own (tests/pg/cluster.sh) and returns CMD's exit status.
# The cluster lives in a new directory under $STS_PG_TMP (default /tmp: the
# postgres user must reach it), is stopped and removed afterwards, also when
# this script is killed (cluster.sh's watchdog). CMD gets:
#   STSCTL_TEST_STATE     the cluster's URL, postgresql://postgres@127.0.0.1:PORT/postgres
#                         (--tls: the verify-full form of cluster.sh url)
#   STSCTL_TEST_PG_ADMIN  the same URL: a superuser that may CREATE DATABASE
#   STSCTL_TEST_PG_DIR    the cluster's directory (socket, server.log)
# A cluster that cannot start, or does not stop, fails the run (exit 1): it is
# never a skip. When CMD fails, the server's last ERROR/FATAL lines and their
# statements go to stderr. meson runs the pg suite through this script.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
tls=()
[ "${1:-}" = --tls ] && { tls=(--tls); shift; }
[ $# -ge 1 ] || { echo "usage: with-cluster.sh [--tls] CMD ARGS..." >&2; exit 2; }

dir=$(mktemp -d "${STS_PG_TMP:-/tmp}/stsctl-pg.XXXXXX") || exit 1
chmod 755 "$dir"
stop() {
	local rc=0
	"$HERE/cluster.sh" stop "$dir" || rc=1
	[ "$rc" = 0 ] || echo "with-cluster.sh: the cluster in $dir did not stop (kept)" >&2
	[ "$rc" = 0 ] && rm -rf "$dir"
	return $rc
}
trap 'stop; exit 1' INT TERM HUP
if ! "$HERE/cluster.sh" start "${tls[@]}" --owner $$ "$dir"; then
	echo "with-cluster.sh: could not start a PostgreSQL cluster" >&2
	stop
	exit 1
fi
touch "$dir/.remove-when-orphaned"
url=$("$HERE/cluster.sh" url "$dir") || { stop; exit 1; }
export STSCTL_TEST_STATE=$url STSCTL_TEST_PG_ADMIN=$url STSCTL_TEST_PG_DIR=$dir
"$@"
rc=$?
if [ "$rc" != 0 ] && [ -f "$dir/server.log" ]; then
	# what the server refused, with the statement (meson keeps stderr in its log)
	echo "with-cluster.sh: CMD exited $rc; the server's last errors ($dir/server.log):" >&2
	grep -E '(ERROR|FATAL|PANIC|STATEMENT): ' "$dir/server.log" | tail -n 40 | cut -c1-400 >&2
fi
trap - INT TERM HUP
if ! stop && [ "$rc" = 0 ]; then
	rc=1
fi
exit "$rc"
