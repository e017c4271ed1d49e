#!/bin/bash
# render -o, then publish the output on real servers and read it back as a sender would:
#  (a) each zone fragment, wrapped in a zone with SOA/NS, passes named-checkzone,
#      loads into the running BIND, and dig returns the _mta-sts and _smtp._tls TXT;
#  (b) nginx serves each rendered policy file at https://mta-sts.<domain>/.well-known/mta-sts.txt
#      (testbed CA, SNI), byte for byte, as text/plain, and `stsctl lint policy` accepts it.
# Fixtures: inventory.json (input), case.json (the A-label domains and the expected TLS-RPT record).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
C=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/stsctl-rnb.XXXXXX)
chmod 755 "$W" # nginx workers read the policy files
cleanup() {
	rm -f "$STS_TB_NGINX_SITES/render-nginx-bind.conf"
	rm -rf "$W"
}
trap cleanup EXIT

mapfile -t DOMAINS < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["domains"]))' "$C/case.json")
TLSRPT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tlsrpt"])' "$C/case.json")
OUT=$W/out

"$STSCTL" render "$C/inventory.json" -o "$OUT" >"$W/render.out" 2>"$W/render.err"
rc=$?
if [ "$rc" != 0 ]; then
	tb_fail "stsctl render -o exits 0" "exit $rc: $(head -c 2000 "$W/render.err")"
	tb_done
	exit
fi
tb_ok "stsctl render -o exits 0"

# ---------- (a) zone fragments -> named-checkzone -> BIND -> dig ----------
serial=$(date +%s)
zones=()
for f in "$OUT"/zones/*.zone; do
	[ -e "$f" ] || continue
	zone=$(basename "$f" .zone)
	zones+=("$zone")
	{
		printf '$TTL 300\n$ORIGIN %s.\n' "$zone"
		printf '@ IN SOA ns1.%s. hostmaster.%s. %s 3600 600 86400 60\n' "$zone" "$zone" "$serial"
		printf '@ IN NS ns1.%s.\nns1 IN A 127.0.0.1\n' "$zone"
		cat "$f"
	} >"$W/$zone.zone"
	if chk=$(named-checkzone -q -k fail -i full "$zone" "$W/$zone.zone" 2>&1); then
		tb_ok "named-checkzone accepts zone '$zone'"
	else
		tb_fail "named-checkzone accepts zone '$zone'" "$chk"$'\n'"$(cat "$f")"
		continue
	fi
	if tb_bind_zone "$zone" "$W/$zone.zone"; then
		tb_ok "bind loads zone '$zone'"
	else
		tb_fail "bind loads zone '$zone'"
	fi
done
tb_expect_eq "one zone per domain" "$(printf '%s\n' "${DOMAINS[@]}" | sort)" "$(printf '%s\n' "${zones[@]}" | sort)"

declare -A TXT_ID
for d in "${DOMAINS[@]}"; do
	sts=$(tb_dig_bind "_mta-sts.$d" TXT)
	if [[ "$sts" =~ ^\"v=STSv1\;\ id=([A-Za-z0-9]{1,32})\;\"$ ]]; then
		TXT_ID[$d]=${BASH_REMATCH[1]}
		tb_ok "dig _mta-sts.$d TXT: $sts"
	else
		tb_fail "dig _mta-sts.$d TXT" "got '$sts'"
	fi
	tb_expect_eq "dig _smtp._tls.$d TXT" "\"$TLSRPT\"" "$(tb_dig_bind "_smtp._tls.$d" TXT)"
done

# ---------- (b) nginx serves the rendered policy files ----------
tb_mkcert render-nginx-bind "${DOMAINS[@]/#/mta-sts.}"
for d in "${DOMAINS[@]}"; do
	cat <<EOF
server {
    listen 127.0.0.1:$STS_TB_HTTPS_PORT ssl;
    server_name mta-sts.$d;
    ssl_certificate     $STS_TB_PKI/render-nginx-bind.chain.pem;
    ssl_certificate_key $STS_TB_PKI/render-nginx-bind.key;
    location = /.well-known/mta-sts.txt { default_type text/plain; alias $OUT/mta-sts.$d/.well-known/mta-sts.txt; }
    location / { return 404; }
}
EOF
done >"$W/site.conf"
if tb_nginx_site render-nginx-bind "$W/site.conf"; then
	tb_ok "nginx loads the server blocks for the rendered policies"
else
	tb_fail "nginx loads the server blocks for the rendered policies"
fi

for d in "${DOMAINS[@]}"; do
	file=$OUT/mta-sts.$d/.well-known/mta-sts.txt
	if [ ! -s "$file" ]; then
		tb_fail "policy file rendered for '$d'" "missing: ${file#"$W"/}"
		continue
	fi
	got=$(tb_curl_policy "$d" "$W/served-$d.txt" 2>&1)
	tb_expect_eq "GET https://mta-sts.$d/.well-known/mta-sts.txt: status and type" "200 text/plain" "$got"
	if cmp -s "$file" "$W/served-$d.txt"; then
		tb_ok "served policy of '$d' equals the rendered file byte for byte"
	else
		tb_fail "served policy of '$d' equals the rendered file byte for byte" "$(od -c "$W/served-$d.txt" | head -20)"
	fi
	if lint=$("$STSCTL" lint policy "$W/served-$d.txt" 2>&1); then
		tb_ok "stsctl lint policy accepts the policy served for '$d'"
	else
		tb_fail "stsctl lint policy accepts the policy served for '$d'" "$lint"
	fi
done

tb_done
