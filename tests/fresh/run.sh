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
CACHE=${STS_FRESH_CACHE:-/var/cache/stsctl-fresh}
MAX_AGE=${STS_FRESH_MAX_AGE:-7}
BASE=$CACHE/bookworm-apt.tar
export LC_ALL=C.UTF-8

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || sed 's/^/# /' <<<"$2"
}
finish() {
	echo "1..$n"
	exit $((failed > 0))
}
bail() { # a step the rest depends on failed
	notok "$@"
	finish
}

[ "$(id -u)" = 0 ] || bail "tests/fresh/run.sh must run as root (mmdebstrap, chroot, mounts)"
mkdir -p "$CACHE/archives/partial" "$CACHE/logs" || bail "cannot create '$CACHE'"
LOGS=$CACHE/logs
# One fresh run at a time: they share the cache and the logs.
exec 8>>"$CACHE/lock"
flock -w 1800 8 || bail "'$CACHE/lock' still held after 1800 s"
rm -f "$LOGS"/*.log

# ---- 1. the base root
if ! command -v mmdebstrap >/dev/null; then
	log=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap 2>&1) ||
		bail "installing mmdebstrap" "$log"
fi
if [ -s "$BASE" ] && [ -z "$(find "$BASE" -mtime +"$MAX_AGE" 2>/dev/null)" ]; then
	ok "base root: cached $BASE ($(du -h "$BASE" | cut -f1), $(date -r "$BASE" -u +%FT%TZ))"
else
	sources=()
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -s "$f" ] && grep -q '^[^#]*\(debian\|Types:\)' "$f" && { sources=("$f"); break; }
	done
	t0=$SECONDS
	log=$(mmdebstrap --variant=apt --include=ca-certificates,git bookworm "$BASE.tmp" "${sources[@]}" 2>&1)
	rc=$?
	if [ "$rc" != 0 ] || [ ! -s "$BASE.tmp" ]; then
		rm -f "$BASE.tmp"
		bail "base root: mmdebstrap failed (exit $rc; is the archive reachable?)" "$(tail -n 30 <<<"$log")"
	fi
	mv -f "$BASE.tmp" "$BASE"
	ok "base root: mmdebstrap --variant=apt bookworm in $((SECONDS - t0)) s ($(du -h "$BASE" | cut -f1))"
fi

# ---- 2. unpack, clone, mount
R=$(mktemp -d "${STS_FRESH_WORK:-/var/tmp}/stsctl-fresh.XXXXXX") || bail "mktemp"
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -R -l "${mounted[$i]}" 2>/dev/null
	done
	# processes a test left inside the root would keep it busy
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	if [ "${STS_FRESH_KEEP:-0}" = 1 ]; then
		echo "# root kept: $R"
	else
		# never follow a mount that is still there into the host
		findmnt -rn -o TARGET | grep -q "^$R/" || rm -rf --one-file-system "$R"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tar -xf "$BASE" -C "$R" || bail "unpacking $BASE"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
# dpkg without fsync: a throwaway root needs no crash safety, and an
# install that syncs every file takes minutes longer on a busy machine
echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/stsctl-fresh-unsafe-io"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
mnt() { # mnt ARGS... TARGET
	mount "$@" && mounted+=("${*: -1}")
}
mnt -t proc proc "$R/proc" &&
	mnt --rbind /sys "$R/sys" && mount --make-rslave "$R/sys" &&
	mnt --rbind /dev "$R/dev" && mount --make-rslave "$R/dev" &&
	mnt --bind "$CACHE/archives" "$R/var/cache/apt/archives" ||
	bail "mounting /proc, /sys, /dev and the apt cache in $R"
mkdir -p "$R/tmp" && chmod 1777 "$R/tmp"
# The machine's own local trust anchors (/usr/local/share/ca-certificates) are
# part of every new machine here, not something the project installs: without
# them HTTPS through this site's egress (npm) fails in the root.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
	cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" &&
		chroot "$R" /usr/sbin/update-ca-certificates >/dev/null 2>&1 ||
		bail "copying the machine's local CA certificates into $R"
fi
log=$(git clone -q --no-hardlinks "$ROOT" "$R/root/stsctl" 2>&1) || bail "git clone of $ROOT" "$log"
ok "root $R: clone of $(git -C "$ROOT" rev-parse --short HEAD), /proc /sys /dev mounted, service starts refused"

inside() { # inside SCRIPT: run SCRIPT in the clone, in the root, with an empty environment
	chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb \
		bash -c 'cd /root/stsctl && '"$1"
}

# ---- 3. README command 1, as README.md has it
cmd=$(python3 "$ROOT/tests/fresh/readme_cmd.py" "$ROOT/README.md" setup:build) ||
	bail "README.md has no sh block after <!-- setup:build -->"
echo "# setup:build: $cmd"
t0=$SECONDS
inside "set -e; $cmd" >"$LOGS/setup-build.log" 2>&1
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
inside 'tests/run.sh --local' >"$LOGS/run-local.log" 2>&1
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
