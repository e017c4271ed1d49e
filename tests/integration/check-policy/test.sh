#!/bin/bash
# stsctl check on every policy deployment case of the testbed table (shared
# TESTBED.md: 16 cases, 15 broken) plus CNAME chains, multi-string TXT, a
# policy over 64 KiB, `v=STSv1 ;`, a duplicated mode and `mode: none` without
# mx. All of it served in the server namespace (PowerDNS :53, nginx :443);
# stsctl check, postfix-mta-sts-resolver (mta-sts-query) and mailauth (lax
# and strict) run in the client namespace on the same deployment. For each case
# the test asserts check's RFC 8461 verdict, its sender view and the rule it
# names, then each client's decision. Where a client departs from the RFC the
# expected client decision is that departure (README.md, "Where the real
# clients depart from the RFC"), so a change in a client shows up here.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/check-lib/lib.sh"
Z=chk.test
# fixtures stay with the testbed (stopped by harness/down.sh) for debugging
W=$STS_TB_RUN/chk-policy
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"

# case | _mta-sts TXT content (PowerDNS syntax; - : a CNAME, below) | check view |
#        check verdict | rule | mta-sts-query decision | mailauth lax decision |
#        mailauth strict decision
CASES="
good         |\"v=STSv1; id=20260101T000000;\"|enforce  |pass|-   |enforce  |enforce  |enforce
ctcharset    |\"v=STSv1; id=1;\"              |enforce  |pass|-   |enforce  |enforce  |enforce
ctype        |\"v=STSv1; id=1;\"              |no-policy|fail|P2  |no-policy|enforce  |no-policy
redirect     |\"v=STSv1; id=1;\"              |no-policy|fail|P4  |no-policy|no-policy|no-policy
notfound     |\"v=STSv1; id=1;\"              |no-policy|fail|P3  |no-policy|no-policy|no-policy
maxagebig    |\"v=STSv1; id=1;\"              |no-policy|fail|B6  |no-policy|no-policy|no-policy
maxagebad    |\"v=STSv1; id=1;\"              |no-policy|fail|B6  |no-policy|no-policy|no-policy
lf           |\"v=STSv1; id=1;\"              |enforce  |pass|-   |enforce  |enforce  |enforce
nomx         |\"v=STSv1; id=1;\"              |no-policy|fail|B7  |no-policy|no-policy|no-policy
modecase     |\"v=STSv1; id=1;\"              |no-policy|fail|B5  |no-policy|enforce  |no-policy
version2     |\"v=STSv1; id=1;\"              |no-policy|fail|B4  |no-policy|no-policy|no-policy
badcert      |\"v=STSv1; id=1;\"              |no-policy|fail|C2  |no-policy|no-policy|no-policy
badid        |\"v=STSv1; id=bad_id!;\"        |no-policy|fail|T4  |enforce  |enforce  |no-policy
twotxt       |\"v=STSv1; id=1;\"              |no-policy|fail|T11 |no-policy|no-policy|no-policy
nopolicyhost |\"v=STSv1; id=1;\"              |no-policy|fail|P1  |no-policy|no-policy|no-policy
wildmx       |\"v=STSv1; id=1;\"              |enforce  |pass|-   |enforce  |enforce  |enforce
cname        |-                               |enforce  |pass|T15 |enforce  |enforce  |enforce
multistr     |\"v=STSv1; \" \"id=multi1;\"    |enforce  |pass|-   |enforce  |enforce  |enforce
v1space      |\"v=STSv1 ; id=1;\"             |enforce  |warn|T12 |enforce  |enforce  |enforce
dupmode      |\"v=STSv1; id=1;\"              |enforce  |warn|B9  |testing  |enforce  |enforce
nonenomx     |\"v=STSv1; id=1;\"              |none     |warn|B12 |none     |none     |none
bigpolicy    |\"v=STSv1; id=1;\"              |no-policy|fail|P6  |no-policy|no-policy|no-policy
cnameext     |-                               |enforce  |pass|T15 |enforce  |enforce  |enforce
"
field() { echo "$1" | cut -d'|' -f"$2" | sed 's/^ *//; s/ *$//'; }
names=()
while IFS= read -r line; do
	[ -n "$line" ] && names+=("$(field "$line" 1)")
done <<<"$CASES"

# ---- policy bodies ----
mkdir -p "$W/www"
good='version: STSv1\r\nmode: enforce\r\nmx: mail.chk.test\r\nmax_age: 86400\r\n'
for c in "${names[@]}"; do printf "$good" >"$W/www/$c.txt"; done
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.chk.test\r\nmax_age: 99999999\r\n' >"$W/www/maxagebig.txt"
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.chk.test\r\nmax_age: 1d\r\n' >"$W/www/maxagebad.txt"
printf 'version: STSv1\nmode: enforce\nmx: mail.chk.test\nmax_age: 86400\n' >"$W/www/lf.txt"
printf 'version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n' >"$W/www/nomx.txt"
printf 'version: STSv1\r\nmode: Enforce\r\nmx: mail.chk.test\r\nmax_age: 86400\r\n' >"$W/www/modecase.txt"
printf 'version: STSv2\r\nmode: enforce\r\nmx: mail.chk.test\r\nmax_age: 86400\r\n' >"$W/www/version2.txt"
printf 'version: STSv1\r\nmode: enforce\r\nmx: *.chk.test\r\nmax_age: 86400\r\n' >"$W/www/wildmx.txt"
printf 'version: STSv1\r\nmode: enforce\r\nmode: testing\r\nmx: mail.chk.test\r\nmax_age: 86400\r\n' >"$W/www/dupmode.txt"
printf 'version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n' >"$W/www/nonenomx.txt"
{
	printf "$good"
	for i in $(seq 1500); do printf 'x-padding-%04d: %s\r\n' "$i" "$(printf '%030d' "$i")"; done
} >"$W/www/bigpolicy.txt"
chmod -R a+rX "$W"

# ---- certificates: one for every policy host but badcert's; badcert gets another name ----
hosts=()
for c in "${names[@]}"; do [ "$c" = badcert ] || hosts+=("mta-sts.$c.$Z"); done
tb_mkcert chk-policy "${hosts[@]}"
tb_mkcert chk-other other.$Z

# ---- nginx server blocks ----
{
	for c in "${names[@]}"; do
		cert=chk-policy ct=text/plain body=$W/www/$c.txt
		case $c in
		ctype) ct=text/html ;;
		ctcharset) ct="text/plain; charset=utf-8" ;;
		redirect) body="return 301 https://mta-sts.good.$Z/.well-known/mta-sts.txt;" ;;
		notfound) body="return 404;" ;;
		badcert) cert=chk-other ;;
		esac
		chk_policy_block "mta-sts.$c.$Z" "$cert" "$body" "$ct"
	done
} >"$W/site.conf"

# ---- DNS ----
{
	echo "ns1.$Z A $STS_TB_NS_SRV_ADDR"
	echo "mail.$Z A $STS_TB_NS_SRV_ADDR"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		c=$(field "$line" 1) txt=$(field "$line" 2)
		[ "$txt" = - ] || echo "_mta-sts.$c.$Z TXT $txt"
		[ "$c" = twotxt ] && echo "_mta-sts.$c.$Z TXT \"v=STSv1; id=2;\""
		[ "$c" = nopolicyhost ] || echo "mta-sts.$c.$Z A $STS_TB_NS_SRV_ADDR"
		echo "$c.$Z MX 10 mail.$Z."
		echo "_smtp._tls.$c.$Z TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@$Z\""
	done <<<"$CASES"
	# cname: two links inside the zone
	echo "_mta-sts.cname.$Z CNAME sts1.$Z."
	echo "sts1.$Z CNAME sts2.$Z."
	echo "sts2.$Z TXT \"v=STSv1; id=cname1;\""
	# cnameext: a link into another zone
	echo "_mta-sts.cnameext.$Z CNAME _mta-sts.provider.test."
} >"$W/rr.txt"
echo "_mta-sts.provider.test TXT \"v=STSv1; id=provider1;\"" >"$W/rr-provider.txt"
chk_rrsets "$W/rr.txt" >"$W/patch.json"
chk_rrsets "$W/rr-provider.txt" >"$W/patch-provider.json"
if tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" &&
	tb_ns_pdns_zone provider.test && tb_ns_pdns_patch provider.test "$W/patch-provider.json" &&
	chk_site chk-policy "$W/site.conf"; then
	tb_ok "deployment cases served in the server namespace"
else
	tb_fail "deployment cases served in the server namespace"
	tb_done
	exit 1
fi

# ---- stsctl check: every case in one run, the resolver given explicitly ----
domains=()
for c in "${names[@]}"; do domains+=("$c.$Z"); done
tb_ns_cli "$STSCTL" check --json --no-smtp --ca-file "$STS_TB_CA" --resolver "$STS_TB_NS_SRV_ADDR" \
	--timeout 10 --concurrency 8 "${domains[@]}" >"$W/check.json" 2>"$W/check.err"
rc=$?
tb_expect_eq "check exits 1 when a domain fails" 1 "$rc"
n=$("$CHK_PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["domains"]))' "$W/check.json" 2>&1)
tb_expect_eq "check reports every domain" "${#domains[@]}" "$n"

# one domain's object: domain verdict sender_view rules...
summary() {
	"$CHK_PY" - "$W/check.json" "$1" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1]))["domains"]:
    if d["domain"] == sys.argv[2]:
        rules = sorted({f["rule"] or "-" for f in d["findings"]})
        print(d["verdict"], d["sender_view"], " ".join(rules))
PY
}

# ---- the clients ----
STS_TB_MX_OK=mail.$Z STS_TB_MX_BAD=evil.example.net tb_mailauth "${domains[@]}" >"$W/mailauth.jsonl" 2>"$W/mailauth.err"
tb_expect_eq "mailauth runs over every domain (exit 0)" 0 "$?"
# mailauth_line DOMAIN STRICT: that line of the run, else what the run said instead
mailauth_line() {
	local l
	l=$(grep -F "{\"domain\":\"$1\",\"strict\":$2," "$W/mailauth.jsonl")
	[ -n "$l" ] && echo "$l" ||
		echo "no line for $1 (strict $2); mailauth's stderr: $({ grep -m1 Error "$W/mailauth.err" || head -3 "$W/mailauth.err"; } | tr '\n' ' ')"
}

while IFS= read -r line; do
	[ -n "$line" ] || continue
	c=$(field "$line" 1) view=$(field "$line" 3) verdict=$(field "$line" 4) rule=$(field "$line" 5)
	want_res=$(field "$line" 6) want_lax=$(field "$line" 7) want_ma=$(field "$line" 8)
	d=$c.$Z
	read -r got_verdict got_view got_rules <<<"$(summary "$d")"
	tb_expect_eq "$c: check verdict" "$verdict" "$got_verdict"
	tb_expect_eq "$c: check sender view" "$view" "$got_view"
	[ "$rule" = - ] || tb_expect "$c: check names rule $rule" " $rule " " $got_rules "

	got=$(tb_ns_cli env SSL_CERT_FILE="$STS_TB_CA" timeout 30 mta-sts-query "$d" 2>&1)
	grc=$?
	res=$(printf '%s\n' "$got" | chk_decision_resolver "$grc")
	tb_expect_eq "$c: postfix-mta-sts-resolver decides $want_res" "$want_res" "$res"
	[ "$res" = "$got_view" ] || echo "# $c: postfix-mta-sts-resolver departs from the RFC: $res, check: $got_view ($(echo "$got" | tail -1))"

	lax_line=$(mailauth_line "$d" false)
	lax=$(echo "$lax_line" | chk_decision_mailauth)
	tb_expect_eq "$c: mailauth (lax) decides $want_lax" "$want_lax" "$lax"
	[ "$lax" = "$got_view" ] || echo "# $c: mailauth lax departs from the RFC: $lax, check: $got_view ($lax_line)"
	ma_line=$(mailauth_line "$d" true)
	ma=$(echo "$ma_line" | chk_decision_mailauth)
	tb_expect_eq "$c: mailauth strict decides $want_ma" "$want_ma" "$ma"
	[ "$ma" = "$got_view" ] || echo "# $c: mailauth strict departs from the RFC: $ma, check: $got_view ($ma_line)"
done <<<"$CASES"


# ---- human output, and the system resolver (resolv.conf of the namespace) ----
out=$(tb_ns_cli "$STSCTL" check --no-smtp --ca-file "$STS_TB_CA" "good.$Z" "ctype.$Z" 2>&1)
tb_expect "text report: a passing domain" "good.$Z: pass, senders see enforce" "$out"
tb_expect "text report: the rule and what senders do" "error: [P2] the policy is served as 'text/html'" "$out"
tb_expect "text report: summary line" "2 domains: 1 pass, 0 warn, 1 fail" "$out"
tb_ns_cli "$STSCTL" check --no-smtp --ca-file "$STS_TB_CA" "good.$Z" >/dev/null 2>&1
tb_expect_eq "check exits 0 for a passing domain" 0 "$?"
tb_ns_cli "$STSCTL" check --no-smtp --ca-file "$STS_TB_CA" "v1space.$Z" >/dev/null 2>&1
tb_expect_eq "check exits 0 with warnings only" 0 "$?"
# without the testbed CA the policy host is not trusted: C1
out=$(tb_ns_cli "$STSCTL" check --json --no-smtp "good.$Z" 2>&1)
tb_expect "an untrusted policy certificate is C1" '"rule": "C1"' "$out"

tb_done
