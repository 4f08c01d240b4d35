#!/bin/sh
# bench/migrate.sh SCRATCH: migration downtime, stop-copy against post-copy,
# between two hosts of this machine, seen from outside. Run by bench/run.sh
# as pid 2 of a pid namespace of its own (under `load init`), so that
# whatever it starts, both hosts included, dies with it.
#
# Hosts A and B: each a network, pid and mount namespace of its own, made by
# unshare, held by `load init sleep` (pid 1 there, which reaps a restored
# tree once it is killed: a zombie keeps its pid taken), with lo up and
# /tmp bind-mounted from SCRATCH/tmp-a or -b (cr's temporary image
# directories land in the scratch directory, which run.sh removes whatever
# happens). The two pid namespaces are siblings: setns(2) enters only a
# descendant pid namespace, so the tests' `--via "nsenter ..."` (B a child
# of A) could go A -> B but never back. Here `cr receive --stdio` is
# started inside the target by `load serve SOCK`, and the sender's --via
# command is `load pass SOCK`, which hands the receiver its end of cr's
# socketpair: the same stream nsenter would have given, in both directions,
# nothing copying in between (bench/load.c).
#
# The workload, `load mem MIB 0 HB`, starts once per size on A with pid
# WPID (free on both hosts: their pid counters start at 1 and stay far
# below it) and then moves A -> B -> A ..., one migration per measurement,
# the modes alternating stop-copy (the target keeps the images in a tmpfs),
# stop-copy with them on its disk (--tmpfs no), post-copy, and a local
# checkpoint and restore on the host it is on (stop-copy's yardstick). An observer
# here, outside both hosts, watches HB (the restored tree writes the same
# file) while each `cr migrate` runs: its gap_ms is that migration's
# downtime. Pair 0 is discarded by report.py, as in pairs.sh.
#
# Environment from run.sh: CR, CRIU, B (helpers), MPAIRS, MSIZES.
# Each migration appends one line to SCRATCH/raw: bench=migrate_MODE_MIB
# (MODE stopcopy or lazy) tool=cr pair=N dir=ab|ba status= (cr migrate's,
# else cr receive's) wall_ms= first_ms= gap_ms= beats= (bench/load.c) and
# cr_* from `cr migrate --json` (downtime_ms, total_ms, restore_ms,
# mib_moved, iterations, target_pid).
# shellcheck disable=SC2016,SC2154 # sh -c scripts get their values as $1...; H_a, H_b are set by eval
set -u
S=$1
RAW=$S/raw
HB=$S/mhb
WPID=20000
cd "$S" || exit 1
mkfifo "$S/mready"

log() { printf 'bench: %s\n' "$*" >&2; }

# host_up NAME: start host NAME; sets H_NAME to its pid 1 as seen from here
host_up() {
	mkdir -p "$S/tmp-$1"
	unshare --net --pid --mount --fork --mount-proc sh -c \
		'mount --bind "$1" /tmp && ip link set lo up && exec "$2" init sleep 1000000' \
		sh "$S/tmp-$1" "$B/load" </dev/null >/dev/null 2>"$S/host-$1.err" &
	_u=$! _w=0
	while :; do
		_h=$(pgrep -P "$_u" | head -n 1)
		# up once pid 1 is load init and its sleep runs
		[ -n "$_h" ] && [ "$(readlink "/proc/$_h/exe")" = "$B/load" ] && pgrep -P "$_h" >/dev/null && break
		_w=$((_w + 1))
		[ $_w -gt 100 ] && { log "host $1 did not come up: $(cat "$S/host-$1.err")"; return 1; }
		sleep 0.05
	done
	eval "H_$1=$_h"
}
on() { _n=$1; shift; eval "nsenter -t \$H_$_n --pid --net --mount -- \"\$@\""; }
# runs_on HOST: the workload is a live, not stopped process there
runs_on() { on "$1" sh -c "grep -q '^State:[[:space:]]*[RSD]' /proc/$WPID/status 2>/dev/null"; }
# gone_on HOST: pid WPID is free there (not even a zombie), within 10 s
gone_on() {
	_w=0
	while on "$1" test -e "/proc/$WPID"; do
		_w=$((_w + 1))
		[ $_w -gt 200 ] && return 1
		sleep 0.05
	done
}
# kill_on HOST: end the workload there and wait until its pid is free
kill_on() { on "$1" kill -KILL "$WPID" 2>/dev/null; gone_on "$1"; }

# start_workload MIB: on A, as pid WPID; waits for its first heartbeat
start_workload() {
	rm -f "$HB" "$S/wpid"
	on a sh -c 'echo $(($1 - 1)) >/proc/sys/kernel/ns_last_pid && { "$2" mem "$3" 0 "$4" & echo $! >"$5"; wait; }' \
		sh "$WPID" "$B/load" "$1" "$HB" "$S/wpid" </dev/null >/dev/null 2>&1 &
	_w=0
	while [ ! -s "$HB" ]; do
		_w=$((_w + 1))
		[ $_w -gt 600 ] && { log "workload mem $1 never beat"; return 1; }
		sleep 0.1
	done
	[ "$(cat "$S/wpid")" = "$WPID" ] || { log "workload mem $1 got pid $(cat "$S/wpid"), not $WPID"; return 1; }
	sleep 0.3
}

# This VM backs guest memory lazily and takes freed memory back after a few
# idle seconds (virtio-balloon free page reporting): a page the guest has
# not touched lately costs about 2.7 ms/MiB on first touch, 4 times a
# recently freed one. A local restore reuses the pages its dump just freed;
# a migration on one machine needs the source's memory, the target's copy
# and its images at once, all of it cold. So before each measurement, of
# every kind alike, `load warm` touches three times the tree's size plus 512 MiB
# and frees it (BENCH_WARM=0: not), and the figures compare cr, not the
# hypervisor. A real target host pays no such first touch.
warm() {
	[ "${BENCH_WARM:-1}" = 0 ] || "$B/load" warm $((3 * $1 + 512))
}

# migrate BENCH MODE PAIR SRC DST: one measured migration; sets `at` to the
# host the workload runs on afterwards (empty: on neither)
migrate() {
	_b=$1 _m=$2 _p=$3 _s=$4 _d=$5
	rm -f "$S/rcv.sock"
	# nothing dirty left from the last one's images (as pairs.sh)
	sync
	warm "$n"
	if on "$_d" test -e "/proc/$WPID"; then
		log "$_b pair $_p: pid $WPID is taken on host $_d before the migration"
	fi
	_ro=
	[ "$_m" = stop-copy-disk ] && _m=stop-copy _ro="--tmpfs no"
	# shellcheck disable=SC2086 # _ro is two words or none
	on "$_d" "$B/load" serve "$S/rcv.sock" "$CR" -c none --criu "$CRIU" receive -t 120 --stdio $_ro \
		</dev/null >/dev/null 2>"$S/rcv.err" &
	_r=$!
	: >"$S/obs"
	"$B/load" observe "$HB" "$S/mready" >"$S/obs" &
	_o=$!
	read -r _x <"$S/mready"
	_t0=$(date +%s%N)
	on "$_s" "$CR" -c none --criu "$CRIU" migrate -t 120 --json --mode "$_m" --via "$B/load pass $S/rcv.sock" "$WPID" \
		</dev/null >"$S/mig.json" 2>"$S/mig.err"
	_st=$?
	_t1=$(date +%s%N)
	kill -TERM "$_o"
	wait "$_o"
	if [ $_st != 0 ]; then
		# a receiver that never got its peer, or hangs: not for 120 s
		_w=0
		while kill -0 "$_r" 2>/dev/null && [ $_w -lt 50 ]; do _w=$((_w + 1)); sleep 0.1; done
		kill -KILL $(pgrep -P "$_r") 2>/dev/null
	fi
	wait "$_r"
	_rs=$?
	_j=$(sed -n '/^{/{s/[{}"]//g; s/,/ /g; s/:/=/g; s/\([^ ]*=\)/cr_\1/g; p; q}' "$S/mig.json")
	_status=$_st
	[ $_st = 0 ] && _status=$_rs
	_us=$(((_t1 - _t0) / 1000))
	echo "bench=$_b tool=cr pair=$_p dir=$_s$_d status=$_status migrate_status=$_st receive_status=$_rs" \
		"wall_ms=$((_us / 1000)).$(printf %03d $((_us % 1000))) $(cat "$S/obs") $_j" >>"$RAW"
	at=
	if [ $_status = 0 ]; then
		gone_on "$_s" || log "$_b pair $_p: the tree's pid is still taken on host $_s after the migration"
		runs_on "$_d" && at=$_d
	else
		log "$_b pair $_p ($_s -> $_d) failed: migrate exit $_st, receive exit $_rs"
		sed 's/^/bench:   migrate: /' "$S/mig.err" | tail -n 8 >&2
		sed 's/^/bench:   receive: /' "$S/rcv.err" | tail -n 8 >&2
		# cr's guarantee: it runs on exactly one host
		if runs_on "$_s"; then at=$_s; elif runs_on "$_d"; then at=$_d; fi
	fi
	[ -n "$at" ] || log "$_b pair $_p: the workload runs on neither host"
}

# local BENCH PAIR HOST: the yardstick of stop-copy, on the host the
# workload runs on: a local checkpoint and a local restore of the same tree,
# one after the other (images on this file system, as a plain cr
# checkpoint writes them); their wall times, and the observer's gap
local_cr() {
	_b=$1 _p=$2 _h=$3
	rm -rf "$S/lck"
	sync
	warm "$n"
	: >"$S/obs"
	"$B/load" observe "$HB" "$S/mready" >"$S/obs" &
	_o=$!
	read -r _x <"$S/mready"
	_t0=$(date +%s%N)
	on "$_h" "$CR" -c none --criu "$CRIU" checkpoint -t 120 -D "$S/lck" "$WPID" </dev/null >/dev/null 2>"$S/lck.err"
	_st=$?
	_t1=$(date +%s%N)
	[ $_st = 0 ] && gone_on "$_h" && {
		_t2=$(date +%s%N)
		on "$_h" "$CR" -c none --criu "$CRIU" restore -t 120 -D "$S/lck" </dev/null >/dev/null 2>>"$S/lck.err"
		_st=$?
		_t3=$(date +%s%N)
	}
	kill -TERM "$_o"
	wait "$_o"
	echo "bench=$_b tool=cr pair=$_p dir=$_h$_h status=$_st dump_ms=$(((_t1 - _t0) / 1000000)) restore_ms=$((($_t3 - ${_t2:-0}) / 1000000))" \
		"$(cat "$S/obs")" >>"$RAW"
	at=$_h
	if [ $_st != 0 ]; then
		log "$_b pair $_p: local checkpoint/restore failed"
		sed 's/^/bench:   /' "$S/lck.err" | tail -n 8 >&2
		runs_on "$_h" || at=
	fi
	rm -rf "$S/lck"
}

host_up a && host_up b || exit 1
log "hosts A (pid $H_a) and B (pid $H_b) up; pipe-max-size $(cat /proc/sys/fs/pipe-max-size)"
st=0
for n in $MSIZES; do
	log "migrate_mem_$n: $MPAIRS rounds of stop-copy (images in the target's tmpfs, then on its disk), post-copy, local checkpoint+restore"
	start_workload "$n" || { kill_on a; st=1; continue; }
	at=a
	for i in $(seq 0 $((MPAIRS - 1))); do
		for m in ${BENCH_MODES:-stop-copy stop-copy-disk post-copy local}; do
			if [ -z "$at" ]; then
				# lost (or left stopped somewhere): start afresh on A
				kill_on a; kill_on b
				start_workload "$n" || { st=1; break 2; }
				at=a
			fi
			to=b
			[ "$at" = b ] && to=a
			case $m in
			stop-copy) k=stopcopy ;; stop-copy-disk) k=stopcopydisk ;; post-copy) k=lazy ;; local) k=local ;;
			esac
			if [ $m = local ]; then local_cr "migrate_local_$n" "$i" "$at"
			else migrate "migrate_${k}_$n" "$m" "$i" "$at" "$to"; fi
		done
	done
	[ -z "$at" ] || kill_on "$at" || { log "the workload does not die on host $at"; st=1; }
done
exit $st
