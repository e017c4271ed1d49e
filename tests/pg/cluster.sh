#!/bin/bash
# A throwaway PostgreSQL 15 cluster for the tests (issue 18), never the system
# service and never /var/lib/postgresql:
#
#   cluster.sh start [--tls] [--owner PID] DIR [PORT]
#   cluster.sh stop DIR
#   cluster.sh url [--socket] DIR
#
# start: initdb (--no-locale -E UTF8 -A trust) into DIR/data, owned by the
#   `postgres` system user (the server refuses to run as root; as root every
#   server command runs through setpriv), then pg_ctl start -w. The server
#   listens on a Unix socket in DIR and on 127.0.0.1:PORT only; without PORT
#   a free one is picked (another one is tried when the bind fails). DIR must
#   be empty or missing, and reachable by postgres (not under /root).
#   --tls: ssl=on with a server certificate for localhost and 127.0.0.1
#   signed by a CA made for this cluster (DIR/tls/ca.pem); TCP connections
#   without TLS are refused (pg_hba hostnossl reject), the socket stays plain.
#   --owner PID: a watchdog stops the cluster when that process is gone, even
#   killed with SIGKILL (a trap cannot run then); when DIR holds a file
#   .remove-when-orphaned it also removes DIR. Pass the caller's own $$: run
#   in $(...), cluster.sh's parent is a subshell that ends at once.
#   The settings trade durability for speed (initdb --no-sync, fsync=off):
#   a test cluster only.
# stop: pg_ctl stop -m fast (SIGKILL when that fails), waits until the
#   server and its socket are gone, stops the watchdog. Idempotent: a DIR
#   without a running server (or without anything) is fine.
# url: the URL of the cluster's superuser database, postgresql://postgres@
#   127.0.0.1:PORT/postgres (TLS: postgresql://postgres@localhost:PORT/postgres
#   ?sslmode=verify-full&sslrootcert=DIR/tls/ca.pem); --socket: the form
#   through the Unix socket, postgresql://postgres@/postgres?host=DIR&port=PORT.
#
# Environment: STS_PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail
PG_BIN=${STS_PG_BIN:-/usr/lib/postgresql/15/bin}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}
usage() {
	echo "usage: cluster.sh start [--tls] [--owner PID] DIR [PORT] | stop DIR | url [--socket] DIR" >&2
	exit 2
}

# as_pg CMD...: run as the postgres system user (directly when not root)
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (TCP)
port_free() {
	! ss -Htln "sport = :$1" | grep -q .
}

# the postmaster's pid, from DIR/data/postmaster.pid, when that process lives
server_pid() {
	local f=$1/data/postmaster.pid pid
	[ -f "$f" ] || return 1
	pid=$(head -n 1 "$f")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

make_tls() {
	local d=$1/tls
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key \
			-out ca.pem -days 30 -subj "/CN=stsctl test PostgreSQL CA" 2>/dev/null
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout server.key \
			-out server.csr -subj "/CN=localhost" 2>/dev/null
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
			-out server.pem 2>/dev/null -extfile <(printf '%s\n' \
			'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=critical,CA:FALSE' \
			'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth')
		rm -f server.csr ca.srl ca.key
		chmod 600 server.key
	)
	chown -R postgres:postgres "$d"
}

cmd_start() {
	local tls=0 owner= dir port fixed=0 try log pid
	while [ $# -gt 0 ]; do
		case $1 in
		--tls) tls=1 ;;
		--owner) [ $# -ge 2 ] || usage; owner=$2; shift ;;
		-*) usage ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	dir=$1
	[ -n "${2:-}" ] && { port=$2; fixed=1; }
	[ -x "$PG_BIN/initdb" ] || die "no PostgreSQL 15 in $PG_BIN (Debian package postgresql-15)"
	id postgres >/dev/null 2>&1 || die "no 'postgres' system user (Debian package postgresql-15)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	[ "${#dir}" -le 90 ] || die "$dir is too long for a Unix socket path"
	chown postgres:postgres "$dir"
	chmod 700 "$dir"
	as_pg test -w "$dir" || die "user postgres cannot write $dir (is a parent directory private?)"

	log=$(as_pg "$PG_BIN/initdb" -D "$dir/data" --no-locale -E UTF8 -A trust -U postgres --no-sync 2>&1) ||
		die "initdb failed: $log"
	cat >>"$dir/data/postgresql.conf" <<EOF
# cluster.sh: a throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 100
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
EOF
	if [ "$tls" = 1 ]; then
		make_tls "$dir"
		cat >>"$dir/data/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$dir/tls/server.pem'
ssl_key_file = '$dir/tls/server.key'
EOF
		cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
hostnossl all all 127.0.0.1/32 reject
hostssl all all 127.0.0.1/32 trust
EOF
	else
		cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
	fi
	chown postgres:postgres "$dir/data/pg_hba.conf"

	for try in 1 2 3 4 5 6 7 8; do
		if [ "$fixed" = 0 ]; then
			port=$((41000 + RANDOM % 8000))
			port_free "$port" || continue
		fi
		sed -i '/^port = /d' "$dir/data/postgresql.conf"
		echo "port = $port" >>"$dir/data/postgresql.conf"
		: >"$dir/server.log"
		chown postgres:postgres "$dir/server.log"
		if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
			printf 'PORT=%s\nTLS=%s\n' "$port" "$tls" >"$dir/cluster.env"
			break
		fi
		if [ "$fixed" = 1 ] || ! grep -q 'could not bind\|Address already in use' "$dir/server.log"; then
			die "the server did not start: $(tail -n 20 "$dir/server.log")"
		fi
	done
	[ -f "$dir/cluster.env" ] || die "no free port for the server after $try tries"
	pid=$(server_pid "$dir") || die "the server started but has no live postmaster.pid"

	[ -n "$owner" ] || return 0
	# The watchdog: in a session of its own, so that a kill of the caller's
	# process group (meson's timeout) leaves it to stop the server.
	setsid bash -c '
		owner=$1 dir=$2 self=$3
		while kill -0 "$owner" 2>/dev/null && [ -f "$dir/cluster.env" ]; do sleep 1; done
		[ -f "$dir/cluster.env" ] || exit 0
		"$self" stop "$dir" >/dev/null 2>&1
		[ -f "$dir/.remove-when-orphaned" ] && rm -rf "$dir"
		exit 0' watchdog "$owner" "$dir" "$SELF" </dev/null >/dev/null 2>&1 &
	echo $! >"$dir/watchdog.pid"
	disown
}

cmd_stop() {
	[ $# = 1 ] || usage
	local dir=$1 pid i wd
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd)
	if pid=$(server_pid "$dir"); then
		if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1; then
			echo "cluster.sh: pg_ctl stop failed; SIGKILL to $pid" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && die "the server (pid $pid) is still running"
	fi
	# after a SIGKILL the socket file and the lock stay behind
	rm -f "$dir"/.s.PGSQL.* "$dir/data/postmaster.pid"
	rm -f "$dir/cluster.env"
	if [ -f "$dir/watchdog.pid" ]; then
		wd=$(cat "$dir/watchdog.pid")
		# the watchdog exits by itself within a second once cluster.env is gone;
		# when this stop is the watchdog's own, it is this script's parent
		[ "$wd" = "$PPID" ] || kill "$wd" 2>/dev/null || true
		rm -f "$dir/watchdog.pid"
	fi
	return 0
}

cmd_url() {
	local socket=0 dir PORT TLS
	[ "${1:-}" = --socket ] && { socket=1; shift; }
	[ $# = 1 ] || usage
	dir=$(cd "$1" 2>/dev/null && pwd) || die "no cluster in $1"
	[ -f "$dir/cluster.env" ] || die "no cluster running in $dir"
	. "$dir/cluster.env"
	if [ "$socket" = 1 ]; then
		echo "postgresql://postgres@/postgres?host=$dir&port=$PORT"
	elif [ "$TLS" = 1 ]; then
		echo "postgresql://postgres@localhost:$PORT/postgres?sslmode=verify-full&sslrootcert=$dir/tls/ca.pem"
	else
		echo "postgresql://postgres@127.0.0.1:$PORT/postgres"
	fi
}

[ $# -ge 1 ] || usage
what=$1
shift
case $what in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
url) cmd_url "$@" ;;
*) usage ;;
esac
