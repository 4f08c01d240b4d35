#!/bin/sh
# tests/faults.sh NAME DIR: the tier-1 fault matrix (issue 7). Like
# tests/scenarios.sh, each scenario runs as pid 1 of its own pid (and mount)
# namespace and prints "ok - ..." / "not ok - ..." lines.
#
# Every case asserts the end state, not just cr's exit status: the original
# process runs untraced (or a restored tree is fully there or fully gone),
# a freezer cgroup is as it was, no criu or cr is left, a checkpoint that
# existed before is byte-for-byte unchanged, no temporary directory is
# left, and cr's exit status and message say what failed.
#
# Faults come from real CRIU (CRIU_FAULT=N in criu's environment, which cr
# passes on), from signals to cr and to criu at three points of a dump of
# 384 MiB, from a full disk (a small tmpfs), from damaged images, and from
# --timeout. Pre-dump faults need soft-dirty tracking: the VM tier's job.
#
# Environment from test.sh: CR, CRIU, W (tests/workload.c).
set -u
name=$1
D=$2
cd "$D" || exit 1

. "$(dirname "$0")/lib.sh"

# ============================== helpers =================================

# eventually TENTHS CMD...: CMD succeeds within TENTHS tenths of a second
eventually() {
	_e=$1
	shift
	while ! "$@"; do
		_e=$((_e - 1))
		[ $_e -le 0 ] && return 1
		sleep 0.1
	done
}
# Is PID there and not a zombie?
live() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
tracer() { sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
# the live processes named NAME in this pid namespace, sorted
live_named() {
	for _p in $(pgrep -x "$1"); do live "$_p" && echo "$_p"; done | sort -n | tr '\n' ' '
}
# no criu and no cr (live or zombie) in this pid namespace (cr under test
# may be cr-asan: its own name)
CRN=$(basename "$CR" | cut -c1-15)
no_criu_cr() { [ -z "$(pgrep -x criu)$(pgrep -x cr)$(pgrep -x "$CRN")" ]; }
# no_strays: none within 10 s (a killed cr's criu needs a moment to fail);
# names what is left otherwise
no_strays() {
	eventually 100 no_criu_cr && return 0
	ps -e -o pid,ppid,stat,comm | grep -w -e criu -e cr -e "$CRN" | sed 's/^/# stray: /'
	return 1
}
# counting FILE: the counter in FILE goes on
counting() { _c=$(count "$1"); wait_above "$1" $((_c + 2)) 100; }
# the old checkpoint at $D/ck is the one fingerprinted in $fp
old_intact() { [ -f "$D/ck/inventory.img" ] && [ "$(fingerprint "$D/ck")" = "$fp" ]; }
# stderr of the last cr names it (a basic regular expression)
says() { grep -q -e "$1" "$D/err"; }
MiB=1048576
# size of the pages images in DIR (0 if none yet; there can be several:
# a dump after one whose criu was killed also finds CRIU's leftover memfd)
pages_size() { stat -c %s "$1"/pages-*.img 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
# a start: the workload counting into FILE with MIB, its pid in $P
start_counter() {
	"$W" counter "$@" &
	P=$!
	wait_above "$1" 0 300
}
# a 16 MiB counter checkpointed into $D/ck (which ends it): restore's input
checkpointed_counter() {
	start_counter "$D/c" 16
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint" [ $? = 0 ]
	wait "$P" 2>/dev/null
}
# the first checkpoint, kept at $D/ck, fingerprinted in $fp
first_checkpoint() {
	cr checkpoint --leave-running "$@" -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "the first checkpoint (--leave-running) into $D/ck" [ $? = 0 ]
	fp=$(fingerprint "$D/ck")
}

# ====================== CRIU_FAULT on checkpoint ========================

# dump_fault N WHAT PATTERN [CR-ARGS]: CRIU_FAULT=N over the checkpoint at
# $D/ck; PATTERN is what cr's stderr must say (beyond the common lines)
dump_fault() {
	_f=$1 _what=$2 _pat=$3
	shift 3
	CRIU_FAULT=$_f cr checkpoint --force "$@" -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "CRIU_FAULT=$_f ($_what): exit 1" [ $? = 1 ]
	check "... says the checkpoint failed and why: 'checkpoint of pid $P failed (CRIU DUMP request)', /$_pat/" \
		eval 'says "checkpoint of pid $P failed (CRIU DUMP request)" && says "$_pat"'
	check "... and that the tree is running" says "checkpoint of pid $P: the tree is running"
	check "... the process runs, untraced" running "$P"
	check "... and counts on" counting "$D/c"
	check "... the earlier checkpoint is byte-for-byte unchanged" old_intact
	check "... no temporary directory is left" no_temp_dirs
	check "... CRIU's log is kept beside the target ($D/ck.dump.log), as cr says" \
		eval '[ -s "$D/ck.dump.log" ] && says "CRIU log: $D/ck.dump.log"'
	check "... no criu or cr is left" no_strays
}

scenario_fault_criu() {
	start_counter "$D/c" 16
	first_checkpoint
	dump_fault 1 "criu kills itself after seizing" "criu exited without answering the DUMP request (killed by signal 9"
	dump_fault 3 "the page dump fails" "Error (.*Dump VMA pages failure"
	dump_fault 5 "the parasite cannot connect" "Error (.*Can't infect"
	check "the data of the process is intact after three failed dumps ($(cat "$D/c"))" grep -q ' ok$' "$D/c"
	kill "$P"
}

# CRIU_FAULT=1 with a v2 freezer cgroup: the cgroup ends as it began,
# thawed or frozen
scenario_fault_criu_cgroup() {
	trap cg_cleanup EXIT
	A=$V2/$CGN-a
	mkdir "$A" || { fail "create $A"; return; }
	start_in "$A" -- "$W" counter "$D/c" 16
	P=$!
	wait_above "$D/c" 0 300
	first_checkpoint --cgroup "$A"
	check "... the cgroup is thawed after it ($(v2_state "$A"))" [ "$(v2_state "$A")" = 00 ]
	dump_fault 1 "criu kills itself after seizing, v2 freezer cgroup" "criu exited without answering the DUMP request" \
		--cgroup "$A"
	check "... the cgroup is thawed, as it was ($(v2_state "$A"))" [ "$(v2_state "$A")" = 00 ]
	echo 1 >"$A/cgroup.freeze"
	eventually 50 eval '[ "$(v2_state "$A")" = 11 ]'
	CRIU_FAULT=1 cr checkpoint --force --cgroup "$A" -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "CRIU_FAULT=1 on a frozen cgroup: exit 1" [ $? = 1 ]
	check "... the cgroup is still frozen, as it was ($(v2_state "$A"))" [ "$(v2_state "$A")" = 11 ]
	check "... the process is not traced" [ "$(tracer "$P")" = 0 ]
	check "... the earlier checkpoint is byte-for-byte unchanged, no temporary directory" eval 'old_intact && no_temp_dirs'
	check "... no criu or cr is left" no_strays
	echo 0 >"$A/cgroup.freeze"
	check "... thawed by hand, the process runs untraced and counts on" \
		eval 'eventually 50 running "$P" && counting "$D/c"'
}

# ======================= CRIU_FAULT on restore ==========================

# restore_fails DESC PATTERN DIR [CR-ARGS]: a restore from DIR (work files
# in $D/wd) that must fail saying PATTERN, restore nothing and leave DIR as
# it was. $keep: the workloads that must be running afterwards; $RENV:
# variables for cr's (and so criu's) environment.
# (--no-verify: these cases are about what CRIU says of broken images; the
# integrity scenario shows that cr's own check refuses them first)
restore_fails() {
	_desc=$1 _pat=$2 _dir=$3
	shift 3
	_fp=$(fingerprint "$_dir")
	_t0=$(date +%s)
	env ${RENV:-} "$CR" -c none --criu "$CRIU" restore --no-verify -W "$D/wd" "$@" -D "$_dir" >"$D/out" 2>"$D/err"
	_st=$? rf_secs=$(($(date +%s) - _t0))
	check "$_desc: exit 1 ($_st)" [ $_st = 1 ]
	check "... says what failed: 'restore failed (CRIU RESTORE request)', /$_pat/" \
		eval 'says "restore failed (CRIU RESTORE request)" && says "$_pat"'
	check "... prints no pid on stdout" [ ! -s "$D/out" ]
	check "... nothing restored: the tree is fully gone (workloads: '$(live_named workload)', want '$keep'; pid $P: $(pid_is "$P"))" \
		eventually 50 nothing_restored
	check "... no criu or cr is left" no_strays
	check "... the images are unchanged" [ "$(fingerprint "$_dir")" = "$_fp" ]
	# whatever was left, end it: the next case needs the pid
	[ -z "$keep" ] && kill -9 "$P" 2>/dev/null && eventually 50 not live "$P"
	return 0
}
# no workload but those in $keep, and pid $P free unless it is kept
nothing_restored() {
	[ "$(live_named workload)" = "$keep" ] && { [ -n "$keep" ] || ! live "$P"; }
}
# what pid PID is: "free" or its name and state
pid_is() {
	live "$1" || { echo free; return; }
	echo "$(cat "/proc/$1/comm" 2>/dev/null) $(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)"
}

scenario_fault_restore_criu() {
	mkdir -p "$D/wd"
	checkpointed_counter
	keep=
	RENV=CRIU_FAULT=2; restore_fails "CRIU_FAULT=2 (restore fails while forking the tree)" \
		"Error (.*$P killed by signal 9" "$D/ck"
	RENV=CRIU_FAULT=6; restore_fails "CRIU_FAULT=6 (restore fails after the tree is restored)" \
		"Error (.*Restoring FAILED" "$D/ck"
	RENV=
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "after both, the same images restore (exit 0, pid $P)" [ $? = 0 -a "$(cat "$D/out")" = "$P" ]
	check "... and the restored counter counts on with its data intact" \
		eval 'counting "$D/c" && grep -q " ok$" "$D/c"'
	kill "$P"
}

# ===================== signals during a checkpoint ======================

# sig_dump WHO SIG POINT: a checkpoint of $P (384 MiB) over $D/ck, with SIG
# sent to WHO (cr or criu) at POINT:
#   early      as soon as CRIU has seized the process (TracerPid set)
#   pages      its pages image has passed 32 MiB: criu is stopped for the
#              signal and continued after it, so that the signal lands
#              mid-write however fast or slow the machine is
#   post-dump  while a post-dump hook runs (it touches $D/hook-on, sleeps)
# Sets C (cr's pid), K (criu's), st (cr's exit status), at (what was seen
# when the signal went) and where (for the test names).
sig_dump() {
	_who=$1 _sig=$2 _pt=$3
	rm -f "$D/hook-on"
	if [ "$_pt" = post-dump ]; then
		"$CR" -c none --criu "$CRIU" checkpoint --force --hook "post-dump=: >$D/hook-on; exec sleep 5" \
			-D "$D/ck" "$P" >"$D/out" 2>"$D/err" &
	else
		"$CR" -c none --criu "$CRIU" checkpoint --force -D "$D/ck" "$P" >"$D/out" 2>"$D/err" &
	fi
	C=$!
	_i=0 _ok=false
	case $_pt in
	early)
		until [ "$(tracer "$P")" != 0 ] || [ $_i -gt 20000 ] || ! kill -0 "$C" 2>/dev/null; do _i=$((_i + 1)); done
		[ "$(tracer "$P")" != 0 ] && _ok=true
		;;
	pages)
		until [ "$(pages_size "$D/.ck.cr-$C")" -ge $((32 * MiB)) ] || [ $_i -gt 20000 ] ||
			! kill -0 "$C" 2>/dev/null; do _i=$((_i + 1)); done
		[ "$(pages_size "$D/.ck.cr-$C")" -ge $((32 * MiB)) ] && _ok=true
		;;
	post-dump)
		until [ -e "$D/hook-on" ] || [ $_i -gt 600 ] || ! kill -0 "$C" 2>/dev/null; do sleep 0.05; _i=$((_i + 1)); done
		[ -e "$D/hook-on" ] && _ok=true
		;;
	esac
	K=$(pgrep -x -P "$C" criu)
	[ "$_pt" = pages ] && [ -n "$K" ] && kill -STOP "$K"
	at="TracerPid $(tracer "$P"), pages image at $(($(pages_size "$D/.ck.cr-$C") / MiB)) of 384 MiB"
	where="at $_pt"
	[ -n "$K" ] || _ok=false
	check "SIG$_sig to $_who $where: cr and criu ($K) are there when it is sent ($at)" $_ok
	if [ "$_who" = criu ]; then kill "-$_sig" "$K"; else kill "-$_sig" "$C"; fi
	[ "$_pt" = pages ] && kill -CONT "$K" 2>/dev/null
	{ wait "$C"; } 2>/dev/null	# no "Killed" from the shell
	st=$?
	# too late: the dump may have gone through and ended the process
	$_ok || fail "(the rest of this scenario is left out)"
	$_ok
}

# after SIGINT or SIGTERM to cr: it cleans up before it exits
after_interrupt() { # after_interrupt SIG
	_s=$1
	check "... exit 1 ($st)" [ "$st" = 1 ]
	check "... says it was interrupted by SIG$_s and that the tree is running" \
		eval 'says "interrupted by SIG$_s" && says "the tree is running"'
	check "... the process was resumed before cr exited: it runs, untraced" running "$P"
	check "... and counts on" counting "$D/c"
	check "... the earlier checkpoint is byte-for-byte unchanged" old_intact
	check "... no temporary directory is left" no_temp_dirs
	check "... no criu or cr is left" no_strays
}

# after SIGKILL to cr: it cannot clean up. CRIU fails its next notification
# (post-dump) and resumes the tree; the temporary directory .ck.cr-$C, which
# CRIU was writing into, may stay (a later cr of the same pid removes it).
after_cr_killed() {
	check "... cr dies of it ($st)" [ "$st" = 137 ]
	check "... the process is resumed within 10 s (CRIU fails its next notification): it runs, untraced" \
		eventually 100 running "$P"
	check "... and counts on" counting "$D/c"
	check "... the earlier checkpoint at $D/ck is byte-for-byte unchanged" old_intact
	check "... no criu or cr is left" no_strays
	_left=no
	[ -d "$D/.ck.cr-$C" ] && _left=yes
	check "... no temporary directory but cr's own .ck.cr-$C (left: $_left)" \
		[ -z "$(find "$D" -maxdepth 1 -name '.*.cr-*' ! -name ".ck.cr-$C")" ]
	rm -rf "$D/.ck.cr-$C"
}

# after SIGKILL to criu: cr reports it and cleans up. Early, criu may die
# while it runs a syscall inside the process: compel writes that code (a
# syscall and an int3) over the process's own for a moment, and with criu
# gone the process runs into the int3 and dies of SIGTRAP. cr cannot undo
# that (about 1 in 40 here; docs/reliability.md); then this returns 1 and
# the scenario starts a new process.
after_criu_killed() { # after_criu_killed POINT
	check "... exit 1 ($st)" [ "$st" = 1 ]
	check "... says criu was killed (killed by signal 9) and that the tree is running" \
		eval 'says "criu.*killed by signal 9" && says "the tree is running"'
	if [ "$1" = early ] && ! { eventually 20 running "$P" && counting "$D/c"; }; then
		kill -9 "$P" 2>/dev/null
		wait "$P" 2>/dev/null
		_ps=$?
		check "... the process died of SIGTRAP ($_ps): criu was killed inside its syscall injection (CRIU's window)" \
			[ "$_ps" = 133 ]
		check "... the earlier checkpoint is byte-for-byte unchanged" old_intact
		check "... no temporary directory is left" no_temp_dirs
		check "... no criu or cr is left" no_strays
		return 1
	fi
	check "... the process runs, untraced" eventually 20 running "$P"
	check "... and counts on" counting "$D/c"
	check "... the earlier checkpoint is byte-for-byte unchanged" old_intact
	check "... no temporary directory is left" no_temp_dirs
	check "... no criu or cr is left" no_strays
}

scenario_fault_sig_dump_int() {
	start_counter "$D/c" 384
	first_checkpoint
	for sig in INT TERM; do
		for pt in early pages post-dump; do
			sig_dump cr "$sig" "$pt" || return
			after_interrupt "$sig"
		done
	done
	check "the 384 MiB of the process are intact after six interrupted dumps ($(cat "$D/c"))" \
		eval 'counting "$D/c" && grep -q " ok$" "$D/c"'
	kill "$P"
}

scenario_fault_sig_dump_kill() {
	start_counter "$D/c" 384
	first_checkpoint
	for pt in early pages post-dump; do
		sig_dump cr KILL "$pt" || return
		after_cr_killed
		sig_dump criu KILL "$pt" || return
		after_criu_killed "$pt" || { rm -rf "$D/c" "$D/ck"; start_counter "$D/c" 384; first_checkpoint; }
	done
	check "the 384 MiB of the process are intact after six killed dumps ($(cat "$D/c"))" \
		eval 'counting "$D/c" && grep -q " ok$" "$D/c"'
	kill "$P"
}

# ======================= signals during a restore =======================

# sig_restore WHO SIG EVENT: a restore from $D/ck (work files in $D/wd)
# with an EVENT hook that touches $D/hook-on and sleeps; SIG goes to WHO
# (cr or criu) while the hook runs. Sets C, K, st.
sig_restore() {
	rm -f "$D/hook-on"
	"$CR" -c none --criu "$CRIU" restore -W "$D/wd" --hook "$3=: >$D/hook-on; exec sleep 5" -D "$D/ck" \
		>"$D/out" 2>"$D/err" &
	C=$!
	_i=0
	until [ -e "$D/hook-on" ] || [ $_i -gt 600 ] || ! kill -0 "$C" 2>/dev/null; do sleep 0.05; _i=$((_i + 1)); done
	K=$(pgrep -x -P "$C" criu)
	check "SIG$2 to $1 during a restore, while its $3 hook runs: the hook runs, criu ($K) and the tree ($P) are there" \
		eval '[ -e "$D/hook-on" ] && [ -n "$K" ] && live "$P"'
	if [ "$1" = criu ]; then kill "-$2" "$K"; else kill "-$2" "$C"; fi
	{ wait "$C"; } 2>/dev/null
	st=$?
}
# the restored tree is fully gone (no workload at all in this namespace)
fully_gone() {
	check "... the restored tree is fully gone (workloads left: '$(live_named workload)')" \
		eventually 100 eval '[ -z "$(live_named workload)" ]'
}
# the restored tree is fully there: it runs untraced and counts on with
# its data intact; then it is ended for the next case
fully_there() {
	check "... the restored tree is fully there: pid $P runs, untraced, counts on, its data intact" \
		eval 'eventually 50 running "$P" && counting "$D/c" && grep -q " ok$" "$D/c"'
	kill -9 "$P" 2>/dev/null
	eventually 50 not live "$P"
}
# after a restore that failed late: the tree ($P) is fully gone, or fully
# there (runs untraced, counts on) and cr says so; ended either way
gone_or_there() {
	sleep 1
	if live "$P"; then
		check "... the restored tree is fully there (pid $P: $(pid_is "$P"); its counter: $(count "$D/c")), and cr says so" \
			eval 'running "$P" && counting "$D/c" && says "pid $P is there"'
		kill -9 "$P"
		eventually 50 not live "$P"
	else
		check "... the restored tree is fully gone (workloads left: '$(live_named workload)')" \
			[ -z "$(live_named workload)" ]
	fi
}
images_unchanged() {
	check "... the images are unchanged" [ "$(fingerprint "$D/ck")" = "$fp" ]
}

scenario_fault_sig_restore() {
	mkdir -p "$D/wd"
	checkpointed_counter
	fp=$(fingerprint "$D/ck")

	sig_restore cr INT post-restore
	check "... exit 1 ($st), says it was interrupted by SIGINT" \
		eval '[ "$st" = 1 ] && says "restore interrupted by SIGINT"'
	fully_gone
	check "... no criu or cr is left" no_strays
	images_unchanged

	sig_restore cr TERM post-restore
	check "... exit 1 ($st), says it was interrupted by SIGTERM" \
		eval '[ "$st" = 1 ] && says "restore interrupted by SIGTERM"'
	fully_gone
	check "... no criu or cr is left" no_strays
	images_unchanged

	sig_restore cr KILL post-restore
	check "... cr dies of it ($st)" [ "$st" = 137 ]
	fully_gone
	check "... no criu or cr is left" no_strays
	images_unchanged

	# pre-resume: the tree is complete; CRIU ignores a failed pre-resume
	sig_restore cr INT pre-resume
	check "... exit 0 ($st): says the restore had already completed, prints the pid" \
		eval '[ "$st" = 0 ] && says "restore had already completed when SIGINT arrived" && [ "$(cat "$D/out")" = "$P" ]'
	check "... no criu or cr is left" no_strays
	fully_there

	sig_restore cr KILL pre-resume
	check "... cr dies of it ($st)" [ "$st" = 137 ]
	check "... no criu or cr is left" no_strays
	fully_there

	# criu killed after the tree was restored, before it let it run: the
	# tree would wait forever; cr kills it and says so
	sig_restore criu KILL post-restore
	check "... exit 1 ($st), says criu was killed and that cr killed the tree that never ran" \
		eval '[ "$st" = 1 ] && says "criu exited during the RESTORE request (killed by signal 9" &&
			says "the restored tree (pid $P) never ran: CRIU failed before it let it go, so cr killed it"'
	check "... no criu or cr is left" no_strays
	fully_gone
	images_unchanged
}

# ============================= a full disk ==============================

scenario_fault_disk() {
	S=$D/small
	mkdir -p "$S"
	mount -t tmpfs -o size=64m none "$S" || { fail "mount a 64 MiB tmpfs on $S"; return; }
	trap 'umount "$S"' EXIT
	check "the tmpfs is private to this scenario's mount namespace (no shared: propagation)" \
		sh -c "grep ' $S ' /proc/self/mountinfo | grep -qv 'shared:'"
	start_counter "$D/s"
	Q=$P
	cr checkpoint --leave-running -D "$S/ck" "$Q" >"$D/out" 2>"$D/err"
	check "a small process's checkpoint fits on the tmpfs" [ $? = 0 ]
	fps=$(fingerprint "$S/ck")
	start_counter "$D/c" 256
	cr checkpoint --force -D "$S/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint of 256 MiB over it on a 64 MiB tmpfs: exit 1" [ $? = 1 ]
	check "... says the disk is full (CRIU's 'No space left on device', quoted) and the tree runs" \
		eval 'says "checkpoint of pid $P failed (CRIU DUMP request)" && says "Error (.*No space left on device" &&
		says "the tree is running"'
	check "... the process runs, untraced" running "$P"
	check "... and counts on" counting "$D/c"
	check "... the older checkpoint on the tmpfs is byte-for-byte unchanged" [ "$(fingerprint "$S/ck")" = "$fps" ]
	check "... the tmpfs holds it and CRIU's log, kept beside it, and nothing else ($(ls -A "$S" | tr '\n' ' '))" \
		[ "$(ls -A "$S" | tr '\n' ' ')" = "ck ck.dump.log " ]
	check "... the log says why" grep -q "No space left on device" "$S/ck.dump.log"
	used=$(df -k "$S" | awk 'NR == 2 { print $3 }')
	check "... the space is given back ($used KiB in use)" [ "$used" -lt 4096 ]
	check "... no criu or cr is left" no_strays
	cr checkpoint --leave-running -D "$S/ck2" "$Q" >"$D/out" 2>"$D/err"
	check "... and another small checkpoint fits there again" [ $? = 0 -a -f "$S/ck2/inventory.img" ]
	check "... the small process runs on, untraced" eval 'running "$Q" && counting "$D/s"'
	kill "$P" "$Q"
	wait "$P" "$Q" 2>/dev/null
}

# ========================= damaged images ===============================

scenario_fault_restore() {
	mkdir -p "$D/wd"
	start_counter "$D/c" 16
	cr checkpoint --leave-running -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint --leave-running" [ $? = 0 ]
	RENV=
	keep="$P "
	restore_fails "restore while the original (pid $P) still runs" "Error (.*Can't fork for $P: File exists" "$D/ck"
	check "... the original runs on, untraced, and counts" eval 'running "$P" && counting "$D/c"'
	kill "$P"
	wait "$P" 2>/dev/null
	keep=

	cp -a "$D/ck" "$D/nocore"
	rm "$D/nocore/core-$P.img"
	restore_fails "core-$P.img missing" "Error (" "$D/nocore"
	cp -a "$D/ck" "$D/nopstree"
	rm "$D/nopstree/pstree.img"
	restore_fails "pstree.img missing" "Error (\|criu exited without answering the RESTORE request" "$D/nopstree"
	cp -a "$D/ck" "$D/shortmm"
	truncate -s 10 "$D/shortmm/mm-$P.img"
	restore_fails "mm-$P.img truncated to 10 bytes" "Error (.*mm-$P.img" "$D/shortmm"
	cp -a "$D/ck" "$D/newer"
	if bump_version "$D/newer/inventory.img" 1000; then
		restore_fails "inventory.img from a newer CRIU (img_version 1000)" "Error (.*Not supported images version 1000" \
			"$D/newer"
	else
		fail "rewrite img_version in $D/newer/inventory.img"
	fi
	cp -a "$D/ck" "$D/junkinv"
	head -c 86 /dev/urandom >"$D/junkinv/inventory.img"
	restore_fails "an inventory.img of random bytes" "Error (" "$D/junkinv"

	# CRIU 4.2.1 never finishes a restore whose pages image is cut short:
	# --timeout must end it, and nothing of it may stay behind
	cp -a "$D/ck" "$D/shortpages"
	truncate -s 4096 "$D/shortpages/pages-1.img"
	restore_fails "pages-1.img truncated to 4 KiB, --timeout 5" "timed out after 5 s (--timeout): killing criu" \
		"$D/shortpages" --timeout 5
	check "... cr returned within 8 s ($rf_secs s)" [ "$rf_secs" -le 8 ]

	mkdir -p "$D/notck"
	echo precious >"$D/notck/file"
	_fp=$(fingerprint "$D/notck")
	cr restore -D "$D/notck" >"$D/out" 2>"$D/err"
	check "a directory that is not a checkpoint: exit 1" [ $? = 1 ]
	check "... cr says so" says "is not a checkpoint (no inventory.img in it)"
	check "... nothing restored, nothing touched" \
		eval '[ -z "$(live_named workload)" ] && [ "$(fingerprint "$D/notck")" = "$_fp" ] && [ "$(ls -A "$D/notck")" = file ]'
	check "... no criu or cr is left" no_strays
	cr restore -W "$D/wd" -D "$D/ck" >"$D/out" 2>"$D/err"
	st=$?
	check "after all that, the original images restore" eval '[ $st = 0 -a "$(cat "$D/out")" = "$P" ] && counting "$D/c"'
	kill "$P" 2>/dev/null
}

# ============================== --timeout ===============================

scenario_fault_timeout() {
	mkdir -p "$D/wd"
	start_counter "$D/c" 16
	first_checkpoint
	t0=$(date +%s)
	cr checkpoint --force --timeout 2 --hook 'post-dump=sleep 30' -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	st=$? t=$(($(date +%s) - t0))
	check "checkpoint --timeout 2 with a post-dump hook of 30 s: exit 1 ($st) within 6 s ($t s)" [ $st = 1 -a $t -le 6 ]
	check "... says the hook outlived --timeout or that cr timed out" says "outlived --timeout\|timed out after 2 s"
	check "... and that the tree is running" says "the tree is running"
	check "... the process runs, untraced" running "$P"
	check "... and counts on" counting "$D/c"
	check "... the earlier checkpoint is byte-for-byte unchanged" old_intact
	check "... no temporary directory is left" no_temp_dirs
	check "... no criu or cr is left, nor the hook" eval 'no_strays && [ -z "$(live_named sleep)" ]'
	kill "$P"
	wait "$P" 2>/dev/null

	t0=$(date +%s)
	cr restore -W "$D/wd" --timeout 2 --hook 'post-restore=sleep 30' -D "$D/ck" >"$D/out" 2>"$D/err"
	st=$? t=$(($(date +%s) - t0))
	check "restore --timeout 2 with a post-restore hook of 30 s: exit 1 ($st) within 6 s ($t s)" [ $st = 1 -a $t -le 6 ]
	check "... says the hook outlived --timeout or that cr timed out" says "outlived --timeout\|timed out after 2 s"
	gone_or_there
	check "... no criu or cr is left, nor the hook" eval 'no_strays && [ -z "$(live_named sleep)" ]'
	check "... the images are unchanged" [ "$(fingerprint "$D/ck")" = "$fp" ]
}

# ========================= a verified migration ==========================

# Stop-copy over --via, once intact (the images kept with -D on B carry a
# manifest that verifies), then through tests/flip.py, which flips one byte
# of the stream: in the pages (the source compares the page stream's XXH3
# with the target's at PSDONE) and in an image file (the target compares
# the images' sum at DONE). Either way: exit 1, the tree runs on A
# untraced, nothing runs on B.
scenario_migrate_verify() {
	. "$(dirname "$0")/hosts.sh"
	trap net_down EXIT
	net_up && hosts_up || { fail "set up hosts A and B"; return; }
	export D W CR CRIU
	RCV="$VIA_B $CR -v -c none --criu $CRIU receive --stdio"
	MIB=64 BURN=300 source_run --mode stop-copy --via "$RCV -D $D/in" >"$D/src.out"
	c1=$(count "$D/c")
	{ [ "$(field rc "$D/src.out")" = 0 ] && wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "stop-copy of 64 MiB with the images kept on B (-D): it moves and counts on intact"
	"$CR" verify "$D/in/img" >"$D/out" 2>&1
	check "... the images kept on B carry a manifest: cr verify says intact ($(cat "$D/out"))" \
		grep -q "intact" "$D/out"
	on_b pkill -x workload
	for t in 14:pages 7:images; do
		rm -f "$D/c" "$D/flip.err"
		# (--via runs a command, not a shell line: the pipe goes in a script)
		echo "python3 $(cd "$(dirname "$0")" && pwd)/flip.py ${t%%:*} 2>$D/flip.err | $RCV" >"$D/via.sh"
		MIB=64 BURN=$((400 + ${#t} * 10)) source_run --mode stop-copy --via "sh $D/via.sh" >"$D/src.out"
		check "one byte of the ${t#*:} flipped on the way: exit 1, the tree runs on A untraced ($(grep P= "$D/src.out"))" \
			[ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes -a "$(field traced "$D/src.out")" = no ]
		check "... the flip happened ($(cat "$D/flip.err"))" grep -q "flipped byte" "$D/flip.err"
		check "... cr says the ${t#*:} changed on the way" grep -q "${t#*:} changed on the way" "$D/err"
		check "... and nothing runs on B" not b_runs_workload
		on_a pkill -x workload
	done
}

"scenario_$name"
exit 0
