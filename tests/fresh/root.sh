# shellcheck shell=bash
# A new Debian 12 root, for the fresh-machine check (tests/fresh/run.sh) and
# the package check (tests/package/run.sh). Sourced after ROOT is set (the
# checkout). Offers TAP output (ok, notok, bail, finish) and:
#
#   root_base     the cached `mmdebstrap --variant=apt bookworm` tarball
#                 ($STS_FRESH_CACHE/bookworm-apt.tar, made anew when older than
#                 $STS_FRESH_MAX_AGE days), taking $STS_FRESH_CACHE/lock for
#                 the whole run (one root at a time: they share the cache)
#   root_make     unpacks it into a new R (under $STS_FRESH_WORK), copies
#                 resolv.conf and this machine's local CA certificates in,
#                 forbids service starts (policy-rc.d exits 101), makes dpkg
#                 skip fsync, mounts /proc, /sys, /dev and the apt cache
#                 ($STS_FRESH_CACHE/archives); cleaned up at exit (kept with
#                 STS_FRESH_KEEP=1)
#   inside DIR SCRIPT   run SCRIPT with bash in DIR of the root, with an empty
#                 environment
CACHE=${STS_FRESH_CACHE:-/var/cache/stsctl-fresh}
MAX_AGE=${STS_FRESH_MAX_AGE:-7}
BASE=$CACHE/bookworm-apt.tar
LOGS=$CACHE/logs
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

root_base() {
	[ "$(id -u)" = 0 ] || bail "$0 must run as root (mmdebstrap, chroot, mounts)"
	mkdir -p "$CACHE/archives/partial" "$LOGS" || bail "cannot create '$CACHE'"
	# One root at a time: they share the cache and the logs.
	exec 8>>"$CACHE/lock"
	flock -w 1800 8 || bail "'$CACHE/lock' still held after 1800 s"
	if ! command -v mmdebstrap >/dev/null; then
		log=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap 2>&1) ||
			bail "installing mmdebstrap" "$log"
	fi
	# a directory there is what mmdebstrap made before --format=tar: made anew
	[ -d "$BASE" ] && rm -rf --one-file-system "$BASE"
	if [ -f "$BASE" ] && [ -s "$BASE" ] && [ -z "$(find "$BASE" -mtime +"$MAX_AGE" 2>/dev/null)" ]; then
		ok "base root: cached $BASE ($(du -h "$BASE" | cut -f1), $(date -r "$BASE" -u +%FT%TZ))"
		return
	fi
	local sources=() f t0 rc
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -s "$f" ] && grep -q '^[^#]*\(debian\|Types:\)' "$f" && { sources=("$f"); break; }
	done
	t0=$SECONDS
	# --format=tar: mmdebstrap takes the format from the name, and .tmp is a directory
	rm -rf --one-file-system "$BASE.tmp"
	log=$(mmdebstrap --variant=apt --format=tar --include=ca-certificates,git bookworm "$BASE.tmp" "${sources[@]}" 2>&1)
	rc=$?
	if [ "$rc" != 0 ] || [ ! -f "$BASE.tmp" ] || [ ! -s "$BASE.tmp" ]; then
		rm -rf --one-file-system "$BASE.tmp"
		bail "base root: mmdebstrap failed (exit $rc; is the archive reachable?)" "$(tail -n 30 <<<"$log")"
	fi
	mv -f "$BASE.tmp" "$BASE"
	ok "base root: mmdebstrap --variant=apt bookworm in $((SECONDS - t0)) s ($(du -h "$BASE" | cut -f1))"
}

mounted=()
R=
_root_cleanup() {
	local i p
	[ -n "$R" ] || return 0
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

_root_mnt() { # ARGS... TARGET
	mount "$@" && mounted+=("${*: -1}")
}

root_make() {
	R=$(mktemp -d "${STS_FRESH_WORK:-/var/tmp}/stsctl-${1:-fresh}.XXXXXX") || bail "mktemp"
	trap _root_cleanup EXIT
	trap 'exit 130' INT TERM
	tar -xf "$BASE" -C "$R" || bail "unpacking $BASE"
	cp -L /etc/resolv.conf "$R/etc/resolv.conf"
	# dpkg without fsync: a throwaway root needs no crash safety, and an
	# install that syncs every file takes minutes longer on a busy machine
	echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/stsctl-fresh-unsafe-io"
	printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 755 "$R/usr/sbin/policy-rc.d"
	_root_mnt -t proc proc "$R/proc" &&
		_root_mnt --rbind /sys "$R/sys" && mount --make-rslave "$R/sys" &&
		_root_mnt --rbind /dev "$R/dev" && mount --make-rslave "$R/dev" &&
		_root_mnt --bind "$CACHE/archives" "$R/var/cache/apt/archives" ||
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
}

inside() { # inside DIR SCRIPT
	chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb \
		bash -c 'cd "$0" && '"$2" "$1"
}
