#!/bin/bash
# The fresh-machine check: does a brand-new Debian 12 machine pass both README
# set-up commands? As root, from anywhere in the checkout:
#
#   tests/fresh/run.sh
#
#  1. builds a minimal Debian 12 root with `mmdebstrap --variant=apt` from the
#     archive this machine's apt uses (/etc/apt/sources.list.d/debian.sources
#     or /etc/apt/sources.list; mmdebstrap's default otherwise). The base
#     tarball is cached as $STS_FRESH_CACHE/bookworm-apt.tar and made anew when
#     older than $STS_FRESH_MAX_AGE days (7); downloaded .debs are kept in
#     $STS_FRESH_CACHE/archives and bind-mounted into the root's apt cache;
#  2. clones the checkout (its HEAD: what is committed) into the root, mounts
#     /proc, /sys and /dev, forbids service starts (policy-rc.d exits 101);
#  3. inside a chroot with an empty environment, runs README.md's first set-up
#     command, read from README.md (the sh block after `<!-- setup:build -->`),
#     and checks it exits 0 and that the quickstart's zone fragments and policy
#     files exist, for every domain of examples/quickstart.json;
#  4. runs the test installer and the unit, fuzz and cli suites, plain and
#     under ASan/UBSan: `tests/run.sh --local` (README command 2 without the
#     servers; the namespace testbed is left to the host's own run), and
#     checks that it ends "N passed, 0 failed" with N > 0.
#
# Output is TAP; exit 0 only when every check passed. An unreachable archive
# is a failure, never a skip. The logs of steps 3 and 4 are kept in
# $STS_FRESH_CACHE/logs/. STS_FRESH_KEEP=1 keeps the root (its path is
# printed). Environment: STS_FRESH_CACHE (default /var/cache/stsctl-fresh),
# STS_FRESH_MAX_AGE (days, default 7), STS_FRESH_WORK (where roots are made,
# default /var/tmp).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/fresh/root.sh"

# ---- 1. the base root
root_base
rm -f "$LOGS"/*.log

# ---- 2. unpack, clone, mount
root_make fresh
log=$(git clone -q --no-hardlinks "$ROOT" "$R/root/stsctl" 2>&1) || bail "git clone of $ROOT" "$log"
ok "root $R: clone of $(git -C "$ROOT" rev-parse --short HEAD), /proc /sys /dev mounted, service starts refused"

# ---- 3. README command 1, as README.md has it
cmd=$(python3 "$ROOT/tests/fresh/readme_cmd.py" "$ROOT/README.md" setup:build) ||
	bail "README.md has no sh block after <!-- setup:build -->"
echo "# setup:build: $cmd"
t0=$SECONDS
inside /root/stsctl "set -e; $cmd" >"$LOGS/setup-build.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	ok "README command 1 exits 0 in $((SECONDS - t0)) s"
else
	notok "README command 1 exits 0 (exit $rc after $((SECONDS - t0)) s)" "$(tail -n 40 "$LOGS/setup-build.log")"
fi
missing=$(python3 - "$R/root/stsctl/examples" <<'PY'
import json, os, sys
ex = sys.argv[1]
inv = json.load(open(os.path.join(ex, "quickstart.json")))
out = os.path.join(ex, "quickstart.out")
for d in inv["domains"]:
    name = d["name"]
    zone = os.path.join(out, "zones", d.get("zone", name) + ".zone")
    pol = os.path.join(out, "www", "mta-sts." + name, ".well-known", "mta-sts.txt")
    if not os.path.isfile(pol) or "version: STSv1" not in open(pol).read():
        print("policy", pol)
    if not os.path.isfile(zone) or "_mta-sts." + name + "." not in open(zone).read():
        print("zone fragment", zone, "with _mta-sts." + name + ".")
PY
)
if [ $? = 0 ] && [ -z "$missing" ]; then
	ok "the quickstart's zone fragments and policy files exist, one of each per domain"
else
	notok "the quickstart's zone fragments and policy files exist" "$missing"
fi

# ---- 4. the test installer and the suites that need no server
t0=$SECONDS
inside /root/stsctl 'tests/run.sh --local' >"$LOGS/run-local.log" 2>&1
rc=$?
last=$(tail -n 1 "$LOGS/run-local.log")
grep -E '^(==== |suite |phase )' "$LOGS/run-local.log" | sed 's/^/# /'
if [ "$rc" = 0 ] && [[ $last =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
	ok "tests/run.sh --local (installer, unit, fuzz, cli, plain and ASan/UBSan): $last in $((SECONDS - t0)) s"
else
	notok "tests/run.sh --local: '$last' (exit $rc after $((SECONDS - t0)) s)" \
		"$(grep -E '^(FAIL|ERROR|TIMEOUT|SKIP|SANITIZER|NOTRUN|UNEXPECTEDPASS|MISSING) ' "$LOGS/run-local.log"; echo "whole log: $LOGS/run-local.log")"
fi
finish
