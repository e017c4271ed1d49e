# shellcheck shell=bash
# The route53 fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md): an access key id and a secret access key (the
# shapes of AWS's: AKIA + 16, 40 characters) written into the run's
# directory; the plugin reads both as ${file:...}. The wrong credentials are
# the right key id with another secret: Route 53 answers SignatureDoesNotMatch.
FAKE_PLUGIN=route53
FAKE_STYLE=aws
FAKE_BAD_TEXT="SignatureDoesNotMatch"
FAKE_RATE="5 requests / second (per AWS account)"

_r53_make() { # _r53_make DIR NAME LEN CHARS [PREFIX]: a random string, made once per DIR
	[ -s "$1/$2" ] || printf '%s%s' "${5:-}" "$(head -c 2000 /dev/urandom | tr -dc "$4" | head -c "$3")" >"$1/$2"
	cat "$1/$2"
}

_r53_creds() {
	_r53_make "$1" r53.keyid 16 'A-Z2-7' AKIA >/dev/null
	_r53_make "$1" r53.secret 40 'A-Za-z0-9+/' >/dev/null
	_r53_make "$1" r53.badsecret 40 'A-Za-z0-9+/' >/dev/null
}

fake_args() {
	_r53_creds "$1"
	printf -- '--access-key-id %s --secret-access-key-file %s\n' "$(cat "$1/r53.keyid")" "$1/r53.secret"
}

fake_settings() {
	_r53_creds "$1"
	printf '{"url": "%s", "access_key_id": "${file:%s/r53.keyid}", "secret_access_key": "${file:%s/r53.secret}"}\n' "$2" "$1" "$1"
}

fake_bad_settings() {
	_r53_creds "$1"
	printf '{"url": "%s", "access_key_id": "${file:%s/r53.keyid}", "secret_access_key": "${file:%s/r53.badsecret}"}\n' "$2" "$1" "$1"
}

fake_secrets() {
	_r53_creds "$1"
	cat "$1/r53.keyid"
	echo
	cat "$1/r53.secret"
	echo
}
