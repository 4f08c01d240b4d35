#!/bin/sh
# tests/vm/guest.sh: the VM tier's scenarios, run by the guest's /init with
# nothing but busybox, cr, the workload and the CRIUs. Each scenario runs once
# per CRIU (bookworm's 3.17 and the newest the host tests use) and prints
# "ok N - [criu V] ..." / "not ok N - ..." lines and "#" lines on the serial
# console; the host renumbers and counts them (tests/vm/run.sh).
#
# /etc/cr-vm.env (from run.sh): CRIUS (absolute paths), KVER, ONLY (a
# pattern: run only the scenarios whose name matches).
#
# Pids: the guest is fresh and pid 1 is /init, so a checkpointed workload's
# pid stays free once this script has reaped it (wait), and restoring into
# it needs no pid namespace. Every cr call is bounded by `timeout` so one
# hang costs a scenario, not the whole boot's budget.
set -u
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
want() { [ -z "$ONLY" ] || case $1 in *$ONLY*) ;; *) return 1 ;; esac; }
cr() { timeout 180 /bin/cr -c none --criu "$CRIU" "$@"; }

# The first number in a status file (0 if none yet).
count() { c=$(cut -d' ' -f1 "$1" 2>/dev/null); echo "${c:-0}"; }
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
# Is PID a live, untraced, not stopped process?
running() {
	[ -r "/proc/$1/status" ] || return 1
	_s=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status")
	_t=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$1/status")
	[ "$_s" != Z ] && [ "$_s" != T ] && [ "$_s" != t ] && [ "$_t" = 0 ]
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
ge() { [ "$1" -ge "$2" ]; }
intact() { [ -z "$bad" ] && grep -q ' ok$' "$D/c"; }
lt() { [ "$1" -lt "$2" ]; }

# ========================================================================

# cr check's report, shown in the log for information, and what this kernel
# must make it say.
scenario_check() {
	cr check >"$D/out" 2>&1
	rc=$?
	sed 's/^/# /' "$D/out"
	cp "$D/out" "$D/err"
	check "cr check exits 0" [ $rc = 0 ]
	check "cr check: criu check ok" grep -q '^criu check  *ok' "$D/out"
	check "cr check: pre-dump yes (the kernel has soft-dirty tracking)" grep -q '^pre-dump  *yes' "$D/out"
}

# A counter checkpointed and restored, the images on the initramfs's tmpfs.
scenario_counter() {
	/bin/workload counter "$D/c" &
	P=$!
	wait_above "$D/c" 5
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint of a counter exits 0" [ $? = 0 ]
	wait "$P" 2>/dev/null
	c1=$(count "$D/c")
	check "the counter is gone after the checkpoint" [ ! -d "/proc/$P" ]
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore exits 0 and prints the restored pid" [ $? = 0 -a "$(cat "$D/out")" = "$P" ]
	wait_above "$D/c" $((c1 + 5))
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
	wait "$P" 2>/dev/null
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

	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore of the chain exits 0 and prints the restored pid" [ $? = 0 -a "$(cat "$D/out")" = "$P" ]
	# Two checksums at least (every 20 counts). The workload shows BAD only
	# until its next count, so poll for it all along.
	bad="" _w=0
	while [ "$(count "$D/c")" -le $((c1 + 45)) ] && [ $_w -lt 600 ]; do
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

# ========================================================================

tag=cr
D=$T/cr
mkdir -p "$D"
/bin/cr --version >"$D/out" 2>"$D/err"
check "cr --version exits 0 and names cr ($(head -n 1 "$D/out"))" grep -q '^cr ' "$D/out"

for CRIU in $CRIUS; do
	V=$("$CRIU" --version 2>"$T/criu-err" | sed -n 's/^Version: //p')
	tag="criu ${V:-?}" D=$T/none
	check "criu --version runs in the guest ($CRIU)" [ -n "$V" ]
	[ -n "$V" ] || { sed 's/^/# /' "$T/criu-err"; continue; }
	for s in check counter chain; do
		want "$s" || continue
		D=$T/$V/$s
		mkdir -p "$D"
		"scenario_$s"
	done
done
