#!/bin/bash
# stsctl onboard against live deployments in the server namespace (PowerDNS,
# nginx, two Postfix MX servers: one good, one without STARTTLS): entries
# proposed from what is found (mx patterns, mode, max_age, rua), flagged
# domains left out with their reasons, a printed inventory and one merged
# into an existing file (other bytes kept, atomic, idempotent), each accepted
# by `stsctl validate`. Then stsctl check --inventory: no drift once the
# rendered state is served exactly, and drift-id, -policy, -mode, -tlsrpt
# findings when it is not. Both draw their progress line with
# --progress=always, and it ends at N/N (100%) (issue 16 item 6).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/check-lib/lib.sh"
Z=chkob.test
W=$STS_TB_RUN/chk-onboard
rm -rf "$W"
mkdir -p "$W/www"
chmod 755 "$W" "$W/www"
trap 'chk_postfix_stop chkob-good; chk_postfix_stop chkob-notls' EXIT
NET=(--ca-file "$STS_TB_CA" --timeout 10)

tb_mkcert chkob-good "mx1.$Z" "mx2.$Z"
chk_addr 10.231.1.30
chk_addr 10.231.1.31
chk_postfix chkob-good 10.231.1.30 tls chkob-good &
p1=$!
chk_postfix chkob-notls 10.231.1.31 notls &
p2=$!
if wait $p1 && wait $p2; then tb_ok "two Postfix MX servers"; else tb_fail "two Postfix MX servers"; fi

printf 'version: STSv1\r\nmode: enforce\r\nmx: *.%s\r\nmax_age: 604800\r\n' "$Z" >"$W/www/enforced.txt"
chmod a+r "$W/www/enforced.txt"
tb_mkcert chkob-policy "mta-sts.enforced.$Z" "mta-sts.fresh.$Z"
chk_policy_block "mta-sts.enforced.$Z" chkob-policy "$W/www/enforced.txt" >"$W/site.conf"
cat >"$W/rr.txt" <<EOF
mx1.$Z A 10.231.1.30
mx2.$Z A 10.231.1.30
notls.$Z A 10.231.1.31
fresh.$Z MX 10 mx1.$Z.
enforced.$Z MX 10 mx1.$Z.
enforced.$Z MX 20 mx2.$Z.
_mta-sts.enforced.$Z TXT "v=STSv1; id=enf1;"
mta-sts.enforced.$Z A $STS_TB_NS_SRV_ADDR
_smtp._tls.enforced.$Z TXT "v=TLSRPTv1; rua=mailto:old@$Z"
twomx.$Z MX 10 mx2.$Z.
twomx.$Z MX 20 mx1.$Z.
broken.$Z MX 10 notls.$Z.
nomx.$Z A 10.231.1.30
EOF
chk_rrsets "$W/rr.txt" >"$W/patch.json"
if tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" && chk_site chk-onboard "$W/site.conf"; then
	tb_ok "onboarding deployments served"
else
	tb_fail "onboarding deployments served"
fi

# ---- 1. a printed inventory ----
tb_ns_cli "$STSCTL" onboard "${NET[@]}" --tenant acme "fresh.$Z" "enforced.$Z" "twomx.$Z" "broken.$Z" "nomx.$Z" \
	>"$W/new.json" 2>"$W/new.err"
tb_expect_eq "onboard exits 1 when a domain is flagged" 1 "$?"
"$STSCTL" validate "$W/new.json" >"$W/validate.out" 2>&1
tb_expect_eq "the printed inventory validates" 0 "$?"
entry() { # entry FILE DOMAIN: the domain's object as compact sorted JSON, or "none"
	"$CHK_PY" -c '
import json, sys
d = [x for x in json.load(open(sys.argv[1])).get("domains", []) if x["name"] == sys.argv[2]]
print(json.dumps(d[0], sort_keys=True) if d else "none")' "$1" "$2"
}
tb_expect_eq "fresh: its MX, mode testing" \
	"{\"mode\": \"testing\", \"mx\": [\"mx1.$Z\"], \"name\": \"fresh.$Z\", \"tenant\": \"acme\"}" \
	"$(entry "$W/new.json" "fresh.$Z")"
tb_expect_eq "enforced: the served policy's patterns, mode, max_age; its current rua" \
	"{\"max_age\": 604800, \"mode\": \"enforce\", \"mx\": [\"*.$Z\"], \"name\": \"enforced.$Z\", \"tenant\": \"acme\", \"tlsrpt\": {\"rua\": [\"mailto:old@$Z\"]}}" \
	"$(entry "$W/new.json" "enforced.$Z")"
tb_expect_eq "twomx: both MX hosts in preference order" \
	"{\"mode\": \"testing\", \"mx\": [\"mx2.$Z\", \"mx1.$Z\"], \"name\": \"twomx.$Z\", \"tenant\": \"acme\"}" \
	"$(entry "$W/new.json" "twomx.$Z")"
tb_expect_eq "broken: not added" none "$(entry "$W/new.json" "broken.$Z")"
tb_expect_eq "nomx: not added" none "$(entry "$W/new.json" "nomx.$Z")"
tb_expect "broken: flagged with the reason" \
	"'broken.$Z' not added: MX host 'notls.$Z': STARTTLS is not offered" "$(cat "$W/new.err")"
tb_expect "nomx: flagged with the reason" "'nomx.$Z' not added: MX lookup: no MX records" "$(cat "$W/new.err")"
tb_expect "the tenant is defined in the printed inventory" '"acme": {}' "$(cat "$W/new.json")"

# ---- 2. merged into an inventory ----
cat >"$W/inv.json" <<EOF
{
  "version": 1,
  "defaults": {"max_age": 604800},
  "tenants": {
    "acme": {"tlsrpt": {"rua": ["mailto:tlsrpt@acme.example"]}},
    "globex": {}
  },
  "domains": [
    {"name": "existing.example", "mx": ["mx.existing.example"]},
    {"name": "twomx.$Z", "tenant": "globex", "mx": ["mx2.$Z", "mx1.$Z"]}
  ]
}
EOF
cp "$W/inv.json" "$W/inv.orig"
chmod 640 "$W/inv.json"
printf 'domain,tenant\nfresh.%s,acme\n"enforced.%s", globex\ntwomx.%s\n# a comment\n\nbroken.%s,acme\n' \
	"$Z" "$Z" "$Z" "$Z" >"$W/rows.csv"
tb_ns_cli "$STSCTL" onboard "${NET[@]}" --csv "$W/rows.csv" --tenant acme --inventory "$W/inv.json" \
	>"$W/merge.out" 2>"$W/merge.err"
tb_expect_eq "merge exits 1 (broken flagged)" 1 "$?"
"$STSCTL" validate "$W/inv.json" >/dev/null 2>&1
tb_expect_eq "the merged inventory validates" 0 "$?"
tb_expect_eq "the file keeps its mode" 640 "$(stat -c %a "$W/inv.json")"
n=$(($(wc -l <"$W/inv.orig") - 3))
tb_expect_eq "every byte before the new entries is kept" "$(head -n "$n" "$W/inv.orig")" "$(head -n "$n" "$W/inv.json")"
tb_expect_eq "the closing lines are kept" "$(tail -n 2 "$W/inv.orig")" "$(tail -n 2 "$W/inv.json")"
tb_expect_eq "fresh: acme's rua is inherited, not written" \
	"{\"mode\": \"testing\", \"mx\": [\"mx1.$Z\"], \"name\": \"fresh.$Z\", \"tenant\": \"acme\"}" \
	"$(entry "$W/inv.json" "fresh.$Z")"
tb_expect "enforced: globex has no rua, the current one is kept" "\"tlsrpt\": {\"rua\": [\"mailto:old@$Z\"]}" \
	"$(entry "$W/inv.json" "enforced.$Z")"
tb_expect_eq "twomx: already present, left alone" \
	"{\"mx\": [\"mx2.$Z\", \"mx1.$Z\"], \"name\": \"twomx.$Z\", \"tenant\": \"globex\"}" \
	"$(entry "$W/inv.json" "twomx.$Z")"
tb_expect_eq "broken: not merged" none "$(entry "$W/inv.json" "broken.$Z")"
tb_expect "one line per entry, indented like the others" "    {\"name\": \"fresh.$Z\", \"tenant\": \"acme\"" "$(cat "$W/inv.json")"
tb_expect "the summary" "2 proposed, 1 flagged, 1 already present" "$(cat "$W/merge.err")"

# again without the broken row: nothing to add, the file is byte-identical
grep -v broken "$W/rows.csv" >"$W/rows2.csv"
sum=$(sha256sum <"$W/inv.json")
tb_ns_cli "$STSCTL" onboard "${NET[@]}" --csv "$W/rows2.csv" --inventory "$W/inv.json" >/dev/null 2>&1
tb_expect_eq "a second run exits 0" 0 "$?"
tb_expect_eq "a second run changes nothing" "$sum" "$(sha256sum <"$W/inv.json")"
# --dry-run prints, writes nothing; an undefined tenant and a bad CSV are usage errors
out=$(tb_ns_cli "$STSCTL" onboard "${NET[@]}" --inventory "$W/inv.json" --dry-run --tenant globex "nomx.$Z" "fresh.$Z" 2>/dev/null)
tb_expect "--dry-run prints the inventory" '"name": "existing.example"' "$out"
tb_expect_eq "--dry-run writes nothing" "$sum" "$(sha256sum <"$W/inv.json")"
# the progress line (cli/cli_progress.c): redrawn after \r, the last one drawn
# is the end state
last_progress() { tr '\r' '\n' <"$1" | grep -a ' domains (' | tail -n 1; }
tb_ns_cli "$STSCTL" onboard "${NET[@]}" --progress=always "nomx.$Z" "fresh.$Z" "twomx.$Z" \
	>/dev/null 2>"$W/progress.err"
tb_expect "onboard --progress=always: the line ends at 3/3 (100%)" "onboard [====================] 3/3 domains (100%)" \
	"$(last_progress "$W/progress.err")"
tb_ns_cli "$STSCTL" onboard "${NET[@]}" --inventory "$W/inv.json" --tenant initech "fresh.$Z" >/dev/null 2>"$W/err"
tb_expect_eq "an undefined tenant exits 2" 2 "$?"
tb_expect "and says so" "tenant 'initech' is not defined in" "$(cat "$W/err")"
printf 'a.example,acme,x\n' >"$W/bad.csv"
"$STSCTL" onboard --csv "$W/bad.csv" >/dev/null 2>&1
tb_expect_eq "a CSV row with three columns exits 2" 2 "$?"
tb_expect_eq "nothing changed on errors" "$sum" "$(sha256sum <"$W/inv.json")"

# ---- 3. check --inventory: drift ----
# publish fresh exactly as the inventory renders it
"$STSCTL" render "$W/inv.json" --json >"$W/render.json"
read -r id text <<<"$("$CHK_PY" -c '
import json, sys
d = next(x for x in json.load(open(sys.argv[1]))["domains"] if x["domain"] == sys.argv[2])
print(d["policy"]["id"], json.dumps(d["policy"]["text"]))' "$W/render.json" "fresh.$Z")"
"$CHK_PY" -c 'import json,sys; open(sys.argv[1], "w", newline="").write(json.loads(sys.argv[2]))' "$W/www/fresh.txt" "$text"
chmod a+r "$W/www/fresh.txt"
chk_policy_block "mta-sts.fresh.$Z" chkob-policy "$W/www/fresh.txt" >>"$W/site.conf"
publish() { # publish ID RUA: the TXT records of fresh
	cat >"$W/rr2.txt" <<EOF
_mta-sts.fresh.$Z TXT "v=STSv1; id=$1;"
mta-sts.fresh.$Z A $STS_TB_NS_SRV_ADDR
_smtp._tls.fresh.$Z TXT "v=TLSRPTv1; rua=$2"
EOF
	chk_rrsets "$W/rr2.txt" >"$W/patch2.json" && tb_ns_pdns_patch "$Z" "$W/patch2.json"
}
publish "$id" mailto:tlsrpt@acme.example && chk_site chk-onboard "$W/site.conf"
out=$(tb_ns_cli "$STSCTL" check "${NET[@]}" --json --inventory "$W/inv.json" "fresh.$Z" 2>&1)
rc=$?
tb_expect_eq "no drift: check --inventory exits 0" 0 "$rc"
tb_expect "no drift: pass, senders see testing" '"verdict": "pass"' "$out"

publish other1 mailto:someone@else.example
out=$(tb_ns_cli "$STSCTL" check "${NET[@]}" --json --inventory "$W/inv.json" "fresh.$Z" 2>&1)
tb_expect_eq "drift: exits 1" 1 "$?"
tb_expect "drift-id" "\"rule\": \"drift-id\"" "$out"
tb_expect "drift-tlsrpt" "\"rule\": \"drift-tlsrpt\"" "$out"
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.%s\r\nmax_age: 604800\r\n' "$Z" >"$W/www/fresh.txt"
out=$(tb_ns_cli "$STSCTL" check "${NET[@]}" --json --inventory "$W/inv.json" "fresh.$Z" 2>&1)
tb_expect "drift-mode" "the served mode is 'enforce', the inventory's is 'testing'" "$out"
tb_expect "drift-policy" "\"rule\": \"drift-policy\"" "$out"

# every domain of the inventory when none is named
out=$(tb_ns_cli "$STSCTL" check "${NET[@]}" --no-smtp --dns-timeout 2 --inventory "$W/inv.json" 2>&1)
for d in existing.example "fresh.$Z" "enforced.$Z" "twomx.$Z"; do
	tb_expect "check --inventory alone checks $d" "$d: " "$out"
done
n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["domains"]))' "$W/inv.json")
tb_ns_cli "$STSCTL" check "${NET[@]}" --no-smtp --dns-timeout 2 --progress=always --inventory "$W/inv.json" \
	>/dev/null 2>"$W/progress.err"
tb_expect "check --progress=always: the line ends at $n/$n (100%)" "check [====================] $n/$n domains (100%)" \
	"$(last_progress "$W/progress.err")"

tb_done
