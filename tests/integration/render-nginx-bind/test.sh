#!/bin/bash
# render -o, then publish the output on real servers and read it back as a sender would:
#  (a) each zone fragment, wrapped in a zone with SOA/NS, passes named-checkzone,
#      loads into the running BIND, and dig returns the _mta-sts and _smtp._tls TXT;
#  (b) nginx, configured with the rendered server blocks, serves each rendered policy file at
#      https://mta-sts.<domain>/.well-known/mta-sts.txt (testbed CA, SNI) byte for byte as
#      text/plain, and `stsctl lint policy` accepts what is served;
#  (c) under umask 077, render -o and apply (zonefile + local) still publish files 0644 in
#      directories 0755, which nginx's www-data workers serve; the state DB, its -wal/-shm and
#      its lock are 0600 (issue 12 section 5: modes are set, not left to the umask).
# Fixtures: inventory.json (input), case.json (the A-label domains and the expected TLS-RPT record).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
C=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/stsctl-rnb.XXXXXX)
chmod 755 "$W" # nginx workers read the policy files
cleanup() {
	[ -e "$STS_TB_NGINX_SITES/render-nginx-bind.conf" ] && tb_nginx_site_rm render-nginx-bind
	rm -rf "$W"
}
trap cleanup EXIT

mapfile -t DOMAINS < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["domains"]))' "$C/case.json")
TLSRPT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tlsrpt"])' "$C/case.json")
OUT=$W/out

"$STSCTL" render "$C/inventory.json" -o "$OUT" --web-root "$OUT" --cert-dir "$W/certs" >"$W/render.out" 2>"$W/render.err"
rc=$?
if [ "$rc" != 0 ]; then
	tb_fail "stsctl render -o exits 0" "exit $rc: $(head -c 2000 "$W/render.err")"
	tb_done
	exit
fi
tb_ok "stsctl render -o exits 0"

# the same inventory as JSON: the policy id of each domain, to compare with DNS
declare -A JSON_ID
if "$STSCTL" render "$C/inventory.json" --json >"$W/render.json" 2>"$W/render-json.err"; then
	tb_ok "stsctl render --json exits 0"
	while read -r d id; do JSON_ID[$d]=$id; done < <(python3 -c '
import json, sys
for d in json.load(open(sys.argv[1]))["domains"]:
    print(d["domain"], (d.get("policy") or {}).get("id", ""))' "$W/render.json")
else
	tb_fail "stsctl render --json exits 0" "$(head -c 2000 "$W/render-json.err")"
fi

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

for d in "${DOMAINS[@]}"; do
	sts=$(tb_dig_bind "_mta-sts.$d" TXT)
	if [[ "$sts" =~ ^\"v=STSv1\;\ id=([A-Za-z0-9]{1,32})\;\"$ ]]; then
		tb_ok "dig _mta-sts.$d TXT: $sts"
		tb_expect_eq "the id in DNS for '$d' is the one of render --json" "${JSON_ID[$d]:-}" "${BASH_REMATCH[1]}"
	else
		tb_fail "dig _mta-sts.$d TXT" "got '$sts'"
	fi
	tb_expect_eq "dig _smtp._tls.$d TXT" "\"$TLSRPT\"" "$(tb_dig_bind "_smtp._tls.$d" TXT)"
done

# ---------- (b) nginx, with the rendered server blocks, serves the rendered policy files ----------
# render wrote them for --web-root "$OUT" and --cert-dir "$W/certs"; only the
# listen address changes, to the testbed's loopback port.
for d in "${DOMAINS[@]}"; do
	tb_mkcert "rnb-$d" "mta-sts.$d"
	mkdir -p "$W/certs/mta-sts.$d"
	cp "$STS_TB_PKI/rnb-$d.chain.pem" "$W/certs/mta-sts.$d/fullchain.pem"
	cp "$STS_TB_PKI/rnb-$d.key" "$W/certs/mta-sts.$d/privkey.pem"
done
for d in "${DOMAINS[@]}"; do
	conf=$OUT/nginx/mta-sts.$d.conf
	if [ -s "$conf" ]; then
		sed "s/^\([[:space:]]*listen\)[[:space:]]\+443[[:space:]]/\1 127.0.0.1:$STS_TB_HTTPS_PORT /" "$conf"
	else
		echo "# missing: $conf"
	fi
done >"$W/site.conf"
tb_expect_eq "a rendered nginx server block per policy host, listening on 443" "${#DOMAINS[@]}" \
	"$(grep -c "listen 127.0.0.1:$STS_TB_HTTPS_PORT ssl;" "$W/site.conf")"
if err=$(tb_nginx_site render-nginx-bind "$W/site.conf" 2>&1); then
	tb_ok "nginx loads the rendered server blocks"
else
	tb_fail "nginx loads the rendered server blocks" "$err"
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

# ---------- (c) umask 077: what is published stays readable by the web server ----------
U=$W/u077
mkdir -p "$U"
python3 - "$C/inventory.json" "$U" >"$U/inventory.json" <<'EOF'
import json, sys
inv = json.load(open(sys.argv[1]))
u = sys.argv[2]
inv["providers"] = {"z": {"plugin": "zonefile", "directory": u + "/zones", "create": True},
                    "w": {"plugin": "local", "root": u + "/www"}}
inv["defaults"].update({"dns": "z", "web": "w"})
print(json.dumps(inv, indent=2))
EOF
if out=$(umask 077 && "$STSCTL" render "$U/inventory.json" -o "$U/render" --web-root "$U/www" \
	--cert-dir "$W/certs" 2>&1); then
	tb_ok "umask 077: stsctl render -o exits 0"
else
	tb_fail "umask 077: stsctl render -o exits 0" "$out"
fi
if out=$(cd "$U" && umask 077 && "$STSCTL" apply "$U/inventory.json" --yes --state "$U/state.db" 2>&1); then
	tb_ok "umask 077: stsctl apply (zonefile, local) exits 0"
else
	tb_fail "umask 077: stsctl apply (zonefile, local) exits 0" "$out"
fi
for tree in render www; do
	bad=$(find "$U/$tree" \( -path "$U/render/zones" -o -path "$U/render/nginx" \) -prune -o \
		\( -type d ! -perm 0755 -o -type f ! -perm 0644 \) -printf '%m %p\n')
	tb_expect_eq "umask 077: $tree: directories 0755, policy files 0644" "" "$bad"
done
for d in "${DOMAINS[@]}"; do
	conf=$U/render/nginx/mta-sts.$d.conf
	[ ! -s "$conf" ] || sed "s/^\([[:space:]]*listen\)[[:space:]]\+443[[:space:]]/\1 127.0.0.1:$STS_TB_HTTPS_PORT /" "$conf"
done >"$U/site.conf"
# the same server names as (b): its site makes way
if err=$(tb_nginx_site render-nginx-bind "$U/site.conf" 2>&1); then
	tb_ok "umask 077: nginx loads the server blocks of the applied web root"
else
	tb_fail "umask 077: nginx loads the server blocks of the applied web root" "$err"
fi
master=$(cat "$(dirname "$STS_TB_NGINX_SITES")/logs/nginx.pid" 2>/dev/null)
tb_expect_eq "nginx workers run as www-data" "www-data" \
	"$(ps -o user= --ppid "${master:-1}" 2>/dev/null | sort -u | xargs)"
for d in "${DOMAINS[@]}"; do
	file=$U/www/mta-sts.$d/.well-known/mta-sts.txt
	got=$(tb_curl_policy "$d" "$U/served-$d.txt" 2>&1)
	tb_expect_eq "umask 077: GET https://mta-sts.$d/.well-known/mta-sts.txt from the applied web root" \
		"200 text/plain" "$got"
	if [ -s "$file" ] && cmp -s "$file" "$U/served-$d.txt"; then
		tb_ok "umask 077: the policy served for '$d' is the applied file"
	else
		tb_fail "umask 077: the policy served for '$d' is the applied file" "$(head -c 300 "$U/served-$d.txt" 2>&1)"
	fi
done
# private files are 0600 whatever the umask, even 000: the state (a fresh one), its lock, a plan
if out=$(cd "$U" && umask 000 && "$STSCTL" apply "$U/inventory.json" --yes --state "$U/s0.db" 2>&1 &&
	"$STSCTL" plan "$U/inventory.json" --state "$U/s0.db" --out "$U/plan.json" 2>&1); then
	tb_ok "umask 000: stsctl apply and plan --out exit 0"
else
	tb_fail "umask 000: stsctl apply and plan --out exit 0" "$out"
fi
tb_expect_eq "umask 000: the state DB (and any -wal/-shm), its lock and the plan file are 0600" \
	"$(for f in "$U"/s0.db* "$U/plan.json"; do echo "600 $f"; done)" \
	"$(stat -c '%a %n' "$U"/s0.db* "$U/plan.json" 2>&1)"

tb_done
