#!/bin/bash
# Benchmark (not a test): one `stsctl watch --once --dry-run` evaluation cycle over
# N domains whose state DB holds 30 days of TLS-RPT aggregates (two reporting
# organisations a day, fetch-error failures every third day), every domain under
# rollout (a third each in none, testing and enforce) with a live check done
# recently, so that no check is due: evaluation only. Prints wall time, CPU time
# and peak RSS (median of REPEAT runs, max RSS) against the goals in
# docs/performance.md (10 s, 300 MB).
#
# What is timed is checked, after every run and outside the clock: the cycle must
# give exactly one decision per inventory domain, each the one its data calls
# for: `none` held for want of a live check, `testing` held by the 14 days
# of testing alone (so its reports, sessions, success ratio and organisations
# passed the gates: the aggregates were read), `enforce` healthy, except one
# enforce domain in a hundred (i % 300 == 2) whose last two days carry a
# fetch-error spike and which must be demoted to testing. Any other decision
# fails the benchmark (exit 1).
#
#   tests/bench/bench-watch.sh                    # N=100000, REPEAT=3, build/cli/stsctl
#   N=1000 STSCTL=build-x/cli/stsctl tests/bench/bench-watch.sh
#
# Work files go to $BENCH_DIR (default /tmp/stsctl-bench-watch, about 1.5 GB at
# N=100000), removed at the end unless KEEP=1. Exit: 0 goals met, 1 a command
# failed or a decision was wrong, 3 a goal missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-100000}
DAYS=${DAYS:-30}
REPEAT=${REPEAT:-3}
STSCTL=${STSCTL:-$ROOT/build/cli/stsctl}
W=${BENCH_DIR:-/tmp/stsctl-bench-watch}
export LC_ALL=C

[ -x "$STSCTL" ] || { echo "bench: no stsctl at '$STSCTL' (build first, or set STSCTL)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
INV=$W/inventory.json
DB=$W/state.db
NOW=1767268800 # 2026-01-01T12:00:00Z

python3 "$ROOT/tests/bench/gen-inventory.py" "$N" "$INV"
# the schemas, as stsctl creates them: ingest (reports) and a watch cycle over no domain
mkdir -p "$W/empty"
echo '{"version": 1, "domains": []}' >"$W/empty.json"
"$STSCTL" --quiet ingest "$W/empty" --state "$DB" >/dev/null
"$STSCTL" --quiet watch "$W/empty.json" --once --state "$DB" >/dev/null
t0=$(date +%s.%N)
python3 - "$INV" "$DB" "$NOW" "$DAYS" <<'PY'
import datetime, hashlib, json, sqlite3, sys
inv, dbp, now, days = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = sqlite3.connect(dbp)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
for t in ("rollout_state", "rollout_transitions", "served_policies", "tlsrpt_daily", "tlsrpt_failures"):
    db.execute(f"DELETE FROM {t}")
# since reports schema 2 the aggregates carry the reporter identity, and only
# authenticated rows of a listed reporter (google.com and microsoft.com are in
# the default list) count as evidence: each row is the organisation's own
DAILY = ["domain", "day", "organization", "policy_type", "policy_digest", "authenticated",
         "reports", "successful", "failed"]
FAILS = ["domain", "day", "organization", "policy_type", "policy_digest", "authenticated",
         "result_type", "sending_ip", "receiving_mx", "reports", "sessions"]
has_reporter = any(c[1] == "reporter" for c in db.execute("PRAGMA table_info(tlsrpt_daily)"))
if has_reporter:
    DAILY.append("reporter")
    FAILS.append("reporter")
rep_col = lambda org: (org,) if has_reporter else ()
INS_DAILY = f"INSERT INTO tlsrpt_daily ({', '.join(DAILY)}) VALUES ({', '.join('?' * len(DAILY))})"
INS_FAILS = f"INSERT INTO tlsrpt_failures ({', '.join(FAILS)}) VALUES ({', '.join('?' * len(FAILS))})"
def digest(lines):
    v = sorted(set(l.rstrip("\r \t") for l in lines if l.rstrip("\r \t")))
    return hashlib.sha256("".join(l + "\n" for l in v).encode()).hexdigest()[:16]
stages = ["none", "testing", "enforce"]
state, served, daily, fails = [], [], [], []
day0 = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date()
dayv = [str(day0 - datetime.timedelta(days=k)) for k in range(days)]
for i, d in enumerate(inv["domains"]):
    name = d["name"].encode("idna").decode() if not d["name"].isascii() else d["name"]
    st = stages[i % 3]
    lines = ["version: STSv1", f"mode: {st}"] + [f"mx: {m.encode('idna').decode()}" for m in d["mx"]] + ["max_age: 604800"]
    text = "".join(l + "\r\n" for l in lines)
    dg = digest(lines)
    state.append((name, st, now - 86400, now - 600))
    served.append((name, hashlib.sha256(text.encode()).hexdigest(), "bench", text, st, 604800, now - 40 * 86400, now, 1))
    for k, day in enumerate(dayv):
        daily.append((name, day, "google.com", "sts", dg, 1, 1, 90, 0) + rep_col("google.com"))
        f = 1 if (i + k) % 3 == 0 else 0
        spike = i % 300 == 2 and k < 2  # a demotion the check below expects
        f = 60 if spike else f
        daily.append((name, day, "microsoft.com", "sts", dg, 1, 1, 0 if spike else 60, f) + rep_col("microsoft.com"))
        if f:
            fails.append((name, day, "microsoft.com", "sts", dg, 1, "sts-policy-fetch-error", "192.0.2.1", "mx", 1, f)
                         + rep_col("microsoft.com"))
    if len(daily) > 500000:
        db.executemany(INS_DAILY, daily)
        db.executemany(INS_FAILS, fails)
        daily, fails = [], []
db.executemany(INS_DAILY, daily)
db.executemany(INS_FAILS, fails)
db.executemany("INSERT INTO rollout_state (domain, stage, since, last_check) VALUES (?,?,?,?)", state)
db.executemany("INSERT INTO served_policies VALUES (?,?,?,?,?,?,?,?,?)", served)
db.commit()
n_daily = db.execute("SELECT count(*) FROM tlsrpt_daily").fetchone()[0]
n_fail = db.execute("SELECT count(*) FROM tlsrpt_failures").fetchone()[0]
print(f"state: {len(state)} domains under rollout, {n_daily} daily and {n_fail} failure aggregate rows")
PY
t1=$(date +%s.%N)
echo "generated in $(echo "$t1 - $t0" | bc) s; DB $(du -h "$DB" | cut -f1)"

walls=() cpus=() rss_max=0
for _ in $(seq "$REPEAT"); do
	/usr/bin/time -f '%e %U %S %M' -o "$W/time" "$STSCTL" --quiet watch "$INV" --once --dry-run \
		--json --state "$DB" --now 2026-01-01T12:00:00Z >"$W/out.json"
	read -r e u s m <"$W/time"
	walls+=("$e")
	cpus+=("$(echo "$u + $s" | bc)")
	[ "$m" -gt "$rss_max" ] && rss_max=$m
	python3 - "$INV" "$W/out.json" >"$W/checked" <<'PY' || exit 1
import collections, json, sys
inv, dec = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["decisions"]
want = {}
for i, d in enumerate(inv["domains"]):
    name = d["name"].encode("idna").decode() if not d["name"].isascii() else d["name"]
    want[name] = [("none", "none", "held: no live check yet"),
                  ("testing", "testing", "held: in testing for 1 of 14 days"),
                  ("enforce", "testing", "demoted: failure spike") if i % 300 == 2 else
                  ("enforce", "enforce", "enforce: healthy")][i % 3]
got = collections.Counter(x["domain"] for x in dec)
bad = [f"{n} decisions for {d}" for d, n in got.items() if n != 1 or d not in want]
bad += [f"no decision for {d}" for d in want if d not in got]
for x in dec:
    w = want.get(x["domain"])
    if w and (x["from"], x["to"]) != w[:2] or w and not x["reason"].startswith(w[2]):
        bad.append(f"{x['domain']}: {x['from']} -> {x['to']} '{x['reason']}', expected {w}")
if bad:
    sys.exit(f"bench: {len(bad)} wrong decisions of {len(dec)}, e.g. " + "; ".join(bad[:3]))
c = collections.Counter(x["reason"].split(":")[0] + ":" + x["to"] for x in dec)
print(f"{len(dec)} decisions, one per domain, each as expected (" +
      ", ".join(f"{k} {v}" for k, v in sorted(c.items())) + ")")
PY
done
echo "checked (outside the clock), every run: $(cat "$W/checked")"
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall=$(med "${walls[@]}")
cpu=$(med "${cpus[@]}")
rss_mb=$((rss_max / 1024))
printf '| %s | %d domains, %d days | %s s | %s s | %d MB |\n' "watch --once --dry-run" "$N" "$DAYS" "$wall" "$cpu" "$rss_mb"
echo "runs: wall ${walls[*]} s; cpu ${cpus[*]} s; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
ok=0
if awk -v w="$wall" 'BEGIN { exit !(w <= 10) }'; then echo "- wall ${wall} s <= 10 s: met"; else echo "- wall ${wall} s <= 10 s: MISSED"; ok=3; fi
if [ "$rss_mb" -le 300 ]; then echo "- peak RSS ${rss_mb} MB <= 300 MB: met"; else echo "- peak RSS ${rss_mb} MB <= 300 MB: MISSED"; ok=3; fi
exit $ok
