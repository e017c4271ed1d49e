# shellcheck shell=bash
# The gcloud fake's side of the contract (tests/fakes/README.md). A service
# account key pair is made with openssl into DIR on first use: the fake gets
# the public half, the plugin a key file in Google's JSON form. The token
# endpoint listens on a port of its own (DIR/fake.port.token, written before
# fake_start sees DIR/fake.port), as Google's is another host: token_url and
# the key's token_uri name it, whatever URL the API is reached at (the fault
# proxy stands in front of the DNS API only).
FAKE_PLUGIN=gcloud
FAKE_STYLE=google
FAKE_BAD_TEXT="Invalid JWT Signature"
FAKE_RATE="600 requests per minute (Cloud DNS API quota per user)"
GC_PROJECT=stsctl-fake-project
GC_EMAIL=stsctl@stsctl-fake-project.iam.gserviceaccount.com
GC_KID=5f1c0ffee0000000000000000000000000000001

_gc_keys() {
	local dir=$1 k
	for k in key bad; do
		[ -s "$dir/gc-$k.pem" ] ||
			openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/gc-$k.pem" 2>/dev/null
	done
	[ -s "$dir/gc-pub.pem" ] || openssl pkey -in "$dir/gc-key.pem" -pubout -out "$dir/gc-pub.pem" 2>/dev/null
}

# _gc_keyfile DIR PEM OUT TOKEN_URL: a service account key file (Google's JSON)
_gc_keyfile() {
	/usr/bin/python3 - "$@" "$GC_PROJECT" "$GC_EMAIL" "$GC_KID" <<'PY'
import json, os, sys
pem, out, token_url, project, email, kid = sys.argv[2:]
key = {"type": "service_account", "project_id": project, "private_key_id": kid,
       "private_key": open(pem).read(), "client_email": email, "client_id": "100000000000000000001",
       "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_url,
       "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
       "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + email}
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump(key, f, indent=2)
PY
}

fake_args() {
	_gc_keys "$1"
	# GC_TOKEN_TTL: the access tokens' life (seconds), short to test renewal
	printf -- '--public-key %s --key-id %s --client-email %s --project %s --token-ttl %s\n' \
		"$1/gc-pub.pem" "$GC_KID" "$GC_EMAIL" "$GC_PROJECT" "${GC_TOKEN_TTL:-3600}"
}

# _gc_settings DIR URL PEM NAME
_gc_settings() {
	local dir=$1 url=$2 tok
	_gc_keys "$dir"
	tok=http://127.0.0.1:$(cat "$dir/fake.port.token")/token
	_gc_keyfile "$dir" "$3" "$dir/$4" "$tok"
	printf '{"url": "%s/dns/v1", "token_url": "%s", "credentials": "${file:%s}", "project": "%s"}\n' \
		"$url" "$tok" "$dir/$4" "$GC_PROJECT"
}

fake_settings() { _gc_settings "$1" "$2" "$1/gc-key.pem" gc-key.json; }
fake_bad_settings() { _gc_settings "$1" "$2" "$1/gc-bad.pem" gc-bad.json; }

fake_secrets() {
	_gc_keys "$1"
	# the private key's base64 body lines (the key file holds them \n-joined)
	grep -v -- '-----' "$1/gc-key.pem"
}
