#!/bin/bash
# The package check: does the Debian package build, pass lintian, and install
# and run on a pristine Debian 12? As root, from anywhere in the checkout:
#
#   tests/package/run.sh
#
#  1. copies the checkout's tracked files (as they are in the work tree),
#     adds a debian/changelog entry VERSION+pkgcheck1 to the copy (a version
#     meson.build does not have, so that --version shows it comes from the
#     changelog) and builds the binary packages with
#     `dpkg-buildpackage -us -uc -b` (debian/rules: the man pages, no test
#     hooks; DEB_BUILD_OPTIONS=nocheck, see STS_PACKAGE_CHECK below);
#  2. runs lintian on them: no error, no warning that debian/*lintian-overrides
#     does not list with its reason;
#  3. installs stsctl_*.deb with `apt-get install --no-install-recommends
#     ./stsctl_*.deb` into a pristine root: the cached `mmdebstrap
#     --variant=apt` tarball of the fresh-machine check (tests/fresh/root.sh),
#     before any build dependency, and without the two packages that check
#     adds to it (ca-certificates and git: purged first), so a missing
#     runtime Depends shows; ca-certificates must come with the package;
#  4. there: `stsctl --version`; `stsctl plugins` lists every plugin of
#     plugins/ from the installed directory; the system user `stsctl` and
#     /var/lib/stsctl (0700, its own); the quickstart applies as that user in
#     /var/lib/stsctl; the test hooks are not in the binary and
#     STSCTL_TEST_NOW changes nothing; `man stsctl-apply` renders; bash
#     completion is installed and completes; `systemd-analyze verify`
#     accepts every unit; stsctl-plugin-dev installs, `pkg-config --cflags
#     stsctl-plugin` works and its includedir has <stsctl/plugin.h>;
#     the package has no conffile (docs/stsctl.md FILES); `apt-get remove`
#     leaves nothing of `dpkg -L stsctl` but the state and directories other
#     packages own; `apt-get purge` leaves the state (docs/stsctl.md).
#
# TAP; exit 0 only when every check passed. Logs in $STS_FRESH_CACHE/logs/
# (package-*.log). STS_FRESH_KEEP=1 keeps the root and the packages; STS_PACKAGE_DEBS=DIR
# skips the build and takes the packages in DIR (while working on step 4).
# STS_PACKAGE_CHECK=1 builds without DEB_BUILD_OPTIONS=nocheck, so that
# debian/rules' override_dh_auto_test (the unit suite) runs too.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/fresh/root.sh"

root_base
rm -f "$LOGS"/package-*.log

# ---- 1. build (STS_PACKAGE_DEBS=DIR: take the packages already built there)
W=$(mktemp -d "${STS_FRESH_WORK:-/var/tmp}/stsctl-pkgbuild.XXXXXX") || bail "mktemp"
pkg_cleanup() {
	_root_cleanup
	if [ "${STS_FRESH_KEEP:-0}" = 1 ]; then echo "# packages kept: $W"; else rm -rf "$W"; fi
}
trap pkg_cleanup EXIT
if [ -n "${STS_PACKAGE_DEBS:-}" ]; then
	cp "$STS_PACKAGE_DEBS"/*.deb "$STS_PACKAGE_DEBS"/*.changes "$STS_PACKAGE_DEBS"/*.buildinfo "$W/" ||
		bail "no packages in STS_PACKAGE_DEBS=$STS_PACKAGE_DEBS"
	ok "packages built before, from $STS_PACKAGE_DEBS: $(cd "$W" && echo *.deb)"
else
	mkdir -p "$W/src"
	(cd "$ROOT" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$W/src" ||
		bail "copying the checkout's files"
	# a version of the package's own, not meson.build's: --version must show it
	v=$(cd "$W/src" && dpkg-parsechangelog -SVersion)+pkgcheck1
	{ printf 'stsctl (%s) unstable; urgency=medium\n\n' "$v"
	  printf '  * Built by tests/package/run.sh (not a release).\n\n'
	  printf ' -- stsctl developers <stsctl@example.org>  %s\n\n' "$(date -R)"
	  cat "$ROOT/debian/changelog"; } >"$W/src/debian/changelog" || bail "adding the changelog entry $v"
	opts="nocheck parallel=$(nproc)"
	[ "${STS_PACKAGE_CHECK:-0}" = 1 ] && opts="parallel=$(nproc)"
	t0=$SECONDS
	(cd "$W/src" && dpkg-checkbuilddeps && DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc -b) \
		>"$LOGS/package-build.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=\"$opts\") in $((SECONDS - t0)) s: $(cd "$W" && echo *.deb)"
	else
		bail "dpkg-buildpackage -us -uc -b (exit $rc)" "$(tail -n 40 "$LOGS/package-build.log")"
	fi
	if [ "${STS_PACKAGE_CHECK:-0}" = 1 ]; then
		# debian/rules' override_dh_auto_test: `meson test --suite unit`, and it passed
		units=$(sed -n 's/^Ok: *\([0-9]*\) *$/\1/p' "$LOGS/package-build.log" | tail -n 1)
		if grep -q -- '--suite unit' "$LOGS/package-build.log" && [ "${units:-0}" -gt 0 ] &&
			! grep -q -- '--suite \(integration\|fresh\|package\|conformance\)' "$LOGS/package-build.log"; then
			ok "override_dh_auto_test ran the unit suite only: $units tests passed"
		else
			notok "override_dh_auto_test ran the unit suite only" "$(grep -n -- 'meson test\|^Ok:\|^Fail:' "$LOGS/package-build.log")"
		fi
	fi
fi
debs=$(cd "$W" && ls stsctl_*.deb stsctl-plugin-dev_*.deb 2>/dev/null | wc -l)
[ "$debs" = 2 ] && ok "two packages: stsctl and stsctl-plugin-dev" ||
	notok "two packages: stsctl and stsctl-plugin-dev" "$(ls "$W")"

# ---- 2. lintian
lint=$(cd "$W" && lintian --fail-on error,warning --info ./*.changes 2>&1)
rc=$?
echo "$lint" >"$LOGS/package-lintian.log"
if [ "$rc" = 0 ]; then
	ok "lintian: no error, no warning beyond the overrides ($(grep -c '^[IP]:' <<<"$lint") info/pedantic tags)"
else
	notok "lintian: no error, no warning beyond the overrides" "$(grep -E '^[EW]:' <<<"$lint" | head -n 30)"
fi

# ---- 3. a pristine root, the package
root_make package
trap pkg_cleanup EXIT # root_make set its own
cp "$W"/stsctl_*.deb "$W"/stsctl-plugin-dev_*.deb "$R/tmp/" || bail "copying the packages into $R"
# root_base adds ca-certificates and git for the fresh-machine check (its
# clone); without them the root is what `mmdebstrap --variant=apt` makes
inside / 'apt-get purge -y -qq --autoremove ca-certificates git && ! dpkg -s ca-certificates' \
	>"$LOGS/package-purge-base.log" 2>&1 ||
	bail "purging ca-certificates and git from the base root" "$(tail -n 20 "$LOGS/package-purge-base.log")"
t0=$SECONDS
inside /tmp 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ./stsctl_[0-9]*.deb' \
	>"$LOGS/package-install.log" 2>&1
rc=$?
[ "$rc" = 0 ] && ok "apt-get install ./stsctl_*.deb in a pristine root in $((SECONDS - t0)) s" ||
	bail "apt-get install ./stsctl_*.deb in a pristine root (exit $rc)" "$(tail -n 30 "$LOGS/package-install.log")"

# ---- 4. what a user gets
check() { # check NAME SCRIPT [WANT-REGEX]: SCRIPT exits 0 (and its output matches)
	local out rc
	out=$(inside /tmp "$2" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && { [ -z "${3:-}" ] || grep -Eq -- "$3" <<<"$out"; }; then
		ok "$1"
	else
		notok "$1" "exit $rc: $(head -n 20 <<<"$out")"
	fi
}
# every HTTPS fetch (policies, REST providers, webhooks, ACME) verifies
# against the system's store: a Depends, not a Recommends
check "ca-certificates came with the package: /etc/ssl/certs/ca-certificates.crt" \
	'dpkg -s ca-certificates | grep -q "^Status: install ok installed" && test -s /etc/ssl/certs/ca-certificates.crt'
version=$(dpkg-deb -f "$(ls "$W"/stsctl_[0-9]*.deb)" Version)
check "stsctl --version: the package's version, $version" 'stsctl --version' "^stsctl $(sed 's/[.+]/\\&/g' <<<"$version")\$"
plugins=$(cd "$ROOT/plugins" && for d in */; do [ -f "$d/meson.build" ] && [ ! -e "$d/.wip" ] && echo "${d%/}"; done)
got=$(inside /tmp 'stsctl plugins --json' 2>&1 | python3 -c 'import json, sys
doc = json.load(sys.stdin)
print("\n".join(sorted(p["name"] for p in doc["plugins"]
                       if p["path"].startswith("/usr/lib/") and "/stsctl/plugins-2/" in p["path"])))' 2>&1)
if [ "$got" = "$(sort <<<"$plugins")" ]; then
	ok "stsctl plugins: all $(wc -l <<<"$plugins") plugins, from /usr/lib/*/stsctl/plugins-2"
else
	notok "stsctl plugins: every plugin from the installed directory" "want: $(echo $plugins); got: $(echo $got)"
fi
check "the system user stsctl, home /var/lib/stsctl, no login shell" \
	'getent passwd stsctl | cut -d: -f6,7' '^/var/lib/stsctl:/(usr/)?s?bin/(nologin|false)$'
check "/var/lib/stsctl: mode 0700, owned by stsctl" 'stat -c "%a %U" /var/lib/stsctl' '^700 stsctl$'
check "the quickstart applies as the stsctl user in /var/lib/stsctl" \
	'cp /usr/share/doc/stsctl/examples/quickstart.json /var/lib/stsctl/ && chown stsctl: /var/lib/stsctl/quickstart.json &&
	 runuser -u stsctl -- sh -c "cd /var/lib/stsctl && stsctl apply quickstart.json --yes" &&
	 test -s /var/lib/stsctl/quickstart.out/www/mta-sts.example.com/.well-known/mta-sts.txt &&
	 stat -c %U /var/lib/stsctl/stsctl.db'
check "the test hooks are not in the installed binary" \
	'! grep -qa -e STSCTL_TEST_NOW -e STSCTL_TEST_CRASH_AFTER /usr/bin/stsctl /usr/lib/*/stsctl/plugins-2/*.so'
check "STSCTL_TEST_NOW changes nothing: plan finds no change a year later" \
	'cd /var/lib/stsctl && runuser -u stsctl -- env STSCTL_TEST_NOW=$(( $(date +%s) + 31536000 )) stsctl plan quickstart.json --detailed-exitcode'
check "bash completion is installed and offers the commands" \
	'f=/usr/share/bash-completion/completions/stsctl; test -s $f && bash -c ". $f; COMP_WORDS=(stsctl ap); COMP_CWORD=1; _stsctl; echo \${COMPREPLY[*]}"' \
	'^apply$'
check "zsh completion is installed" 'test -s /usr/share/zsh/vendor-completions/_stsctl && head -1 /usr/share/zsh/vendor-completions/_stsctl' \
	'^#compdef stsctl'
t0=$SECONDS
inside /tmp 'apt-get install -y -qq --no-install-recommends man-db systemd' >"$LOGS/package-tools.log" 2>&1 ||
	notok "installing man-db and systemd in the root (to check the pages and units)" "$(tail -n 20 "$LOGS/package-tools.log")"
check "man stsctl-apply renders" 'MANWIDTH=80 man stsctl-apply 2>&1 | col -b' 'stsctl apply'
check "man stsctl-inventory (5) and stsctl-plugin (7) render" \
	'MANWIDTH=80 man 5 stsctl-inventory >/dev/null && MANWIDTH=80 man 7 stsctl-plugin >/dev/null'
units=$(inside /tmp 'ls /usr/lib/systemd/system/stsctl*.service 2>/dev/null')
if [ -n "$units" ]; then
	check "systemd-analyze verify accepts every unit: $(echo $units | tr '\n' ' ')" \
		"systemd-analyze verify $(echo $units)"
else
	notok "the package installs its systemd units"
fi
# (--cflags prints nothing for /usr/include, a directory the compiler searches anyway)
check "stsctl-plugin-dev installs; pkg-config --cflags stsctl-plugin works; <stsctl/plugin.h> is in its includedir" \
	'apt-get install -y -qq --no-install-recommends ./stsctl-plugin-dev_*.deb >/dev/null &&
	 pkg-config --cflags stsctl-plugin >/dev/null && inc=$(pkg-config --variable=includedir stsctl-plugin) &&
	 test -s "$inc/stsctl/plugin.h" && grep -q STS_PLUGIN_ABI "$inc/stsctl/plugin.h" && echo "header: $inc/stsctl/plugin.h"' \
	'^header: /usr/include/stsctl/plugin\.h$'
check "stsctl-plugin-dev: pkg-config --variable=plugindir stsctl-plugin is where stsctl loads plugins from" \
	'd=$(pkg-config --variable=plugindir stsctl-plugin) && echo "$d" && ls "$d"/*.so >/dev/null' '^/usr/lib/[^/]+/stsctl/plugins-2$'
# No conffile: docs/stsctl.md FILES says so (the inventory in /etc/stsctl is
# the user's). One added later is allowed to stay after remove below, and
# this check asks for the docs to say so.
conf=$(inside /tmp 'dpkg-query -W -f "\${Conffiles}" stsctl' | awk 'NF {print $1}')
[ -z "$conf" ] && ok "the package ships no conffile (docs/stsctl.md FILES)" ||
	notok "the package ships no conffile (docs/stsctl.md FILES): say in docs/stsctl.md what remove and purge do with them" "$conf"
# remove: of what `dpkg -L stsctl` listed, only the state, the conffiles and
# directories another package owns may be left
inside /tmp 'dpkg -L stsctl' >"$W/files-before" 2>&1 || notok "dpkg -L stsctl" "$(cat "$W/files-before")"
check "apt-get remove: the binary and plugins go, the state stays" \
	'apt-get remove -y -qq stsctl >/dev/null && ! test -e /usr/bin/stsctl && ! ls /usr/lib/*/stsctl/plugins-2/*.so 2>/dev/null &&
	 test -s /var/lib/stsctl/stsctl.db'
cp "$W/files-before" "$R/tmp/files-before"
left=$(inside /tmp 'conf="'"$(echo $conf)"'"
	while read -r f; do
		[ "$f" != /. ] || continue
		[ -e "$f" ] || [ -L "$f" ] || continue
		case " $conf " in *" $f "*) continue;; esac
		case $f in /var/lib/stsctl | /var/lib/stsctl/*) continue;; esac
		if [ -d "$f" ] && [ ! -L "$f" ] && dpkg -S "$f" 2>/dev/null | grep -qv "^stsctl:"; then continue; fi
		echo "$f"
	done <files-before' 2>&1)
total=$(grep -c . "$W/files-before")
[ -z "$left" ] && [ "$total" -gt 10 ] &&
	ok "apt-get remove: nothing of the $total paths of dpkg -L stsctl is left but directories other packages own" ||
	notok "apt-get remove leaves only the state and the conffiles ($total paths listed before)" "left: $left"
# apt-get purge needs the package installed (apt knows a local .deb only then)
check "apt-get purge: the state is kept (docs/stsctl.md)" \
	'apt-get install -y -qq --no-install-recommends ./stsctl_*.deb >/dev/null && apt-get purge -y -qq stsctl >/dev/null &&
	 test -s /var/lib/stsctl/stsctl.db && ! dpkg -s stsctl >/dev/null 2>&1 && getent passwd stsctl >/dev/null'
finish
