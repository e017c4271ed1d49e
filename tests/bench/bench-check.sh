#!/bin/bash
# Benchmark (not a test): stsctl check of N domains (default 1000) served by
# the namespace testbed, against looping postfix-mta-sts-resolver's
# mta-sts-query over a subset of the same domains (extrapolated to N).
#
# Every domain is a working deployment: a _mta-sts TXT record, a policy host
# (an nginx server block with its own certificate), a TLS-RPT record and MX records pointing at a real Postfix with
# STARTTLS, all in the server namespace; check and mta-sts-query run in the
# client namespace. MX=shared gives the domains MXS distinct MX host names
# (default 50: how MSP customers share MX hosts), MX=distinct one MX host
# name per domain (every domain's MX is probed). The goals (docs/performance.md):
#   check >= 200 domains/s at concurrency 50;  >= 20x faster than mta-sts-query.
# What is timed is checked: every run of check (the warm-up and the REPEAT timed
# ones) must exit 0 and report each of the N domains once, every one with the
# verdict `pass`; every mta-sts-query answer must be VALID with the policy id
# and mode deployed. Otherwise the benchmark fails (exit 1), whatever the times.
# mta-sts-query runs on SUBSET domains (default 100, at least 100 or all N), at
# the same priority as stsctl (with PRIO=1 both at nice -10, the servers too).
#
#   tests/bench/bench-check.sh                       # N=1000, build/cli/stsctl
#   N=300 MX=distinct STSCTL=build-x/cli/stsctl tests/bench/bench-check.sh
#   PRIO=1 tests/bench/bench-check.sh                # on a busy machine (see prio())
#   STSCTL=build-bn/cli/stsctl REPEAT=5 SUBSET=200 ...  # another build, more runs
#   KEEP=1 ...                                       # leave the deployment and its Postfix up
#
# Needs root and the testbed (harness/tb.sh starts it when it is not up, and
# it stops again when this script ends). Exit: 0 goals met, 1 a command
# failed or a result was wrong, 3 a goal missed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-1000}
MX=${MX:-shared}
MXS=${MXS:-50}
CONC=${CONC:-50}
SUBSET=${SUBSET:-100}
REPEAT=${REPEAT:-3}
[ "$SUBSET" -gt "$N" ] && SUBSET=$N
[ "$SUBSET" -ge 100 ] || [ "$SUBSET" = "$N" ] ||
	{ echo "bench: SUBSET=$SUBSET: mta-sts-query is measured on at least 100 domains (or all N)" >&2; exit 1; }
STSCTL=$(realpath "${STSCTL:-$ROOT/build/cli/stsctl}")
export STS_SOURCE_ROOT=$ROOT STSCTL
[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
. "$ROOT/tests/integration/harness/tb.sh" >/dev/null
. "$ROOT/tests/integration/check-lib/lib.sh"
Z=bench-check.test
W=$STS_TB_RUN/chk-bench
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"
cleanup() {
	chk_postfix_stop chk-bench
	# 1000 server names make every later nginx reload warn: take them away
	rm -f "$STS_TB_NS_SITES/chk-bench.conf"
	_tb_nginx_reload "$(dirname "$STS_TB_NS_SITES")" "$STS_TB_NS_SRV" || true
}
trap 'prio 0; [ "${KEEP:-0}" = 1 ] || cleanup' EXIT
say() { echo "bench: $*" >&2; }

[ "$MX" = distinct ] && MXS=$N
say "deploying $N domains ($MXS MX host names) in the server namespace"
printf 'version: STSv1\r\nmode: enforce\r\nmx: *.%s\r\nmax_age: 604800\r\n' "$Z" >"$W/policy.txt"
chmod a+r "$W/policy.txt"
# one certificate per policy host, as in real life (nginx picks it by SNI)
mkdir -p "$W/certs"
"$CHK_PY" - "$STS_TB_PKI" "$W/certs" "$N" "$Z" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
pki, out, n, z = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ca = x509.load_pem_x509_certificate(open(f"{pki}/ca.pem", "rb").read())
ca_key = serialization.load_pem_private_key(open(f"{pki}/ca.key", "rb").read(), None)
ca_pem = open(f"{pki}/ca.pem", "rb").read()
key = ec.generate_private_key(ec.SECP256R1())  # one key for all: signing is what costs
key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
now = datetime.datetime.utcnow()
for i in range(n):
    host = f"mta-sts.d{i}.{z}"
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    open(f"{out}/{host}.chain.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
    open(f"{out}/{host}.key", "wb").write(key_pem)
PY
# the MX hosts share one Postfix; a wildcard certificate covers their names
tb_mkcert chk-bench-mx "*.$Z"
# one server block per policy host: nginx loads every certificate once
for i in $(seq 0 $((N - 1))); do
	h=mta-sts.d$i.$Z
	printf 'server { listen %s:443 ssl; server_name %s; ssl_certificate %s; ssl_certificate_key %s;\n' \
		"$STS_TB_NS_SRV_ADDR" "$h" "$W/certs/$h.chain.pem" "$W/certs/$h.key"
	printf '  location = /.well-known/mta-sts.txt { default_type text/plain; alias %s; } }\n' "$W/policy.txt"
done >"$W/site.conf"
"$CHK_PY" - "$N" "$MXS" "$Z" "$STS_TB_NS_SRV_ADDR" >"$W/rr.txt" <<'PY'
import sys
n, mxs, z, srv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
for i in range(mxs):
    print(f"mx{i}.{z} A 10.231.1.40")
for i in range(n):
    d = f"d{i}.{z}"
    print(f'_mta-sts.{d} TXT "v=STSv1; id=bench1;"')
    print(f"mta-sts.{d} A {srv}")
    print(f"{d} MX 10 mx{i % mxs}.{z}.")
    print(f'_smtp._tls.{d} TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{z}"')
PY
chk_rrsets "$W/rr.txt" >"$W/patch.json"
tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" && chk_site chk-bench "$W/site.conf" &&
	chk_postfix chk-bench 10.231.1.40 tls chk-bench-mx || { say "deployment failed"; exit 1; }
for i in $(seq 0 $((N - 1))); do echo "d$i.$Z"; done >"$W/domains.txt"

# PRIO=1: run stsctl, the mta-sts-query baseline and the servers they talk to
# (the namespace's nginx workers, PowerDNS, the bench's Postfix) at nice -10
# for the measurement, so that other work on a shared machine does not take
# their CPU; reset after. Without PRIO both run at the script's own priority.
# Either way stsctl and mta-sts-query run with the same $NICE and the same
# server priorities: the priority is set once, before the first timed run,
# and reset after the last one of the baseline.
NICE=()
servers=()
prio() {
	[ "${PRIO:-0}" = 1 ] || return 0
	[ ${#servers[@]} -gt 0 ] || mapfile -t servers < <(
		pgrep -P "$(cat "$(dirname "$STS_TB_NS_SITES")/logs/nginx.pid")"
		tr -d ' ' <"$STS_TB_RUN/pids/ns-pdns.pid"
		echo
		pgrep -f "pdns_server --config-dir=$STS_TB_RUN/ns/pdns"
		pgrep -f "chk-postfix/chk-bench/conf"
	)
	local tids=() p t
	for p in "${servers[@]}"; do # every thread
		for t in "/proc/$p/task/"*; do [ -e "$t" ] && tids+=("${t##*/}"); done
	done
	renice -n "$1" -p "${tids[@]}" >/dev/null 2>&1
	NICE=(nice -n "$1")
}

# verify_check FILE RC: the run exited 0 and reported every domain of
# domains.txt once, each with the verdict pass; prints "pass=N" or fails
verify_check() {
	"$CHK_PY" - "$1" "$2" "$W/domains.txt" <<'PY'
import collections, json, sys
rc, want = int(sys.argv[2]), [l.strip() for l in open(sys.argv[3]) if l.strip()]
doms = json.load(open(sys.argv[1]))["domains"]
names = [d["domain"].rstrip(".").lower() for d in doms]
c = collections.Counter(d["verdict"] for d in doms)
verdicts = " ".join(f"{k}={v}" for k, v in sorted(c.items()))
bad = [f"{d['domain']}={d['verdict']}" for d in doms if d["verdict"] != "pass"][:5]
if rc != 0 or sorted(names) != sorted(want) or bad:
    sys.exit(f"bench: check is wrong (exit {rc}, {len(names)} domains for {len(want)}, "
             f"{len(set(names) ^ set(want))} names differ, {verdicts}; e.g. {' '.join(bad)})")
print(verdicts)
PY
}
# one timed run: wall, user, sys, max RSS; the report in $W/check.json, checked
run_check() {
	tb_ns_cli /usr/bin/time -f '%e %U %S %M' -o "$W/time.out" "${NICE[@]}" "$STSCTL" -q check --json --no-progress \
		--concurrency "$CONC" --ca-file "$STS_TB_CA" --timeout 10 --file "$W/domains.txt" \
		>"$W/check.json" 2>"$W/check.err"
	local rc=$?
	[ $rc -le 1 ] || { say "check failed ($rc): $(tail -3 "$W/check.err")"; exit 1; }
	verify_check "$W/check.json" "$rc" >"$W/verdicts" || exit 1
	cat "$W/time.out"
}
say "stsctl check, concurrency $CONC, a warm-up and $REPEAT runs"
# CPU seconds (user + system) so far of the namespace's nginx workers and PowerDNS
server_cpu() {
	local pids p t=0
	pids=$(pgrep -P "$(cat "$(dirname "$STS_TB_NS_SITES")/logs/nginx.pid")")
	for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t $(awk '{print $14 + $15}' "/proc/$(cat "$STS_TB_RUN/pids/ns-pdns.pid")/stat")" \
		"$(getconf CLK_TCK)"
}
: >"$W/runs"
prio -10
run_check >/dev/null # warm-up, not counted: PowerDNS and nginx read their files once
cpu0=$(server_cpu)
for _ in $(seq "$REPEAT"); do run_check >>"$W/runs"; done
cpu1=$(server_cpu)
verdicts=$(cat "$W/verdicts")

# the baseline, at the same priority as stsctl (same $NICE, servers unchanged);
# every answer must be VALID with the deployed policy (id bench1, enforce)
say "mta-sts-query over $SUBSET of the domains, one process each${PRIO:+ (PRIO=$PRIO)}"
: >"$W/mta-sts-query.out"
t0=$(date +%s.%N)
ok=0
for i in $(seq 0 $((SUBSET - 1))); do
	out=$(tb_ns_cli env SSL_CERT_FILE="$STS_TB_CA" timeout 30 "${NICE[@]}" mta-sts-query "d$i.$Z" 2>&1 | tail -1)
	echo "d$i.$Z $out" >>"$W/mta-sts-query.out"
	[[ "$out" == *STSFetchResult.VALID*"('bench1', "*"'mode': 'enforce'"* ]] && ok=$((ok + 1))
done
t1=$(date +%s.%N)
prio 0
[ "$ok" = "$SUBSET" ] || {
	say "mta-sts-query: $ok of $SUBSET answers VALID with the deployed policy, e.g.:"
	grep -v "VALID.*('bench1', .*'mode': 'enforce'" "$W/mta-sts-query.out" | head -3 >&2
	exit 1
}

"$CHK_PY" - "$W/runs" "$N" "$CONC" "$SUBSET" "$ok" "$t0" "$t1" "$verdicts" "$MX" "$MXS" "${PRIO:-0}" \
	"$cpu0" "$cpu1" <<'PY'
import os, statistics, sys
runs = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
n, conc, subset, ok = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
t0, t1, verdicts, mx, mxs = float(sys.argv[6]), float(sys.argv[7]), sys.argv[8], sys.argv[9], sys.argv[10]
prio = sys.argv[11] == "1"
c0, c1 = [list(map(int, a.split())) for a in sys.argv[12:14]]
ng, pd = ((c1[0] - c0[0]) / c1[2] / len(runs), (c1[1] - c0[1]) / c1[2] / len(runs))
wall = statistics.median(r[0] for r in runs)
rate = n / wall
per_query = (t1 - t0) / subset
loop = per_query * n
load = open("/proc/loadavg").read().split()[:3]
print(f"domains: {n} ({mx} MX: {mxs} MX host names), concurrency {conc}; verdicts: {verdicts}; "
      f"{os.cpu_count()} CPUs, load average {' '.join(load)}")
print("priority: stsctl, mta-sts-query and the servers " +
      ("all at nice -10 (PRIO=1)" if prio else "all at the script's own nice value"))
print(f"every run checked: exit 0, {n} domains, {verdicts} (warm-up and {len(runs)} timed runs)")
print(f"stsctl check: wall {' / '.join(f'{r[0]:.2f}' for r in runs)} s (median {wall:.2f} s) "
      f"= {rate:.0f} domains/s; user {runs[-1][1]:.2f} s, sys {runs[-1][2]:.2f} s, "
      f"max RSS {runs[-1][3] / 1024:.1f} MiB")
print(f"servers per run: nginx {ng:.2f} s CPU, PowerDNS {pd:.2f} s CPU")
print(f"mta-sts-query loop: {subset} domains in {t1 - t0:.1f} s ({per_query:.2f} s each, "
      f"{ok}/{subset} VALID, id bench1, enforce) -> {loop:.0f} s for {n} = {n / loop:.1f} domains/s")
print(f"speed-up: {loop / wall:.0f}x")
goal_rate, goal_x = rate >= 200, loop / wall >= 20
print(f"goals: >= 200 domains/s {'met' if goal_rate else 'MISSED'}; >= 20x {'met' if goal_x else 'MISSED'}")
sys.exit(0 if goal_rate and goal_x and ok == subset else 3)
PY
