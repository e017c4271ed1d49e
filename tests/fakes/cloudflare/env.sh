# shellcheck shell=bash
# The cloudflare fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md): an API token (40 characters, as Cloudflare's)
# written into the run's directory; the plugin reads it as ${file:...}.
FAKE_PLUGIN=cloudflare
FAKE_STYLE=envelope
FAKE_BAD_TEXT="Invalid access token"
FAKE_RATE="1200 requests / 5 minutes (per user or account token)"

_cf_token() { # _cf_token DIR NAME: a token of 40 letters and digits, made once per DIR
	[ -s "$1/$2" ] || head -c 600 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40 >"$1/$2"
	cat "$1/$2"
}

fake_args() {
	printf -- '--token %s\n' "$(_cf_token "$1" cf.token)"
}

fake_settings() {
	_cf_token "$1" cf.token >/dev/null
	printf '{"url": "%s/client/v4", "token": "${file:%s/cf.token}"}\n' "$2" "$1"
}

fake_bad_settings() {
	_cf_token "$1" cf.badtoken >/dev/null
	printf '{"url": "%s/client/v4", "token": "${file:%s/cf.badtoken}"}\n' "$2" "$1"
}

fake_secrets() {
	_cf_token "$1" cf.token
	echo
}
