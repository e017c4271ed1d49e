#!/bin/bash
# Start every server of the integration testbed, without systemd (adapted from
# shared/TESTBED.md §2-7). Takes the machine-wide testbed lock first (see
# lib.sh), stops what a crashed earlier run of this $STS_TB left behind, then
# starts, each from its own config under $STS_TB_RUN, PIDs in $STS_TB_RUN/pids:
#   PowerDNS (gsqlite3 + REST API), BIND (TSIG dynamic zone, rndc for zones of
#   the test cases), sshd (key-only, internal-sftp), nginx (https, throwaway
#   CA), Dovecot (IMAP STARTTLS), Postfix (STARTTLS), and two network
#   namespaces <prefix>-srv (PowerDNS :53 + nginx :443 + sshd :22) <-veth->
#   <prefix>-cli.
# Writes $STS_TB_RUN/env.sh, which the tests source (tb.sh does it for them).
#
# The lock is kept, after up.sh exits, by a small watcher process: down.sh
# releases it, and if down.sh never runs the watcher stops everything itself
# when the `meson test` (or shell) that started the testbed is gone.
# STS_TB_LOCKED=1 means the caller (tests/run.sh) already holds the lock.
set -euo pipefail
H=$(cd "$(dirname "$0")" && pwd)
. "$H/lib.sh"

if [ "${STS_TB_LOCKED:-0}" != 1 ]; then
	exec 9>>"$STS_TB_LOCK"
	if ! flock -n 9; then
		tb_log "waiting for another test run to release '$STS_TB_LOCK'"
		flock -w "$STS_TB_LOCK_WAIT" 9 || tb_die "testbed lock '$STS_TB_LOCK' still held after ${STS_TB_LOCK_WAIT}s"
	fi
fi

# We hold the lock: anything still recorded under $STS_TB_RUN is stale.
STS_TB_LOCKED=1 STS_TB_QUIET=1 "$H/down.sh" --force

for b in pdns_server named rndc tsig-keygen named-checkconf /usr/sbin/sshd ssh-keygen nginx dovecot \
	doveadm postfix openssl sqlite3 curl ip ss setsid python3; do
	command -v "$b" >/dev/null || tb_die "'$b' not found: run tests/integration/harness/install.sh"
done

P=$STS_TB_PORT_BASE
PDNS_PORT=$((P + 53)) PDNS_API_PORT=$((P + 81)) BIND_PORT=$((P + 54)) RNDC_PORT=$((P + 95))
SSH_PORT=$((P + 22)) HTTPS_PORT=$((P + 43)) IMAP_PORT=$((P + 143)) SMTP_PORT=$((P + 25))
NS_SRV=$STS_TB_NETNS-srv NS_CLI=$STS_TB_NETNS-cli
NS_SRV_ADDR=10.231.1.2 NS_CLI_ADDR=10.231.1.3
SSH_UNPRIV_USER=${STS_TB_SSH_UNPRIV_USER:-stsctl-tb-sftp}
API_KEY=stsctl-testbed-secret
T=$STS_TB_RUN

rm -rf "$T"/{pki,pdns,bind,ssh,ssh-unpriv,nginx,ns,dovecot,postfix,pids,watcher.log}
mkdir -p "$T"/{pki,pdns,bind/zones,ssh/upload,ssh/client,nginx/sites,nginx/logs,nginx/tmp,ns/pdns,ns/sites,ns/logs,ns/tmp,ns/ssh,ns/www,dovecot,postfix/conf,pids}
chmod 755 "$STS_TB" "$T"

wait_port() { # wait_port [netns] proto addr:port
	local ns=()
	if [ $# = 3 ]; then ns=(ip netns exec "$1"); shift; fi
	for _ in $(seq 150); do
		"${ns[@]}" ss -Hln"${1:0:1}" "src $2" | grep -q . && return 0
		sleep 0.1
	done
	tb_die "timeout waiting for $* (see the logs under '$T')"
}
start() { # start name logfile cmd... : new session, no lock fd, no tty; record PID
	local name=$1 log=$2
	shift 2
	setsid "$@" </dev/null >"$log" 2>&1 9>&- &
	echo $! >"$T/pids/$name.pid"
}

# ---------- PKI: throwaway CA + leaf certs (tb_mkcert in tb.sh mints more) ----------
cd "$T/pki"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key -out ca.pem \
	-days 30 -subj "/CN=stsctl testbed throwaway CA $$" \
	-addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
"$H/mkcert.sh" "$T/pki" mail mail.example.test localhost
"$H/mkcert.sh" "$T/pki" policy mta-sts.example.test

# ---------- PowerDNS (loopback, sqlite3 + REST API) ----------
pdns_conf() { # pdns_conf dir dnsaddr dnsport
	cat <<EOF
launch=gsqlite3
gsqlite3-database=$1/pdns.sqlite3
local-address=$2
local-port=$3
socket-dir=$1
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
# the default security poll sends a DNS query to the Internet
security-poll-suffix=
api=yes
api-key=$API_KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$PDNS_API_PORT
webserver-allow-from=127.0.0.0/8
# no caches: a PATCH is visible to the next query
cache-ttl=0
negquery-cache-ttl=0
query-cache-ttl=0
zone-cache-refresh-interval=0
default-soa-content=ns1.example.test. hostmaster.@ 0 10800 3600 604800 60
EOF
}
cd "$T/pdns"
sqlite3 pdns.sqlite3 </usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
pdns_conf "$T/pdns" 127.0.0.1 "$PDNS_PORT" >pdns.conf
start pdns "$T/pdns/pdns.log" pdns_server --config-dir="$T/pdns"
wait_port tcp "127.0.0.1:$PDNS_API_PORT"
wait_port udp "127.0.0.1:$PDNS_PORT"

# ---------- BIND 9 (TSIG-signed RFC 2136 updates; rndc for the cases' zones) ----------
cd "$T/bind"
tsig-keygen -a hmac-sha256 testbed-key >tsig.key
tsig-keygen -a hmac-sha256 rndc-key >rndc.key
cat >rndc.conf <<EOF
include "$T/bind/rndc.key";
options { default-key "rndc-key"; default-server 127.0.0.1; default-port $RNDC_PORT; };
EOF
cat >zones/dyn.test.zone <<'EOF'
$TTL 300
@   IN SOA ns1.dyn.test. hostmaster.dyn.test. 1 3600 600 86400 60
    IN NS  ns1.dyn.test.
ns1 IN A   127.0.0.1
EOF
: >cases.conf # zone statements added by tb_bind_zone (tb.sh), then `rndc reconfig`
cat >named.conf <<EOF
include "$T/bind/tsig.key";
include "$T/bind/rndc.key";
options {
    directory "$T/bind";
    pid-file "$T/bind/named.pid";
    session-keyfile "$T/bind/session.key";
    managed-keys-directory "$T/bind";
    listen-on port $BIND_PORT { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    notify no;
    allow-transfer { none; };
};
controls { inet 127.0.0.1 port $RNDC_PORT allow { 127.0.0.1; } keys { "rndc-key"; }; };
zone "dyn.test" {
    type primary;
    file "$T/bind/zones/dyn.test.zone";
    journal "$T/bind/zones/dyn.test.zone.jnl";
    update-policy { grant testbed-key zonesub ANY; };
};
include "$T/bind/cases.conf";
EOF
named-checkconf named.conf
start named "$T/bind/named.log" named -g -c "$T/bind/named.conf"
wait_port udp "127.0.0.1:$BIND_PORT"
wait_port tcp "127.0.0.1:$RNDC_PORT"

# ---------- sshd, key-only, internal-sftp ----------
cd "$T/ssh"
chmod 700 . client
ssh-keygen -q -t ed25519 -N '' -C stsctl-testbed-host -f host_ed25519_key
ssh-keygen -q -t ed25519 -N '' -C stsctl-testbed-client -f client/id_ed25519
cp client/id_ed25519.pub authorized_keys
chmod 600 authorized_keys
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 host_ed25519_key.pub)" >client/known_hosts
cat >sshd_config <<EOF
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $T/ssh/host_ed25519_key
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
AllowUsers root
# the sftp case creates this unprivileged user for its permission-denied test
AllowUsers $SSH_UNPRIV_USER
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# /tmp is 1777: StrictModes would reject authorized_keys under it
StrictModes no
X11Forwarding no
AllowTcpForwarding no
PermitTTY no
Subsystem sftp internal-sftp -d $T/ssh/upload
# sshd reads authorized_keys as the user: the unprivileged one gets its own copy
Match User $SSH_UNPRIV_USER
    AuthorizedKeysFile $T/ssh-unpriv/authorized_keys
EOF
mkdir -p "$T/ssh-unpriv"
cp authorized_keys "$T/ssh-unpriv/authorized_keys"
chmod 755 "$T/ssh-unpriv"
chmod 644 "$T/ssh-unpriv/authorized_keys"
mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$T/ssh/sshd_config"
start sshd "$T/ssh/sshd.log" /usr/sbin/sshd -D -e -f "$T/ssh/sshd_config"
wait_port tcp "127.0.0.1:$SSH_PORT"

# ---------- nginx https on 127.0.0.1 (server blocks of the cases in nginx/sites) ----------
nginx_head() { # nginx_head prefix
	# workers as www-data, as Debian's nginx runs them: what is published must
	# be readable by another user (the permissions case of render-nginx-bind)
	[ "$(id -u)" != 0 ] || echo "user www-data;"
	cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $1/logs/nginx.pid;
error_log $1/logs/error.log notice;
events { worker_connections 64; }
http {
    access_log $1/logs/access.log;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path       $1/tmp/proxy;
    fastcgi_temp_path     $1/tmp/fastcgi;
    uwsgi_temp_path       $1/tmp/uwsgi;
    scgi_temp_path        $1/tmp/scgi;
    types { }
    ssl_certificate     $T/pki/policy.chain.pem;
    ssl_certificate_key $T/pki/policy.key;
EOF
}
cd "$T/nginx"
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n' >mta-sts.txt
{
	nginx_head "$T/nginx"
	cat <<EOF
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl default_server;
        server_name mta-sts.example.test;
        location = /.well-known/mta-sts.txt { default_type text/plain; alias $T/nginx/mta-sts.txt; }
        location / { return 404; }
    }
    include $T/nginx/sites/*.conf;
}
EOF
} >nginx.conf
nginx -q -t -p "$T/nginx" -e "$T/nginx/logs/error.log" -c "$T/nginx/nginx.conf"
start nginx "$T/nginx/logs/stdout.log" nginx -p "$T/nginx" -e "$T/nginx/logs/error.log" -c "$T/nginx/nginx.conf"
wait_port tcp "127.0.0.1:$HTTPS_PORT"

# ---------- network namespaces: <prefix>-srv (servers) <-> <prefix>-cli (clients) ----------
# Both veth ends live in namespaces we create: no 10.x address or route in the
# root namespace, and no default route anywhere, so nothing can leak out.
ip netns add "$NS_SRV"
ip netns add "$NS_CLI"
ip link add "$STS_TB_NETNS-vs" type veth peer name "$STS_TB_NETNS-vc"
ip link set "$STS_TB_NETNS-vs" netns "$NS_SRV"
ip link set "$STS_TB_NETNS-vc" netns "$NS_CLI"
ip -n "$NS_SRV" link set lo up
ip -n "$NS_SRV" addr add "$NS_SRV_ADDR/24" dev "$STS_TB_NETNS-vs"
ip -n "$NS_SRV" link set "$STS_TB_NETNS-vs" up
ip -n "$NS_CLI" link set lo up
ip -n "$NS_CLI" addr add "$NS_CLI_ADDR/24" dev "$STS_TB_NETNS-vc"
ip -n "$NS_CLI" link set "$STS_TB_NETNS-vc" up
# `ip netns exec NAME` bind-mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf
for n in "$NS_SRV" "$NS_CLI"; do
	mkdir -p "/etc/netns/$n"
	printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$NS_SRV_ADDR" >"/etc/netns/$n/resolv.conf"
done

# PowerDNS inside <prefix>-srv on :53; its API on the namespace's own 127.0.0.1
cd "$T/ns/pdns"
sqlite3 pdns.sqlite3 </usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
pdns_conf "$T/ns/pdns" "$NS_SRV_ADDR" 53 >pdns.conf
start ns-pdns "$T/ns/pdns/pdns.log" ip netns exec "$NS_SRV" pdns_server --config-dir="$T/ns/pdns"
wait_port "$NS_SRV" tcp "127.0.0.1:$PDNS_API_PORT"
wait_port "$NS_SRV" udp "$NS_SRV_ADDR:53"

# nginx inside <prefix>-srv on :443: server blocks of the cases in ns/sites
cd "$T/ns"
{
	nginx_head "$T/ns"
	cat <<EOF
    server { listen $NS_SRV_ADDR:443 ssl default_server; return 421; }
    include $T/ns/sites/*.conf;
}
EOF
} >nginx.conf
ip netns exec "$NS_SRV" nginx -q -t -p "$T/ns" -e "$T/ns/logs/error.log" -c "$T/ns/nginx.conf"
start ns-nginx "$T/ns/logs/stdout.log" ip netns exec "$NS_SRV" nginx -p "$T/ns" -e "$T/ns/logs/error.log" -c "$T/ns/nginx.conf"
wait_port "$NS_SRV" tcp "$NS_SRV_ADDR:443"

# sshd inside <prefix>-srv on :22 (key-only, internal-sftp), the same host and
# client keys as the loopback one; its sftp root ns/www is what a case serves
# with the srv nginx (the end-to-end case publishes there with the sftp plugin)
chmod 755 "$T/ns" "$T/ns/www"
echo "$NS_SRV_ADDR $(cut -d' ' -f1,2 "$T/ssh/host_ed25519_key.pub")" >"$T/ssh/client/ns_known_hosts"
sed -e "s|^ListenAddress .*|ListenAddress $NS_SRV_ADDR:22|" -e "s|^PidFile .*|PidFile $T/ns/ssh/sshd.pid|" \
	-e "s|^Subsystem sftp .*|Subsystem sftp internal-sftp -d $T/ns/www|" "$T/ssh/sshd_config" >"$T/ns/ssh/sshd_config"
ip netns exec "$NS_SRV" /usr/sbin/sshd -t -f "$T/ns/ssh/sshd_config"
start ns-sshd "$T/ns/ssh/sshd.log" ip netns exec "$NS_SRV" /usr/sbin/sshd -D -e -f "$T/ns/ssh/sshd_config"
wait_port "$NS_SRV" tcp "$NS_SRV_ADDR:22"

# ---------- Dovecot IMAP (STARTTLS) ----------
cd "$T/dovecot"
mkdir -p run state mail/testuser/Maildir/{cur,new,tmp}
printf 'From: sender@example.test\r\nTo: testuser@example.test\r\nSubject: testbed message\r\nMessage-ID: <1@example.test>\r\n\r\nHello from the testbed.\r\n' \
	>mail/testuser/Maildir/new/1000000000.M1P1.testbed
chown -R nobody:nogroup mail # mail processes run as the static userdb uid (root is refused)
echo "testuser:$(doveadm pw -s SHA512-CRYPT -p testpass)" >users
cat >dovecot.conf <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $T/dovecot/run
state_dir = $T/dovecot/state
log_path = $T/dovecot/dovecot.log
instance_name = stsctl-testbed-dovecot
ssl = yes
ssl_cert = <$T/pki/mail.chain.pem
ssl_key = <$T/pki/mail.key
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u $T/dovecot/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$T/dovecot/mail/%u
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
start dovecot "$T/dovecot/stdout.log" dovecot -F -c "$T/dovecot/dovecot.conf"
wait_port tcp "127.0.0.1:$IMAP_PORT"

# ---------- Postfix smtpd (STARTTLS); it logs only to its own file ----------
cd "$T/postfix"
mkdir -p queue data
chown postfix data
cat >conf/main.cf <<EOF
compatibility_level = 3.6
myhostname = mail.example.test
mydomain = example.test
mydestination = \$myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
queue_directory = $T/postfix/queue
data_directory = $T/postfix/data
maillog_file = $T/postfix/postfix.log
maillog_file_prefixes = $T/postfix
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
default_transport = error:testbed does not relay
relay_transport = error:testbed does not relay
disable_dns_lookups = yes
smtpd_tls_cert_file = $T/pki/mail.chain.pem
smtpd_tls_key_file = $T/pki/mail.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
EOF
sed "s/@SMTP@/127.0.0.1:$SMTP_PORT/" "$H/postfix-master.cf" >conf/master.cf
postfix -c "$T/postfix/conf" check || tb_die "postfix check failed (see '$T/postfix/postfix.log')"
start postfix "$T/postfix/stdout.log" postfix -c "$T/postfix/conf" start-fg
wait_port tcp "127.0.0.1:$SMTP_PORT"
for _ in $(seq 50); do [ -s "$T/postfix/queue/pid/master.pid" ] && break; sleep 0.1; done
tr -d ' ' <"$T/postfix/queue/pid/master.pid" >"$T/pids/postfix-master.pid"

# ---------- the env file the tests source ----------
cat >"$T/env.sh.tmp" <<EOF
# written by up.sh; sourced by the integration tests (tb.sh)
STS_TB_CA=$T/pki/ca.pem
STS_TB_PKI=$T/pki
STS_TB_PDNS_PORT=$PDNS_PORT
STS_TB_PDNS_API=http://127.0.0.1:$PDNS_API_PORT/api/v1/servers/localhost
STS_TB_PDNS_API_KEY=$API_KEY
STS_TB_BIND_PORT=$BIND_PORT
STS_TB_BIND_ZONE=dyn.test
STS_TB_TSIG_KEY=$T/bind/tsig.key
STS_TB_TSIG_NAME=testbed-key
STS_TB_RNDC_CONF=$T/bind/rndc.conf
STS_TB_SSH_PORT=$SSH_PORT
STS_TB_SSH_USER=root
STS_TB_SSH_KEY=$T/ssh/client/id_ed25519
STS_TB_SSH_KNOWN_HOSTS=$T/ssh/client/known_hosts
STS_TB_SSH_UPLOAD=$T/ssh/upload
STS_TB_SSH_UNPRIV_USER=$SSH_UNPRIV_USER
STS_TB_HTTPS_PORT=$HTTPS_PORT
STS_TB_NGINX_SITES=$T/nginx/sites
STS_TB_IMAP_PORT=$IMAP_PORT
STS_TB_IMAP_USER=testuser
STS_TB_IMAP_PASS=testpass
STS_TB_SMTP_PORT=$SMTP_PORT
STS_TB_NS_SRV=$NS_SRV
STS_TB_NS_CLI=$NS_CLI
STS_TB_NS_SRV_ADDR=$NS_SRV_ADDR
STS_TB_NS_CLI_ADDR=$NS_CLI_ADDR
STS_TB_NS_API=http://127.0.0.1:$PDNS_API_PORT/api/v1/servers/localhost
STS_TB_NS_SITES=$T/ns/sites
STS_TB_NS_SSH_KNOWN_HOSTS=$T/ssh/client/ns_known_hosts
STS_TB_NS_WWW=$T/ns/www
STS_TB_MAILAUTH=$H/mta-sts-check.js
STS_TB_NODE_PATH=$STS_TB_NODE/node_modules
EOF
sed -i 's/^STS_TB_[A-Z_]*=/export &/' "$T/env.sh.tmp"
mv "$T/env.sh.tmp" "$T/env.sh"

# ---------- keep the lock: the watcher ----------
if [ "${STS_TB_LOCKED:-0}" != 1 ]; then
	owner=${STS_TB_OWNER:-$(tb_owner_pid)}
	echo "$owner" >"$T/owner.pid"
	# its own session (pgid = its pid), holding fd 9 = the lock
	setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -e "$2/env.sh" ]; do sleep 2; done
		STS_TB_LOCKED=1 STS_TB_FROM_WATCHER=1 "$3/down.sh"' watcher "$owner" "$T" "$H" \
		</dev/null >>"$T/watcher.log" 2>&1 &
	echo $! >"$T/watcher.pid"
fi

if [ "${STS_TB_QUIET:-0}" != 1 ]; then
	tb_log "up under '$T' (env file '$T/env.sh'):"
	for f in "$T"/pids/*.pid; do printf '  %-16s %s\n' "$(basename "$f" .pid)" "$(tr -d ' ' <"$f")" >&2; done
fi
