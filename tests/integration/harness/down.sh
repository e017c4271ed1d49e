#!/bin/bash
# Stop the testbed of $STS_TB_RUN: TERM every daemon by its recorded PID (KILL
# after 10 s), delete the two namespaces, release the lock (stop the watcher).
#
# Safe to call more than once and from tests/run.sh's EXIT trap. Without
# --force it only acts when the caller owns the testbed: tests/run.sh (which
# holds the lock itself: STS_TB_LOCKED=1), the `meson test` or shell that ran
# up.sh, or when that owner is gone. So a run that never got the lock cannot
# stop the servers of the run that holds it.
set -uo pipefail
H=$(cd "$(dirname "$0")" && pwd)
. "$H/lib.sh"
T=$STS_TB_RUN
say() { [ "${STS_TB_QUIET:-0}" = 1 ] || tb_log "$*"; }

force=0
[ "${1:-}" = --force ] && force=1
[ -d "$T" ] || exit 0

if [ "$force" = 0 ] && [ "${STS_TB_LOCKED:-0}" != 1 ] && [ -s "$T/owner.pid" ]; then
	owner=$(cat "$T/owner.pid")
	if [ "$owner" != "$(tb_owner_pid)" ] && kill -0 "$owner" 2>/dev/null; then
		say "testbed under '$T' belongs to process $owner, leaving it running"
		exit 0
	fi
fi

rm -f "$T/env.sh" # tests see at once that the testbed is gone

started=() # every recorded PID, to check at the end that none survived
for f in "$T"/pids/*.pid; do
	[ -e "$f" ] && started+=("$(basename "$f" .pid)=$(tr -d ' ' <"$f")")
done

for f in "$T"/pids/*.pid; do
	[ -e "$f" ] || continue
	case $f in */postfix.pid) continue ;; esac # the start-fg wrapper exits with master
	p=$(tr -d ' ' <"$f")
	kill -TERM "$p" 2>/dev/null && say "stopping $(basename "$f" .pid) ($p)"
done
for f in "$T"/pids/*.pid; do
	# a daemon may remove its own pid file as it exits (postfix does)
	p=$(tr -d ' ' 2>/dev/null <"$f") || continue
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		say "killing $(basename "$f" .pid) ($p)"
		kill -KILL "$p" 2>/dev/null
	fi
	rm -f "$f"
done

for n in "$STS_TB_NETNS-srv" "$STS_TB_NETNS-cli"; do
	if ip netns list 2>/dev/null | grep -q "^$n\b"; then
		# a process still inside (a test client) would keep the veth alive
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null && say "namespace '$n' deleted"
	fi
	rm -rf "/etc/netns/$n"
done
rmdir /etc/netns 2>/dev/null || true

# The servers are really gone: no recorded PID alive, no process that runs
# from the testbed's directory, no namespace left. Otherwise the next run
# would meet busy ports or stale state, so this is a failure. Checked while
# the lock is still held: once it is released, the next run's servers may
# start from the same folder.
# A server's children (nginx workers, dovecot and postfix helpers) may
# outlive their master by a moment: wait for them (bounded, 3 s), then
# kill what is still there, naming it. Only what survives SIGKILL counts.
stragglers() {
	local p
	for p in $(pgrep -f -- "$T/" 2>/dev/null); do
		[ "$p" = $$ ] || [ ! -r "/proc/$p/cmdline" ] || echo "$p"
	done
}
for i in $(seq 30); do
	s=$(stragglers)
	[ -z "$s" ] && break
	if [ "$i" = 20 ]; then
		for p in $s; do
			say "killing straggler $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
			kill -KILL "$p" 2>/dev/null
		done
	fi
	sleep 0.1
done

left=()
for s in "${started[@]}"; do
	kill -0 "${s#*=}" 2>/dev/null && left+=("$s")
done
for p in $(pgrep -f -- "$T/" 2>/dev/null); do
	[ "$p" = $$ ] && continue
	# a process that exited since pgrep saw it (its /proc entry is gone) is no survivor
	cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
	[ -n "$cmd" ] && left+=("$(printf '%s' "$cmd" | cut -c1-120)=$p")
done
for n in "$STS_TB_NETNS-srv" "$STS_TB_NETNS-cli"; do
	ip netns list 2>/dev/null | grep -q "^$n\b" && left+=("namespace $n")
done
# Last: release the lock held by the watcher (its own process group).
if [ "${STS_TB_FROM_WATCHER:-0}" != 1 ] && [ -s "$T/watcher.pid" ]; then
	w=$(cat "$T/watcher.pid")
	kill -TERM -- "-$w" 2>/dev/null
fi
rm -f "$T/watcher.pid" "$T/owner.pid"

if [ "${#left[@]}" -gt 0 ]; then
	for s in "${left[@]}"; do tb_log "still running after down.sh: $s"; done
	exit 1
fi
exit 0
