# shellcheck shell=bash
# The linode fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md).
FAKE_PLUGIN=linode
FAKE_STYLE=linode
FAKE_BAD_TEXT="Invalid Token"
FAKE_RATE="200 requests per minute for paged listings, 1600 for everything else"

_linode_tokens() {
	[ -s "$1/linode.token" ] || printf 'linode-fake-%s-%s' "$$" "$RANDOM" >"$1/linode.token"
	[ -s "$1/linode.badtoken" ] || printf 'not-the-linode-token' >"$1/linode.badtoken"
}

fake_args() {
	_linode_tokens "$1"
	printf -- '--token %s\n' "$(cat "$1/linode.token")"
}

fake_settings() {
	_linode_tokens "$1"
	printf '{"url": "%s/v4", "token": "${file:%s/linode.token}"}\n' "$2" "$1"
}

fake_bad_settings() {
	_linode_tokens "$1"
	printf '{"url": "%s/v4", "token": "${file:%s/linode.badtoken}"}\n' "$2" "$1"
}

fake_secrets() {
	cat "$1/linode.token"
	echo
}
