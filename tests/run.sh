#!/bin/bash
# THE test command of stsctl (the README names it, .ci/run calls it). As root on
# a fresh Debian 12 machine, from anywhere in the checkout:
#
#   tests/run.sh
#
#  1. installs every package the build and the tests need, and mailauth
#     (tests/integration/harness/install.sh; idempotent)
#  2. builds build/ with -Dtests=enabled and runs `meson test` (all suites:
#     unit, fuzz, cli, integration); the integration servers are started once
#     by the testbed-up fixture and stopped by testbed-down, and by this
#     script's EXIT trap whatever happens
#  3. builds build-asan/ (-Db_sanitize=address,undefined) and runs the unit
#     and fuzz suites there
#  4. runs the unit suite of build/ under valgrind
#  5. prints one line "N passed, N failed" summing every testlog JSON written
#     above: OK and EXPECTEDFAIL pass; FAIL, UNEXPECTEDPASS, TIMEOUT, ERROR and
#     SKIP fail (a test that needs a server starts it instead of skipping),
#     and so does a step that could not run (a build that failed). Exits 1
#     when anything failed.
#
# Environment: STS_BUILD (build dir, default build), STS_BUILD_ASAN (default
# $STS_BUILD-asan), STS_NO_INSTALL=1 skips step 1, STS_TB* (see
# tests/integration/harness/lib.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
H=$ROOT/tests/integration/harness
B=${STS_BUILD:-build}
BA=${STS_BUILD_ASAN:-$B-asan}
LOG_MAIN=$B/meson-logs/testlog.json
LOG_ASAN=$BA/meson-logs/testlog.json
LOG_VG=$B/meson-logs/testlog-vg-valgrind.json # meson appends the wrapper's name
export LC_ALL=C.UTF-8
broken=() # steps that could not run: each counts as one failed test

step() { printf '\n==== %s\n' "$*"; }

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

# 1. dependencies
if [ "${STS_NO_INSTALL:-0}" != 1 ]; then
	step "install dependencies"
	"$H/install.sh" || {
		echo "tests/run.sh: installing the dependencies failed" >&2
		broken+=("install")
	}
fi
. "$H/lib.sh"

# 2. main build, every suite; the testbed lock is held while it runs
step "build $B and run every suite"
rm -f "$B"/meson-logs/testlog*.json "$BA"/meson-logs/testlog*.json
if build "$B" -Dtests=enabled; then
	exec 9>>"$STS_TB_LOCK"
	if flock -n 9 || {
		echo "tests/run.sh: waiting for another test run to release '$STS_TB_LOCK'"
		flock -w "$STS_TB_LOCK_WAIT" 9
	}; then
		export STS_TB_LOCKED=1
		trap 'STS_TB_QUIET=1 "$H/down.sh"' EXIT
		meson test -C "$B" --no-rebuild --print-errorlogs
		"$H/down.sh"
		trap - EXIT
		unset STS_TB_LOCKED
	else # never start servers without the lock: another run owns the ports
		broken+=("integration suite (testbed lock '$STS_TB_LOCK' busy)")
		meson test -C "$B" --no-rebuild --print-errorlogs --no-suite integration
	fi
	exec 9>&-
	[ -f "$LOG_MAIN" ] || broken+=("meson test -C $B (no $LOG_MAIN)")
else
	broken+=("build $B")
fi

# 3. sanitizers: unit + fuzz
step "build $BA (ASan + UBSan) and run the unit and fuzz suites"
if build "$BA" -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false; then
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		meson test -C "$BA" --no-rebuild --print-errorlogs --suite unit --suite fuzz
	[ -f "$LOG_ASAN" ] || broken+=("meson test -C $BA (no $LOG_ASAN)")
else
	broken+=("build $BA")
fi

# 4. valgrind: unit
step "run the unit suite of $B under valgrind"
if [ -f "$B/build.ninja" ] && [ -f "$LOG_MAIN" ]; then
	meson test -C "$B" --no-rebuild --print-errorlogs --suite unit --logbase testlog-vg \
		--timeout-multiplier 5 \
		--wrapper 'valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --quiet'
	[ -f "$LOG_VG" ] || broken+=("valgrind run (no $LOG_VG)")
else
	broken+=("valgrind (no build)")
fi

# 5. one closing line
step "summary"
python3 - "$B=$LOG_MAIN" "$BA=$LOG_ASAN" "$B valgrind=$LOG_VG" "${broken[@]}" <<'PY'
import json, os, sys
logs, broken = [a.split("=", 1) for a in sys.argv[1:4]], sys.argv[4:]
good = {"OK", "EXPECTEDFAIL"}
passed = failed = 0
bad = []
for phase, log in logs:
    if not os.path.exists(log):
        continue
    with open(log, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            if t["result"] in good:
                passed += 1
            else:
                failed += 1
                bad.append(f"{t['result']:<8} {phase}: {t['name']}")
for b in broken:
    failed += 1
    bad.append(f"NOTRUN   {b}")
for b in bad:
    print(b)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
PY
