# shellcheck shell=bash
# The vultr fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md).
FAKE_PLUGIN=vultr
FAKE_STYLE=vultr
FAKE_BAD_TEXT="Invalid API token"
FAKE_RATE="30 requests per second"

_vultr_keys() {
	[ -s "$1/vultr.key" ] || printf 'vultr-fake-key-%s-%s' "$$" "$RANDOM" >"$1/vultr.key"
	[ -s "$1/vultr.badkey" ] || printf 'not-the-vultr-key' >"$1/vultr.badkey"
}

fake_args() {
	_vultr_keys "$1"
	printf -- '--api-key %s\n' "$(cat "$1/vultr.key")"
}

fake_settings() {
	_vultr_keys "$1"
	printf '{"url": "%s/v2", "api_key": "${file:%s/vultr.key}"}\n' "$2" "$1"
}

fake_bad_settings() {
	_vultr_keys "$1"
	printf '{"url": "%s/v2", "api_key": "${file:%s/vultr.badkey}"}\n' "$2" "$1"
}

fake_secrets() {
	cat "$1/vultr.key"
	echo
}
