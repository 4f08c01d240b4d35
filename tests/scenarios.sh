#!/bin/sh
# tests/scenarios.sh NAME DIR: one tier-1 scenario. test.sh runs each as pid
# 1 of its own pid namespace (unshare --pid --fork --mount-proc), so the
# restored pids are free and orphans are reaped at once. Each scenario
# prints "ok - ..." / "not ok - ..." lines (test.sh numbers them) and "#"
# lines, among them CRIU's log when something failed.
#
# Environment from test.sh: CR (the binary), CRIU (the CRIU to use), W (the
# workload helper, tests/workload.c).
set -u
name=$1
D=$2
cd "$D" || exit 1

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	shift
	for f in "$@"; do
		[ -f "$f" ] || continue
		echo "#   --- $f"
		sed 's/^/#   /' "$f" | tail -50
	done
	return 0
}
# check DESC CMD...: pass or fail on CMD's status; on failure show $D/err,
# the last cr stderr, and any CRIU logs under $D
check() {
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc" "$D/err" $(find "$D" -name '*.log' 2>/dev/null); fi
}
cr() { "$CR" -c none --criu "$CRIU" "$@"; }

# The first number in a status file (0 if none yet).
count() { c=$(cut -d' ' -f1 "$1" 2>/dev/null); echo "${c:-0}"; }
# wait_above FILE N [TENTHS]: until the count in FILE exceeds N
wait_above() {
	_w=0
	while [ "$(count "$1")" -le "$2" ]; do
		_w=$((_w + 1))
		[ $_w -gt "${3:-100}" ] && return 1
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
gone() { ! running "$1"; }
# A fingerprint of a directory's file names and contents.
fingerprint() { (cd "$1" && find . -type f | sort | xargs md5sum) 2>/dev/null | md5sum; }
no_temp_dirs() { [ -z "$(find "$D" -maxdepth 1 -name '.*.cr-*')" ]; }

# ========================================================================

scenario_counter() {
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 5
	cr checkpoint -D "$D/ck" "$P" >"$D/out" 2>"$D/err"
	check "checkpoint of a counter exits 0" [ $? = 0 ]
	check "... and prints nothing (CRIU's harmless rlimit error is not reported)" [ ! -s "$D/err" -a ! -s "$D/out" ]
	wait "$P" 2>/dev/null
	c1=$(count "$D/c")
	check "the tree is gone after the checkpoint" gone "$P"
	check "image directory is mode 0700" [ "$(stat -c %a "$D/ck")" = 700 ]
	check "no temporary directory is left" no_temp_dirs
	check "the CRIU log is in the image directory" [ -s "$D/ck/dump.log" ]
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore exits 0 and prints the restored pid" [ $? = 0 -a "$(cat "$D/out")" = "$P" ]
	first=$(count "$D/c")
	wait_above "$D/c" $((c1 + 5))
	c2=$(count "$D/c")
	check "the counter continues from where it stopped ($c1 -> $first -> $c2)" [ "$first" -ge "$c1" -a "$c2" -gt "$c1" ]
	check "the restored process runs untraced" running "$P"
	kill "$P"
}

scenario_check() {
	cr check >"$D/out" 2>"$D/err"
	check "cr check exits 0 where CRIU works" [ $? = 0 ]
	check "... names CRIU's version" grep -q "^criu .*(4\.[0-9]" "$D/out"
	check "... reports pre-dump as impossible on this kernel, with the reason" grep -q "^pre-dump .*soft-dirty" "$D/out"
	check "... reports the cgroup layout" grep -q "^cgroups  *\(v1\|v2\|hybrid\)" "$D/out"
	check "... leaves no temporary directory" [ -z "$(find /tmp -maxdepth 1 -name 'cr-check.*' -newer "$D/out")" ]
}

scenario_tree() {
	"$W" tree 3 "$D/c" &
	P=$!
	wait_above "$D/c.2" 3
	pids=$(cat /proc/[0-9]*/stat | awk -v p="$P" '$4 == p { print $1 }' | sort | tr '\n' ' ')
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a three-process tree" [ $? = 0 ]
	wait "$P" 2>/dev/null
	check "all three are gone" gone "$P"
	for i in 0 1 2; do eval "c$i=\$(count \"$D/c.$i\")"; done
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore of the tree" [ $? = 0 ]
	for i in 0 1 2; do
		eval "before=\$c$i"
		wait_above "$D/c.$i" $((before + 3))
		check "process $i of the tree counts on ($before -> $(count "$D/c.$i"))" [ "$(count "$D/c.$i")" -gt "$before" ]
	done
	now=$(cat /proc/[0-9]*/stat | awk -v p="$P" '$4 == p { print $1 }' | sort | tr '\n' ' ')
	check "the children have their pids again ($pids)" [ "$now" = "$pids" ]
}

scenario_leave_running() {
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 3
	cr checkpoint --leave-running -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint --leave-running exits 0" [ $? = 0 ]
	c1=$(count "$D/c")
	wait_above "$D/c" $((c1 + 3))
	check "the tree keeps running, untraced" running "$P"
	kill "$P"
	wait "$P" 2>/dev/null
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "the checkpoint taken while running restores" [ $? = 0 ]
	check "the restored counter runs" wait_above "$D/c" $((c1 + 10))
}

scenario_fds() {
	mkdir -p "$D/files"
	"$W" fds "$D/c" "$D/files" &
	P=$!
	wait_above "$D/c" 3
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a file at an offset, a pipe and a socketpair" [ $? = 0 ]
	wait "$P" 2>/dev/null
	c1=$(count "$D/c")
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore exits 0" [ $? = 0 ]
	wait_above "$D/c" $((c1 + 3))
	check "file offset and content, pipe and socketpair work after restore: $(cat "$D/c")" \
		grep -q ' ok$' "$D/c"
}

scenario_shell_job() {
	# The workload holds a pty (script(1) makes one) on fds 0-2.
	script -qfec "exec \"$W\" tty \"$D/c\"" /dev/null >/dev/null 2>&1 </dev/null &
	S=$!
	wait_above "$D/c" 3
	P=$(pgrep -f "workload tty $D/c" | head -1)
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a pty job without --shell-job fails" [ $? = 1 ]
	check "... and the job keeps running" running "$P"
	cr checkpoint --shell-job -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint --shell-job under a pty" [ $? = 0 ]
	wait "$S" 2>/dev/null
	c1=$(count "$D/c")
	script -qfec "\"$CR\" -c none --criu \"$CRIU\" restore --shell-job --wait -D \"$D/ck\"" /dev/null \
		>"$D/out" 2>&1 </dev/null &
	S=$!
	wait_above "$D/c" $((c1 + 3))
	check "restore --shell-job on a new pty: the job counts on" [ "$(count "$D/c")" -gt "$c1" ]
	kill "$P" 2>/dev/null
	wait "$S"
}

scenario_wait() {
	"$W" exit 7 "$D/go" &
	P=$!
	sleep 0.3
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a process that will exit 7" [ $? = 0 ]
	wait "$P" 2>/dev/null
	"$CR" -c none --criu "$CRIU" restore --wait --pid-file "$D/pid" -D "$D/ck" >"$D/out" 2>"$D/err" &
	C=$!
	i=0
	while [ ! -s "$D/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check "--pid-file holds the restored pid" [ "$(cat "$D/pid" 2>/dev/null)" = "$P" ]
	: >"$D/go"
	wait "$C"
	check "restore --wait exits with the tree's status (7)" [ $? = 7 ]

	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 3
	cr checkpoint -D "$D/ck2" "$P" 2>"$D/err"
	wait "$P" 2>/dev/null
	"$CR" -c none --criu "$CRIU" restore --wait -D "$D/ck2" >"$D/out" 2>"$D/err" &
	C=$!
	wait_above "$D/c" "$(($(count "$D/c") + 3))"
	kill -TERM "$C"
	wait "$C"
	st=$?
	check "SIGTERM to cr is forwarded: cr exits 143 ($st)" [ $st = 143 ]
	check "... and the restored tree is gone" gone "$P"
}

scenario_force() {
	"$W" counter "$D/a" &
	A=$!
	wait_above "$D/a" 3
	cr checkpoint --leave-running -D "$D/ck" "$A" 2>"$D/err"
	check "first checkpoint" [ $? = 0 ]
	fp=$(fingerprint "$D/ck")
	"$W" counter "$D/b" &
	B=$!
	wait_above "$D/b" 3
	cr checkpoint -D "$D/ck" "$B" 2>"$D/err"
	check "checkpoint into an existing checkpoint without --force: exit 1" [ $? = 1 ]
	check "... says what to do" grep -q -- "--force" "$D/err"
	check "... the earlier checkpoint is byte-for-byte intact" [ "$(fingerprint "$D/ck")" = "$fp" ]
	check "... the process keeps running" running "$B"
	CRIU_FAULT=3 cr checkpoint --force -D "$D/ck" "$B" 2>"$D/err"
	check "a failing checkpoint with --force: exit 1" [ $? = 1 ]
	check "... the earlier checkpoint is byte-for-byte intact" [ "$(fingerprint "$D/ck")" = "$fp" ]
	check "... the process keeps running, untraced" running "$B"
	cr checkpoint --force -D "$D/ck" "$B" 2>"$D/err"
	check "checkpoint --force replaces it" [ $? = 0 -a -f "$D/ck/core-$B.img" -a ! -f "$D/ck/core-$A.img" ]
	check "no temporary directory is left" no_temp_dirs
	wait "$B" 2>/dev/null
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "the replacing checkpoint restores" [ $? = 0 -a "$(cat "$D/out")" = "$B" ]
}

scenario_fault() {
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 3
	CRIU_FAULT=3 cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "a checkpoint that fails in CRIU (CRIU_FAULT=3): exit 1" [ $? = 1 ]
	check "... the process keeps running, untraced" running "$P"
	c1=$(count "$D/c")
	check "... and counting" wait_above "$D/c" $((c1 + 3))
	check "... no image directory is left" [ ! -e "$D/ck" ]
	check "... no temporary directory is left" no_temp_dirs
	check "... the error names the CRIU log, which exists" \
		sh -c "f=\$(sed -n 's/^cr: CRIU log: //p' '$D/err'); [ -s \"\$f\" ]"
	check "... and quotes its Error lines" grep -q "Error (" "$D/err"
	check "... and not the harmless rlimit line" sh -c "! grep -q RLIMIT_NOFILE '$D/err'"
}

scenario_predump() {
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 3
	cr pre-dump -D "$D/pre" "$P" 2>"$D/err"
	check "pre-dump without soft-dirty tracking: exit 1" [ $? = 1 ]
	check "... says why (soft-dirty) and what to do" grep -q "soft-dirty.*cr checkpoint" "$D/err"
	check "... leaves no image directory" [ ! -e "$D/pre" ]
	check "... the process keeps running" running "$P"
	mkdir "$D/pre"
	cr checkpoint --parent-path ../pre -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint --parent-path without soft-dirty: exit 1, says why" [ $? = 1 ]
	check "... and the process keeps running" running "$P"
}

scenario_service() {
	"$W" exec "$CRIU" service --address "$D/criu.sock" -o "$D/service.log" >/dev/null 2>&1 &
	S=$!
	i=0
	while [ ! -S "$D/criu.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 3
	"$CR" -c none --criu-socket "$D/criu.sock" checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint through a criu service (--criu-socket)" [ $? = 0 ]
	wait "$P" 2>/dev/null
	c1=$(count "$D/c")
	"$CR" -c none --criu-socket "$D/criu.sock" restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore through the service" [ $? = 0 -a "$(cat "$D/out")" = "$P" ]
	check "... the counter continues" wait_above "$D/c" $((c1 + 3))
	"$CR" -c none --criu-socket "$D/criu.sock" restore --wait -D "$D/ck" 2>"$D/err"
	check "restore --wait through a service is refused up front (exit 2)" [ $? = 2 ]
	"$CR" -c none --criu-socket "$D/nonexistent.sock" check >/dev/null 2>"$D/err"
	check "a missing service socket: exit 1, named" [ $? = 1 ] && grep -q "nonexistent.sock" "$D/err"
	kill "$P" "$S" 2>/dev/null
}

scenario_http() {
	mkdir -p "$D/www"
	echo "hello from before the checkpoint" >"$D/www/index.html"
	port=$((20000 + $$ % 20000))
	"$W" exec /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$D/www" "$port" \
		>/dev/null 2>&1 </dev/null &
	P=$!
	i=0
	until curl -fsS "http://127.0.0.1:$port/" >"$D/got1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1
	done
	check "the HTTP server answers" grep -q "hello" "$D/got1"
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of python3 -m http.server" [ $? = 0 ]
	wait "$P" 2>/dev/null
	check "... it no longer answers" sh -c "! curl -fsS -m 2 http://127.0.0.1:$port/ >/dev/null 2>&1"
	cr restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore of the server" [ $? = 0 ]
	curl -fsS -m 5 "http://127.0.0.1:$port/" >"$D/got2" 2>"$D/err"
	check "the restored server answers a new client" grep -q "hello" "$D/got2"
	kill "$P" 2>/dev/null
}

"scenario_$name"
exit 0
