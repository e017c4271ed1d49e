# shellcheck shell=bash
# The digitalocean fake for the conformance suite, rest-e2e and the benchmark
# (tests/fakes/README.md). DigitalOcean's SDKs cannot be installed here, so
# every request and answer between the plugin and the fake goes through
# Prism (the vendor's OpenAPI description in spec/, `prism proxy --errors`):
# fake_front puts it before the fake, fake_front_violations reads its log.
FAKE_PLUGIN=digitalocean
FAKE_STYLE=message
FAKE_BAD_TEXT="Unable to authenticate you"
FAKE_RATE="250 requests per minute and 5,000 per hour"
# what binds the benchmark (tests/bench/bench-rest.sh): both windows
FAKE_BENCH_LIMIT="all 250/60,5000/3600"

_do_tokens() {
	[ -s "$1/do.token" ] || printf 'dop_v1_fake%s%s' "$$" "$RANDOM" >"$1/do.token"
	[ -s "$1/do.badtoken" ] || printf 'dop_v1_not-the-token' >"$1/do.badtoken"
}

fake_args() {
	_do_tokens "$1"
	printf -- '--token %s\n' "$(cat "$1/do.token")"
}

# the plugin's own limiter keeps to the documented limits (its default)
fake_settings() {
	_do_tokens "$1"
	printf '{"url": "%s/v2", "token": "${file:%s/do.token}"}\n' "$2" "$1"
}

fake_bad_settings() {
	_do_tokens "$1"
	printf '{"url": "%s/v2", "token": "${file:%s/do.badtoken}"}\n' "$2" "$1"
}

fake_secrets() {
	cat "$1/do.token"
	echo
}

# fake_front DIR: Prism validating every request and answer against spec/,
# before the fake (FAKE_URL), under FAKE_WRAP like the fake; its log is
# DIR/prism.log. Bounded wait for its port.
fake_front() {
	local dir=$1 prism port i
	prism=${STS_TB_SDK:-/tmp/stsctl-testbed/sdk}/node_modules/.bin/prism
	if [ ! -x "$prism" ]; then
		echo "# Prism is missing ('$prism'): run tests/integration/harness/install.sh" >&2
		return 1
	fi
	port=$(${FAKE_WRAP:-} /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	${FAKE_WRAP:-} "$prism" proxy "$_FAKES_DIR/digitalocean/spec/openapi.yaml" "$FAKE_URL" \
		--errors -h 127.0.0.1 -p "$port" >"$dir/prism.log" 2>&1 </dev/null &
	FAKE_FRONT_PID=$!
	for i in $(seq 600); do
		grep -q 'Prism is listening' "$dir/prism.log" && break
		kill -0 "$FAKE_FRONT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q 'Prism is listening' "$dir/prism.log"; then
		echo "# Prism did not start before the digitalocean fake:" >&2
		sed 's/^/#   /' "$dir/prism.log" >&2
		return 1
	fi
	FAKE_URL=http://127.0.0.1:$port
}

# What Prism found wrong in DIR/prism.log: a request it refused, an answer
# that violates the description, a route it does not know.
fake_front_violations() {
	if grep -E 'Violation:|✖|Request terminated with error' "$1/prism.log"; then
		return 1
	fi
	return 0
}
