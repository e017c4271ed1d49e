#!/bin/bash
# The sftp web plugin under `stsctl apply` against the testbed's real OpenSSH
# sshd on 127.0.0.1 (key-only, internal-sftp, strict known_hosts), the
# loopback nginx serving what it uploads (certificate from the testbed CA) and
# the loopback PowerDNS through the powerdns plugin; every DNS result checked
# with dig:
#  apply publishes through one SSH connection (files 0644, directories 0755,
#  the policy fetched over HTTPS as a sender would before the id goes out);
#  plan reads back equal; idempotent re-apply; a mode change replaces the file
#  atomically (new inode) with a new id; removal deletes the file last.
#  Failures, each with a clear error and NOTHING published in DNS for the
#  failing domain while a control domain of the same run is published: host
#  key mismatch and unknown host key (the server's SHA-256 fingerprint named),
#  a refused key, permission denied on the web root (an unprivileged user made
#  here), a full disk (a 64 KiB tmpfs mounted here), and nginx serving a
#  stale or a wrong body (the HTTPS verification catches it).
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
tb_need_test_hooks
S=$STSCTL
API=$STS_TB_PDNS_API
BASE=${API%/api/v1/servers/*}
export PDNS_KEY=$STS_TB_PDNS_API_KEY
Z=sftp-case.test
U=$STS_TB_SSH_UNPRIV_USER
# fixtures stay with the testbed for debugging (the next run starts afresh);
# the sshd writes below $W/www, the loopback nginx serves it
W=$STS_TB_RUN/sftp-case
mounted=0 made_user=0
cleanup() {
	[ "$mounted" = 1 ] && umount "$W/tmpfs" 2>/dev/null
	[ "$made_user" = 1 ] && userdel "$U" 2>/dev/null
	rm -f "$STS_TB_NGINX_SITES/sftp-case.conf"
	return 0
}
trap cleanup EXIT
umount "$W/tmpfs" 2>/dev/null # left mounted by an interrupted run
rm -rf "$W"
mkdir -p "$W/www" "$W/locked"
chmod 755 "$W" "$W/www" "$W/locked"

pdns() { # pdns METHOD PATH [JSON]
	curl -sS -H "X-API-Key: $PDNS_KEY" -H 'Content-Type: application/json' -X "$1" "$API$2" ${3:+--data "$3"}
}
q() { dig @127.0.0.1 -p "$STS_TB_PDNS_PORT" +short +norecurse +time=2 +tries=1 "$1" "${2:-TXT}"; }
# what the two id helpers print when there is nothing: never an id, never each other
NO_TXT="(no v=STSv1 TXT)" NO_POLICY="(no policy file)"
sts_id() { # sts_id NAME: the id of the v=STSv1 TXT served at NAME, or $NO_TXT
	local id
	id=$(q "$1" | grep -o 'v=STSv1; id=[A-Za-z0-9]*' | sed 's/.*id=//')
	echo "${id:-$NO_TXT}"
}
file_of() { echo "$W/www/mta-sts.$1/.well-known/mta-sts.txt"; }
pol_id() { # the id stsctl derives from the policy in place, or $NO_POLICY
	if [ -e "$(file_of "$1")" ]; then sha256sum "$(file_of "$1")" | cut -c1-32; else echo "$NO_POLICY"; fi
}
accepted() { grep -c "Accepted publickey for" "$STS_TB_RUN/ssh/sshd.log"; }
run() { # run DIR ARGS...: stsctl in DIR, output in DIR/out
	local d=$1
	shift
	(cd "$d" && "$S" "$@" >out 2>&1)
}
# nothing at all at the domain's owned names
nothing_published() { # nothing_published NAME DOMAIN
	local got
	got="$(q "_mta-sts.$2")$(q "_smtp._tls.$2")$(q "mta-sts.$2" A)"
	tb_expect_eq "$1: nothing published in DNS for '$2' (dig)" "" "$got"
}

pdns DELETE "/zones/$Z." >/dev/null 2>&1
pdns POST /zones "{\"name\":\"$Z.\",\"kind\":\"Native\",\"nameservers\":[\"ns1.$Z.\"]}" >/dev/null

# ---------- nginx: the sftp root per host; two hosts serve something else ----------
HOSTS="a b c ctl-key ctl-unknown ctl-auth ctl-perm ctl-full stale wrong"
names=""
for h in $HOSTS; do names="$names mta-sts.$h.$Z"; done
# shellcheck disable=SC2086
tb_mkcert sftpcase $names >/dev/null
printf 'version: STSv1\r\nmode: testing\r\nmx: mx.%s\r\nmax_age: 86400\r\n' "$Z" >"$W/stale.txt"
printf '<html><body>maintenance</body></html>\n' >"$W/wrong.txt"
chmod 644 "$W/stale.txt" "$W/wrong.txt"
{
	echo "server {"
	echo "    listen 127.0.0.1:$STS_TB_HTTPS_PORT ssl;"
	echo "    server_name$(for h in $HOSTS; do case $h in stale | wrong) ;; *) printf ' mta-sts.%s.%s' "$h" "$Z" ;; esac; done);"
	echo "    ssl_certificate $STS_TB_PKI/sftpcase.chain.pem; ssl_certificate_key $STS_TB_PKI/sftpcase.key;"
	echo "    root $W/www/\$host;"
	echo "    access_log $W/access.log;"
	echo "    location = /.well-known/mta-sts.txt { default_type text/plain; }"
	echo "    location / { return 404; }"
	echo "}"
	for h in stale wrong; do
		echo "server {"
		echo "    listen 127.0.0.1:$STS_TB_HTTPS_PORT ssl; server_name mta-sts.$h.$Z;"
		echo "    ssl_certificate $STS_TB_PKI/sftpcase.chain.pem; ssl_certificate_key $STS_TB_PKI/sftpcase.key;"
		echo "    location = /.well-known/mta-sts.txt { default_type text/plain; alias $W/$h.txt; }"
		echo "}"
	done
} >"$W/site.conf"
tb_nginx_site sftp-case "$W/site.conf" || echo "Bail out! nginx refused the site"

# inventory DIR DOMAINS_JSON [EXTRA_PROVIDERS_JSON]: providers pdns and "web" (the good sftp)
web_json() { # web_json USER KEY KNOWN_HOSTS ROOT
	cat <<EOF
{"plugin": "sftp", "host": "127.0.0.1", "port": $STS_TB_SSH_PORT, "user": "$1",
 "key_file": "$2", "known_hosts": "$3", "root": "$4", "timeout": 10,
 "verify": {"https": true, "ca_file": "$STS_TB_CA", "resolve": "127.0.0.1:$STS_TB_HTTPS_PORT"}}
EOF
}
inventory() {
	mkdir -p "$1"
	cat >"$1/inv.json" <<EOF
{"version": 1,
 "defaults": {"dns": "pdns", "web": "web", "zone": "$Z", "mode": "enforce", "max_age": 86400,
              "ttl": 300, "mx": ["mx.$Z"], "tlsrpt": {"rua": ["mailto:tlsrpt@$Z"]}},
 "providers": {"pdns": {"plugin": "powerdns", "url": "$BASE/", "api_key": "\${env:PDNS_KEY}"},
               "web": $(web_json root "$STS_TB_SSH_KEY" "$STS_TB_SSH_KNOWN_HOSTS" "$W/www/{host}")
               ${3:+, $3}},
 "domains": $2}
EOF
}

# ---------- apply: three domains, one SSH connection ----------
M=$W/main
inventory "$M" "[{\"name\": \"a.$Z\", \"mode\": \"testing\"}, {\"name\": \"b.$Z\"}, {\"name\": \"c.$Z\"}]"
before=$(accepted)
run "$M" -v apply inv.json --yes --state state.db
rc=$?
tb_expect_eq "apply through sftp exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# /' "$M/out"
tb_expect_eq "plan reads and apply writes of three domains share one SSH connection (sshd log)" 1 $(($(accepted) - before))
tb_expect "the connection is logged once, with the server's host key" "connection 1" "$(grep 'connected to' "$M/out")"
tb_expect_eq "no second connection" 0 "$(grep -c 'connection 2' "$M/out")"
for d in a b c; do
	f=$(file_of "$d.$Z")
	tb_expect_eq "'$d.$Z': the policy file is 0644" 644 "$(stat -c %a "$f" 2>&1)"
	tb_expect_eq "'$d.$Z': .well-known and the host directory are 0755" "755 755" \
		"$(stat -c %a "$(dirname "$f")" "$(dirname "$(dirname "$f")")" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
	tb_expect_eq "'$d.$Z': dig shows the id of the policy in place" "$(pol_id "$d.$Z")" "$(sts_id "_mta-sts.$d.$Z")"
	tb_expect_eq "'$d.$Z': nginx serves what was uploaded (200 text/plain)" "200 text/plain" \
		"$(tb_curl_policy "$d.$Z" "$W/fetched.txt")"
	cmp -s "$W/fetched.txt" "$f" && tb_ok "'$d.$Z': the served body is the uploaded file" ||
		tb_fail "'$d.$Z': the served body is the uploaded file"
done
tb_expect "'a.$Z' is in testing mode" "mode: testing" "$(cat "$(file_of "a.$Z")")"
tb_expect_eq "no temporary files left" "" "$(find "$W/www" -name '.*.tmp')"
tb_expect_eq "apply fetched each policy over https before publishing its id (nginx log)" 3 \
	"$(grep -c 'stsctl (policy verification)' "$W/access.log")"

# ---------- plan reads back equal; a second apply changes nothing ----------
run "$M" plan inv.json --state state.db --detailed-exitcode
tb_expect_eq "plan after apply: --detailed-exitcode 0 (read back through sftp)" 0 "$?"
sa=$(q "$Z" SOA | awk '{print $3}')
run "$M" apply inv.json --yes --state state.db
tb_expect_eq "second apply exits 0" 0 "$?"
tb_expect "second apply finds nothing to do" "0 domains changed (0 changes), 3 unchanged, 0 failed" "$(cat "$M/out")"
tb_expect_eq "second apply sent no PATCH (serial unchanged)" "$sa" "$(q "$Z" SOA | awk '{print $3}')"

# ---------- mode change: atomic replace, new id ----------
old=$(sts_id "_mta-sts.a.$Z")
ino=$(stat -c %i "$(file_of "a.$Z")")
sed -i "s/{\"name\": \"a.$Z\", \"mode\": \"testing\"}/{\"name\": \"a.$Z\", \"mode\": \"enforce\"}/" "$M/inv.json"
run "$M" apply inv.json --yes --state state.db
tb_expect_eq "mode change: apply exits 0" 0 "$?"
new=$(sts_id "_mta-sts.a.$Z")
[ "$new" != "$old" ] && [ "$new" != "$NO_TXT" ] && tb_ok "mode change: a new id" || tb_fail "mode change: a new id" "$old -> $new"
tb_expect_eq "mode change: dig shows the id of the new file" "$(pol_id "a.$Z")" "$new"
tb_expect "mode change: the file says enforce" "mode: enforce" "$(cat "$(file_of "a.$Z")")"
[ "$(stat -c %i "$(file_of "a.$Z")")" != "$ino" ] && tb_ok "mode change: the file was replaced by a rename (new inode)" ||
	tb_fail "mode change: the file was replaced by a rename (new inode)"
tb_expect_eq "mode change: still 0644" 644 "$(stat -c %a "$(file_of "a.$Z")")"

# ---------- failures: each fails its own domain, the control domain goes out ----------
fp=$(ssh-keygen -l -E sha256 -f "$STS_TB_RUN/ssh/host_ed25519_key.pub" | awk '{print $2}')
ssh-keygen -q -t ed25519 -N '' -C other -f "$W/other_host_key"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$W/id_stranger"
echo "[127.0.0.1]:$STS_TB_SSH_PORT $(cut -d' ' -f1,2 "$W/other_host_key.pub")" >"$W/kh_wrong"
: >"$W/kh_empty"
fp_other=$(ssh-keygen -l -E sha256 -f "$W/other_host_key.pub" | awk '{print $2}')

# failcase NAME CTL BAD_WEB_JSON: domains ctl-NAME (good web) and f-NAME (provider "bad")
failcase() {
	local dir=$W/$1
	inventory "$dir" "[{\"name\": \"$2.$Z\"}, {\"name\": \"f-$1.$Z\", \"web\": \"bad\"}]" "\"bad\": $3"
	run "$dir" apply inv.json --yes --state state.db
	tb_expect_eq "$1: apply exits 1" 1 "$?"
	tb_expect "$1: the failed domain is named" "f-$1.$Z" "$(cat "$dir/out")"
	nothing_published "$1" "f-$1.$Z"
	tb_expect_eq "$1: the control domain '$2.$Z' is published (dig)" "$(pol_id "$2.$Z")" "$(sts_id "_mta-sts.$2.$Z")"
}

failcase hostkey ctl-key "$(web_json root "$STS_TB_SSH_KEY" "$W/kh_wrong" "$W/www/{host}")"
out=$(cat "$W/hostkey/out")
tb_expect "hostkey: says mismatch" "host key mismatch for '127.0.0.1:$STS_TB_SSH_PORT'" "$out"
tb_expect "hostkey: names the server's fingerprint" "ssh-ed25519 $fp" "$out"
tb_expect "hostkey: names the fingerprint known_hosts lists" "$fp_other" "$out"
tb_expect_eq "hostkey: nothing written for the failed domain" "" "$(ls "$W/www" | grep f-hostkey)"

failcase unknown ctl-unknown "$(web_json root "$STS_TB_SSH_KEY" "$W/kh_empty" "$W/www/{host}")"
out=$(cat "$W/unknown/out")
tb_expect "unknown host key: says so, no trust on first use" "is not in known_hosts '$W/kh_empty'" "$out"
tb_expect "unknown host key: names the server's fingerprint" "$fp" "$out"
tb_expect_eq "unknown host key: known_hosts left empty" 0 "$(wc -c <"$W/kh_empty")"

failcase auth ctl-auth "$(web_json root "$W/id_stranger" "$STS_TB_SSH_KNOWN_HOSTS" "$W/www/{host}")"
tb_expect "auth: the refused key is named" "authentication failed: '127.0.0.1:$STS_TB_SSH_PORT' refused the key '$W/id_stranger' for user 'root'" "$(cat "$W/auth/out")"

# permission denied: an unprivileged user (allowed by the testbed's sshd) and a root-owned web root
if id "$U" >/dev/null 2>&1; then userdel "$U" 2>/dev/null; fi
if useradd -M -d /nonexistent -s /usr/sbin/nologin "$U" && usermod -p '*' "$U"; then
	made_user=1
	failcase perm ctl-perm "$(web_json "$U" "$STS_TB_SSH_KEY" "$STS_TB_SSH_KNOWN_HOSTS" "$W/locked/{host}")"
	tb_expect "perm: permission denied, with path and user" \
		"permission denied creating the directory '$W/locked/mta-sts.f-perm.$Z' on '127.0.0.1:$STS_TB_SSH_PORT' as user '$U'" \
		"$(cat "$W/perm/out")"
	tb_expect_eq "perm: nothing created in the web root" "" "$(ls -A "$W/locked")"
	userdel "$U" && made_user=0
else
	tb_fail "perm: cannot create the unprivileged user '$U'"
fi

# a full disk: a 64 KiB tmpfs, filled up
mkdir -p "$W/tmpfs"
if mount -t tmpfs -o size=64k,mode=0755 stsctl-sftp-tmpfs "$W/tmpfs"; then
	mounted=1
	dd if=/dev/zero of="$W/tmpfs/filler" bs=4k 2>/dev/null
	failcase full ctl-full "$(web_json root "$STS_TB_SSH_KEY" "$STS_TB_SSH_KNOWN_HOSTS" "$W/tmpfs/{host}")"
	tb_expect "full: no space left, where" "no space left on the file system of '$W/tmpfs/mta-sts.f-full.$Z/.well-known' on '127.0.0.1:$STS_TB_SSH_PORT'" "$(cat "$W/full/out")"
	tb_expect_eq "full: no temporary file left behind" "" "$(find "$W/tmpfs" -name '.*.tmp')"
	umount "$W/tmpfs" && mounted=0
else
	tb_fail "full: cannot mount a tmpfs"
fi

# nginx serves a stale body or a wrong one: the upload worked, the verification does not
inventory "$W/served" "[{\"name\": \"ctl-key.$Z\"}, {\"name\": \"stale.$Z\"}, {\"name\": \"wrong.$Z\"}]"
run "$W/served" apply inv.json --yes --state state.db
tb_expect_eq "stale/wrong body: apply exits 1" 1 "$?"
out=$(cat "$W/served/out")
tb_expect "stale body: caught by the https verification, saying where" \
	"https://mta-sts.stale.$Z/.well-known/mta-sts.txt serves another policy: line 2 is 'mode: testing', expected 'mode: enforce'" "$out"
tb_expect "wrong body: caught, saying where" \
	"https://mta-sts.wrong.$Z/.well-known/mta-sts.txt serves another policy: line 1 is '<html><body>maintenance</body></html>', expected 'version: STSv1'" "$out"
nothing_published stale "stale.$Z"
nothing_published wrong "wrong.$Z"
tb_expect "stale body: the file itself was uploaded" "mode: enforce" "$(cat "$(file_of "stale.$Z")" 2>&1)"

# ---------- removal: records first, the file last (sftp delete) ----------
T0=$(date +%s)
export STSCTL_TEST_NOW=$T0
sed -i "s/, {\"name\": \"c.$Z\"}//" "$M/inv.json"
run "$M" apply inv.json --yes --state state.db --allow-removal
tb_expect_eq "removal start: apply exits 0" 0 "$?"
tb_expect "removal start: mode none is served through sftp" "mode: none" "$(cat "$(file_of "c.$Z")")"
tb_expect_eq "removal start: dig shows the id of the none policy" "$(pol_id "c.$Z")" "$(sts_id "_mta-sts.c.$Z")"
export STSCTL_TEST_NOW=$((T0 + 86400))
run "$M" apply inv.json --yes --state state.db
tb_expect_eq "after max_age: apply exits 0" 0 "$?"
nothing_published "after max_age" "c.$Z"
tb_expect_eq "after max_age: the policy file and .well-known are gone (sftp delete)" "no" \
	"$([ -e "$(dirname "$(file_of "c.$Z")")" ] && echo yes || echo no)"
tb_expect_eq "the other domains stay" "$(pol_id "b.$Z")" "$(sts_id "_mta-sts.b.$Z")"
unset STSCTL_TEST_NOW

pdns DELETE "/zones/$Z." >/dev/null
tb_done
