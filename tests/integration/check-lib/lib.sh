# shellcheck shell=bash
# Helpers of the stsctl check/onboard integration cases (check-*/test.sh) and
# of tests/bench/bench-check.sh. Sourced after harness/tb.sh (needs its env).
#
# Deployments live in the server namespace: zones in its PowerDNS (API),
# policy hosts as server blocks of its nginx, MX hosts as Postfix instances
# started here, each on its own address of the namespace's veth, port 25.
# Every Postfix master's PID goes to $STS_TB_RUN/pids/, so harness/down.sh
# stops them too if a case dies early.
#
#   chk_addr ADDR                   add ADDR/24 to the server namespace's veth
#   chk_cert_expired NAME DNSNAME   certificate of the testbed CA that expired in 2024
#   chk_site NAME CONF              install an nginx server block in the server namespace
#   chk_policy_block HOST CERT BODYFILE [CTYPE] [EXTRA]   print one server block
#   chk_postfix NAME ADDR MODE [CERTNAME]   Postfix on ADDR:25 in the server namespace;
#                                   MODE tls (TLS 1.2+), notls, tls10 (TLS 1.0 only);
#                                   CHK_SMTP_EXTRA_PORT=P: also on ADDR:P
#   chk_postfix_stop NAME
#   chk_rrsets FILE                 read "NAME TYPE CONTENT" lines, print the PATCH JSON
#   chk_decision_*                  turn each client's output into enforce/testing/none/no-policy
CHK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's interpreter: it has python3-cryptography, and a version manager's
# shim in front of it costs most of a second per call
CHK_PY=$(command -v /usr/bin/python3 || command -v python3)
CHK_SRV_IF=$STS_TB_NETNS-vs

chk_addr() {
	local have
	have=$(ip -n "$STS_TB_NS_SRV" addr show dev "$CHK_SRV_IF")
	[[ "$have" == *"inet $1/"* ]] || ip -n "$STS_TB_NS_SRV" addr add "$1/24" dev "$CHK_SRV_IF"
}

# A leaf certificate of the testbed CA, valid 2024-01-01..2024-02-01.
chk_cert_expired() {
	"$CHK_PY" - "$STS_TB_PKI" "$1" "$2" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
pki, name, dns = sys.argv[1:4]
ca = x509.load_pem_x509_certificate(open(f"{pki}/ca.pem", "rb").read())
ca_key = serialization.load_pem_private_key(open(f"{pki}/ca.key", "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2024, 1, 1))
        .not_valid_after(datetime.datetime(2024, 2, 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256()))
pem = cert.public_bytes(serialization.Encoding.PEM)
open(f"{pki}/{name}.pem", "wb").write(pem)
open(f"{pki}/{name}.chain.pem", "wb").write(pem + open(f"{pki}/ca.pem", "rb").read())
open(f"{pki}/{name}.key", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
	chmod 600 "$STS_TB_PKI/$1.key"
}

chk_site() {
	tb_ns_nginx_site "$1" "$2"
}

# chk_policy_block HOST CERTNAME BODY [CTYPE] [EXTRA]: BODY is a file, or
# "return NNN ...;" to answer without one.
chk_policy_block() {
	local host=$1 cert=$2 body=$3 ct=${4:-text/plain} extra=${5:-}
	case $body in
	return*) ;;
	*) body="alias $body;" ;;
	esac
	cat <<EOF
server {
    listen $STS_TB_NS_SRV_ADDR:443 ssl;
    server_name $host;
    ssl_certificate     $STS_TB_PKI/$cert.chain.pem;
    ssl_certificate_key $STS_TB_PKI/$cert.key;
    $extra
    location = /.well-known/mta-sts.txt { default_type "$ct"; $body }
    location / { return 404; }
}
EOF
}

# chk_postfix NAME ADDR MODE [CERTNAME]
chk_postfix() {
	local name=$1 addr=$2 mode=$3 cert=${4:-$1} d=$STS_TB_RUN/chk-postfix/$1
	chk_postfix_stop "$name"
	rm -rf "$d"
	mkdir -p "$d/conf" "$d/queue" "$d/data"
	chown postfix "$d/data"
	cat >"$d/conf/main.cf" <<EOF
compatibility_level = 3.6
myhostname = $name.mx.test
mydomain = mx.test
mydestination =
inet_interfaces = $addr
inet_protocols = ipv4
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
default_transport = error:testbed does not relay
relay_transport = error:testbed does not relay
disable_dns_lookups = yes
smtpd_relay_restrictions = reject
smtpd_tls_loglevel = 1
EOF
	case $mode in
	tls | tls10)
		cat >>"$d/conf/main.cf" <<EOF
smtpd_tls_cert_file = $STS_TB_PKI/$cert.chain.pem
smtpd_tls_key_file = $STS_TB_PKI/$cert.key
smtpd_tls_security_level = may
EOF
		;;
	notls) echo "smtpd_tls_security_level = none" >>"$d/conf/main.cf" ;;
	esac
	# OpenSSL 3 signs a TLS 1.0 handshake with SHA-1: only security level 0 allows it
	[ "$mode" = tls10 ] && cat >>"$d/conf/main.cf" <<EOF
smtpd_tls_protocols = >=TLSv1, <=TLSv1
smtpd_tls_mandatory_protocols = >=TLSv1, <=TLSv1
tls_medium_cipherlist = aNULL:-aNULL:HIGH:MEDIUM:@SECLEVEL=0
EOF
	sed "s/@SMTP@/$addr:25/" "$STS_SOURCE_ROOT/tests/integration/harness/postfix-master.cf" \
		>"$d/conf/master.cf"
	# CHK_SMTP_EXTRA_PORT: one more smtpd listener, for --smtp-port
	[ -n "${CHK_SMTP_EXTRA_PORT:-}" ] &&
		echo "$addr:$CHK_SMTP_EXTRA_PORT inet n - n - - smtpd" >>"$d/conf/master.cf"
	chk_addr "$addr"
	ip netns exec "$STS_TB_NS_SRV" postfix -c "$d/conf" check >/dev/null 2>&1 || {
		echo "chk_postfix: postfix check failed for '$name' (see $d/postfix.log)" >&2
		return 1
	}
	setsid ip netns exec "$STS_TB_NS_SRV" postfix -c "$d/conf" start-fg </dev/null \
		>"$d/stdout.log" 2>&1 9>&- &
	for _ in $(seq 100); do
		[ -s "$d/queue/pid/master.pid" ] && tb_ns_srv ss -Hlnt "src $addr:25" | grep -q . && break
		sleep 0.1
	done
	[ -s "$d/queue/pid/master.pid" ] || {
		echo "chk_postfix: '$name' did not start (see $d/postfix.log)" >&2
		return 1
	}
	tr -d ' ' <"$d/queue/pid/master.pid" >"$STS_TB_RUN/pids/chk-postfix-$name.pid"
}

chk_postfix_stop() {
	local f=$STS_TB_RUN/pids/chk-postfix-$1.pid p
	[ -s "$f" ] || return 0
	p=$(cat "$f")
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p"
	rm -f "$f"
}

# chk_rrsets FILE: lines "NAME TYPE CONTENT..." (NAME relative to nothing:
# absolute without the dot; CONTENT as PowerDNS wants it, TXT with its
# quotes); rrsets of the same name and type are merged. Prints the PATCH.
chk_rrsets() {
	"$CHK_PY" - "$1" <<'PY'
import json, sys
rr = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    name, typ, content = line.split(None, 2)
    rr.setdefault((name.rstrip(".") + ".", typ), []).append(content)
print(json.dumps({"rrsets": [
    {"name": n, "type": t, "ttl": 60, "changetype": "REPLACE",
     "records": [{"content": c, "disabled": False} for c in cs]}
    for (n, t), cs in rr.items()]}))
PY
}

# What a sender applies, from each client's output: enforce, testing, none,
# no-policy. A verdict counts only when the client ran and printed an answer
# it gives (listed below); anything else (a crash, a timeout, no binary, no
# line for the domain) prints "unrecognised <client> output: <the output>",
# which matches no expected decision, and returns 1.
chk_decision_check() { # JSON of stsctl check for one domain on stdin
	"$CHK_PY" -c 'import json,sys; print(json.load(sys.stdin)["domains"][0]["sender_view"])'
}
# chk_decision_resolver [EXIT]: mta-sts-query's whole output (stdout and
# stderr) on stdin, EXIT its exit status. postfix-mta-sts-resolver 1.1.2
# prints one line, repr((STSFetchResult, payload)), after any log lines:
#   (<STSFetchResult.VALID: 1>, ('ID', {'version': 'STSv1', 'mode': M, ...}))  -> M
#   (<STSFetchResult.NONE: 0>, None)         no usable TXT record   -> no-policy
#   (<STSFetchResult.FETCH_ERROR: 2>, None)  policy fetch/validation failed -> no-policy
# (NOT_CHANGED only answers a known id, which the tests never pass.)
chk_decision_resolver() {
	"$CHK_PY" -c '
import ast, re, sys
out = sys.stdin.read()
rc = sys.argv[1] if len(sys.argv) > 1 else "0"
def bad(why):
    print("unrecognised mta-sts-query output (%s, exit %s): %r" % (why, rc, out))
    sys.exit(1)
if rc != "0":
    bad("non-zero exit")
lines = [l for l in out.splitlines() if l.strip()]
if not lines:
    bad("no output")
m = re.fullmatch(r"\(<STSFetchResult\.(\w+): \d+>, (.*)\)", lines[-1])
if not m:
    bad("no result line")
res, payload = m.groups()
if res in ("NONE", "FETCH_ERROR") and payload == "None":
    print("no-policy")
elif res == "VALID":
    try:
        pid, pol = ast.literal_eval(payload)
        mode = pol["mode"]
    except Exception:
        bad("VALID without a policy")
    if mode not in ("enforce", "testing", "none"):
        bad("VALID with mode %r" % mode)
    print(mode)
else:
    bad("result " + res)' "$@"
}
# chk_decision_mailauth: one JSON line of mta-sts-check.js on stdin. mailauth's
# getPolicy (no cached policy) answers status "found" with the policy's mode,
# "not_found" (no usable TXT record, or no policy host) or "errored" (lookup
# or fetch failed: the sender goes on without a policy).
chk_decision_mailauth() {
	"$CHK_PY" -c '
import json, sys
out = sys.stdin.read()
def bad(why):
    print("unrecognised mailauth output (%s): %r" % (why, out))
    sys.exit(1)
lines = [l for l in out.splitlines() if l.strip()]
if len(lines) != 1:
    bad("%d lines, want 1" % len(lines))
try:
    j = json.loads(lines[0])
except ValueError:
    bad("not JSON")
if not isinstance(j, dict):
    bad("not an object")
st = j.get("status")
if st == "found":
    if j.get("mode") not in ("enforce", "testing", "none"):
        bad("found with mode %r" % j.get("mode"))
    print(j["mode"])
elif st in ("not_found", "errored"):
    print("no-policy")
else:
    bad("status %r" % st)'
}
