#!/bin/sh
# SPDX-License-Identifier: MIT
# Build every fuzz target with libFuzzer (clang, ASan + UBSan) and run each
# for SECONDS on a copy of its seed corpus (the committed corpus never grows
# here), with a fixed seed. Prints TAP; with --log FILE also one JSON line
# per target in meson's testlog form ({"name", "result", "duration"}), and
# one for the build when it fails. Exits non-zero when anything failed.
#
#   tests/fuzz/run-libfuzzer.sh [--log FILE] SECONDS [TARGET...]
#
# TARGET is fuzz_policy or policy; none: every tests/fuzz/fuzz_*.c.
# Environment: STS_BUILD_LIBFUZZER (build directory, default
# build-libfuzzer/ in the source tree), STS_FUZZ_TIMEOUT (seconds per input,
# default 5), STS_FUZZ_RSS_MB (default 2048). Crashing inputs are kept in
# BUILD/fuzz-artifacts/, each run's output in BUILD/fuzz-logs/, the build's
# in BUILD/fuzz-build.log.
set -u

usage() {
	echo "usage: run-libfuzzer.sh [--log FILE] SECONDS [TARGET...]" >&2
	exit 2
}

log=
while [ $# -gt 0 ]; do
	case $1 in
	--log) [ $# -ge 2 ] || usage; log=$2; shift 2 ;;
	--log=*) log=${1#--log=}; shift ;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
secs=$1
shift
case $secs in '' | *[!0-9]*) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${STS_BUILD_LIBFUZZER:-$src/build-libfuzzer}
case $build in /*) ;; *) build=$PWD/$build ;; esac
timeout=${STS_FUZZ_TIMEOUT:-5}
rss=${STS_FUZZ_RSS_MB:-2048}

if [ $# -eq 0 ]; then
	set -- $(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
fi
targets=
for t in "$@"; do
	t=fuzz_${t#fuzz_}
	[ -f "$here/$t.c" ] || { echo "run-libfuzzer.sh: no target '$t'" >&2; exit 2; }
	targets="$targets $t"
done

[ -z "$log" ] || : >"$log" || exit 2
logline() { # name result duration
	[ -z "$log" ] || printf '{"name": "libfuzzer / %s", "result": "%s", "duration": %s}\n' \
		"$1" "$2" "$3" >>"$log"
}
now() { date +%s; }

# ---- build ----
t0=$(now)
mkdir -p "$build" || exit 2
blog=$build/fuzz-build.log
ok=true
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$src" -Dfuzzing_engine=libfuzzer \
		-Db_sanitize=address,undefined -Db_lundef=false -Dtests=enabled >"$blog" 2>&1 || ok=false
else
	meson configure "$build" -Dfuzzing_engine=libfuzzer >"$blog" 2>&1 || ok=false
fi
if $ok; then
	ninja -C "$build" $(for t in $targets; do echo "tests/fuzz/$t"; done) >>"$blog" 2>&1 || ok=false
fi
if ! $ok; then
	tail -n 30 "$blog" | sed 's/^/# /'
	echo "1..1"
	echo "not ok 1 - build failed, see $blog"
	logline build FAIL $(($(now) - t0))
	exit 1
fi

# ---- run ----
arts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$arts" "$logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
n=0
failed=0
set -- $targets
echo "1..$#"
for t in $targets; do
	n=$((n + 1))
	t0=$(now)
	work=$(mktemp -d "${TMPDIR:-/tmp}/$t.XXXXXX") || exit 2
	cp -R "$here/$t.in/." "$work/"
	out=$logs/$t.log
	"$build/tests/fuzz/$t" -seed=1 -max_total_time="$secs" -timeout="$timeout" \
		-rss_limit_mb="$rss" -print_final_stats=1 -artifact_prefix="$arts/$t-" \
		"$work" >"$out" 2>&1
	rc=$?
	rm -rf "$work"
	dur=$(($(now) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$out" | tail -n 1 | sed 's/cov: //')
	if [ $rc -eq 0 ] && [ -n "$execs" ]; then
		echo "ok $n - $t: $execs execs, ${cov:-0} cov"
		logline "$t" OK "$dur"
	else
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out" | tail -n 1)
		grep -m 3 -E 'ERROR|SUMMARY|runtime error|deadly signal|Timeout' "$out" | sed 's/^/# /'
		echo "not ok $n - $t: crash, see ${art:-$out}"
		logline "$t" FAIL "$dur"
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
