# shellcheck shell=bash
# The shell side of the REST provider fakes (tests/fakes/README.md), sourced
# with the provider's env.sh by the conformance suite, the end-to-end case
# (tests/integration/rest-e2e/) and the benchmark (tests/bench/bench-rest.sh).
#
#   fake_start DIR [fake.py options...]
#       starts tests/fakes/$FAKE_PLUGIN/fake.py with the vendor options of
#       env.sh's fake_args, logging to DIR/fake.err; waits (bounded) for its
#       port; sets FAKE_PID and FAKE_URL (http://127.0.0.1:PORT). When
#       FAKE_WRAP is set (e.g. "ip netns exec NS") the fake runs under it.
#       FAKE_CONTROL_URL is the fake itself, for the /_fake/ controls: when
#       env.sh defines fake_front DIR, it is called once the fake is up to
#       start a front before it (e.g. a validating proxy with the vendor's
#       API description; under FAKE_WRAP too), which sets FAKE_URL to the
#       front and FAKE_FRONT_PID.
#   fake_stop            stops the fake and its front
#   fake_get PATH        GET $FAKE_CONTROL_URL/PATH (a /_fake/ control), body on stdout
#   fake_front_check DIR with a front: prints what the front found wrong
#                        (env.sh's fake_front_violations DIR), fails when anything
#
# Debian's /usr/bin/python3 runs the fakes: botocore and PyJWT are Debian's
# packages, and the python3 first on PATH may be another interpreter.
_FAKES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAKE_PYTHON=${FAKE_PYTHON:-/usr/bin/python3}

fake_start() {
	local dir=$1 i
	shift
	rm -f "$dir/fake.port"
	# shellcheck disable=SC2046,SC2086
	${FAKE_WRAP:-} env PYTHONPATH="$_FAKES_DIR/common" "$FAKE_PYTHON" "$_FAKES_DIR/$FAKE_PLUGIN/fake.py" \
		--port-file "$dir/fake.port" $(fake_args "$dir") "$@" 2>>"$dir/fake.err" &
	FAKE_PID=$!
	for i in $(seq 300); do
		[ -s "$dir/fake.port" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$dir/fake.port" ]; then
		echo "# the $FAKE_PLUGIN fake did not start:" >&2
		sed 's/^/#   /' "$dir/fake.err" >&2
		return 1
	fi
	FAKE_URL=http://127.0.0.1:$(cat "$dir/fake.port")
	FAKE_CONTROL_URL=$FAKE_URL
	FAKE_FRONT_PID=
	export FAKE_URL FAKE_PID FAKE_CONTROL_URL
	if declare -F fake_front >/dev/null; then
		fake_front "$dir" || return 1
		export FAKE_URL FAKE_FRONT_PID
	fi
}

fake_stop() {
	[ -n "${FAKE_FRONT_PID:-}" ] && kill "$FAKE_FRONT_PID" 2>/dev/null
	[ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null
	FAKE_PID= FAKE_FRONT_PID=
}

fake_get() {
	${FAKE_WRAP:-} curl -fsS "${FAKE_CONTROL_URL:-$FAKE_URL}/$1"
}

fake_front_check() {
	declare -F fake_front >/dev/null || return 0
	fake_front_violations "$1"
}
