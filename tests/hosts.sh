# tests/hosts.sh: two hosts on one machine for the migration scenarios
# (tests/scenarios.sh, tests/matrix.sh). Sourced after lib.sh, with NAME, D,
# CR, CRIU and W set.

# Two hosts on one machine: network namespaces joined by a veth pair, each
# side in a pid namespace of its own (made per command below).
_h=$(echo "$D" | cksum | cut -c1-6)
NA=cra$_h NB=crb$_h
net_up() {
	ip netns add "$NA" && ip netns add "$NB" &&
		ip link add "v$NA" type veth peer name "v$NB" &&
		ip link set "v$NA" netns "$NA" && ip link set "v$NB" netns "$NB" &&
		ip -n "$NA" addr add 10.77.0.1/24 dev "v$NA" && ip -n "$NB" addr add 10.77.0.2/24 dev "v$NB" &&
		ip -n "$NA" link set "v$NA" up && ip -n "$NB" link set "v$NB" up &&
		ip -n "$NA" link set lo up && ip -n "$NB" link set lo up
}
net_down() {
	kill "${BPID:-0}" "${APID:-0}" 2>/dev/null
	ip netns del "$NA" 2>/dev/null; ip netns del "$NB" 2>/dev/null; return 0
}
# Hosts A and B: each a pid and mount namespace of its own, held by a
# sleeping init, in its network namespace. B's pid namespace is a child of
# A's so that a --via command started on A can enter it (setns(2) can only
# enter descendant pid namespaces); neither sees the other's processes.
init_of() { # init_of PID: the sleep that unshare PID forked (pid 1 inside)
	_i=0
	while [ $_i -lt 50 ]; do
		_p=$(pgrep -x -P "$1" sleep | head -1)
		[ -n "$_p" ] && { echo "$_p"; return 0; }
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
hosts_up() {
	ip netns exec "$NA" unshare --pid --fork --mount-proc sleep 600 &
	APID=$(init_of $!) || return 1
	on_a ip netns exec "$NB" unshare --pid --fork --mount-proc sleep 600 &
	sleep 0.3
	BPID=$(init_of "$(pgrep -x -P "$(pgrep -P $! | head -1)" unshare | head -1)" 2>/dev/null) ||
		BPID=$(init_of "$(pgrep -f "unshare --pid --fork --mount-proc sleep 600" | tail -1)") || return 1
	BPID_A=$(on_a sh -c 'for p in $(pgrep -x sleep); do [ "$p" != 1 ] && echo "$p"; done' | head -1)
	VIA_B="nsenter -t $BPID_A --pid --net --mount --"
	# ip netns exec mounts a fresh /sys, without the cgroup hierarchies:
	# give both hosts this machine's v2 hierarchy at the same path
	for h in on_a on_b; do
		if [ "$V2" = /sys/fs/cgroup ]; then $h mount -t cgroup2 none /sys/fs/cgroup
		else $h sh -c 'mount -t tmpfs none /sys/fs/cgroup && mkdir /sys/fs/cgroup/unified &&
			mount -t cgroup2 none /sys/fs/cgroup/unified'; fi || return 1
	done
}
on_a() { nsenter -t "$APID" --pid --net --mount -- "$@"; }
on_b() { nsenter -t "$BPID" --pid --net --mount -- "$@"; }
on_b_alive() { on_b sh -c "[ -d /proc/$1 ] && ! grep -q '^State:.*Z' /proc/$1/status"; }
# Does host B run any workload at all (not a guessed pid)?
# (the workload's name: $WNAME, workload unless a scenario runs another)
b_runs_workload() {
	on_b sh -c 'for p in $(pgrep -x "$1"); do grep -q "^State:.*Z" /proc/$p/status || exit 0; done; exit 1' sh \
		"${WNAME:-workload}"
}
# the source side, in a pid namespace of its own: a counter started after
# 300 pids, so that its pid is free on B
# alive: running and not stopped; state: its State letter (- when gone);
# traced: a tracer holds it (CRIU did not let go)
source_run() { # source_run MIGRATE-ARGS...: prints "P=pid rc=status alive=yes|no state=S traced=yes|no"
	on_a sh -c '
		i=0; while [ $i -lt ${BURN:-300} ]; do /bin/true; i=$((i + 1)); done
		[ -n "${SETPID:-}" ] && echo $((SETPID - 1)) >/proc/sys/kernel/ns_last_pid
		"$W" counter "$D/c" ${MIB:-16} & P=$!
		while [ "$(cut -d" " -f1 "$D/c" 2>/dev/null)" = "" ]; do sleep 0.05; done
		"$CR" -c none --criu "$CRIU" migrate "$P" "$@" 2>"$D/err"
		st=$?; sleep 0.3
		s=$(sed -n "s/^State:[[:space:]]*\([A-Z]\).*/\1/p" /proc/$P/status 2>/dev/null)
		a=no; [ -n "$s" ] && [ "$s" != T ] && [ "$s" != Z ] && a=yes
		t=no; [ "$(sed -n "s/^TracerPid:[[:space:]]*//p" /proc/$P/status 2>/dev/null)" != 0 ] && [ -n "$s" ] && t=yes
		echo "P=$P rc=$st alive=$a state=${s:--} traced=$t"' sh "$@"
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2"; }

