#!/bin/bash
# The package check: does the Debian package build, pass lintian, and install
# and run on a pristine Debian 12? As root, from anywhere in the checkout:
#
#   tests/package/run.sh
#
#  1. copies the checkout's tracked files (as they are in the work tree) and
#     builds the binary packages with `dpkg-buildpackage -us -uc -b`
#     (debian/rules: the man pages, no test hooks, the unit suite only);
#  2. runs lintian on them: no error, no warning that debian/*lintian-overrides
#     does not list with its reason;
#  3. installs stsctl_*.deb with `apt-get install ./stsctl_*.deb` into a
#     pristine root: the cached `mmdebstrap --variant=apt` tarball of the
#     fresh-machine check (tests/fresh/root.sh), before any build dependency,
#     so a missing runtime Depends shows;
#  4. there: `stsctl --version`; `stsctl plugins` lists every plugin of
#     plugins/ from the installed directory; the system user `stsctl` and
#     /var/lib/stsctl (0700, its own); the quickstart applies as that user in
#     /var/lib/stsctl; the test hooks are not in the binary and
#     STSCTL_TEST_NOW changes nothing; `man stsctl-apply` renders; bash
#     completion is installed and completes; `systemd-analyze verify`
#     accepts every unit; `apt-get remove` leaves only the state and the
#     conffiles, `apt-get purge` leaves the state (docs/stsctl.md says so).
#
# TAP; exit 0 only when every check passed. Logs in $STS_FRESH_CACHE/logs/
# (package-*.log). STS_FRESH_KEEP=1 keeps the root; STS_PACKAGE_DEBS=DIR
# skips the build and takes the packages in DIR (while working on step 4).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/fresh/root.sh"

root_base
rm -f "$LOGS"/package-*.log

# ---- 1. build (STS_PACKAGE_DEBS=DIR: take the packages already built there)
W=$(mktemp -d "${STS_FRESH_WORK:-/var/tmp}/stsctl-pkgbuild.XXXXXX") || bail "mktemp"
trap '_root_cleanup; rm -rf "$W"' EXIT
if [ -n "${STS_PACKAGE_DEBS:-}" ]; then
	cp "$STS_PACKAGE_DEBS"/*.deb "$STS_PACKAGE_DEBS"/*.changes "$STS_PACKAGE_DEBS"/*.buildinfo "$W/" ||
		bail "no packages in STS_PACKAGE_DEBS=$STS_PACKAGE_DEBS"
	ok "packages built before, from $STS_PACKAGE_DEBS: $(cd "$W" && echo *.deb)"
else
	mkdir -p "$W/src"
	(cd "$ROOT" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$W/src" ||
		bail "copying the checkout's files"
	t0=$SECONDS
	(cd "$W/src" && dpkg-checkbuilddeps && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
		>"$LOGS/package-build.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "dpkg-buildpackage -us -uc -b in $((SECONDS - t0)) s: $(cd "$W" && echo *.deb)"
	else
		bail "dpkg-buildpackage -us -uc -b (exit $rc)" "$(tail -n 40 "$LOGS/package-build.log")"
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
cp "$W"/stsctl_*.deb "$R/tmp/" || bail "copying the package into $R"
t0=$SECONDS
inside /tmp 'apt-get update -qq && apt-get install -y -qq --no-install-recommends ./stsctl_*.deb' \
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
version=$(sed -n '1s/^stsctl (\([^)]*\)).*/\1/p' "$ROOT/debian/changelog")
check "stsctl --version: the package's version" 'stsctl --version' "^stsctl ${version//./\\.}\$"
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
conf=$(inside /tmp 'dpkg-query -W -f "\${Conffiles}" stsctl' | awk 'NF {print $1}')
check "apt-get remove: the binary and plugins go, the state stays" \
	'apt-get remove -y -qq stsctl >/dev/null && ! test -e /usr/bin/stsctl && ! ls /usr/lib/*/stsctl/plugins-2/*.so 2>/dev/null &&
	 test -s /var/lib/stsctl/stsctl.db'
for c in $conf; do
	check "apt-get remove keeps the conffile $c" "test -e $c"
done
# apt-get purge needs the package installed (apt knows a local .deb only then)
check "apt-get purge: the state is kept (docs/stsctl.md)" \
	'apt-get install -y -qq --no-install-recommends ./stsctl_*.deb >/dev/null && apt-get purge -y -qq stsctl >/dev/null &&
	 test -s /var/lib/stsctl/stsctl.db && ! dpkg -s stsctl >/dev/null 2>&1 && getent passwd stsctl >/dev/null'
finish
