#!/bin/bash
# The pg-cluster test (suite pg): the test harness's own PostgreSQL works and
# leaves nothing behind. TAP. As root (CI) or as any user that may run
# setpriv to postgres.
#  1. cluster.sh start: psql over the Unix socket and over TCP, the server is
#     PostgreSQL 15, runs as postgres (no server process as root), listens on
#     127.0.0.1:PORT and on the socket only; cluster.sh stop: no process, no
#     socket, the port free; a second stop is fine
#  2. cluster.sh start --tls: sslmode=verify-full connects (ssl in use), plain
#     TCP is refused, a client that trusts another CA is refused; the owner
#     killed with SIGKILL: the watchdog stops the server and removes the dir
#  3. with-cluster.sh: CMD sees STSCTL_TEST_STATE/STSCTL_TEST_PG_ADMIN, its
#     exit status comes back with the server's errors, the cluster is gone
#     afterwards
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
C=$HERE/cluster.sh
export PGCONNECT_TIMEOUT=10
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/# /'
}
check() { # check DESCRIPTION CMD...: ok when CMD exits 0
	local d=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$d"; else notok "$d" "$out"; fi
}
psql1() { psql "$1" -XAtqc "$2"; }
postmaster() { head -n 1 "$1/data/postmaster.pid"; }
port_of() { sed -n 's/^PORT=//p' "$1/cluster.env"; }
# gone DIR PID PORT: no process, no socket file, nothing listens on PORT
gone() {
	local left=""
	kill -0 "$2" 2>/dev/null && left="$left process $2;"
	compgen -G "$1/.s.PGSQL.*" >/dev/null && left="$left socket $(ls "$1"/.s.PGSQL.*);"
	ss -Htln "sport = :$3" | grep -q . && left="$left port $3 listened on;"
	pgrep -f "postgres -D $1/data" >/dev/null && left="$left a postgres of $1;"
	[ -z "$left" ] || { echo "left behind:$left"; return 1; }
}
work=$(mktemp -d /tmp/stsctl-pgtest.XXXXXX)
chmod 755 "$work"
cleanup() {
	"$C" stop "$work/a" >/dev/null 2>&1
	"$C" stop "$work/b" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. plain
d=$work/a
t0=$(date +%s%N)
if ! out=$("$C" start --owner $$ "$d" 2>&1); then
	notok "cluster.sh start" "$out"
	echo "1..$n"
	exit 1
fi
ok "cluster.sh start --owner \$\$ in $((($(date +%s%N) - t0) / 1000000)) ms"
pid=$(postmaster "$d")
port=$(port_of "$d")
tcp=$("$C" url "$d")
sock=$("$C" url --socket "$d")
check "url is postgresql://postgres@127.0.0.1:PORT/postgres" test "$tcp" = "postgresql://postgres@127.0.0.1:$port/postgres"
check "psql over the Unix socket ($sock)" test "$(psql1 "$sock" "select inet_server_addr() is null")" = t
check "psql over TCP ($tcp)" test "$(psql1 "$tcp" "select host(inet_server_addr())")" = 127.0.0.1
v=$(psql1 "$tcp" "show server_version_num")
check "the server is PostgreSQL 15 (server_version_num $v)" test "${v:0:2}" = 15
u=$(ps -o user= -p "$pid" | tr -d ' ')
check "the postmaster (pid $pid) runs as postgres (ps: '$u')" test "$u" = postgres
root=$(ps -o pid=,user= --ppid "$pid" | awk '$2 != "postgres"')
check "no server process runs as another user" test -z "$root"
listen=$(ss -Htlnp | grep "pid=$pid," | awk '{print $4}' | sort -u | tr '\n' ' ')
check "it listens on 127.0.0.1:$port only (ss: $listen)" test "$listen" = "127.0.0.1:$port "
check "its socket is in its directory" test -S "$d/.s.PGSQL.$port"
check "the system cluster's directory is untouched (no postmaster.pid there from us)" \
	bash -c "! grep -qs '$d' /var/lib/postgresql/15/main/postmaster.pid"
check "cluster.sh stop" "$C" stop "$d"
check "after stop: no process, no socket, port $port free" gone "$d" "$pid" "$port"
check "a second cluster.sh stop is fine" "$C" stop "$d"
check "cluster.sh stop of a directory that does not exist is fine" "$C" stop "$work/none"

# ---- 2. TLS, and the watchdog
d=$work/b
sleep 600 &
owner=$!
if out=$("$C" start --tls --owner "$owner" "$d" 2>&1); then
	ok "cluster.sh start --tls --owner PID"
	pid=$(postmaster "$d")
	port=$(port_of "$d")
	url=$("$C" url "$d")
	check "url is the verify-full form" test "$url" = \
		"postgresql://postgres@localhost:$port/postgres?sslmode=verify-full&sslrootcert=$d/tls/ca.pem"
	check "sslmode=verify-full connects, over TLS" \
		test "$(psql1 "$url" "select ssl from pg_stat_ssl where pid = pg_backend_pid()")" = t
	check "verify-full by IP address (127.0.0.1 is in the certificate)" test "$(psql1 \
		"postgresql://postgres@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$d/tls/ca.pem" \
		"select 1")" = 1
	out=$(psql1 "postgresql://postgres@127.0.0.1:$port/postgres?sslmode=disable" "select 1" 2>&1)
	if [ $? != 0 ] && [[ $out == *"no encryption"* ]]; then
		ok "plain TCP is refused"
	else
		notok "plain TCP is refused" "$out"
	fi
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$work/other.key" \
		-out "$work/other.pem" -days 1 -subj "/CN=another CA" 2>/dev/null
	out=$(psql1 "postgresql://postgres@localhost:$port/postgres?sslmode=verify-full&sslrootcert=$work/other.pem" \
		"select 1" 2>&1)
	if [ $? != 0 ] && [[ $out == *certificate* ]]; then
		ok "verify-full with another CA is refused"
	else
		notok "verify-full with another CA is refused" "$out"
	fi
	kill -KILL "$owner"
	wait "$owner" 2>/dev/null
	touch "$d/.remove-when-orphaned"
	for _ in $(seq 150); do
		[ -d "$d" ] || break
		sleep 0.2
	done
	check "the owner killed (SIGKILL): the watchdog stops the server, port $port free" gone "$d" "$pid" "$port"
	check "and removes the directory (.remove-when-orphaned)" test ! -e "$d"
else
	notok "cluster.sh start --tls --owner PID" "$out"
	kill "$owner"
fi

# ---- 3. with-cluster.sh
out=$("$HERE/with-cluster.sh" bash -c '
	echo "state=$STSCTL_TEST_STATE admin=$STSCTL_TEST_PG_ADMIN dir=$STSCTL_TEST_PG_DIR"
	psql "$STSCTL_TEST_STATE" -XAtqc "select 42" || exit 9
	psql "$STSCTL_TEST_STATE" -XAtqc "select no_such_column_here" 2>/dev/null
	exit 7' 2>&1)
rc=$?
check "with-cluster.sh returns CMD's exit status (7: $rc)" test "$rc" = 7
check "CMD connects to STSCTL_TEST_STATE" grep -qx 42 <<<"$out"
check "CMD failed: the server's error and its statement are shown" \
	grep -q 'STATEMENT:  select no_such_column_here' <<<"$out"
wdir=$(sed -n 's/.* dir=//p' <<<"$out")
state=$(sed -n 's/^state=\([^ ]*\) .*/\1/p' <<<"$out")
check "STSCTL_TEST_STATE is a postgresql:// URL ($state), STSCTL_TEST_PG_ADMIN the same" \
	grep -Eq '^state=postgresql://postgres@127\.0\.0\.1:[0-9]+/postgres admin=postgresql://' <<<"$out"
wport=${state##*:}
wport=${wport%%/*}
check "after CMD: the cluster's directory is gone and port ${wport:-?} is free" \
	bash -c "[ -n '$wdir' ] && [ ! -e '$wdir' ] && ! ss -Htln 'sport = :${wport:-0}' | grep -q ."

echo "1..$n"
[ "$failed" = 0 ]
