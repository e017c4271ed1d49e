#!/bin/bash
# The testbed itself: every server started by harness/up.sh answers real
# clients the way the later integration cases rely on (shared/TESTBED.md check.sh).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# --- PowerDNS API + DNS on loopback ---
K="X-API-Key: $STS_TB_PDNS_API_KEY"
J='Content-Type: application/json'
curl -sS -o /dev/null -H "$K" -X DELETE "$STS_TB_PDNS_API/zones/smoke.test." 2>/dev/null
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$K" -H "$J" -X POST "$STS_TB_PDNS_API/zones" \
	-d '{"name":"smoke.test.","kind":"Native","nameservers":["ns1.smoke.test."]}')
tb_expect_eq "powerdns api creates a zone" 201 "$code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$K" -H "$J" -X PATCH "$STS_TB_PDNS_API/zones/smoke.test." \
	-d '{"rrsets":[{"name":"_mta-sts.smoke.test.","type":"TXT","ttl":60,"changetype":"REPLACE","records":[{"content":"\"v=STSv1; id=1;\"","disabled":false}]}]}')
tb_expect_eq "powerdns api patches a TXT rrset" 204 "$code"
tb_expect_eq "powerdns serves the TXT" '"v=STSv1; id=1;"' \
	"$(dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +short +time=2 +tries=1 TXT _mta-sts.smoke.test)"
tb_expect_eq "powerdns api refuses a wrong key" 401 \
	"$(curl -sS -o /dev/null -w '%{http_code}' -H 'X-API-Key: wrong' "$STS_TB_PDNS_API/zones")"

# --- BIND: TSIG-signed RFC 2136 update, zones loaded through rndc ---
if printf 'server 127.0.0.1 %s\nzone %s\nupdate delete _mta-sts.%s. TXT\nupdate add _mta-sts.%s. 60 TXT "v=STSv1; id=2;"\nsend\n' \
	"$STS_TB_BIND_PORT" "$STS_TB_BIND_ZONE" "$STS_TB_BIND_ZONE" "$STS_TB_BIND_ZONE" | nsupdate -k "$STS_TB_TSIG_KEY"; then
	tb_expect_eq "bind applies a signed update" '"v=STSv1; id=2;"' "$(tb_dig_bind "_mta-sts.$STS_TB_BIND_ZONE" TXT)"
else
	tb_fail "bind applies a signed update" "nsupdate failed"
fi
if printf 'server 127.0.0.1 %s\nzone %s\nupdate add x.%s. 60 A 127.0.0.9\nsend\n' \
	"$STS_TB_BIND_PORT" "$STS_TB_BIND_ZONE" "$STS_TB_BIND_ZONE" | nsupdate 2>/dev/null; then
	tb_fail "bind refuses an unsigned update"
else
	tb_ok "bind refuses an unsigned update"
fi
printf '$TTL 60\n@ IN SOA ns1.smoke.test. hostmaster.smoke.test. 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 127.0.0.8\n' >"$W/smoke.zone"
if tb_bind_zone smoke.test "$W/smoke.zone"; then
	tb_expect_eq "bind loads a zone of a case" 127.0.0.8 "$(tb_dig_bind www.smoke.test A)"
else
	tb_fail "bind loads a zone of a case"
fi

# --- sshd / SFTP ---
head -c 100000 /dev/urandom >"$W/payload.bin"
SSHO=(-P "$STS_TB_SSH_PORT" -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null
	-o IdentitiesOnly=yes -i "$STS_TB_SSH_KEY")
if echo "put $W/payload.bin smoke.bin" | sftp "${SSHO[@]}" -o UserKnownHostsFile="$STS_TB_SSH_KNOWN_HOSTS" -b - \
	"$STS_TB_SSH_USER@127.0.0.1" >/dev/null && cmp -s "$STS_TB_SSH_UPLOAD/smoke.bin" "$W/payload.bin"; then
	tb_ok "sftp upload with a pinned host key"
else
	tb_fail "sftp upload with a pinned host key"
fi
echo "[127.0.0.1]:$STS_TB_SSH_PORT $(cut -d' ' -f1,2 "$STS_TB_SSH_KEY.pub")" >"$W/wrong_known_hosts"
if echo pwd | sftp "${SSHO[@]}" -o UserKnownHostsFile="$W/wrong_known_hosts" -b - "$STS_TB_SSH_USER@127.0.0.1" >/dev/null 2>&1; then
	tb_fail "sftp rejects a wrong host key"
else
	tb_ok "sftp rejects a wrong host key"
fi

# --- nginx https on loopback ---
got=$(tb_curl_policy example.test "$W/policy.txt")
tb_expect_eq "nginx serves the policy as text/plain" "200 text/plain" "$got"
tb_expect_eq "nginx serves the exact CRLF body" \
	"$(printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n' | od -c)" "$(od -c <"$W/policy.txt")"

# --- namespaces: real MTA-STS clients against PowerDNS :53 + nginx :443 ---
cat >"$W/patch.json" <<JSON
{"rrsets": [
 {"name": "ns1.example.test.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "$STS_TB_NS_SRV_ADDR", "disabled": false}]},
 {"name": "mail.example.test.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "$STS_TB_NS_SRV_ADDR", "disabled": false}]},
 {"name": "mta-sts.example.test.", "type": "A", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "$STS_TB_NS_SRV_ADDR", "disabled": false}]},
 {"name": "example.test.", "type": "MX", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "10 mail.example.test.", "disabled": false}]},
 {"name": "_mta-sts.example.test.", "type": "TXT", "ttl": 60, "changetype": "REPLACE", "records": [{"content": "\"v=STSv1; id=20260101T000000;\"", "disabled": false}]}
]}
JSON
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n' >"$W/ns-policy.txt"
chmod 755 "$W"
cat >"$W/site.conf" <<CONF
server {
    listen $STS_TB_NS_SRV_ADDR:443 ssl;
    server_name mta-sts.example.test;
    location = /.well-known/mta-sts.txt { default_type text/plain; alias $W/ns-policy.txt; }
    location / { return 404; }
}
CONF
if tb_ns_pdns_zone example.test && tb_ns_pdns_patch example.test "$W/patch.json" && tb_ns_nginx_site smoke "$W/site.conf"; then
	got=$(tb_ns_cli env SSL_CERT_FILE="$STS_TB_CA" timeout 20 mta-sts-query example.test 2>&1 | tail -1)
	tb_expect "postfix-mta-sts-resolver accepts the policy" "'mode': 'enforce'" "$got"
	got=$(tb_mailauth example.test 2>&1 | grep '"strict":true')
	tb_expect "mailauth (strict) accepts the policy" '"status":"found","id":"20260101T000000","mode":"enforce"' "$got"
else
	tb_fail "postfix-mta-sts-resolver accepts the policy" "namespace setup failed"
	tb_fail "mailauth (strict) accepts the policy" "namespace setup failed"
fi
rm -f "$STS_TB_NS_SITES/smoke.conf"

# --- Dovecot IMAP (STARTTLS) ---
got=$(curl -sS --max-time 10 --ssl-reqd --cacert "$STS_TB_CA" --resolve "mail.example.test:$STS_TB_IMAP_PORT:127.0.0.1" \
	-u "$STS_TB_IMAP_USER:$STS_TB_IMAP_PASS" "imap://mail.example.test:$STS_TB_IMAP_PORT/INBOX;UID=1" 2>&1)
tb_expect "dovecot imap over starttls" "Subject: testbed message" "$got"

# --- Postfix STARTTLS ---
got=$( (printf 'EHLO client.example.test\r\n'; sleep 1; printf 'QUIT\r\n') | timeout 20 openssl s_client -connect \
	"127.0.0.1:$STS_TB_SMTP_PORT" -starttls smtp -servername mail.example.test -verify_hostname mail.example.test \
	-CAfile "$STS_TB_CA" -verify_return_error -brief 2>&1)
tb_expect "postfix starttls certificate verifies" "Verification: OK" "$got"

tb_done
