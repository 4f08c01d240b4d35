#!/bin/sh
# tests/vm/guest.sh: the VM tier's scenarios, run by the guest's /init with
# nothing but busybox, cr, the workload and the CRIUs. Each scenario runs once
# per CRIU (bookworm's 3.17 and the newest the host tests use) and prints
# "ok N - [criu V] ..." / "not ok N - ..." lines and "#" lines on the serial
# console; the host renumbers and counts them (tests/vm/run.sh).
#
# /etc/cr-vm.env (from run.sh): CRIUS (absolute paths), KVER, ONLY (a
# pattern: run only the scenarios whose name matches), ARCH, SOFT_DIRTY
# (yes/no: CONFIG_MEM_SOFT_DIRTY in the kernel package's configuration),
# SCENARIOS (the list to run; empty: the x86_64 list at the bottom).
#
# Pids: the guest is fresh and pid 1 is /init, so a checkpointed workload's
# pid stays free once this script has reaped it (reap), and restoring into
# it needs no pid namespace. Every cr call is bounded by `timeout` so one
# hang costs a scenario, not the whole boot's budget.
# shellcheck disable=SC2317 # scenarios are called as "scenario_$s"
set -u
ARCH=x86_64 SOFT_DIRTY=yes SCENARIOS=
. /etc/cr-vm.env
T=/tmp/cr
mkdir -p "$T"
n=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
# fail DESC [FILE...]: the files' tails follow as "#" lines (CRIU's logs, cr's
# stderr); a serial console is slow, so only the tails.
fail() {
	n=$((n + 1))
	echo "not ok $n - $1"
	shift
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "#   --- $f"
		tail -n 30 "$f" | sed 's/^/#   /'
	done
	return 0
}
# check DESC CMD...: on failure show $D/err and the CRIU logs under $D.
check() {
	desc=$1
	shift
	if "$@"; then pass "[$tag] $desc"; else fail "[$tag] $desc" "$D/err" $(find "$D" -name '*.log' 2>/dev/null); fi
}
# verdict STATUS DESC: check for a condition of several commands:
# { A && B; }; verdict $? DESC
verdict() {
	_v=$1
	shift
	if [ "$_v" = 0 ]; then pass "[$tag] $1"; else fail "[$tag] $1" "$D/err" $(find "$D" -name '*.log' 2>/dev/null); fi
}
want() { [ -z "$ONLY" ] || case $1 in *$ONLY*) ;; *) return 1 ;; esac; }
cr() { timeout 120 /bin/cr -c none --criu "$CRIU" "$@"; }

# The first number in a status file's first line (0 if none yet).
count() { c=; read -r c _ 2>/dev/null <"$1"; echo "${c:-0}"; }
# wait_above FILE N [TENTHS]: until the count in FILE exceeds N. TCG runs
# several times slower than the host: the default allows 30 s.
wait_above() {
	_w=0
	while [ "$(count "$1")" -le "$2" ]; do
		_w=$((_w + 1))
		[ $_w -gt "${3:-300}" ] && return 1
		sleep 0.1
	done
}
# restored_counts FILE N: wait_above, if the restore ($rrc) succeeded.
restored_counts() { [ "$rrc" = 0 ] && wait_above "$@"; }
# Is PID a live, untraced, not stopped process?
running() {
	[ -r "/proc/$1/status" ] || return 1
	# (2>/dev/null: it may be reaped between the test and the reads)
	_s=$(state "$1")
	_t=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null)
	[ -n "$_s" ] && [ "$_s" != Z ] && [ "$_s" != T ] && [ "$_s" != t ] && [ "$_t" = 0 ]
}
# state PID: the one-letter state, empty when there is no such process.
state() { sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
# dead PID: gone or a zombie, within 2 s (CRIU kills a dumped tree).
dead() {
	_w=0
	while :; do
		_s=$(state "$1")
		[ -z "$_s" ] || [ "$_s" = Z ] && return 0
		[ $_w -ge 20 ] && return 1
		_w=$((_w + 1))
		sleep 0.1
	done
}
# reap PID: collect our child, killing its tree first if a failed
# checkpoint left it running: a bare wait would hang the scenario until its
# timeout, and a surviving child would count on as if it had been restored.
reap() {
	for _p in $(tree_pids "$1"); do
		_s=$(state "$_p")
		[ -n "$_s" ] && [ "$_s" != Z ] && kill -9 "$_p" 2>/dev/null
	done
	wait "$1" 2>/dev/null
	return 0
}
# every pid of the tree rooted at $1 (itself and its children, recursively)
tree_pids() {
	echo "$1"
	for _k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$_k"; done
}
# stop PID: kill a restored tree (not our child: init reaps it) and wait
# until it is gone.
stop() {
	kill "$1" 2>/dev/null
	_w=0
	while running "$1" && [ $_w -lt 100 ]; do _w=$((_w + 1)); sleep 0.1; done
}
# Total bytes of CRIU's page images in a directory.
page_bytes() { stat -c %s "$1"/pages-*.img 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
# json_num FIELD: a number field of the JSON object on stdin.
json_num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
# Uptime in hundredths of a second (busybox date has no sub-second format).
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }
ge() { [ "$1" -ge "$2" ]; }
intact() { [ -z "$bad" ] && [ "$c2" -gt $((c1 + 45)) ] && grep -q ' ok$' "$D/c"; }
lt() { [ "$1" -lt "$2" ]; }

# ========================================================================

# cr check's report, shown in the log for information, and what this kernel
# must make it say.
scenario_check() {
	echo "# [$tag] guest: Linux $(uname -r) $(uname -m), CRIU $V; guest.sh started ${BOOT_S:-?} s after the kernel did"
	cr check >"$D/out" 2>&1
	rc=$?
	sed 's/^/# /' "$D/out"
	cp "$D/out" "$D/err"
	check "cr check exits 0" [ $rc = 0 ]
	check "cr check: criu check ok" grep -q '^criu check  *ok' "$D/out"
	if [ "$SOFT_DIRTY" = yes ]; then
		check "cr check: pre-dump yes (the kernel has soft-dirty tracking)" grep -q '^pre-dump  *yes' "$D/out"
	else
		check "cr check: pre-dump no, naming soft-dirty (this kernel's configuration has no CONFIG_MEM_SOFT_DIRTY)" \
			grep -q '^pre-dump  *no: the kernel has no soft-dirty memory tracking' "$D/out"
		check "cr check: lazy pages yes (post-copy is this kernel's live migration)" \
			grep -q '^lazy pages  *yes$' "$D/out"
	fi
	check "cr check: cr built for this machine ($(uname -m))" grep -q "^arch  *$(uname -m) (cr built for $(uname -m))" "$D/out"
}

# --- the scenarios of a kernel without soft-dirty (arm64) ---------------

# wait_count_below FILE N: until the count in FILE is below N (a restored
# copy of an older state has written), within 30 s.
wait_count_below() {
	_w=0
	while [ "$(count "$1")" -ge "$2" ]; do
		_w=$((_w + 1))
		[ $_w -gt 300 ] && return 1
		sleep 0.1
	done
}
# watch_intact FILE C1: until two more checksums after count C1 (30 s of
# TCG at most), noting any BAD on the way (the workload shows BAD only
# until its next count); sets c2 and bad for intact.
watch_intact() {
	bad="" _w=0
	while [ "$(count "$1")" -le $(($2 + 45)) ] && [ $_w -lt 600 ]; do
		grep -q BAD "$1" 2>/dev/null && bad=1
		_w=$((_w + 1))
		sleep 0.1
	done
	grep -q BAD "$1" 2>/dev/null && bad=1
	c2=$(count "$1")
}

# A counter that holds 16 MiB of data it checksums: checkpoint, restore,
# the data checked by the restored process itself.
scenario_data() {
	/bin/workload counter "$D/c" 16 &
	P=$!
	wait_above "$D/c" 21 600
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint of a counter holding 16 MiB exits 0" [ $? = 0 ]
	check "... its page images hold the 16 MiB ($(page_bytes "$D/ck") bytes)" ge "$(page_bytes "$D/ck")" 16777216
	check "... the counter is gone" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore exits 0 and prints the restored pid" [ $rrc = 0 -a "$(cat "$D/out")" = "$P" ]
	[ $rrc = 0 ] && watch_intact "$D/c" "$c1"
	c2=$(count "$D/c")
	check "the restored process counts on and finds its 16 MiB intact ($c1 -> $(cat "$D/c"))" intact
	check "... untraced" running "$P"
	stop "$P"
}

# --leave-running: the checkpoint leaves the counter running, untraced;
# once it is killed, the image restores the state of the checkpoint (its
# count goes back, then on), the data intact.
scenario_leave() {
	/bin/workload counter "$D/c" 16 &
	P=$!
	wait_above "$D/c" 21 600
	cr checkpoint --leave-running -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint --leave-running exits 0, with the images ($(ls "$D/ck" 2>/dev/null | wc -l) files)" \
		[ $? = 0 -a -f "$D/ck/core-$P.img" ]
	c0=$(count "$D/c")
	check "... the counter runs on, untraced ($c0 -> $(sleep 1; count "$D/c"))" \
		eval 'running "$P" && wait_above "$D/c" $((c0 + 5))'
	check "... and finds its data intact" grep -q ' ok$' "$D/c"
	reap "$P"
	ck=$(count "$D/c")
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore of the --leave-running image exits 0 and prints its pid" [ $rrc = 0 -a "$(cat "$D/out")" = "$P" ]
	check "... it resumes from the checkpoint's state (count back below $ck)" \
		eval '[ $rrc = 0 ] && wait_count_below "$D/c" "$ck"'
	c1=$(count "$D/c")
	[ $rrc = 0 ] && watch_intact "$D/c" "$c1"
	check "... and counts on, its 16 MiB intact ($c1 -> $(cat "$D/c"))" intact
	check "... untraced" running "$P"
	stop "$P"
}

# No soft-dirty tracking (arm64): CRIU itself says so, and cr refuses a
# pre-dump by name before CRIU is asked to do one; nothing is written, the
# tree runs on untraced.
scenario_nopredump() {
	if [ "$SOFT_DIRTY" = yes ]; then
		echo "# [$tag] nopredump: this kernel tracks dirty memory (the chain scenario pre-dumps)"
		return
	fi
	"$CRIU" check --feature mem_dirty_track >"$D/criu-check" 2>&1
	crc=$?
	sed 's/^/# criu check --feature mem_dirty_track: /' "$D/criu-check"
	check "CRIU agrees: criu check --feature mem_dirty_track fails (exit $crc)" [ $crc != 0 ]
	echo "# [$tag] soft-dirty: none on this $(uname -m) kernel (CONFIG_MEM_SOFT_DIRTY unset; x86, powerpc and s390 only):" \
		"cr's refusal of pre-dump is the test"
	/bin/workload counter "$D/c" &
	P=$!
	wait_above "$D/c" 5
	cr pre-dump -D "$D/p1" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err"
	{ [ $rc = 1 ] && grep -q "pre-dump cannot work here: this kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY)" "$D/err"; }
	verdict $? "pre-dump: refused (exit $rc), saying the kernel has no soft-dirty tracking"
	check "... nothing on stdout" [ ! -s "$D/out" ]
	check "... no image directory, no temporary one" eval '[ ! -e "$D/p1" ] && [ -z "$(ls -a "$D" | grep "^\.p1\.cr-")" ]'
	c0=$(count "$D/c")
	check "... the tree runs on, untraced" eval 'running "$P" && wait_above "$D/c" $((c0 + 3))'
	reap "$P"
}

# CRIU_FAULT=3: CRIU's page dump fails inside a checkpoint. cr exits 1 and
# says so; the tree runs on, untraced, its data intact; nothing is left.
scenario_fault() {
	/bin/workload counter "$D/c" 8 &
	P=$!
	wait_above "$D/c" 21 600
	CRIU_FAULT=3 cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err"
	{ [ $rc = 1 ] && grep -q "checkpoint of pid $P failed" "$D/err"; }
	verdict $? "checkpoint with CRIU_FAULT=3 (page dump fails): exit 1 ($rc), says the checkpoint failed"
	check "... the tree runs on, untraced" running "$P"
	c1=$(count "$D/c")
	watch_intact "$D/c" "$c1"
	check "... counting, its data intact ($c1 -> $(cat "$D/c"))" intact
	check "... no image directory, no temporary one" eval '[ ! -e "$D/ck" ] && [ -z "$(ls -a "$D" | grep "^\.ck\.cr-")" ]'
	check "... the error names the CRIU log, which exists" \
		sh -c "f=\$(sed -n 's/^cr: CRIU log: //p' '$D/err'); [ -s \"\$f\" ]"
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "a checkpoint of the same tree afterwards works" [ $? = 0 -a -f "$D/ck/core-$P.img" ]
	reap "$P"
}

# host_b: host B for a migration, a pid, mount and network namespace of
# the guest's held by a sleeping init (HB, its pid here; U the unshare);
# via: cr receive there, entered through nsenter. host_b_end: all gone.
host_b() {
	unshare -p -f -m -n --mount-proc sleep 600 &
	U=$!
	_w=0
	while [ -z "$(cat /proc/$U/task/$U/children 2>/dev/null)" ] && [ $_w -lt 50 ]; do sleep 0.1; _w=$((_w + 1)); done
	HB=$(tr -d ' ' </proc/$U/task/$U/children)
	via="nsenter -t $HB -p -m -n /bin/cr -c none --criu $CRIU receive --stdio"
}
host_b_end() { kill -9 "$HB" 2>/dev/null; wait "$U" 2>/dev/null; }
# is pid $1 a live, untraced process on host B (its own pid namespace and /proc)?
b_runs() {
	nsenter -t "$HB" -p -m sh -c "grep -q '^State:[[:space:]]*[RSD]' /proc/$1/status &&
		grep -q '^TracerPid:[[:space:]]*0$' /proc/$1/status"
}
# migrate_refused_317 PID: CRIU 3.17 has no leave_stopped; migrate says so.
migrate_refused_317() {
	cr migrate "$@" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err"
	{ [ $rc = 1 ] && grep -q "migrate needs CRIU 3.19 or newer" "$D/err"; }
	verdict $? "migrate $1 $2 with CRIU $V: refused (exit 1), saying what it needs"
	check "... the tree runs on, here, untraced" running "$P"
	c0=$(count "$D/c")
	check "... and counts" wait_above "$D/c" $((c0 + 3))
}

# Stop-copy, the live migration of a kernel without soft-dirty: --mode
# auto picks it and says why; --mode pre-copy is refused. The static musl
# counter with 32 MiB, its data checked on B.
scenario_stopcopy() {
	host_b
	/bin/workload counter "$D/c" 32 &
	P=$!
	wait_above "$D/c" 21 600
	case $V in
	3.1[0-8]*)
		migrate_refused_317 --mode auto --via "$via" "$P"
		reap "$P"
		host_b_end
		return ;;
	esac
	if [ "$SOFT_DIRTY" = no ]; then
		cr migrate --mode pre-copy --via "$via" "$P" >"$D/out" 2>"$D/err"
		rc=$?
		sed 's/^/# /' "$D/err"
		{ [ $rc = 1 ] && grep -q "mode pre-copy: this kernel has no soft-dirty memory tracking" "$D/err"; }
		verdict $? "migrate --mode pre-copy: refused (exit 1), naming soft-dirty"
		check "... the tree runs on, here, untraced" running "$P"
	fi
	cr migrate --json --via "$via" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err" "$D/out"
	check "migrate (--mode auto) to host B exits 0" [ $rc = 0 ]
	if [ "$SOFT_DIRTY" = no ]; then
		check "... auto picked stop-copy, saying why" eval 'grep -q "^cr: mode stop-copy$" "$D/err" &&
			grep -q "auto: no pre-copy: this kernel has no soft-dirty tracking" "$D/err"'
	fi
	check "... its JSON summary: stop-copy, a downtime" grep -q '"mode":"stop-copy","iterations":0,.*"downtime_ms":[0-9]' "$D/out"
	check "... nothing of the tree is left here" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	watch_intact "$D/c" "$c1"
	check "... it counts on, on host B, its 32 MiB intact ($c1 -> $(cat "$D/c"))" intact
	check "... and runs there, untraced" b_runs "$P"
	host_b_end
}

# Post-copy of the counter built with gcc against glibc (rseq registered:
# the lazy restore faults its area in before the target's post-restore).
# The pipe-size guard: CRIU's page server needs fs.pipe-max-size >= 4 MiB
# unless it has CAP_SYS_RESOURCE; which held here is printed and checked.
scenario_postcopy() {
	capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
	pms=$(cat /proc/sys/fs/pipe-max-size)
	capres=no
	[ $(((0x$capeff >> 24) & 1)) = 1 ] && capres=yes
	echo "# [$tag] post-copy's pipe guard: CAP_SYS_RESOURCE $capres (CapEff $capeff), fs.pipe-max-size $pms"
	{ [ $capres = yes ] || [ "$pms" -ge 4194304 ]; }
	verdict $? "root holds CAP_SYS_RESOURCE or fs.pipe-max-size >= 4194304 (post-copy can work)"
	host_b
	/opt/workload-glibc counter "$D/c" 32 4 &
	P=$!
	wait_above "$D/c" 21 600
	case $V in
	3.1[0-8]*)
		migrate_refused_317 --mode post-copy --via "$via" "$P"
		reap "$P"
		host_b_end
		return ;;
	esac
	cr migrate --mode post-copy --json --via "$via" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err" "$D/out"
	check "post-copy migration of a glibc program to host B exits 0" [ $rc = 0 ]
	check "... it says there is no way back once the tree runs on B" grep -q "no way back" "$D/err"
	check "... its JSON summary says post-copy" grep -q '"mode":"post-copy","iterations":0' "$D/out"
	# the memory went lazily: the images were KiB, the stream carried 32 MiB
	mm=$(json_num mib_moved <"$D/out")
	{ grep -q "^cr: images sent ([0-9]* files, [0-9]* KiB)" "$D/err" && [ "${mm:-0}" -ge 32 ]; }
	verdict $? "... the 32 MiB moved as pages (${mm:-?} MiB), the images sent were KiB"
	check "... nothing of the tree is left here" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	watch_intact "$D/c" "$c1"
	check "... it counts on, on host B, its 32 MiB intact ($c1 -> $(cat "$D/c"))" intact
	check "... and runs there, untraced" b_runs "$P"
	host_b_end
}

# A counter checkpointed and restored, the images on the initramfs's tmpfs.
scenario_counter() {
	/bin/workload counter "$D/c" &
	P=$!
	wait_above "$D/c" 5
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint of a counter exits 0" [ $? = 0 ]
	check "the counter is gone after the checkpoint" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore exits 0 and prints the restored pid" [ $rrc = 0 -a "$(cat "$D/out")" = "$P" ]
	# (no restored process: nothing to wait for)
	[ $rrc = 0 ] && wait_above "$D/c" $((c1 + 5))
	c2=$(count "$D/c")
	check "the restored counter continues ($c1 -> $c2)" [ "$c2" -gt "$c1" ]
	check "the restored counter runs untraced" running "$P"
	stop "$P"
}

# pre-dump -> pre-dump (parent) -> checkpoint (parent) of a process holding
# 32 MiB it checksums every 20 counts: the later dumps write only what
# changed, and the restored process finds its data intact.
scenario_chain() {
	/bin/workload counter "$D/c" 32 &
	P=$!
	# Past count 20: the data is filled and has been checked once.
	wait_above "$D/c" 21 600
	cr pre-dump -D "$D/p1" "$P" >"$D/out" 2>"$D/err"
	check "pre-dump exits 0" [ $? = 0 ]
	check "the tree keeps running after the pre-dump" running "$P"
	cr pre-dump -D "$D/p2" --parent-path ../p1 "$P" >"$D/out" 2>"$D/err"
	check "second pre-dump with --parent-path ../p1 exits 0" [ $? = 0 ]
	c0=$(count "$D/c")
	wait_above "$D/c" $((c0 + 2))
	cr checkpoint -D "$D/ck" --parent-path ../p2 "$P" >"$D/out" 2>"$D/err"
	check "checkpoint with --parent-path ../p2 exits 0" [ $? = 0 ]
	check "the tree is gone after the checkpoint" dead "$P"
	reap "$P"
	c1=$(count "$D/c")

	# Page images: sizes on disk, a check that needs nothing from cr.
	b1=$(page_bytes "$D/p1") b2=$(page_bytes "$D/p2") b3=$(page_bytes "$D/ck")
	echo "# page images: p1 $b1 bytes, p2 $b2 bytes, ck $b3 bytes"
	check "the first pre-dump holds the 32 MiB ($b1 bytes of pages)" ge "$b1" 33554432
	check "the final checkpoint's pages are far smaller ($b3 < $b1 / 8)" lt "$b3" $((b1 / 8))
	# CRIU's own statistics, through cr stats (absent from older cr builds).
	if /bin/cr stats --help >/dev/null 2>&1; then
		/bin/cr stats --json "$D/p1" >"$D/s1" 2>"$D/err"
		/bin/cr stats --json "$D/ck" >"$D/s3" 2>>"$D/err"
		sed 's/^/# p1 stats: /' "$D/s1"
		sed 's/^/# ck stats: /' "$D/s3"
		w1=$(json_num pages_written <"$D/s1") w3=$(json_num pages_written <"$D/s3")
		k3=$(json_num pages_skipped_parent <"$D/s3")
		check "stats: first pre-dump wrote >= 8192 pages (${w1:-?})" ge "${w1:-0}" 8192
		check "stats: final checkpoint wrote far fewer (${w3:-?} < ${w1:-?} / 8)" lt "${w3:-999999999}" $((${w1:-0} / 8))
		check "stats: final checkpoint skipped pages in its parents (${k3:-?})" ge "${k3:-0}" 1
	else
		echo "# cr has no stats command: CRIU statistics not checked"
	fi

	# Every link has its manifest; restore and verify check the whole
	# chain. The checkpoint's parent link pointed at the first pre-dump
	# (skipping the second), then a flipped byte in that first pre-dump:
	# both refused before CRIU runs, each named; put right, it restores.
	cr verify "$D/ck" >"$D/out" 2>"$D/err"
	check "cr verify: the chain is intact, 3 directories ($(cat "$D/out"))" grep -q "intact: .* in 3 directories" "$D/out"
	ln -sfn ../p1 "$D/ck/parent"
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	st=$?
	check "the parent link changed to ../p1: restore exits 1 ($st), names the link, restores nothing" \
		eval '[ $st = 1 ] && grep -q "parent: points to ../p1; the manifest says ../p2" "$D/err" && ! running "$P"'
	cr verify "$D/ck" >"$D/out" 2>"$D/err"
	st=$?
	check "... cr verify exits 1 ($st) and says so too" eval '[ $st = 1 ] && grep -q "points to ../p1" "$D/out"'
	ln -sfn ../p2 "$D/ck/parent"
	f=$(ls "$D/p1"/pages-*.img | head -n 1)
	cp "$f" "$D/pages.bak"
	printf 'X' | dd of="$f" bs=1 seek=4096 conv=notrunc 2>/dev/null
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	st=$?
	check "a flipped byte two links down the chain: restore exits 1 ($st), names $(basename "$f") of parent/parent" \
		eval '[ $st = 1 ] && grep -q "ck/parent/parent/$(basename "$f"): changed" "$D/err" && ! running "$P"'
	cp "$D/pages.bak" "$f"

	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore of the chain exits 0 and prints the restored pid" [ $rrc = 0 -a "$(cat "$D/out")" = "$P" ]
	# Two checksums at least (every 20 counts). The workload shows BAD only
	# until its next count, so poll for it all along.
	bad="" _w=0
	while [ $rrc = 0 ] && [ "$(count "$D/c")" -le $((c1 + 45)) ] && [ $_w -lt 600 ]; do
		grep -q BAD "$D/c" 2>/dev/null && bad=1
		_w=$((_w + 1))
		sleep 0.1
	done
	c2=$(count "$D/c")
	check "the restored counter continues ($c1 -> $c2)" [ "$c2" -gt $((c1 + 45)) ]
	check "the restored process finds its 32 MiB intact ($(cat "$D/c"))" intact
	check "the restored process runs untraced" running "$P"
	stop "$P"
}

# cgroup v2, the guest's only hierarchy: a two-process tree checkpointed by
# its cgroup (frozen through cgroup.freeze) and restored into a new one.
in_cgroup() { grep -qx "0::$2" "/proc/$1/cgroup"; }
scenario_cgroup() {
	A=/sys/fs/cgroup/cr-$V-a B=/sys/fs/cgroup/cr-$V-b
	mkdir "$A"
	# The shell enters the cgroup, then becomes the workload.
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$A" /bin/workload tree 2 "$D/c" &
	P=$!
	wait_above "$D/c.1" 3
	cr checkpoint --cgroup "$A" --remove-cgroup -D "$D/ck" >"$D/out" 2>"$D/err"
	check "checkpoint by --cgroup (the root found from the cgroup)" [ $? = 0 -a -f "$D/ck/core-$P.img" ]
	dead "$P"
	reap "$P"
	check "--remove-cgroup removed the emptied cgroup" [ ! -d "$A" ]
	c1=$(count "$D/c.1")
	cr restore --cgroup "$B" -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore --cgroup into a new cgroup" [ $rrc = 0 -a -d "$B" ]
	all=$(tree_pids "$P" | sort | tr '\n' ' ')
	inb=$(sort "$B/cgroup.procs" 2>/dev/null | tr '\n' ' ')
	check "every restored pid ($all) is in the new cgroup ($inb)" [ "$all" = "$inb" -a "$(echo $all | wc -w)" = 2 ]
	bad=
	for p in $all; do in_cgroup "$p" "/cr-$V-b" || bad="$bad $p"; done
	check "/proc/PID/cgroup agrees for each" [ -z "$bad" ]
	check "the restored tree counts on" restored_counts "$D/c.1" $((c1 + 3))
	for p in $all; do kill "$p" 2>/dev/null; done
	for p in $all; do stop "$p"; done
	rmdir "$B" 2>/dev/null
}

# --auto-dedup: a pre-dump, then a checkpoint on top of it after the
# workload rewrote about half of its 32 MiB; with --auto-dedup CRIU punches
# the pages it writes again out of the pre-dump's image, so that chain
# takes less space on disk than the same chain without.
blocks() { du -sk "$@" | awk '{ s += $1 } END { print s + 0 }'; }
scenario_dedup() {
	/bin/workload counter "$D/c" 32 16 &
	P=$!
	wait_above "$D/c" 21 600
	cr pre-dump -D "$D/p1" "$P" >"$D/out" 2>"$D/err"
	check "pre-dump" [ $? = 0 ]
	c0=$(count "$D/c")
	wait_above "$D/c" $((c0 + 20))
	cr checkpoint --leave-running --parent-path ../p1 -D "$D/ck1" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint on top of it, without --auto-dedup" [ $? = 0 ]
	cr pre-dump -D "$D/q1" "$P" >"$D/out" 2>"$D/err"
	check "another pre-dump" [ $? = 0 ]
	c0=$(count "$D/c")
	wait_above "$D/c" $((c0 + 20))
	cr checkpoint --auto-dedup --parent-path ../q1 -D "$D/ck2" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint on top of it with --auto-dedup" [ $? = 0 ]
	dead "$P"
	reap "$P"
	a=$(blocks "$D/p1" "$D/ck1") b=$(blocks "$D/q1" "$D/ck2")
	echo "# the chain takes $a KiB without --auto-dedup, $b KiB with it"
	check "the deduplicated chain takes less space ($b KiB < $a KiB - 4 MiB)" lt "$b" $((a - 4096))
	cr verify "$D/ck2" >"$D/out" 2>"$D/err"
	check "cr verify: the deduplicated chain is intact (its manifests followed the dedup)" [ $? = 0 ]
	c1=$(count "$D/c")
	cr restore -D "$D/ck2" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore of the deduplicated chain" [ $rrc = 0 ]
	bad=""
	[ $rrc = 0 ] && wait_above "$D/c" $((c1 + 45)) 900
	grep -q BAD "$D/c" && bad=1
	c2=$(count "$D/c")
	check "the restored process finds its data intact ($(cat "$D/c"))" intact
	# a damaged parent: --auto-dedup must not bless it by hashing it again
	cr pre-dump -D "$D/r1" "$P" >"$D/out" 2>"$D/err"
	check "a third pre-dump" [ $? = 0 ]
	f=$(ls "$D/r1"/pages-*.img | head -n 1)
	printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
	cr checkpoint --leave-running --auto-dedup --parent-path ../r1 -D "$D/ck3" "$P" >"$D/out" 2>"$D/err"
	st=$?
	check "--auto-dedup on a damaged parent: exit 1 ($st), says so, writes nothing" \
		eval '[ $st = 1 ] && grep -q "fails verification" "$D/err" && [ ! -e "$D/ck3" ]'
	check "... the process runs on" running "$P"
	stop "$P"
}

# An established TCP connection between two processes of the tree (a
# server and its client on loopback): the client sends a counter, the
# server checks that every number arrives, in order, before and after.
scenario_tcp() {
	/bin/workload tcp "$D/c" 4711 &
	P=$!
	wait_above "$D/c" 10
	cr checkpoint --tcp-established -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint --tcp-established of a server and its client" [ $? = 0 ]
	check "the tree is gone" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	cr restore --tcp-established -D "$D/ck" >"$D/out" 2>"$D/err"
	rrc=$?
	check "restore --tcp-established" [ $rrc = 0 ]
	check "the connection carries on: every number before and after, in order ($c1 -> $(sleep 2; cat "$D/c"))" \
		restored_counts "$D/c" $((c1 + 10))
	check "... none lost or out of order" grep -q ' ok$' "$D/c"
	for p in $(tree_pids "$P"); do kill "$p" 2>/dev/null; done
	stop "$P"
}

# Live migration inside the guest: host B is a pid, mount and network
# namespace of its own, held by a sleeping init; cr receive enters it
# through nsenter, the --via command. Pre-copy (this kernel tracks dirty
# memory) of a 32 MiB counter that rewrites 4 MiB/s, then
# pre-copy+post-copy, both with the counter built the ordinary way (gcc,
# dynamically linked against glibc, which registers rseq: its area is
# faulted in by the lazy restore before the target's post-restore). CRIU
# 3.17 has no leave_stopped: migrate is refused.
scenario_migrate() {
	unshare -p -f -m -n --mount-proc sleep 600 &
	U=$!
	_w=0
	while [ -z "$(cat /proc/$U/task/$U/children 2>/dev/null)" ] && [ $_w -lt 50 ]; do sleep 0.1; _w=$((_w + 1)); done
	HB=$(tr -d ' ' </proc/$U/task/$U/children)
	via="nsenter -t $HB -p -m -n /bin/cr -c none --criu $CRIU receive --stdio"
	# is pid $1 a live process on host B (its own pid namespace and /proc)?
	b_runs() { nsenter -t "$HB" -p -m sh -c "grep -q '^State:[[:space:]]*[RSD]' /proc/$1/status"; }
	/opt/workload-glibc counter "$D/c" 32 4 &
	P=$!
	wait_above "$D/c" 21 600
	case $V in
	3.1[0-8]*)
		cr migrate --via "$via" "$P" >"$D/out" 2>"$D/err"
		{ [ $? = 1 ] &&
			grep -q "migrate needs CRIU 3.19 or newer" "$D/err"; }
		verdict $? "migrate with CRIU $V: refused (exit 1), saying what it needs"
		check "... the tree runs on, here" running "$P"
		reap "$P"
		kill "$U"
		return ;;
	esac
	cr migrate --mode pre-copy --via "$via" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err"
	check "pre-copy migration to host B exits 0" [ $rc = 0 ]
	check "... it iterated: the second pre-dump wrote far less than the first" \
		awk '/^cr: iteration 1:/ { a = $4 } /^cr: iteration 2:/ { b = $4 } END { exit !(a > 8000 && b < a / 2) }' "$D/err"
	check "... and stopped iterating when an iteration no longer shrank (not at the maximum)" \
		grep -q "^cr: iterations end: it stopped shrinking" "$D/err"
	check "... its summary gives the downtime" grep -q "^cr: done: pre-copy, [1-9][0-9]* pre-dump iterations*, total [0-9]* ms, downtime [0-9]* ms" "$D/err"
	check "... nothing of the tree is left here" dead "$P"
	reap "$P"
	c1=$(count "$D/c")
	bad=""
	wait_above "$D/c" $((c1 + 45)) 900
	c2=$(count "$D/c")
	check "... it counts on, on host B, its 32 MiB intact ($c1 -> $(cat "$D/c"))" intact
	check "... and runs there" b_runs "$P"

	nsenter -t "$HB" -p -m pkill -x workload-glibc
	# pre-copy, then a lazy final dump
	/opt/workload-glibc counter "$D/c2" 32 4 &
	Q=$!
	wait_above "$D/c2" 21 600
	cr migrate --mode pre-copy+post-copy --json --via "$via" "$Q" >"$D/out" 2>"$D/err"
	rc=$?
	sed 's/^/# /' "$D/err" "$D/out"
	check "pre-copy+post-copy migration exits 0" [ $rc = 0 ]
	check "... it says there is no way back once the tree runs on B" grep -q "no way back" "$D/err"
	check "... its JSON summary says so" grep -q '"mode":"pre-copy+post-copy","iterations":[1-9]' "$D/out"
	reap "$Q"
	c1=$(count "$D/c2")
	wait_above "$D/c2" $((c1 + 45)) 900
	c2=$(count "$D/c2")
	{ [ "$c2" -gt $((c1 + 45)) ] && grep -q ' ok$' "$D/c2"; }
	verdict $? "... the tree counts on, on host B, its 32 MiB intact ($c1 -> $(cat "$D/c2"))"
	kill "$U"
}

# Only with ONLY=bench (bench/run.sh, full mode), never in the normal tier:
# migration downtime with 0 (stop-copy), 1 and 3 pre-copy iterations, seen
# from an observer here while a `load mem 64 8 HB` (bench/load.c: 64 MiB,
# 8 MiB/s rewritten, a heartbeat every ms) moves into a host B as in
# migrate (its pid 1 a `load init` that reaps what is killed there). The
# iterations are forced: --min-pages 0 and --min-shrink 0 stop early only
# for an iteration that writes nothing or more than the one before.
# Three rounds of the three (about 50 s a round under TCG; all kept: the
# budget of make bench allows no warm-up round), one
# "# bench: precopy_downtime_ms_N=GAP pair=R status=RC cr_...=" line per
# migration (GAP: the observer's longest heartbeat gap, ms; cr_*: cr's
# --json summary). The newest CRIU only.
scenario_bench() {
	case $V in
	3.1[0-9]*) echo "# [$tag] bench: skipped with CRIU $V (the newest CRIU only)"; return ;;
	esac
	unshare -p -f -m -n --mount-proc /bin/load init sleep 600 &
	U=$!
	_w=0
	while [ -z "$(cat /proc/$U/task/$U/children 2>/dev/null)" ] && [ $_w -lt 50 ]; do sleep 0.1; _w=$((_w + 1)); done
	HB=$(tr -d ' ' </proc/$U/task/$U/children)
	via="nsenter -t $HB -p -m -n /bin/cr -c none --criu $CRIU receive --stdio"
	mkfifo "$D/ready"
	for r in 0 1 2; do
		for N in 0 1 3; do
			opts="--mode stop-copy"
			[ $N = 0 ] || opts="--mode pre-copy --max-iterations $N --min-pages 0 --min-shrink 0"
			rm -f "$D/hb"
			# a pid far above what host B allocates (it starts at 1)
			echo $((10000 + r * 100 + N * 10 - 1)) >/proc/sys/kernel/ns_last_pid
			/bin/load mem 64 8 "$D/hb" &
			P=$!
			_w=0
			while [ ! -s "$D/hb" ] && [ $_w -lt 600 ]; do sleep 0.1; _w=$((_w + 1)); done
			sleep 0.5
			/bin/load observe "$D/hb" "$D/ready" >"$D/obs" &
			O=$!
			read -r _x <"$D/ready"
			# (-D: the target's CRIU logs stay, for check to show on failure)
			# shellcheck disable=SC2086
			cr migrate --json $opts --via "$via -D $D/in" "$P" >"$D/out" 2>"$D/err"
			rc=$?
			kill -TERM "$O"
			wait "$O"
			check "bench round $r, $N pre-copy iterations: migrate exits 0" [ $rc = 0 ]
			rm -rf "$D/in"
			gap=$(sed -n 's/.*gap_ms=\([0-9.]*\).*/\1/p' "$D/obs")
			j=$(sed -n '/^{/{s/[{}"]//g; s/,/ /g; s/:/=/g; s/\([^ ]*=\)/cr_\1/g; p; q}' "$D/out")
			echo "# bench: precopy_downtime_ms_$N=${gap:--1} pair=$r status=$rc $j"
			grep '^cr: iteration' "$D/err" | sed 's/^/# /'
			reap "$P"
			nsenter -t "$HB" -p -m kill -KILL "$P" 2>/dev/null
			_w=0
			while nsenter -t "$HB" -p -m test -e "/proc/$P" && [ $_w -lt 50 ]; do sleep 0.1; _w=$((_w + 1)); done
		done
	done
	kill "$U"
}

# The fault matrix's pre-dump column (this kernel can pre-dump): CRIU
# killing itself after seizing (1), a failing page dump (3), a parasite
# that cannot connect (5). Each: exit 1, the tree runs on untraced, no
# image directory and no temporary one, an earlier pre-dump unchanged.
scenario_prefault() {
	/bin/workload counter "$D/c" 8 &
	P=$!
	wait_above "$D/c" 21 600
	cr pre-dump -D "$D/p1" "$P" >"$D/out" 2>"$D/err"
	check "a first pre-dump" [ $? = 0 ]
	fp=$(find "$D/p1" -type f | sort | xargs md5sum | md5sum)
	for f in 1 3 5; do
		rm -rf "$D/p2"
		CRIU_FAULT=$f cr pre-dump --parent-path ../p1 -D "$D/p2" "$P" >"$D/out" 2>"$D/err"
		rc=$?
		if [ $f = 1 ] && [ $rc = 0 ]; then
			# CRIU injects fault 1 in dumps only: the pre-dump just worked
			check "pre-dump with CRIU_FAULT=1 (a dump-only fault): a good pre-dump" [ -f "$D/p2/inventory.img" ]
			rm -rf "$D/p2"
			continue
		fi
		{ [ $rc = 1 ] && grep -q "pre-dump of pid $P failed" "$D/err"; }
		verdict $? "pre-dump with CRIU_FAULT=$f: exit 1 ($rc), says the pre-dump failed"
		check "... the tree runs on, untraced" eval 'running "$P" && c0=$(count "$D/c") && wait_above "$D/c" $((c0 + 2))'
		check "... no image directory, no temporary one" eval '[ ! -e "$D/p2" ] && [ -z "$(ls -a "$D" | grep "^\.p2\.cr-")" ]'
		check "... the earlier pre-dump is unchanged" [ "$(find "$D/p1" -type f | sort | xargs md5sum | md5sum)" = "$fp" ]
	done
	reap "$P"
}

# What CRIU 3.17 cannot do is refused, not dropped: a network lock it
# does not know, and migrate (leave_stopped is 3.19's).
scenario_refuse() {
	/bin/workload counter "$D/c" &
	P=$!
	wait_above "$D/c" 2
	cr checkpoint --leave-running --network-lock skip -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	rc=$?
	case $V in
	3.1[0-8]*)
		{ [ $rc = 1 ] &&
			grep -q "network-lock skip needs CRIU 3.19" "$D/err"; }
		verdict $? "--network-lock skip with CRIU $V: refused (exit 1), naming the version it needs"
		{ [ ! -e "$D/ck" ] && running "$P"; }
		verdict $? "... nothing written, the tree runs" ;;
	*)
		{ [ $rc = 0 ] && running "$P"; }
		verdict $? "--network-lock skip with CRIU $V: works" ;;
	esac
	reap "$P"
}

# ========================================================================

# reboot.sh sources this file for its helpers (CR_VM_LIB=1): no scenario runs.
[ "${CR_VM_LIB:-}" = 1 ] && return 0

# guest.sh one CRIU VERSION NAME: one scenario, in a process of its own so
# that the loop below can bound it with timeout. The test numbers restart
# in each; the host renumbers.
if [ "${1:-}" = one ]; then
	CRIU=$2 V=$3 tag="criu $3" D=$T/$3/$4
	mkdir -p "$D"
	"scenario_$4"
	exit 0
fi

tag=cr
D=$T/cr
mkdir -p "$D"
BOOT_S=$(cut -d' ' -f1 /proc/uptime)
export BOOT_S
echo "# guest: Linux $(uname -r) $(uname -m); guest.sh starts $BOOT_S s after the kernel did"
/bin/cr --version >"$D/out" 2>"$D/err"
check "cr --version exits 0 and names cr ($(head -n 1 "$D/out"))" grep -q '^cr ' "$D/out"

LIMIT=240
for CRIU in $CRIUS; do
	V=$("$CRIU" --version 2>"$T/criu-err" | sed -n 's/^Version: //p')
	tag="criu ${V:-?}" D=$T/none
	check "criu --version runs in the guest ($CRIU)" [ -n "$V" ]
	[ -n "$V" ] || { sed 's/^/# /' "$T/criu-err"; continue; }
	# The other CRIU's kernel probe cache is "stale" to this one.
	rm -f /run/criu.kdat
	for s in ${SCENARIOS:-check counter chain prefault dedup cgroup tcp refuse migrate bench}; do
		want "$s" || continue
		# bench only when asked for by name (bench/run.sh)
		[ "$s" != bench ] || [ "$ONLY" = bench ] || continue
		lim=$LIMIT
		[ "$s" = bench ] && lim=400
		t0=$(uptime_cs)
		# A hung scenario is killed; what it started is left to init.
		timeout -s KILL $lim sh "$0" one "$CRIU" "$V" "$s"
		rc=$?
		t1=$(uptime_cs)
		[ $rc = 0 ] || fail "[$tag] scenario $s ended with status $rc (killed after $lim s?)"
		echo "# [$tag] $s: $(((t1 - t0) / 100)).$(((t1 - t0) % 100 / 10)) s"
	done
done
exit 0
