#!/bin/bash
# THE test command of stsctl (the README names it, .ci/run calls it). As root on
# a fresh Debian 12 machine, from anywhere in the checkout:
#
#   tests/run.sh           everything below
#   tests/run.sh --local   only what needs no server: steps 1, 2 and 3 for the
#                          unit, fuzz and cli suites (tests/fresh/run.sh runs
#                          this inside a new Debian root)
#
#  1. installs every package the build and the tests need, and mailauth
#     (tests/integration/harness/install.sh; idempotent)
#  2. builds build/ with -Dtests=enabled -Dman=enabled and runs `meson test`: the unit, fuzz,
#     cli, integration, conformance and pg suites (pg: the unit tests of the
#     state on a throwaway PostgreSQL 15 each, tests/pg/). The integration
#     servers are started by the testbed-up test and left up for step 3
#  3. builds build-asan/ (-Db_sanitize=address,undefined) and runs the unit,
#     fuzz and cli suites there, then once more, one test at a time, the cli
#     suite and the integration cases that feed stsctl hostile or foreign
#     input, with the ASan/UBSan stsctl and plugins: a sanitizer report
#     (halt_on_error, log_path) fails the test it came from
#  4. stops the servers (the testbed-down test fails when one survives)
#  5. runs the unit suite of build/ under valgrind
#  6. builds every fuzz target with libFuzzer and runs each for 10 s with a
#     fixed seed (tests/fuzz/run-libfuzzer.sh)
#  7. runs the fresh-machine check (suite fresh: tests/fresh/run.sh), then
#     the package check (suite package: tests/package/run.sh: the Debian
#     package built, linted, installed into a pristine root and run there)
#  8. prints one line per suite (test programs and TAP checks) and per phase
#     (its time), the failures, and last "N passed, N failed" where N counts
#     test programs (tests/summary.py): a test counts only when it is in the
#     meson test list and its result is in a testlog; a registered test that
#     did not run, a TAP "# SKIP", a sanitizer report, or a step that could
#     not run (a failed build) counts as failed. Exits 1 when anything failed.
#
# Environment: STS_BUILD (build dir, default build), STS_BUILD_ASAN (default
# $STS_BUILD-asan), STS_NO_INSTALL=1 skips step 1, STS_FUZZ_SECONDS (step 6,
# default 10), STS_TB* (see tests/integration/harness/lib.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
H=$ROOT/tests/integration/harness
B=${STS_BUILD:-build}
BA=${STS_BUILD_ASAN:-$B-asan}
export LC_ALL=C.UTF-8

local_only=0
case ${1:-} in
--local) local_only=1 ;;
"") ;;
*) echo "usage: tests/run.sh [--local]" >&2; exit 2 ;;
esac

# The integration cases that feed stsctl hostile or foreign input: run a
# second time with the sanitized build (step 3).
SAN_CASES="ingest-hostile ingest-channels check-policy check-mx dns-faults plan-apply"

mkdir -p "$B/meson-logs"
RESULTS=$B/meson-logs/run-results.tsv # what the summary reads; kept for a look afterwards
: >"$RESULTS"
case $BA in /*) SAN=$BA/meson-logs/sanitizer ;; *) SAN=$ROOT/$BA/meson-logs/sanitizer ;; esac
broken() { printf 'broken\t%s\n' "$*" >>"$RESULTS"; }
# ran LABEL BUILD LOG SELECTION [SANITIZER_DIR]: what a run had to execute
ran() { printf 'run\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$RESULTS"; }
phase_t0=$SECONDS
phase_name=
phase() { # phase NAME: ends the phase before (its time is recorded), starts NAME
	[ -z "$phase_name" ] || printf 'phase\t%s\t%s\n' "$phase_name" $((SECONDS - phase_t0)) >>"$RESULTS"
	phase_name=$1
	phase_t0=$SECONDS
	[ -z "$1" ] || printf '\n==== %s\n' "$1"
}

# configure (or reconfigure) and build: build DIR OPTION...
build() {
	local dir=$1 log rc=0
	shift
	log=$(mktemp)
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$log" 2>&1
	else
		meson setup "$dir" "$@" >"$log" 2>&1
	fi || rc=$?
	[ "$rc" = 0 ] || cat "$log"
	rm -f "$log"
	[ "$rc" = 0 ] && ninja -C "$dir"
}

# mtest DIR LOGBASE ARGS...: meson test, its testlog written as
# DIR/meson-logs/LOGBASE.json; its exit status is recorded for the summary
mtest() {
	local dir=$1 base=$2 rc=0
	shift 2
	rm -f "$dir/meson-logs/$base"*.json
	meson test -C "$dir" --no-rebuild --print-errorlogs --logbase "$base" "$@" || rc=$?
	printf 'exit\t%s\t%s\n' "$dir/meson-logs/$base" "$rc" >>"$RESULTS"
}

# 1. dependencies
if [ "${STS_NO_INSTALL:-0}" != 1 ]; then
	phase "install dependencies"
	"$H/install.sh" || broken "install (tests/integration/harness/install.sh failed)"
fi
. "$H/lib.sh"

# 2. main build
main_suites=unit,fuzz,cli
[ "$local_only" = 1 ] || main_suites=unit,fuzz,cli,integration,conformance,pg
phase "build $B and run the ${main_suites//,/, } suites"
have_lock=0
if build "$B" -Dtests=enabled -Dtest_hooks=true -Dman=enabled; then
	if [ "$local_only" = 1 ]; then
		mtest "$B" testlog --suite unit --suite fuzz --suite cli
	else
		exec 9>>"$STS_TB_LOCK"
		if flock -n 9 || {
			echo "tests/run.sh: waiting for another test run to release '$STS_TB_LOCK'"
			flock -w "$STS_TB_LOCK_WAIT" 9
		}; then
			have_lock=1
			export STS_TB_LOCKED=1
			trap 'STS_TB_QUIET=1 "$H/down.sh"' EXIT
			# testbed-down (suite teardown) runs in step 4, after the sanitized cases
			mtest "$B" testlog --no-suite fresh --no-suite package --no-suite teardown
		else # never start servers without the lock: another run owns the ports
			broken "integration suite (testbed lock '$STS_TB_LOCK' busy)"
			# the pg suite's clusters are private (own directory and port)
			mtest "$B" testlog --suite unit --suite fuzz --suite cli --suite pg
		fi
	fi
	ran "$B" "$B" "$B/meson-logs/testlog.json" "suite:$main_suites!teardown,fresh"
else
	broken "build $B"
fi

# 3. sanitizers
phase "build $BA (ASan + UBSan), run the unit and fuzz suites"
san_opts() { # san_opts DIR: the sanitizer options of one sanitized test, reports under DIR
	export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:log_path=$1/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$1/ubsan"
	export LSAN_OPTIONS="log_path=$1/lsan"
}
if build "$BA" -Dtests=enabled -Dtest_hooks=true -Dman=disabled -Db_sanitize=address,undefined -Db_lundef=false; then
	rm -rf "$SAN"
	mkdir -p "$SAN"
	(
		san_opts "$SAN/suites"
		mtest "$BA" testlog --suite unit --suite fuzz
	)
	ran "$BA" "$BA" "$BA/meson-logs/testlog.json" "suite:unit,fuzz" "$SAN/suites"
	phase "sanitized stsctl: the cli suite and the hostile-input integration cases"
	# one test at a time, so that a sanitizer report names its test
	sel=$(meson introspect "$BA" --tests | python3 -c '
import json, sys
print(" ".join(t["name"] for t in json.load(sys.stdin) if "stsctl:cli" in t["suite"]))')
	if [ "$local_only" = 0 ]; then
		if [ "$have_lock" = 1 ]; then
			sel="$sel $SAN_CASES"
		else
			broken "sanitized integration cases (no testbed)"
		fi
	fi
	for t in $sel; do
		mkdir -p "$SAN/$t"
		(
			san_opts "$SAN/$t"
			export STS_SANITIZED=1
			mtest "$BA" "testlog-san-$t" "$t"
		)
		ran "$BA sanitized" "$BA" "$BA/meson-logs/testlog-san-$t.json" "name:$t" "$SAN/$t"
	done
else
	broken "build $BA"
fi

if [ "$local_only" = 0 ]; then
	# 4. the servers stop, and really are gone
	phase "stop the testbed"
	if [ "$have_lock" = 1 ]; then
		mtest "$B" testlog-down --suite teardown
		ran "$B" "$B" "$B/meson-logs/testlog-down.json" "suite:teardown"
		"$H/down.sh" # nothing left to do unless testbed-down could not run
		trap - EXIT
		unset STS_TB_LOCKED
		exec 9>&-
	fi

	# 5. valgrind: unit
	phase "run the unit suite of $B under valgrind"
	if [ -f "$B/build.ninja" ]; then
		mtest "$B" testlog-vg --suite unit --timeout-multiplier 5 \
			--wrapper 'valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --quiet'
		# meson appends the wrapper's name to the log's
		ran "$B valgrind" "$B" "$B/meson-logs/testlog-vg-valgrind.json" "suite:unit"
	else
		broken "valgrind (no build)"
	fi

	# 6. libFuzzer
	# root_suite SUITE TITLE: a suite that needs only build/ and root (fresh, package)
	root_suite() {
		phase "$2"
		if [ -f "$B/build.ninja" ]; then
			mtest "$B" "testlog-$1" --suite "$1"
			ran "$B" "$B" "$B/meson-logs/testlog-$1.json" "suite:$1"
		else
			broken "$1 (no build)"
		fi
	}

	phase "libFuzzer, ${STS_FUZZ_SECONDS:-10} s per target"
	lf_log=$ROOT/$B/meson-logs/testlog-libfuzzer.json
	rm -f "$lf_log"
	if [ -x tests/fuzz/run-libfuzzer.sh ]; then
		tests/fuzz/run-libfuzzer.sh --log "$lf_log" "${STS_FUZZ_SECONDS:-10}"
	else
		broken "tests/fuzz/run-libfuzzer.sh is missing"
	fi
	ran "libfuzzer" "$B" "$lf_log" "libfuzzer"

	# 7. a fresh Debian 12 machine; the Debian package in a pristine one
	root_suite fresh "fresh Debian 12 root: README command 1, tests/run.sh --local"
	root_suite package "the Debian package: build, lintian, install into a pristine Debian 12 root"
fi

# 8. the closing lines
phase ""
printf '\n==== summary\n'
python3 "$ROOT/tests/summary.py" "$RESULTS"
