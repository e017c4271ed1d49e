#!/bin/bash
# Benchmark (not a test): `stsctl serve` against nginx serving the same N
# policies with the server blocks `stsctl render` writes, in the same run
# (issue 15, docs/performance.md "Hosted policy server (serve)").
#
# N names mta-sts.dNNNNNN.example, each with its own EC P-256 key and
# certificate from a local test CA (made by bench-serve-client.c, built here
# with cc; kept in $CERT_CACHE/N between runs). `render -o` of an inventory of
# the N domains writes the policy files and the nginx server blocks; the same
# bytes and certificates go into serve's store (the hosted_policies and
# hosted_certs tables, as tests/cli/test_serve_cli.py fills them).
#
# Both servers run in a network namespace of their own (bsv-srv), the client
# in another (bsv-cli), joined by a veth pair (bsv-s, bsv-c) on 10.237.15.0/30;
# all are deleted on exit. The client fetches every policy once, each over a
# fresh TLS connection (full handshake, no resumption, SNI = the name, chain
# and name verified against the test CA), CONC at a time, and checks every
# answer: status 200, text/plain, exactly that domain's policy bytes, a
# certificate whose only SAN is the name.
#
# Both servers are started by the client (its first mode), timed from exec to
# their first right answer: nginx reads every certificate then, serve none.
# Round 0 is the issue's measure, each policy fetched once by each server
# after its start: nginx's first pass (its worker's first use of each
# name's context), then serve's (it reads the name from its store and
# parses the certificate and key then): the headline ratio is serve's
# fetches/s over nginx's in that pass, with their CPU per fetch beside it.
# nginx fetches each once more right after (warm, for reference). ROUNDS more rounds
# follow, their order alternating (serve first, then nginx first, ...), with
# serve's cache warm (--cache SERVE_CACHE, default N: every name stays
# parsed, as in nginx): their median ratio is shown beside it. Every round
# also gives each server's CPU time per fetch (utime + stime of its
# processes, /proc/PID/stat), which the load of other processes on the
# machine changes much less than fetches/s.
#
# Same conditions: nginx has WORKERS worker processes, serve WORKERS event
# loops (--threads, when serve has it; else 1 and WORKERS=1); both under
# `nice -n $NICE`, TLS 1.2 and 1.3 with OpenSSL's default groups and TLS 1.3
# suites, no session tickets or cache (serve has none), access_log off
# (serve writes none). RSS: serve's VmRSS and Pss (/proc/PID/smaps_rollup)
# after the rounds, against the sum over nginx's master and workers.
#
# Start-up: START_N names in a store of their own (the first N with their own
# certificate; a name past N reuses the files of name i mod N, never fetched);
# the time from exec to the first successful fetch of one name, and serve's
# RSS then, against a store of 10 names (START_REPEAT runs each, on the server
# namespace's loopback).
#
#   tests/bench/bench-serve.sh                 # N=10000 CONC=50 ROUNDS=3 START_N=100000
#   N=50 ROUNDS=1 START_N=1000 tests/bench/bench-serve.sh      # a smoke run
#   STSCTL=build-x/cli/stsctl tests/bench/bench-serve.sh
#
# Needs root (namespaces), nginx, cc, OpenSSL headers, python3. Work files go
# to $BENCH_DIR (default /tmp/stsctl-bench-serve), removed at the end unless
# KEEP=1. Exit: 0 goals met, 1 a check failed (a wrong answer, a server that
# did not start), 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-10000}
CONC=${CONC:-50}
ROUNDS=${ROUNDS:-3}
START_N=${START_N:-100000}
START_REPEAT=${START_REPEAT:-3}
WORKERS=${WORKERS:-1}
NICE=${NICE:-0}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench-serve}
CERT_CACHE=${CERT_CACHE:-/tmp/stsctl-bench-serve-certs}
NS_S=bsv-srv NS_C=bsv-cli V_S=bsv-s V_C=bsv-c
A_S=10.237.15.1 A_C=10.237.15.2
SERVE_PORT=8443
SERVE_CACHE=${SERVE_CACHE:-$N}
export LC_ALL=C

die() { echo "bench-serve: $*" >&2; exit 1; }
[ -x "$STSCTL" ] || die "no stsctl at '$STSCTL' (build first, or set STSCTL)"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
command -v nginx >/dev/null || die "nginx missing (apt-get install nginx-light)"
THREADS_OPT=()
if "$STSCTL" serve --help | grep -q -- '--threads'; then
	THREADS_OPT=(--threads "$WORKERS")
elif [ "$WORKERS" != 1 ]; then
	die "this serve has one event loop: WORKERS must be 1"
fi

PIDS=()
stop() { # PID...: SIGTERM, then up to 30 s for each to exit (they are not our children)
	local p t
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do
		for t in $(seq 1 300); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
	done
}
cleanup() {
	stop "${PIDS[@]}"
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_S" 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
ip netns list | grep -qE "^($NS_S|$NS_C)( |$)" && die "namespace $NS_S or $NS_C exists: another run?"
rm -rf "$W"
mkdir -p "$W" "$CERT_CACHE"
trap cleanup EXIT

# ---- the client, the certificates, the policies, the store ----
CLIENT=$W/bench-serve-client
cc -O2 -Wall -Wextra -o "$CLIENT" "$ROOT/tests/bench/bench-serve-client.c" -lssl -lcrypto -lpthread
CERTS=$CERT_CACHE/$N
if [ ! -f "$CERTS/done" ]; then
	rm -rf "$CERTS"
	mkdir -p "$CERTS"
	echo "bench-serve: generating $N keys and certificates into $CERTS (kept)"
	"$CLIENT" gen "$CERTS" 0 "$N"
	touch "$CERTS/done"
fi
python3 - "$N" "$W/inventory.json" <<'EOF'
import json, sys
n = int(sys.argv[1])
doms = [{"name": f"d{i:06d}.example", "mx": [f"mx{i % 3}.mx.provider.example"],
         "mode": ["enforce", "testing", "none"][i % 3]} for i in range(n)]
json.dump({"version": 1, "defaults": {"max_age": 604800, "ttl": 3600}, "domains": doms},
          open(sys.argv[2], "w"))
EOF
"$STSCTL" -q render "$W/inventory.json" -o "$W/tree" --web-root "$W/tree" \
	--cert-dir "$CERTS/certs" --state "$W/render.db" --progress=never
[ "$(find "$W/tree/nginx" -name '*.conf' | wc -l)" = "$N" ] || die "render wrote no $N server blocks"

# serve creates its tables at start; then the rows, as the tests write them
mkstore() { # DB COUNT: COUNT names, name i past N from the files of i mod N
	local p t
	"$STSCTL" serve --listen 127.0.0.1:0 --state "$1" >"$W/mkstore.out" 2>&1 &
	p=$!
	for t in $(seq 1 100); do
		grep -q '^listening' "$W/mkstore.out" && break
		[ "$t" = 100 ] && die "serve did not create its store: $(cat "$W/mkstore.out")"
		sleep 0.1
	done
	kill "$p"
	wait "$p" || true
	python3 - "$1" "$2" "$N" "$W/tree" "$CERTS/certs" <<'EOF'
import hashlib, sqlite3, sys, time
db, count, n, tree, certs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
now = int(time.time())
c = sqlite3.connect(db)
with c:
    for i in range(count):
        host, src = f"mta-sts.d{i:06d}.example", f"mta-sts.d{i % n:06d}.example"
        body = open(f"{tree}/{src}/.well-known/mta-sts.txt", "rb").read()
        chain = open(f"{certs}/{src}/fullchain.pem").read()
        key = open(f"{certs}/{src}/privkey.pem").read()
        c.execute("INSERT INTO hosted_policies VALUES (?,?,?,?,?,?,?,?)",
                  (host, host[8:], body, "bench", hashlib.sha256(body).hexdigest(), 604800,
                   604800, now))
        c.execute("INSERT INTO hosted_certs (host, chain_pem, key_pem, updated)"
                  " VALUES (?,?,?,?)", (host, chain, key, now))
c.close()
EOF
}
mkstore "$W/state.db" "$N"

# ---- the namespaces ----
ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$V_S" netns "$NS_S" type veth peer name "$V_C" netns "$NS_C"
ip -n "$NS_S" addr add "$A_S/30" dev "$V_S"
ip -n "$NS_C" addr add "$A_C/30" dev "$V_C"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "$V_S" up
ip -n "$NS_C" link set "$V_C" up

# ---- nginx: render's server blocks, WORKERS workers ----
mkdir -p "$W/ngx"
cat >"$W/ngx/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $W/ngx/nginx.pid;
error_log $W/ngx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	server_names_hash_max_size 65536;
	server_names_hash_bucket_size 128;
	ssl_session_tickets off;
	ssl_session_cache off;
	client_body_temp_path $W/ngx/body;
	proxy_temp_path $W/ngx/proxy;
	fastcgi_temp_path $W/ngx/fastcgi;
	uwsgi_temp_path $W/ngx/uwsgi;
	scgi_temp_path $W/ngx/scgi;
	include $W/tree/nginx/*.conf;
}
EOF
chmod -R a+rX "$W"

# ---- both servers, each timed from exec to its first right answer ----
# (started by the client's first mode, in the server namespace, over its loopback)
start_server() { # NAME PORT CMD...: "MS PID"
	local name=$1 port=$2
	shift 2
	ip netns exec "$NS_S" "$CLIENT" first 127.0.0.1 "$port" "$CERTS/ca.pem" "$W/tree" 0 600 \
		nice -n "$NICE" "$@" || die "$name answered no fetch within 600 s"
}
out=$(start_server nginx 443 nginx -p "$W/ngx" -c "$W/ngx/nginx.conf") || exit 1
read -r NGINX_MS NGINX_PID <<<"$out"
PIDS+=("$NGINX_PID")
out=$(start_server serve "$SERVE_PORT" "$STSCTL" serve --listen "0.0.0.0:$SERVE_PORT" \
	--state "$W/state.db" --cache "$SERVE_CACHE" "${THREADS_OPT[@]}") || exit 1
read -r SERVE_MS SERVE_PID <<<"$out"
PIDS+=("$SERVE_PID")
echo "bench-serve: start-up to the first fetch with $N names: nginx $NGINX_MS ms, serve $SERVE_MS ms"

# ---- the rounds ----
echo "bench-serve: N=$N CONC=$CONC ROUNDS=$ROUNDS WORKERS=$WORKERS nice=$NICE load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-6s %8s %9s %8s %9s  %s\n' round server fetches seconds fetch/s cpu_us/f tls
TICK=$(getconf CLK_TCK)
cpu_ticks() { # PID...: utime + stime, summed (every thread of each)
	local p t=0 f
	for p in "$@"; do
		read -r -a f <<<"$(sed 's/.*) //' "/proc/$p/stat")"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}
run() { # ROUND NAME PORT PID...
	local out c0 c1 cpu r=$1 name=$2 port=$3
	shift 3
	c0=$(cpu_ticks "$@")
	if ! out=$(ip netns exec "$NS_C" nice -n "$NICE" "$CLIENT" fetch "$A_S" "$port" "$CERTS/ca.pem" "$W/tree" "$N" "$CONC"); then
		echo "$out"
		die "$name: a fetch failed its checks (round $r)"
	fi
	c1=$(cpu_ticks "$@")
	cpu=$(((c1 - c0) * 1000000 / TICK / N))
	read -r _ ok _ _ _ secs _ rate _ tls <<<"$out"
	printf '%-6s %-6s %8s %9s %8s %9s  %s\n' "$r" "$name" "$ok" "$secs" "$rate" "$cpu" "$tls"
	echo "$r $name $rate $cpu" >>"$W/rates"
}
read -r -a NGINX_PIDS <<<"$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
# round 0, each policy fetched once by each: nginx's first pass, serve's
# (its first contact with each name), nginx again (warm, for reference)
run 0 nginx 443 "${NGINX_PIDS[@]}"
run 0 serve "$SERVE_PORT" "$SERVE_PID"
run 0 nginx 443 "${NGINX_PIDS[@]}"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		run "$r" serve "$SERVE_PORT" "$SERVE_PID"
		run "$r" nginx 443 "${NGINX_PIDS[@]}"
	else
		run "$r" nginx 443 "${NGINX_PIDS[@]}"
		run "$r" serve "$SERVE_PORT" "$SERVE_PID"
	fi
done
echo "bench-serve: load after the rounds: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- memory ----
kb() { awk -v k="$2:" '$1 == k { print $2 }' "$1"; }
rss_of() { # PID...: "VmRSS_kB Pss_kB" summed
	local rss=0 pss=0 p
	for p in "$@"; do
		rss=$((rss + $(kb "/proc/$p/status" VmRSS)))
		pss=$((pss + $(kb "/proc/$p/smaps_rollup" Pss)))
	done
	echo "$rss $pss"
}
MASTER=$(cat "$W/ngx/nginx.pid")
read -r S_RSS S_PSS <<<"$(rss_of "$SERVE_PID")"
# shellcheck disable=SC2046 # one pid a word
read -r N_RSS N_PSS <<<"$(rss_of "$MASTER" $(pgrep -P "$MASTER"))"
stop "$SERVE_PID" "$NGINX_PID"
PIDS=()
# the heartbeat serve writes as it stops
CACHED=$(python3 -c "import json,sqlite3,sys;print(json.loads(sqlite3.connect(sys.argv[1]).execute('SELECT counters FROM serve_instances ORDER BY heartbeat DESC').fetchone()[0]).get('cached_certificates'))" "$W/state.db" 2>/dev/null || echo '?')

# ---- start-up ----
mkstore "$W/start.db" "$START_N"
mkstore "$W/small.db" 10
startup() { # DB: "MS RSS_kB" of one start
	local out pid rss
	out=$(ip netns exec "$NS_S" nice -n "$NICE" "$CLIENT" first 127.0.0.1 "$SERVE_PORT" "$CERTS/ca.pem" "$W/tree" 0 30 \
		"$STSCTL" serve --listen "127.0.0.1:$SERVE_PORT" --state "$1" "${THREADS_OPT[@]}") ||
		die "serve with $(basename "$1") answered no fetch within 30 s"
	[ -n "$out" ] || exit 1
	read -r ms pid <<<"$out"
	rss=$(kb "/proc/$pid/status" VmRSS)
	stop "$pid"
	echo "$ms $rss"
}
: >"$W/start"
for _ in $(seq 1 "$START_REPEAT"); do
	out=$(startup "$W/start.db") || exit 1
	echo "big $out" >>"$W/start"
	out=$(startup "$W/small.db") || exit 1
	echo "small $out" >>"$W/start"
done

# ---- figures and goals ----
python3 - "$W/rates" "$W/start" "$N" "$START_N" "$S_RSS" "$S_PSS" "$N_RSS" "$N_PSS" "$CACHED" "$WORKERS" <<'EOF'
import statistics, sys
rates, start, n, start_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s_rss, s_pss, n_rss, n_pss = (int(x) for x in sys.argv[5:9])
cached, workers = sys.argv[9], sys.argv[10]
by = {}
for line in open(rates):
    r, name, rate, cpu = line.split()
    by.setdefault(r, {}).setdefault(name, []).append((float(rate), int(cpu)))
def mean(v, i):
    return statistics.mean(x[i] for x in v)
cold = by.pop("0")
(s_rate, s_cpu), (n_rate, n_cpu), (w_rate, w_cpu) = cold["serve"][0], *cold["nginx"][:2]
ratio0, cpu0 = s_rate / n_rate, s_cpu / n_cpu
ratios = [mean(v["serve"], 0) / mean(v["nginx"], 0) for v in by.values()]
cpus = [mean(v["serve"], 1) / mean(v["nginx"], 1) for v in by.values()]
st = {"big": [], "small": []}
for line in open(start):
    k, ms, rss = line.split()
    st[k].append((float(ms), int(rss)))
big_ms = max(m for m, _ in st["big"])
print()
print(f"round 0, each policy fetched once after the start: serve {s_rate:.0f}/s "
      f"({s_cpu} us CPU per fetch), nginx {n_rate:.0f}/s ({n_cpu} us); serve/nginx "
      f"{ratio0:.2f}, CPU per fetch {cpu0:.2f}; nginx's next pass (warm) {w_rate:.0f}/s "
      f"({w_cpu} us): serve's first against it {s_rate / w_rate:.2f}, CPU {s_cpu / w_cpu:.2f}")
if by:
    print(f"warm rounds 1 to {len(by)} (serve's cache holding every name): serve/nginx "
          f"fetches/s median {statistics.median(ratios):.2f} "
          f"({', '.join(f'{x:.2f}' for x in ratios)}); CPU per fetch serve/nginx median "
          f"{statistics.median(cpus):.2f} ({', '.join(f'{x:.2f}' for x in cpus)})")
print(f"memory after the rounds: serve VmRSS {s_rss / 1024:.1f} MiB, Pss {s_pss / 1024:.1f} MiB "
      f"({cached} certificates cached); nginx master + {workers} worker(s) VmRSS "
      f"{n_rss / 1024:.1f} MiB, Pss {n_pss / 1024:.1f} MiB")
print(f"start-up to the first fetch, {start_n} names: "
      f"{', '.join(f'{m:.0f} ms' for m, _ in st['big'])} (RSS "
      f"{', '.join(f'{r / 1024:.1f}' for _, r in st['big'])} MiB); 10 names: "
      f"{', '.join(f'{m:.0f} ms' for m, _ in st['small'])} (RSS "
      f"{', '.join(f'{r / 1024:.1f}' for _, r in st['small'])} MiB)")
goals = [("serve fetches/s >= nginx, each policy fetched once (round 0)", ratio0 >= 1.0),
         ("serve Pss < nginx Pss (master + workers)", s_pss < n_pss),
         (f"start-up with {start_n} names < 2 s", big_ms < 2000)]
for g, ok in goals:
    print(f"goal: {g}: {'met' if ok else 'MISSED'}")
sys.exit(0 if all(ok for _, ok in goals) else 3)
EOF
