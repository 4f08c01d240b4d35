#!/bin/sh
# bench/pairs.sh SCRATCH: the measurements, as pid 2 of a pid namespace of
# their own (bench/run.sh starts it under `load init`, which reaps at once):
# restored trees get their old pids back only if those are free, and the
# host's init reaps orphans too late for that.
#
# Environment from run.sh: CR, CRIU, B (helper binaries), PAIRS, PAIRS_BIG
# (pairs for the 1 GiB workload), SIZES, RATES, TREES.
#
# Every measured operation appends one line of key=value pairs to
# SCRATCH/raw: bench= tool=cr|criu pair=N, rusage's keys (bench/rusage.c),
# the observer's (first_ms, gap_ms, beats: bench/load.c) and CRIU's own
# statistics of that operation (criu_*: `cr stats --json` on the image
# directory, read after the operation, outside its timing). bench/report.py
# turns them into the table and results.json.
set -u
S=$1
RAW=$S/raw
IMG=$S/img	# one dump's images; removed after each operation
HB=$S/hb	# the workload's heartbeat file
cd "$S" || exit 1
mkfifo "$S/ready"

log() { printf 'bench: %s\n' "$*" >&2; }

# A CRIU option set both tools get. cr's defaults are CRIU's defaults, except
# cgroups: cr asks for --manage-cgroups-mode ignore, so the CLI gets it too.
CLI_OPTS=--manage-cgroups=ignore
cr() { "$CR" -c none --criu "$CRIU" "$@"; }	# not for op: rusage execs

# op BENCH TOOL PAIR OBSERVE CMD...: run CMD under rusage while an observer
# watches the heartbeat (OBSERVE: gap for a dump, first for a restore, none)
op() {
	_b=$1 _t=$2 _p=$3 _o=$4
	shift 4
	: >"$S/obs"
	# a restore appends its stats beside the dump's: only this op's remain
	rm -f "$IMG/stats-dump" "$IMG/stats-restore"
	case $_o in
	gap) "$B/load" observe "$HB" "$S/ready" >"$S/obs" & _op=$! ;;
	first) timeout 60 "$B/load" observe --first "$HB" "$S/ready" >"$S/obs" & _op=$! ;;
	esac
	# not before the observer holds the current beat
	[ "$_o" = none ] || read -r _x <"$S/ready"
	"$B/rusage" -o "$S/ru" "$@" >"$S/out" 2>"$S/err"
	case $_o in
	gap) kill -TERM "$_op"; wait "$_op" ;;
	first)
		# a failed restore never beats: do not wait for the timeout
		grep -q '^status=0 ' "$S/ru" || kill -TERM "$_op"
		wait "$_op" ;;
	esac
	_st=
	if [ -d "$IMG" ] && [ -f "$IMG/stats-dump" -o -f "$IMG/stats-restore" ]; then
		_k=dump
		[ "$_o" = first ] && _k=restore
		_st=$(cr stats --json "$IMG" 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin).get(sys.argv[1]) or {}
print(" ".join("criu_%s=%s" % kv for kv in d.items()))' "$_k" 2>/dev/null)
	fi
	echo "bench=$_b tool=$_t pair=$_p $(cat "$S/ru") $(cat "$S/obs") $_st" >>"$RAW"
	if ! grep -q '^status=0 ' "$S/ru"; then
		log "$_b $_t pair $_p failed: $*"
		sed 's/^/bench:   /' "$S/err" >&2
		[ -f "$IMG/dump.log" ] && grep -v 'RLIMIT_NOFILE' "$IMG/dump.log" | grep 'Error' | head -5 >&2
		[ -f "$IMG/restore.log" ] && grep -v 'RLIMIT_NOFILE' "$IMG/restore.log" | grep 'Error' | head -5 >&2
	fi
}

# Freshly empty image directory for the next dump, and nothing dirty left
# in the page cache by the last one: deleting images before writeback means
# sync has little to do, and every dump then starts from the same state
# (a dump behind another's 256 MiB of dirty pages was 3 times slower).
fresh_img() {
	rm -rf "$IMG" "$S"/.img.*
	sync
}

# Wait until the workload beats (it fills its memory first).
wait_beat() {
	_w=0
	while [ ! -s "$HB" ]; do
		_w=$((_w + 1))
		[ $_w -gt 600 ] && { log "workload $1 never started"; return 1; }
		sleep 0.1
	done
	sleep 0.3
}

# kill_tree PID: kill the tree whose session/group leader is PID and wait
# until every member has been reaped (restored trees by load init, the
# original by us).
# (dash's kill takes no "--": -PID right after the signal is a group)
kill_tree() {
	kill -KILL "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	_k=0
	while kill -0 "-$1" 2>/dev/null; do
		_k=$((_k + 1))
		[ $_k -gt 500 ] && { log "tree $1 does not die"; return 1; }
		sleep 0.02
	done
}

# dump_pairs BENCH PID: cr checkpoint vs criu dump, both --leave-running
dump_pairs() {
	_n=$3
	log "$1: $_n pairs"
	for _i in $(seq 0 $((_n - 1))); do
		fresh_img
		op "$1" cr "$_i" gap "$CR" -c none --criu "$CRIU" checkpoint --leave-running -D "$IMG" "$2"
		fresh_img
		mkdir "$IMG"
		op "$1" criu "$_i" gap "$CRIU" dump -t "$2" -D "$IMG" --leave-running -o dump.log $CLI_OPTS
	done
	fresh_img
}

# restore_pairs BENCH PID: the tree is dumped (and so ended) once, then
# restored from the same images by each tool in turn, killed in between.
restore_pairs() {
	_n=$3
	log "$1: $_n pairs"
	fresh_img
	mkdir "$IMG"
	if ! "$CRIU" dump -t "$2" -D "$IMG" -o dump.log $CLI_OPTS >/dev/null 2>&1; then
		log "$1: the dump to restore from failed"
		kill_tree "$2"
		return 1
	fi
	kill_tree "$2"
	for _i in $(seq 0 $((_n - 1))); do
		op "$1" cr "$_i" first "$CR" -c none --criu "$CRIU" restore -D "$IMG"
		kill_tree "$2"
		op "$1" criu "$_i" first "$CRIU" restore -D "$IMG" -d -o restore.log $CLI_OPTS
		kill_tree "$2"
	done
	fresh_img
}

# The restored copy of a tree keeps the old pid, and so the old group.
for n in $SIZES; do
	for r in $RATES; do
		rm -f "$HB"
		"$B/load" mem "$n" "$r" "$HB" &
		P=$!
		wait_beat "mem $n" || { kill_tree $P; continue; }
		np=$PAIRS
		[ "$n" -ge 1024 ] && np=$PAIRS_BIG
		dump_pairs "dump_mem_${n}_r$r" $P $np
		if [ "$r" = 0 ]; then
			restore_pairs "restore_mem_$n" $P $np
		else
			kill_tree $P
		fi
	done
done

for k in $TREES; do
	rm -f "$HB"
	"$B/load" tree "$k" "$HB" &
	P=$!
	wait_beat "tree $k" || { kill_tree $P; continue; }
	# every process of the tree is there before the first dump
	w=0
	while [ "$(ps -o pid= -g "$P" | wc -l)" -lt "$k" ] && [ $w -lt 100 ]; do
		w=$((w + 1))
		sleep 0.05
	done
	dump_pairs "dump_tree_$k" $P $PAIRS
	restore_pairs "restore_tree_$k" $P $PAIRS
done

log "startup: $PAIRS pairs"
for i in $(seq 0 $((PAIRS - 1))); do
	op version cr "$i" none "$CR" --version
	op version criu "$i" none "$CRIU" --version
done
for i in $(seq 0 $((PAIRS - 1))); do
	op check cr "$i" none "$CR" -c none --criu "$CRIU" check
	op check criu "$i" none "$CRIU" check
done
exit 0
