#!/bin/bash
# stsctl check on MX hosts: real Postfix instances in the server namespace,
# each on its own address, port 25: a good one (certificate for its names), an
# expired certificate, a certificate for another name, no STARTTLS, and TLS
# 1.0 only (OpenSSL security level 0 on the server; check offers 1.0 too).
# Domains with an enforce (or testing, none) policy point their MX records at
# them: an MX not covered by the policy, a broken backup MX behind a good one.
# mailauth's validateMx is compared on the coverage cases. Then --resolver
# with a port, --smtp-port and --https-port.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/check-lib/lib.sh"
Z=chkmx.test
W=$STS_TB_RUN/chk-mx
rm -rf "$W"
mkdir -p "$W/www"
chmod 755 "$W" "$W/www"
stop_all() { for n in good expired wrongname notls tls10; do chk_postfix_stop "chkmx-$n"; done; }
trap stop_all EXIT

# ---- MX servers ----
tb_mkcert chkmx-good "good.$Z" "uncovered.$Z"
chk_cert_expired chkmx-expired "expired.$Z"
tb_mkcert chkmx-wrongname "someone-else.$Z"
tb_mkcert chkmx-tls10 "tls10.$Z"
for a in 20 21 22 23 24; do chk_addr 10.231.1.$a; done
pids=()
CHK_SMTP_EXTRA_PORT=2525 chk_postfix chkmx-good 10.231.1.20 tls chkmx-good &
pids+=($!)
chk_postfix chkmx-expired 10.231.1.21 tls chkmx-expired &
pids+=($!)
chk_postfix chkmx-wrongname 10.231.1.22 tls chkmx-wrongname &
pids+=($!)
chk_postfix chkmx-notls 10.231.1.23 notls &
pids+=($!)
chk_postfix chkmx-tls10 10.231.1.24 tls10 chkmx-tls10 &
pids+=($!)
ok=1
for p in "${pids[@]}"; do wait "$p" || ok=0; done
if [ $ok = 1 ]; then tb_ok "five Postfix MX servers in the server namespace"; else
	tb_fail "five Postfix MX servers in the server namespace"
	tb_done
	exit 1
fi
# the servers are what they should be, seen by openssl from the client namespace
sc() { # sc ADDR NAME [openssl options]
	local a=$1 n=$2
	shift 2
	(printf 'EHLO probe\r\n'; sleep 1; printf 'QUIT\r\n') | tb_ns_cli timeout 10 openssl s_client -connect "$a:25" \
		-starttls smtp -servername "$n" -verify_hostname "$n" -CAfile "$STS_TB_CA" -brief "$@" 2>&1
}
tb_expect "openssl: good MX verifies" "Verification: OK" "$(sc 10.231.1.20 "good.$Z")"
tb_expect "openssl: expired MX is expired" "certificate has expired" "$(sc 10.231.1.21 "expired.$Z")"
tb_expect "openssl: wrong-name MX mismatches" "hostname mismatch" "$(sc 10.231.1.22 "wrongname.$Z")"
tb_expect "openssl: TLS 1.0 MX speaks TLSv1" "Protocol version: TLSv1" \
	"$(sc 10.231.1.24 "tls10.$Z" -tls1 -cipher 'DEFAULT:@SECLEVEL=0')"

# ---- domains ----
# name | policy mode | mx patterns | MX records "pref host,..."
DOMS="
mxgood      |enforce|good.$Z                 |10 good.$Z
mxuncovered |enforce|good.$Z                 |10 good.$Z,20 uncovered.$Z
mxexpired   |enforce|expired.$Z              |10 expired.$Z
mxwrongname |enforce|wrongname.$Z            |10 wrongname.$Z
mxnotls     |enforce|notls.$Z                |10 notls.$Z
mxtls10     |enforce|tls10.$Z                |10 tls10.$Z
mxbackup    |enforce|good.$Z,expired.$Z      |10 good.$Z,20 expired.$Z
mxtesting   |testing|notls.$Z                |10 notls.$Z
mxnone      |none   |notls.$Z                |10 notls.$Z
"
field() { echo "$1" | cut -d'|' -f"$2" | sed 's/^ *//; s/ *$//'; }
hosts=()
{
	for h in good uncovered; do echo "$h.$Z A 10.231.1.20"; done
	echo "expired.$Z A 10.231.1.21"
	echo "wrongname.$Z A 10.231.1.22"
	echo "notls.$Z A 10.231.1.23"
	echo "tls10.$Z A 10.231.1.24"
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		d=$(field "$line" 1).$Z
		echo "_mta-sts.$d TXT \"v=STSv1; id=mx1;\""
		echo "mta-sts.$d A $STS_TB_NS_SRV_ADDR"
		echo "_smtp._tls.$d TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@$Z\""
		IFS=, read -ra mxs <<<"$(field "$line" 4)"
		for m in "${mxs[@]}"; do echo "$d MX $m."; done
	done <<<"$DOMS"
} >"$W/rr.txt"
{
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		c=$(field "$line" 1)
		hosts+=("mta-sts.$c.$Z")
		{
			printf 'version: STSv1\r\nmode: %s\r\n' "$(field "$line" 2)"
			IFS=, read -ra pats <<<"$(field "$line" 3)"
			for p in "${pats[@]}"; do printf 'mx: %s\r\n' "$p"; done
			printf 'max_age: 86400\r\n'
		} >"$W/www/$c.txt"
		chk_policy_block "mta-sts.$c.$Z" chkmx-policy "$W/www/$c.txt"
	done <<<"$DOMS"
} >"$W/site.conf"
tb_mkcert chkmx-policy "${hosts[@]}"
chmod -R a+rX "$W"
chk_rrsets "$W/rr.txt" >"$W/patch.json"
if tb_ns_pdns_zone "$Z" && tb_ns_pdns_patch "$Z" "$W/patch.json" && chk_site chk-mx "$W/site.conf"; then
	tb_ok "MX deployment cases served"
else
	tb_fail "MX deployment cases served"
fi

domains=()
while IFS= read -r line; do [ -n "$line" ] && domains+=("$(field "$line" 1).$Z"); done <<<"$DOMS"
tb_ns_cli "$STSCTL" check --json --ca-file "$STS_TB_CA" --timeout 10 "${domains[@]}" >"$W/check.json" 2>"$W/check.err"
tb_expect_eq "check exits 1 (some MX fail)" 1 "$?"

# q DOMAIN EXPR [MXHOST]: a Python expression over d (the domain's object),
# mx(host) and m (the object of MXHOST)
q() {
	"$CHK_PY" - "$W/check.json" "$1" "$2" "${3:-}" <<'PY'
import json, sys
doms = {d["domain"]: d for d in json.load(open(sys.argv[1]))["domains"]}
d = doms[sys.argv[2]]
mx = lambda h: next(m for m in d["mx"] if m["host"] == h)
m = mx(sys.argv[4]) if sys.argv[4] else None
rules = sorted({f["rule"] for f in d["findings"] if f["severity"] != "info"})
print(eval(sys.argv[3]))
PY
}
tb_expect_eq "mxgood: pass, enforce" "pass enforce" "$(q "mxgood.$Z" 'd["verdict"]+" "+d["sender_view"]')"
tb_expect_eq "mxgood: starttls, TLS 1.2+, valid certificate" "True True True" \
	"$(q "mxgood.$Z" '" ".join(str(x) for x in (m["starttls"], m["tls_version"] in ("TLSv1.2","TLSv1.3"), m["cert_valid"]))' "good.$Z")"
tb_expect_eq "mxgood: certificate days left (29 or 30)" True "$(q "mxgood.$Z" 'm["cert_days_left"] in (29, 30)' "good.$Z")"
tb_expect_eq "mxgood: the policy host's certificate" "True" "$(q "mxgood.$Z" 'd["policy_host"]["cert_valid"] and d["policy_host"]["cert_days_left"] >= 29')"

tb_expect_eq "mxuncovered: fail on M2" "fail ['M2']" "$(q "mxuncovered.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxuncovered: only the uncovered MX mismatches" "True False" \
	"$(q "mxuncovered.$Z" 'str(mx("good.'$Z'")["matches_policy"])+" "+str(mx("uncovered.'$Z'")["matches_policy"])')"
tb_expect_eq "mxuncovered: both MX probed fine" "True True" \
	"$(q "mxuncovered.$Z" 'str(mx("good.'$Z'")["cert_valid"])+" "+str(mx("uncovered.'$Z'")["cert_valid"])')"

tb_expect_eq "mxexpired: fail on M3" "fail ['M3']" "$(q "mxexpired.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxexpired: certificate not valid, days left negative" "False True" \
	"$(q "mxexpired.$Z" 'str(m["cert_valid"])+" "+str(m["cert_days_left"] < -300)' "expired.$Z")"
tb_expect "mxexpired: the finding says expired" "expired" "$(q "mxexpired.$Z" 'mx("expired.'$Z'")["cert_error"]')"

tb_expect_eq "mxwrongname: fail on M3" "fail ['M3']" "$(q "mxwrongname.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxwrongname: chain fine, name not" "False" "$(q "mxwrongname.$Z" 'mx("wrongname.'$Z'")["cert_valid"]')"
tb_expect "mxwrongname: the finding names the host" "not valid for the name 'wrongname.$Z'" \
	"$(q "mxwrongname.$Z" 'mx("wrongname.'$Z'")["cert_error"]')"

tb_expect_eq "mxnotls: fail on M1" "fail ['M1']" "$(q "mxnotls.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxnotls: starttls false" "False" "$(q "mxnotls.$Z" 'mx("notls.'$Z'")["starttls"]')"
tb_expect "mxnotls: enforce means no delivery" "senders will not deliver to it" \
	"$(q "mxnotls.$Z" '[f["message"] for f in d["findings"] if f["rule"]=="M1"][0]')"

tb_expect_eq "mxtls10: fail on M6" "fail ['M6']" "$(q "mxtls10.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxtls10: TLSv1 negotiated, certificate itself valid" "TLSv1 True" \
	"$(q "mxtls10.$Z" 'm["tls_version"]+" "+str(m["cert_valid"])' "tls10.$Z")"

tb_expect_eq "mxbackup: the broken backup MX fails the domain" "fail ['M3']" "$(q "mxbackup.$Z" 'd["verdict"]+" "+str(rules)')"
tb_expect_eq "mxbackup: primary valid, backup not" "True False" \
	"$(q "mxbackup.$Z" 'str(mx("good.'$Z'")["cert_valid"])+" "+str(mx("expired.'$Z'")["cert_valid"])')"

tb_expect_eq "mxtesting: errors in testing mode too" "fail testing" "$(q "mxtesting.$Z" 'd["verdict"]+" "+d["sender_view"]')"
tb_expect "mxtesting: what testing senders do" "senders deliver to it and report a failure" \
	"$(q "mxtesting.$Z" '[f["message"] for f in d["findings"] if f["rule"]=="M1"][0]')"
tb_expect_eq "mxnone: only a warning in mode none" "warn none" "$(q "mxnone.$Z" 'd["verdict"]+" "+d["sender_view"]')"

# mailauth decides the MX coverage the same way (validateMx)
STS_TB_MX_OK=good.$Z STS_TB_MX_BAD=uncovered.$Z tb_mailauth "mxuncovered.$Z" >"$W/mailauth.jsonl" 2>"$W/mailauth.err"
tb_expect_eq "mailauth runs (exit 0)" 0 "$?"
ma_line=$(grep -F '"strict":true,' "$W/mailauth.jsonl")
[ -n "$ma_line" ] || ma_line="no strict line; mailauth's stderr: $({ grep -m1 Error "$W/mailauth.err" || head -3 "$W/mailauth.err"; } | tr '\n' ' ')"
# validateMx means something only on a policy mailauth found (mode none covers any MX)
tb_expect_eq "mailauth strict: finds the enforce policy" enforce "$(echo "$ma_line" | chk_decision_mailauth)"
tb_expect "mailauth strict: good covered, uncovered not" '"mxOk":true,"otherMxOk":false' "$ma_line"

# text report
out=$(tb_ns_cli "$STSCTL" check --ca-file "$STS_TB_CA" "mxtls10.$Z" 2>&1)
tb_expect "text: the TLS 1.0 MX line" "mx 10 tls10.$Z: covered by the policy, STARTTLS TLSv1, certificate valid" "$out"
tb_expect "text: M6 finding" "error: [M6] MX host 'tls10.$Z' negotiated TLSv1" "$out"

# ---- the overrides: --resolver IP:PORT, --https-port, --smtp-port ----
# the good Postfix also listens on 2525 (CHK_SMTP_EXTRA_PORT below); the
# policy host of mxgood also answers on 8443, with a testing policy
printf 'version: STSv1\r\nmode: testing\r\nmx: good.%s\r\nmax_age: 86400\r\n' "$Z" >"$W/www/alt.txt"
chmod a+r "$W/www/alt.txt"
chk_policy_block "mta-sts.mxgood.$Z" chkmx-policy "$W/www/alt.txt" | sed "s/:443 ssl/:8443 ssl/" >>"$W/site.conf"
chk_site chk-mx "$W/site.conf"
o=(--json --ca-file "$STS_TB_CA" --timeout 5 --resolver "$STS_TB_NS_SRV_ADDR:53" --https-port 8443)
tb_ns_cli "$STSCTL" check "${o[@]}" --smtp-port 2525 "mxgood.$Z" >"$W/alt.json" 2>&1
tb_expect_eq "--https-port: the policy of port 8443 (testing)" "testing" \
	"$("$CHK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["domains"][0]["sender_view"])' "$W/alt.json")"
tb_expect_eq "--smtp-port 2525: STARTTLS on the other port" "True" \
	"$("$CHK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["domains"][0]["mx"][0]["starttls"])' "$W/alt.json")"
out=$(tb_ns_cli "$STSCTL" check "${o[@]}" --smtp-port 2526 "mxgood.$Z" 2>&1)
tb_expect "--smtp-port 2526: nothing listens there" "port 2526: Connection refused" "$out"

tb_done
