# shellcheck shell=bash
# The ovh fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md). The fake's clock runs 1000 s off the host's, so
# the plugin must take the time from /auth/time; its limit (60 requests a
# minute, the fair use OVH's maintainers give) is compressed 60 times here
# (a later --rate-scale, the benchmark's, wins), and the plugin keeps to
# that compressed limit.
FAKE_PLUGIN=ovh
FAKE_STYLE=ovh
FAKE_BAD_TEXT="This credential does not exist"
FAKE_RATE="60 requests per minute (fair use per consumer key)"

_ovh_keys() {
	[ -s "$1/ovh.ak" ] || printf 'ovhfakeak%s' "$RANDOM$$" >"$1/ovh.ak"
	[ -s "$1/ovh.as" ] || printf 'ovhfakeAS%s%s' "$RANDOM" "$$" >"$1/ovh.as"
	[ -s "$1/ovh.ck" ] || printf 'ovhfakeCK%s%s' "$$" "$RANDOM" >"$1/ovh.ck"
	[ -s "$1/ovh.badck" ] || printf 'notTheConsumerKey' >"$1/ovh.badck"
}

fake_args() {
	_ovh_keys "$1"
	printf -- '--app-key %s --app-secret %s --consumer-key %s --clock-skew 1000 --rate-scale 60\n' \
		"$(cat "$1/ovh.ak")" "$(cat "$1/ovh.as")" "$(cat "$1/ovh.ck")"
}

_ovh_settings() { # DIR URL CK-FILE
	printf '{"url": "%s/1.0", "application_key": "${file:%s/ovh.ak}", "application_secret": "${file:%s/ovh.as}", "consumer_key": "${file:%s/%s}", "rate_limit": "50/1s"}\n' \
		"$2" "$1" "$1" "$1" "$3"
}

fake_settings() {
	_ovh_keys "$1"
	_ovh_settings "$1" "$2" ovh.ck
}

fake_bad_settings() {
	_ovh_keys "$1"
	_ovh_settings "$1" "$2" ovh.badck
}

fake_secrets() {
	cat "$1/ovh.ak"
	echo
	cat "$1/ovh.as"
	echo
	cat "$1/ovh.ck"
	echo
}
