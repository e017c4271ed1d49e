#!/bin/bash
# plan/apply with the real zonefile and local plugins (and nginx for verify.https):
#  fresh apply; idempotent re-apply; mode change (new id, policy written before the
#  TXT: the order is read from the plugins' own log lines); MX change; plan --out /
#  apply PLANFILE and a stale plan; the lock; a conflict; removal with an injected
#  clock; crash injection after every step, then a rerun converges; kill -9 at random
#  points; a plugin with the wrong ABI refused; foreign zone records kept byte for
#  byte; named-checkzone accepts every zone written; HTTPS verification.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
C=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/stsctl-pa.XXXXXX)
chmod 755 "$W" # nginx workers read the web root
BG=
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null
	[ -e "$STS_TB_NGINX_SITES/plan-apply.conf" ] && tb_nginx_site_rm plan-apply
	[ -n "${PA_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
S=$STSCTL
NOW0=$(date +%s)

# ---------- helpers ----------

# set_inv DIR PY: rewrite DIR/inv.json with the python statement PY applied to `inv`
set_inv() {
	python3 - "$1/inv.json" "$2" <<'PY'
import json, sys
p, code = sys.argv[1], sys.argv[2]
inv = json.load(open(p))
def dom(name):
    return next(d for d in inv["domains"] if d["name"] == name)
exec(code)
json.dump(inv, open(p, "w"), indent=1)
PY
}

# canon DIR ZONE: the zone in canonical form (a fragment is wrapped with SOA and NS first)
wrap() {
	local f=$1/zones/$2.zone
	if grep -q 'SOA' "$f"; then
		cat "$f"
	else
		printf '$TTL 300\n$ORIGIN %s.\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n$INCLUDE %s\n' "$2" "$f"
	fi
}
canon() {
	wrap "$1" "$2" >"$1/.wrap-$2"
	named-checkzone -q -D -o - "$2" "$1/.wrap-$2" 2>/dev/null
	rm -f "$1/.wrap-$2"
}
# every zone file under DIR/zones passes named-checkzone
zones_ok() {
	local f z err bad=0
	for f in "$1"/zones/*.zone; do
		[ -e "$f" ] || continue
		z=$(basename "$f" .zone)
		wrap "$1" "$z" >"$1/.wrap-$z"
		if ! err=$(named-checkzone -q -k fail -i full "$z" "$1/.wrap-$z" 2>&1); then
			echo "$z: $err"
			bad=1
		fi
		rm -f "$1/.wrap-$z"
	done
	return $bad
}
# what the two id helpers print when there is nothing: never an id, never each other
NO_TXT="(no v=STSv1 TXT)" NO_POLICY="(no policy file)"
# sts_id DIR ZONE DOMAIN: the id of the v=STSv1 TXT, or $NO_TXT
sts_id() {
	local id
	id=$(canon "$1" "$2" | awk -v n="_mta-sts.$3." '$1 == n && $4 == "TXT"' | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//')
	echo "${id:-$NO_TXT}"
}
has_name() { canon "$1" "$2" | awk -v n="$3" '$1 == n { f = 1 } END { exit !f }'; }
policy() { echo "$1/www/mta-sts.$2/.well-known/mta-sts.txt"; }
# pol_id DIR DOMAIN: the id of the policy file in place (sha256 prefix, docs/stsctl-render.md), or $NO_POLICY
pol_id() {
	local f
	f=$(policy "$1" "$2")
	if [ -e "$f" ]; then sha256sum "$f" | cut -c1-32; else echo "$NO_POLICY"; fi
}
# no temporary files anywhere under DIR's web root and zones
no_temp() { [ -z "$(find "$1/www" "$1/zones" -name '.*' -type f 2>/dev/null)" ]; }
# every published policy file under DIR is complete: "version: STSv1" first, "max_age: N" last
complete() {
	python3 - "$1" <<'PY'
import glob, re, sys
bad = [p for p in glob.glob(sys.argv[1] + "/www/*/.well-known/mta-sts.txt")
       if not re.fullmatch(rb"version: STSv1\r\n(.+\r\n)*max_age: \d+\r\n", open(p, "rb").read())]
print(len(bad), " ".join(bad[:3]))
PY
}
apply() { # apply DIR [args...]: stdout+stderr in DIR/out, exit status returned
	local d=$1
	shift
	(cd "$d" && "$S" "$@" >out 2>&1)
}
sql() { sqlite3 "$1/state.db" "$2"; }

# base fixture: a full zone with SOA and foreign records, three zones, local web root
mkfix() {
	mkdir -p "$1/zones" "$1/www"
	cp "$C/inventory.json" "$1/inv.json"
	cp "$C/example.com.zone" "$1/zones/example.com.zone"
}

# ---------- fresh apply ----------
A=$W/a
mkfix "$A"
apply "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan on an empty state: --detailed-exitcode 2 (changes)" 2 "$?"
tb_expect "plan shows a policy to create" "+ policy https://mta-sts.example.com/.well-known/mta-sts.txt" "$(cat "$A/out")"
tb_expect_eq "plan wrote no state DB" "" "$(ls "$A"/state.db* 2>/dev/null)"
(cd "$A" && "$S" plan inv.json --state state.db --json >plan.json 2>plan.err)
tb_expect_eq "plan --json exits 0" 0 "$?"
got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = [x for x in d["changes"] if x["domain"] == "example.com"]
print(" ".join(x["object"] + ":" + x["action"] for x in c), sorted(c[0].keys()))' "$A/plan.json")
tb_expect_eq "plan --json: changes with domain/object/action/before/after, in apply order" \
	"policy:create sts-record:update tlsrpt-record:create ['action', 'after', 'before', 'domain', 'name', 'object']" "$got"

apply "$A" apply inv.json --state state.db
tb_expect_eq "apply without --yes and without a terminal refuses (exit 2)" 2 "$?"
tb_expect "... and says why" "without --yes" "$(cat "$A/out")"
tb_expect_eq "... and publishes nothing" "$NO_POLICY" "$(pol_id "$A" example.com)"

apply "$A" apply inv.json --yes --state state.db
rc=$?
tb_expect_eq "fresh apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$A/out"
for d in example.com example.net shop.example.org; do
	z=$d
	[ "$d" = shop.example.org ] && z=example.org
	tb_expect_eq "'$d': the published id names the policy in place" "$(pol_id "$A" "$d")" "$(sts_id "$A" "$z" "$d")"
done
tb_expect "TLS-RPT record published" 'v=TLSRPTv1; rua=mailto:tlsrpt@example.com' "$(canon "$A" example.net)"
if err=$(zones_ok "$A"); then tb_ok "named-checkzone accepts every zone written"; else tb_fail "named-checkzone accepts every zone written" "$err"; fi
# foreign records: every line of the original file except the SOA serial is still there, in order
got=$(python3 - "$C/example.com.zone" "$A/zones/example.com.zone" <<'PY'
import sys
old = open(sys.argv[1], "rb").read().split(b"\n")
new = open(sys.argv[2], "rb").read().split(b"\n")
it = iter(new)
missing = [l for l in old if b"; serial" not in l and b"v=STSv1" not in l and not any(l == n for n in it)]
print("missing:", missing[:3]) if missing else print("ok")
PY
)
tb_expect_eq "zone file: foreign records kept byte for byte (only the serial changed)" ok "$got"
tb_expect "zone file: the foreign TXT beside ours at _mta-sts is kept" "keep-this-verification" "$(canon "$A" example.com)"
tb_expect_eq "state DB: served policies recorded" 3 "$(sql "$A" 'SELECT count(*) FROM served_policies WHERE current = 1')"
tb_expect_eq "state DB: journal has policy-put before dns for each domain" 3 \
	"$(sql "$A" "SELECT count(*) FROM journal p JOIN journal d ON p.domain = d.domain AND p.step = 'policy-put' AND d.step = 'dns' AND p.id < d.id")"
tb_expect_eq "no temporary files left" 0 "$(no_temp "$A"; echo $?)"

# ---------- idempotent ----------
sum1=$(cat "$A"/zones/*.zone "$A"/www/*/.well-known/* | sha256sum)
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "second apply exits 0" 0 "$?"
tb_expect "second apply finds nothing to do" "0 domains changed (0 changes), 3 unchanged, 0 failed" "$(cat "$A/out")"
tb_expect_eq "second apply wrote nothing" "$sum1" "$(cat "$A"/zones/*.zone "$A"/www/*/.well-known/* | sha256sum)"
apply "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan after apply: --detailed-exitcode 0" 0 "$?"

# ---------- mode change: new id, policy before TXT (from the plugins' calls) ----------
old_id=$(sts_id "$A" example.net example.net)
set_inv "$A" 'dom("example.net")["mode"] = "enforce"'
apply "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "mode change: plan --detailed-exitcode 2" 2 "$?"
(cd "$A" && "$S" -v apply inv.json --yes --state state.db >out 2>err)
tb_expect_eq "mode change: apply exits 0" 0 "$?"
new_id=$(sts_id "$A" example.net example.net)
[ "$new_id" != "$old_id" ] && [ "$new_id" != "$NO_TXT" ] && tb_ok "mode change: a new id" || tb_fail "mode change: a new id" "$old_id -> $new_id"
tb_expect_eq "mode change: the id names the new policy" "$(pol_id "$A" example.net)" "$new_id"
tb_expect "mode change: the policy says enforce" "mode: enforce" "$(cat "$(policy "$A" example.net)")"
order=$(awk '/\[web:local\] wrote .*mta-sts.example.net/ { if (!w) w = NR } /\[dns:zonefile\] .*example.net.zone/ { if (!z) z = NR } END { print (w && z && w < z) ? "policy-first" : "w=" w " z=" z }' "$A/err")
tb_expect_eq "mode change: the plugins wrote the policy before the zone" policy-first "$order"

# ---------- MX change ----------
old_id=$(sts_id "$A" example.com example.com)
set_inv "$A" 'dom("example.com")["mx"] = ["mx1.example.com", "mx9.example.com"]'
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "mx change: apply exits 0" 0 "$?"
tb_expect "mx change: the new mx line is served" "mx: mx9.example.com" "$(cat "$(policy "$A" example.com)")"
new_id=$(sts_id "$A" example.com example.com)
[ "$new_id" != "$old_id" ] && [ "$new_id" != "$NO_TXT" ] && tb_ok "mx change: a new id" || tb_fail "mx change: a new id" "$old_id"
tb_expect_eq "mx change: the id names the policy in place" "$(pol_id "$A" example.com)" "$new_id"
if err=$(zones_ok "$A"); then tb_ok "named-checkzone accepts the zones after the changes"; else tb_fail "named-checkzone accepts the zones after the changes" "$err"; fi

# ---------- plan --out, apply PLANFILE, a stale plan ----------
set_inv "$A" 'dom("shop.example.org")["mode"] = "enforce"'
apply "$A" plan inv.json --state state.db --out plan1.json
tb_expect_eq "plan --out exits 0" 0 "$?"
apply "$A" apply plan1.json --yes --state state.db
tb_expect_eq "apply PLANFILE exits 0" 0 "$?"
tb_expect "apply PLANFILE applied the plan" "mode: enforce" "$(cat "$(policy "$A" shop.example.org)")"
set_inv "$A" 'dom("shop.example.org")["mode"] = "testing"'
apply "$A" plan inv.json --state state.db --out plan2.json
cp "$(policy "$A" shop.example.org)" "$W/shop.saved"
printf 'version: STSv1\r\nmode: none\r\nmx: mx.example.org\r\nmax_age: 86400\r\n' >"$(policy "$A" shop.example.org)"
apply "$A" apply plan2.json --yes --state state.db
tb_expect_eq "apply of a plan whose published state changed: exit 4" 4 "$?"
tb_expect "... naming the domain" "'shop.example.org'" "$(cat "$A/out")"
cp "$W/shop.saved" "$(policy "$A" shop.example.org)"
echo >>"$A/inv.json" # same meaning, other bytes
apply "$A" apply plan2.json --yes --state state.db
tb_expect_eq "apply of a plan whose inventory changed: exit 4" 4 "$?"
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "apply after the stale plans exits 0" 0 "$?"

# ---------- the lock ----------
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(60)' \
	"$A/state.db.lock" "$W/locked" &
BG=$!
for _ in $(seq 100); do [ -e "$W/locked" ] && break; sleep 0.05; done
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "apply while another holds the lock: exit 3" 3 "$?"
tb_expect "... naming the lock file" "state.db.lock" "$(cat "$A/out")"
kill "$BG" 2>/dev/null
wait "$BG" 2>/dev/null
BG=

# ---------- a conflicting record is reported, never overwritten ----------
printf '_mta-sts.conflict.example.\t300\tIN\tCNAME\telsewhere.example.net.\n' >"$A/zones/conflict.example.zone"
set_inv "$A" 'inv["domains"].append({"name": "conflict.example", "mx": ["mx.conflict.example"]})'
apply "$A" plan inv.json --state state.db
tb_expect_eq "plan with a conflicting CNAME exits 1" 1 "$?"
tb_expect "plan names the conflict" "'_mta-sts.conflict.example.' holds a CNAME" "$(cat "$A/out")"
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "apply with a conflict exits 1" 1 "$?"
tb_expect "apply lists the failed domain" "failed: conflict.example: plan:" "$(cat "$A/out")"
tb_expect "the foreign CNAME is still there" "elsewhere.example.net." "$(cat "$A/zones/conflict.example.zone")"
tb_expect_eq "nothing of the conflicting domain was written" "$NO_POLICY" "$(pol_id "$A" conflict.example)"
set_inv "$A" 'inv["domains"] = [d for d in inv["domains"] if d["name"] != "conflict.example"]'
rm -f "$A/zones/conflict.example.zone"

# ---------- removal with an injected clock ----------
cp -a "$A" "$W/crashbase" # a published state for the crash tests below
T=$NOW0
export STSCTL_TEST_NOW=$T
set_inv "$A" 'inv["domains"] = [d for d in inv["domains"] if d["name"] != "example.net"]'
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "removing 1 of 3 managed domains without --allow-removal: refused (exit 1)" 1 "$?"
tb_expect "... saying why" "--allow-removal" "$(cat "$A/out")"
tb_expect "... and the policy is untouched" "mode: enforce" "$(cat "$(policy "$A" example.net)")"
apply "$A" apply inv.json --yes --state state.db --allow-removal
tb_expect_eq "removal start: apply exits 0" 0 "$?"
tb_expect "removal start: mode none is served" "mode: none" "$(cat "$(policy "$A" example.net)")"
tb_expect "removal start: the mx lines are kept" "mx: mx.example.net" "$(cat "$(policy "$A" example.net)")"
tb_expect_eq "removal start: the new id names the none policy" "$(pol_id "$A" example.net)" "$(sts_id "$A" example.net example.net)"
tb_expect "removal start: TLS-RPT still published" "v=TLSRPTv1" "$(canon "$A" example.net)"
max_age=$(sql "$A" "SELECT max(max_age) FROM served_policies WHERE domain = 'example.net'")
tb_expect_eq "removal start: the largest max_age served is 604800" 604800 "$max_age"
export STSCTL_TEST_NOW=$((T + 3600))
(cd "$A" && "$S" plan inv.json --state state.db --json >wait.json 2>/dev/null)
got=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["pending"][0]; print(p["domain"], p["phase"], p["seconds_left"])' "$A/wait.json")
tb_expect_eq "plan shows how long the removal waits" "example.net removal-wait $((604800 - 3600))" "$got"
apply "$A" plan inv.json --state state.db
tb_expect "plan (text) shows the time left" "removal waits 6d 23h 0m more" "$(cat "$A/out")"
export STSCTL_TEST_NOW=$((T + 604800 - 1))
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "one second before max_age has passed: apply exits 0" 0 "$?"
tb_expect "... and deletes nothing" "mode: none" "$(cat "$(policy "$A" example.net)")"
has_name "$A" example.net "_mta-sts.example.net." && tb_ok "... the TXT is still published" || tb_fail "... the TXT is still published"
cp -a "$A" "$W/removalbase" # waiting, for the crash tests of the delete step
export STSCTL_TEST_NOW=$((T + 604800))
apply "$A" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "after max_age: plan shows the deletion (exit 2)" 2 "$?"
apply "$A" apply inv.json --yes --state state.db
tb_expect_eq "after max_age: apply exits 0" 0 "$?"
has_name "$A" example.net "_mta-sts.example.net." && tb_fail "the _mta-sts TXT is deleted" || tb_ok "the _mta-sts TXT is deleted"
has_name "$A" example.net "_smtp._tls.example.net." && tb_fail "the _smtp._tls TXT is deleted" || tb_ok "the _smtp._tls TXT is deleted"
tb_expect_eq "the policy file is deleted" "$NO_POLICY" "$(pol_id "$A" example.net)"
tb_expect_eq "the state DB forgets the domain" 0 "$(sql "$A" "SELECT count(*) FROM managed_domains WHERE domain = 'example.net'")"
if err=$(zones_ok "$A"); then tb_ok "named-checkzone accepts the zones after the removal"; else tb_fail "named-checkzone accepts the zones after the removal" "$err"; fi
apply "$A" apply inv.json --yes --state state.db
tb_expect "after the removal a second apply finds nothing to do" "0 domains changed (0 changes), 2 unchanged, 0 failed" "$(cat "$A/out")"
# "state": "absent" takes the same road
set_inv "$A" 'dom("shop.example.org")["state"] = "absent"'
apply "$A" apply inv.json --yes --state state.db --allow-removal
tb_expect_eq "\"state\": \"absent\": apply exits 0" 0 "$?"
tb_expect "\"state\": \"absent\": mode none is served" "mode: none" "$(cat "$(policy "$A" shop.example.org)")"
tb_expect_eq "\"state\": \"absent\": the removal clock runs" 1 "$(sql "$A" "SELECT count(*) FROM managed_domains WHERE domain = 'shop.example.org' AND removal_started = $((T + 604800))")"
unset STSCTL_TEST_NOW

# ---------- crash injection after every step, then a rerun converges ----------
# invariant after any crash: a published id always names the policy in place,
# or is the previous id (the new policy is written before the TXT that names it)
crash_case() { # crash_case NAME STEP BASE PYEDIT [--allow-removal]
	local name=$1 step=$2 base=$3 edit=$4 D=$W/crash-$1
	shift 4
	cp -a "$base" "$D"
	set_inv "$D" "$edit"
	local before
	before=$(sts_id "$D" example.com example.com)
	(cd "$D" && STSCTL_TEST_CRASH_AFTER=$step "$S" apply inv.json --yes --state state.db "$@" >out 2>&1)
	local rc=$?
	tb_expect_eq "crash after '$name': apply aborts" 134 "$rc"
	local id pid
	id=$(sts_id "$D" example.com example.com)
	pid=$(pol_id "$D" example.com)
	if [ "$before" = "$NO_TXT" ]; then
		tb_fail "crash after '$name': no id published for a policy not in place" "no TXT before the crash"
	elif [ "$id" = "$pid" ] || [ "$id" = "$before" ]; then
		tb_ok "crash after '$name': no id published for a policy not in place"
	else
		tb_fail "crash after '$name': no id published for a policy not in place" "id $id, policy $pid, before $before"
	fi
	# other zones run in parallel: their plugin may be mid-write (a temporary file), but no
	# published file is ever partial
	local c
	c=$(complete "$D")
	tb_expect_eq "crash after '$name': no partial policy file" 0 "${c%% *}"
	if err=$(zones_ok "$D"); then tb_ok "crash after '$name': zones still valid"; else tb_fail "crash after '$name': zones still valid" "$err"; fi
	apply "$D" apply inv.json --yes --state state.db "$@"
	tb_expect_eq "crash after '$name': the rerun exits 0" 0 "$?"
	apply "$D" plan inv.json --state state.db --detailed-exitcode
	tb_expect_eq "crash after '$name': then nothing is left to do" 0 "$?"
	tb_expect_eq "crash after '$name': the id names the policy in place" "$(pol_id "$D" example.com)" "$(sts_id "$D" example.com example.com)"
}
EDIT='dom("example.com")["mode"] = "enforce"; dom("example.net")["mode"] = "testing"'
for step in policy-put policy-verify db-record dns db-commit policy-put:2 dns:2; do
	crash_case "$step" "$step" "$W/crashbase" "$EDIT"
done
# the delete step of a removal, with the clock past max_age
export STSCTL_TEST_NOW=$((T + 604800))
for step in dns policy-delete db-commit; do
	D=$W/crash-rm-$step
	cp -a "$W/removalbase" "$D"
	(cd "$D" && STSCTL_TEST_CRASH_AFTER=$step "$S" apply inv.json --yes --state state.db >out 2>&1)
	tb_expect_eq "removal, crash after '$step': apply aborts" 134 "$?"
	apply "$D" apply inv.json --yes --state state.db
	tb_expect_eq "removal, crash after '$step': the rerun exits 0" 0 "$?"
	ok=$( (has_name "$D" example.net "_mta-sts.example.net." || [ "$(pol_id "$D" example.net)" != "$NO_POLICY" ]) && echo left || echo gone)
	tb_expect_eq "removal, crash after '$step': records and policy are gone" gone "$ok"
	tb_expect_eq "removal, crash after '$step': the domain is forgotten" 0 "$(sql "$D" "SELECT count(*) FROM managed_domains WHERE domain = 'example.net'")"
done
unset STSCTL_TEST_NOW

# ---------- kill -9 at random points of a bigger apply ----------
K=$W/kill
mkdir -p "$K/zones" "$K/www"
python3 - "$K/inv.json" <<'PY'
import json, sys
doms = [{"name": f"d{i}.z{i % 10}.test", "zone": f"z{i % 10}.test", "mx": [f"mx.z{i % 10}.test"]} for i in range(400)]
inv = {"version": 1, "defaults": {"dns": "zones", "web": "www", "mode": "testing", "max_age": 86400,
       "tlsrpt": {"rua": ["mailto:r@example.com"]}},
       "providers": {"zones": {"plugin": "zonefile", "directory": "zones", "create": True}, "www": {"plugin": "local", "root": "www"}},
       "domains": doms}
json.dump(inv, open(sys.argv[1], "w"))
PY
killed=0
for delay in 0.05 0.1 0.2 0.3 0.5; do
	set_inv "$K" "inv['defaults']['mode'] = 'enforce' if inv['defaults']['mode'] == 'testing' else 'testing'"
	(cd "$K" && exec "$S" apply inv.json --yes --state state.db >/dev/null 2>&1) &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	bad=$(python3 - "$K" <<'PY'
import glob, hashlib, os, re, sys
k = sys.argv[1]
bad = []
for z in glob.glob(k + "/zones/*.zone"):
    for m in re.finditer(r'_mta-sts\.(\S+)\.\s+\d+\s+IN\s+TXT\s+"v=STSv1; id=([A-Za-z0-9]+);"', open(z).read()):
        d, i = m.groups()
        p = f"{k}/www/mta-sts.{d}/.well-known/mta-sts.txt"
        cur = hashlib.sha256(open(p, "rb").read()).hexdigest()[:32] if os.path.exists(p) else "-"
        # the id is either the policy in place, or the one it replaced (same mx, other mode)
        other = open(p, "rb").read().replace(b"mode: testing", b"mode: X").replace(b"mode: enforce", b"mode: testing").replace(b"mode: X", b"mode: enforce") if os.path.exists(p) else b""
        if i != cur and i != hashlib.sha256(other).hexdigest()[:32]:
            bad.append(d)
print(len(bad), " ".join(bad[:3]))
PY
)
	[ "${bad%% *}" = 0 ] || break
done
tb_expect_eq "kill -9 at random points: every published id names a policy in place or the one before" 0 "${bad%% *}"
[ "$killed" -gt 0 ] && tb_ok "kill -9 hit a running apply ($killed times)" || tb_fail "kill -9 hit a running apply"
# a killed plugin may leave a temporary file behind, but never a partial published file
got=$(complete "$K")
tb_expect_eq "kill -9: every published policy file is complete" 0 "${got%% *}"
if err=$(zones_ok "$K"); then tb_ok "kill -9: every zone file is complete (named-checkzone)"; else tb_fail "kill -9: every zone file is complete (named-checkzone)" "$err"; fi
apply "$K" apply inv.json --yes --state state.db
tb_expect_eq "kill -9: the rerun exits 0" 0 "$?"
# after the rerun every one of the 400 domains has its TXT, naming the policy in place
got=$(python3 - "$K" <<'PY'
import glob, hashlib, os, re, sys
k = sys.argv[1]
ids = {}
for z in glob.glob(k + "/zones/*.zone"):
    for m in re.finditer(r'_mta-sts\.(\S+)\.\s+\d+\s+IN\s+TXT\s+"v=STSv1; id=([A-Za-z0-9]+);"', open(z).read()):
        ids[m.group(1)] = m.group(2)
ok = 0
for i in range(400):
    d = f"d{i}.z{i % 10}.test"
    p = f"{k}/www/mta-sts.{d}/.well-known/mta-sts.txt"
    if d in ids and os.path.exists(p) and ids[d] == hashlib.sha256(open(p, "rb").read()).hexdigest()[:32]:
        ok += 1
print(ok)
PY
)
tb_expect_eq "kill -9: after the rerun all 400 domains have a TXT naming the policy in place" 400 "$got"
apply "$K" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "kill -9: then nothing is left to do" 0 "$?"
if err=$(zones_ok "$K"); then tb_ok "kill -9: named-checkzone accepts every zone"; else tb_fail "kill -9: named-checkzone accepts every zone" "$err"; fi

# ---------- the policy host's address, named by the web provider ----------
H=$W/host
mkdir -p "$H/zones" "$H/www"
cp "$C/inventory.json" "$H/inv.json"
set_inv "$H" 'inv["providers"]["www"]["address"] = ["192.0.2.10", "2001:db8::10"]'
(cd "$H" && "$S" -v apply inv.json --yes --state state.db >out 2>err)
tb_expect_eq "address: apply exits 0" 0 "$?"
norm() { canon "$1" "$2" | awk '{ $1 = $1; print }'; }
tb_expect "address: A record of the policy host" "mta-sts.example.net. 3600 IN A 192.0.2.10" "$(norm "$H" example.net)"
tb_expect "address: AAAA record of the policy host" "mta-sts.example.net. 3600 IN AAAA 2001:db8::10" "$(norm "$H" example.net)"
tb_expect "address: the hand-written A of example.com's policy host is replaced" "mta-sts.example.com. 3600 IN A 192.0.2.10" "$(norm "$H" example.com)"
order=$(awk '/\[dns:zonefile\] .*example.net.zone/ { z++; if (z == 1) first = NR; if (z == 2) second = NR } /\[web:local\] wrote .*mta-sts.example.net/ { w = NR } END { print (first && w && second && first < w && w < second) ? "host-policy-txt" : first " " w " " second }' "$H/err")
tb_expect_eq "address: policy host records, then the policy, then the TXT" host-policy-txt "$order"
set_inv "$H" 'inv["providers"]["www"]["address"] = ["192.0.2.11"]'
apply "$H" apply inv.json --yes --state state.db
tb_expect_eq "address: changing the address exits 0" 0 "$?"
got=$(canon "$H" example.net | awk '$1 == "mta-sts.example.net." { print $4, $5 }' | tr '\n' ' ')
tb_expect_eq "address: the old AAAA (published by stsctl) is gone, the A updated" "A 192.0.2.11 " "$got"
if err=$(zones_ok "$H"); then tb_ok "address: named-checkzone accepts every zone"; else tb_fail "address: named-checkzone accepts every zone" "$err"; fi

# ---------- a plugin with the wrong ABI is refused ----------
P=$W/abi
mkdir -p "$P/plugins" "$P/zones" "$P/www"
chmod 755 "$P/plugins"
# abi1.so (tests/plugins/v1.c) is a plugin built for ABI 1
if cp "$STS_BUILD_ROOT/tests/plugins/abi1.so" "$P/plugins/abi1.so"; then
	tb_ok "the ABI 1 test plugin is there to copy"
else
	tb_fail "the ABI 1 test plugin is there to copy" "no $STS_BUILD_ROOT/tests/plugins/abi1.so"
fi
cp "$C/inventory.json" "$P/inv.json"
set_inv "$P" 'inv["providers"]["zones"] = {"plugin": "abi1", "zone": "example.com"}'
(cd "$P" && STSCTL_PLUGIN_PATH=$P/plugins "$S" apply inv.json --yes --state state.db >out 2>&1)
tb_expect_eq "apply with a wrong-ABI dns plugin exits 1" 1 "$?"
tb_expect "... naming both ABI versions" "plugin ABI 1, this stsctl needs ABI 2" "$(cat "$P/out")"
tb_expect_eq "... and no TXT anywhere" "" "$(ls "$P/zones")"

# ---------- verify.https against nginx ----------
V=$W/verify
mkdir -p "$V/zones" "$V/www" "$V/certs"
chmod -R 755 "$V"
python3 - "$V/inv.json" "$STS_TB_CA" "$STS_TB_HTTPS_PORT" <<'PY'
import json, sys
p, ca, port = sys.argv[1:]
good = {"https": True, "ca_file": ca, "resolve": f"127.0.0.1:{port}"}
bad = dict(good, ca_file="/etc/ssl/certs/ca-certificates.crt")
inv = {"version": 1, "defaults": {"dns": "zones", "web": "www", "mode": "enforce"},
       "providers": {"zones": {"plugin": "zonefile", "directory": "zones", "create": True}, "www": {"plugin": "local", "root": "www"}},
       "domains": [{"name": "good.pa.test", "mx": ["mx.pa.test"], "verify": good},
                   {"name": "badca.pa.test", "mx": ["mx.pa.test"], "verify": bad},
                   {"name": "missing.pa.test", "mx": ["mx.pa.test"], "verify": good}]}
json.dump(inv, open(p, "w"))
PY
for d in good.pa.test badca.pa.test; do
	tb_mkcert "pa-$d" "mta-sts.$d" >/dev/null
	mkdir -p "$V/certs/mta-sts.$d"
	cp "$STS_TB_PKI/pa-$d.chain.pem" "$V/certs/mta-sts.$d/fullchain.pem"
	cp "$STS_TB_PKI/pa-$d.key" "$V/certs/mta-sts.$d/privkey.pem"
done
"$S" render "$V/inv.json" -o "$V/render" --web-root "$V/www" --cert-dir "$V/certs" >/dev/null 2>&1
for d in good.pa.test badca.pa.test; do # missing.pa.test is not served at all: 404 from the default server
	sed "s/^\([[:space:]]*listen\)[[:space:]]\+443[[:space:]]/\1 127.0.0.1:$STS_TB_HTTPS_PORT /" "$V/render/nginx/mta-sts.$d.conf"
done >"$V/site.conf"
if err=$(tb_nginx_site plan-apply "$V/site.conf" 2>&1); then
	tb_ok "nginx serves the local web root"
else
	tb_fail "nginx serves the local web root" "$err"
fi
apply "$V" apply inv.json --yes --state state.db
tb_expect_eq "verify.https: apply with two unverifiable domains exits 1" 1 "$?"
tb_expect_eq "verify.https: the verified domain's id is published" "$(pol_id "$V" good.pa.test)" "$(sts_id "$V" good.pa.test good.pa.test)"
tb_expect_eq "verify.https: fetched over HTTPS (journal)" https "$(sql "$V" "SELECT detail FROM journal WHERE domain = 'good.pa.test' AND step = 'policy-verify'")"
tb_expect "verify.https: a certificate from another CA fails the domain" "failed: badca.pa.test: policy-verify:" "$(cat "$V/out")"
tb_expect_eq "verify.https: ... and its id is not published" "$NO_TXT" "$(sts_id "$V" badca.pa.test badca.pa.test)"
tb_expect "verify.https: a policy host that is not served fails the domain" "failed: missing.pa.test: policy-verify:" "$(cat "$V/out")"
tb_expect_eq "verify.https: ... and its id is not published" "$NO_TXT" "$(sts_id "$V" missing.pa.test missing.pa.test)"

tb_done
