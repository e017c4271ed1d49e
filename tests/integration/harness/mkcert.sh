#!/bin/bash
# mkcert.sh DIR NAME DNSNAME... : a P-256 leaf certificate for the DNS names,
# signed by the testbed CA DIR/ca.pem; writes DIR/NAME.{key,pem,chain.pem}.
# The first DNS name is the CN.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: mkcert.sh DIR NAME DNSNAME..." >&2; exit 2; }
dir=$1 n=$2
shift 2
san=$(printf 'DNS:%s,' "$@")
san=${san%,}
cd "$dir"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$n.key" -out "$n.csr" \
	-subj "/CN=$1" 2>/dev/null
openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out "$n.pem" 2>/dev/null \
	-extfile <(printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$san")
cat "$n.pem" ca.pem >"$n.chain.pem"
rm -f "$n.csr"
chmod 600 "$n.key"
