#!/bin/bash
# stsctl watch and status with the real zonefile and local plugins, reports read
# from a trusted directory each cycle, --now what-if runs: a held promotion is
# explained by status and by watch --dry-run (min-days, then the live check); a
# domain leaving the inventory is recorded as removed and POSTed to the webhook;
# the daemon: sd_notify READY/STATUS/STOPPING on NOTIFY_SOCKET, a second watcher
# refused (exit 3), apply runs between cycles, SIGHUP reloads, journal priority
# prefixes, SIGTERM exits 0.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
W=$(mktemp -d /tmp/stsctl-watch.XXXXXX)
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	[ -n "${WATCH_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
S=$STSCTL
T0=1767268800 # 2026-01-01T12:00:00Z
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
cd "$W" || exit 1
mkdir -p reports/google reports/microsoft z r

# the webhook: a python server on 127.0.0.1 that stores every POST body
python3 - "$W/hook" >"$W/hook.port" <<'PY' &
import http.server, sys, os
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(self.headers.get("Content-Type", "").encode() + b"\n" + body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -s "$W/hook.port" ] && break; sleep 0.1; done
HOOK_PORT=$(cat "$W/hook.port")

cat >inv.json <<EOF2
{"version": 1,
 "defaults": {"dns": "d", "web": "w", "mode": "testing", "max_age": 86400,
   "tlsrpt": {"rua": ["mailto:tlsrpt@example.net"]},
   "rollout": {"min_days_in_testing": 7, "window_days": 7}},
 "providers": {"d": {"plugin": "zonefile", "directory": "z", "create": true},
               "w": {"plugin": "local", "root": "r"}},
 "reports": {"sources": [{"source": "reports/google", "trusted": true, "name": "google-archive"},
                         {"source": "reports/microsoft", "trusted": true, "name": "microsoft-archive"}]},
 "watch": {"interval": 60, "check_interval": 3600,
           "webhook": "http://127.0.0.1:$HOOK_PORT/hook"},
 "domains": [{"name": "a.example", "mx": ["mx.a.example"]},
             {"name": "b.example", "mx": ["mx.b.example"], "rollout": {"target": "testing"}},
             {"name": "c.example", "mx": ["mx.c.example"]}]}
EOF2

out=$(STSCTL_TEST_NOW=$T0 $S apply --yes inv.json 2>&1)
tb_expect_eq "apply publishes the inventory's mode (testing)" 0 $?

# reports about a.example's testing policy from two organisations for days 0..8,
# policy-string lines reordered; each organisation's reports in a trusted
# directory of its own (a trusted source is one reporter: its name)
python3 - "$W/reports" "$T0" <<'PY'
import json, sys, datetime
out, t0 = sys.argv[1], int(sys.argv[2])
pol = ["max_age: 86400", "mx: mx.a.example", "mode: testing", "version: STSv1"]
for day in range(9):
    d = datetime.datetime.fromtimestamp(t0 + day * 86400, datetime.timezone.utc).date()
    for org, ok, fail in (("google.com", 90, 0), ("microsoft.com", 60, 1)):
        rep = {"organization-name": org, "contact-info": "tls@" + org,
               "report-id": f"{org}-{d}",
               "date-range": {"start-datetime": f"{d}T00:00:00Z", "end-datetime": f"{d}T23:59:59Z"},
               "policies": [{"policy": {"policy-type": "sts", "policy-string": pol,
                                        "policy-domain": "a.example"},
                             "summary": {"total-successful-session-count": ok,
                                         "total-failure-session-count": fail},
                             "failure-details": [{"result-type": "sts-policy-fetch-error",
                                                  "sending-mta-ip": "192.0.2.1",
                                                  "receiving-mx-hostname": "mx.a.example",
                                                  "failed-session-count": fail}] if fail else []}]}
        json.dump(rep, open(f"{out}/{org.split('.')[0]}/{org}-{d}.json", "w"))
PY

# ---------- one cycle a day, as if at T0 + N days ----------
out=$($S watch inv.json --once --json --now "$(iso $((T0 + 3600)))" 2>"$W/err")
rc=$?
tb_expect_eq "watch --once exits 0" 0 $rc
tb_expect "reports ingested from the trusted source" "ingested 18 new reports" "$(cat "$W/err")"
a=$(echo "$out" | python3 -c 'import json,sys; d={x["domain"]:x for x in json.load(sys.stdin)["decisions"]}; print(d["a.example"]["from"], d["a.example"]["to"], d["a.example"]["reason"])')
tb_expect "a.example held by min-days" "testing testing held: in testing for 0 of 7 days" "$a"
b=$(echo "$out" | python3 -c 'import json,sys; d={x["domain"]:x for x in json.load(sys.stdin)["decisions"]}; print(d["b.example"]["reason"])')
tb_expect "b.example held at its target" "target is testing" "$b"

st=$($S status inv.json --json --now "$(iso $((T0 + 8 * 86400)))")
tb_expect_eq "status exits 0" 0 $?
read -r gates np sessions orgs <<<"$(echo "$st" | python3 -c '
import json,sys
d={x["domain"]:x for x in json.load(sys.stdin)["domains"]}["a.example"]
print(",".join(b["gate"] for b in d["blocking"]), d["next_promotion_at"], d["health"]["sessions"], d["health"]["reporting_orgs"])')"
tb_expect_eq "status: only the live check blocks a.example on day 8" "live-check" "$gates"
tb_expect_eq "status: next promotion possible now" "$(iso $((T0 + 8 * 86400)))" "$np"
tb_expect_eq "status: 8 days x 151 matching sessions" "1208" "$sessions"
tb_expect_eq "status: two reporters (the two trusted sources)" "2" "$orgs"
c=$($S status inv.json --json --now "$(iso $((T0 + 8 * 86400)))" | python3 -c '
import json,sys
d={x["domain"]:x for x in json.load(sys.stdin)["domains"]}["c.example"]
print(",".join(b["gate"] for b in d["blocking"]), d["next_promotion_at"])')
tb_expect_eq "status: c.example (no reports) held by reports, no promotion date" "reports None" "$c"

# the live check against a resolver that answers nothing: promotion refused and explained
out=$($S watch inv.json --once --dry-run --json --now "$(iso $((T0 + 8 * 86400)))" \
	--resolver 127.0.0.1:9 2>/dev/null)
a=$(echo "$out" | python3 -c 'import json,sys; d={x["domain"]:x for x in json.load(sys.stdin)["decisions"]}; print(d["a.example"]["to"], d["a.example"]["reason"])')
tb_expect "dry run: a.example held by the failed live check" "testing held: the _mta-sts TXT record is not valid" "$a"
hist=$(sqlite3 stsctl.db "select count(*) from rollout_transitions where domain='a.example'")
tb_expect_eq "dry run recorded nothing" 1 "$hist"
mode=$(sqlite3 stsctl.db "select stage from rollout_state where domain='a.example'")
tb_expect_eq "a.example still in testing" testing "$mode"

# a domain leaving the inventory: recorded as removed, POSTed to the webhook
python3 - inv.json <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
inv["domains"] = [d for d in inv["domains"] if d["name"] != "c.example"]
json.dump(inv, open(sys.argv[1], "w"), indent=1)
PY
out=$($S watch inv.json --once --json --now "$(iso $((T0 + 9 * 86400)))" --resolver 127.0.0.1:9 2>"$W/err")
c=$(echo "$out" | python3 -c 'import json,sys; d={x["domain"]:x for x in json.load(sys.stdin)["decisions"]}; print(d["c.example"]["from"], d["c.example"]["to"])')
tb_expect_eq "c.example: testing -> removed" "testing removed" "$c"
tb_expect "the webhook got the change as JSON" '"domain":"c.example","from":"testing","to":"removed"' "$(cat "$W/hook" 2>/dev/null)"
tb_expect "the webhook POST is application/json" "application/json" "$(head -1 "$W/hook" 2>/dev/null)"
tb_expect "the change is logged" "c.example: testing -> removed: no longer in the inventory" "$(cat "$W/err")"

# plan publishes the stage, and shows it next to the inventory's mode
sqlite3 stsctl.db "update rollout_state set stage='enforce' where domain='a.example'"
out=$($S plan inv.json 2>&1)
tb_expect "plan shows the stage and the inventory mode" "rollout stage: enforce (inventory mode: testing)" "$out"
tb_expect "plan publishes the stage's mode" "+ mode: enforce" "$out"
sqlite3 stsctl.db "update rollout_state set stage='testing' where domain='a.example'"

# ---------- the daemon ----------
python3 - "$W/notify" >"$W/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", " | "), flush=True)
PY
PIDS="$PIDS $!"
for _ in $(seq 50); do [ -S "$W/notify" ] && break; sleep 0.1; done
: >"$W/daemon.err"
JS=$(stat -c '%d:%i' "$W/daemon.err")
NOTIFY_SOCKET=$W/notify JOURNAL_STREAM=$JS $S watch inv.json --resolver 127.0.0.1:9 \
	2>>"$W/daemon.err" &
D=$!
PIDS="$PIDS $D"
for _ in $(seq 100); do grep -q "READY=1" "$W/notify.log" && break; sleep 0.1; done
tb_expect "daemon: READY=1 on NOTIFY_SOCKET" "READY=1" "$(cat "$W/notify.log")"
for _ in $(seq 100); do grep -q "STATUS=last cycle" "$W/notify.log" && break; sleep 0.1; done
tb_expect "daemon: STATUS after the first cycle" "STATUS=last cycle" "$(cat "$W/notify.log")"
$S watch inv.json --resolver 127.0.0.1:9 2>"$W/err2"
tb_expect_eq "daemon: a second watcher on the same state exits 3" 3 $?
tb_expect "daemon: the second one says why" "another stsctl watch runs on this state" "$(cat "$W/err2")"
$S apply --yes --allow-removal inv.json >"$W/apply.out" 2>&1
tb_expect_eq "daemon: apply runs between cycles (state lock free)" 0 $?
tb_expect "daemon: journal priority prefixes" "<6>stsctl: watching 2 domains" "$(cat "$W/daemon.err")"
python3 - inv.json <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
inv["domains"].append({"name": "d.example", "mx": ["mx.d.example"]})
json.dump(inv, open(sys.argv[1], "w"), indent=1)
PY
kill -HUP "$D"
for _ in $(seq 100); do grep -q "reloaded" "$W/daemon.err" && break; sleep 0.1; done
tb_expect "daemon: SIGHUP reloads the inventory" "reloaded inventory 'inv.json': 3 domains" "$(cat "$W/daemon.err")"
echo '{' >>inv.json
kill -HUP "$D"
for _ in $(seq 100); do grep -q "keeping the previous one" "$W/daemon.err" && break; sleep 0.1; done
tb_expect "daemon: an invalid inventory on SIGHUP keeps the previous one" "keeping the previous one" "$(cat "$W/daemon.err")"
kill -TERM "$D"
wait "$D"
rc=$?
tb_expect_eq "daemon: SIGTERM exits 0" 0 $rc
for _ in $(seq 50); do grep -q "STOPPING=1" "$W/notify.log" && break; sleep 0.1; done
tb_expect "daemon: STOPPING=1" "STOPPING=1" "$(cat "$W/notify.log")"
tb_done
