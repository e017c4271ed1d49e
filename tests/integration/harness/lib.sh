# shellcheck shell=bash
# Shared settings of the integration testbed; sourced by install.sh, up.sh,
# down.sh and tb.sh. Everything can be overridden from the environment.
#
#   STS_TB            all testbed state (default /tmp/stsctl-testbed)
#   STS_TB_RUN        the running servers' state: $STS_TB/run
#   STS_TB_NODE       npm folder holding mailauth: $STS_TB/node
#   STS_TB_SDK        npm folder holding the DNS vendors' SDKs and Prism, which
#                     prove the REST provider fakes faithful: $STS_TB/sdk
#   STS_TB_LOCK       the lock that serialises test runs on this machine
#   STS_TB_PORT_BASE  first port; the servers use fixed offsets from it
#   STS_TB_NETNS      prefix of the two network namespaces (<prefix>-srv, -cli)
#
# Two runs never collide: up.sh takes STS_TB_LOCK (flock) before touching
# anything and keeps it until down.sh, so the fixed ports and namespace names
# below belong to one run at a time. The lock file lives outside $STS_TB so
# runs with different STS_TB still serialise.

STS_TB=${STS_TB:-/tmp/stsctl-testbed}
STS_TB_RUN=${STS_TB_RUN:-$STS_TB/run}
STS_TB_NODE=${STS_TB_NODE:-$STS_TB/node}
STS_TB_SDK=${STS_TB_SDK:-$STS_TB/sdk}
if [ -z "${STS_TB_LOCK:-}" ]; then
	if [ -d /run/lock ] && [ -w /run/lock ]; then
		STS_TB_LOCK=/run/lock/stsctl-testbed.lock
	else
		STS_TB_LOCK=/tmp/stsctl-testbed.lock
	fi
fi
STS_TB_PORT_BASE=${STS_TB_PORT_BASE:-20300}
STS_TB_NETNS=${STS_TB_NETNS:-stsctl}
export STS_TB STS_TB_RUN STS_TB_NODE STS_TB_SDK STS_TB_LOCK STS_TB_PORT_BASE STS_TB_NETNS

# How long up.sh waits for another run to release the lock.
STS_TB_LOCK_WAIT=${STS_TB_LOCK_WAIT:-1200}

tb_log() { echo "testbed: $*" >&2; }
tb_die() {
	echo "testbed: error: $*" >&2
	exit 1
}

# The process whose end releases the lock when down.sh never runs: the
# nearest ancestor that is `meson test`, else our parent.
tb_owner_pid() {
	local p=$PPID cmd
	while [ "$p" -gt 1 ] 2>/dev/null; do
		cmd=$(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null) || break
		case $cmd in *meson*" test"*) echo "$p"; return ;; esac
		p=$(awk '{print $4}' /proc/"$p"/stat 2>/dev/null) || break
	done
	echo "$PPID"
}
