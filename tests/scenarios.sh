#!/bin/sh
# tests/scenarios.sh NAME DIR: one tier-1 scenario. test.sh runs each as pid
# 1 of its own pid namespace (unshare --pid --fork --mount-proc), so the
# restored pids are free and orphans are reaped at once. Each scenario
# prints "ok - ..." / "not ok - ..." lines (test.sh numbers them) and "#"
# lines, among them CRIU's log when something failed.
#
# Environment from test.sh: CR (the binary), CRIU (the CRIU to use), W (the
# workload helper, tests/workload.c), TMPDIR (the scenario's own, empty: cr
# makes its temporary directories there, and test.sh checks it is empty
# afterwards).
set -u
name=$1
D=$2
cd "$D" || exit 1

. "$(dirname "$0")/lib.sh"

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
	wait "$P" 2>/dev/null
	# whatever the caller's umask, images are process memory: root's alone
	"$W" counter "$D/c2" 4 &
	P=$!
	wait_above "$D/c2" 2
	(umask 000 && cr checkpoint --print-stats -W "$D/wd" -D "$D/new/ck2" "$P") >"$D/out" 2>"$D/err"
	check "under umask 000: checkpoint into a new directory with a new --work-path" [ $? = 0 ]
	check "... the directories it made are 0700 ($(stat -c '%a %n' "$D/new" "$D/new/ck2" "$D/wd" | tr '\n' ' '))" \
		[ "$(stat -c %a "$D/new" "$D/new/ck2" "$D/wd" | sort -u)" = 700 ]
	{ [ -z "$(find "$D/new" "$D/wd" -type f -perm /077)" ] && [ -n "$(find "$D/new" -name 'pages-*.img')" ]; }
	verdict $? "... no image, log or stats file is readable by others ($(find "$D/new" "$D/wd" -type f -perm /077 | wc -l) are)"
	wait "$P" 2>/dev/null
}

scenario_check() {
	cr check >"$D/out" 2>"$D/err"
	check "cr check exits 0 where CRIU works" [ $? = 0 ]
	check "... names CRIU's version" grep -q "^criu .*(4\.[0-9]" "$D/out"
	check "... reports pre-dump as impossible on this kernel, with the reason" grep -q "^pre-dump .*soft-dirty" "$D/out"
	check "... reports the cgroup layout" grep -q "^cgroups  *\(v1\|v2\|hybrid\)" "$D/out"
	check "... the v2 hierarchy: freezer yes, create yes" grep -q "^  v2 .*: freezer yes, create yes" "$D/out"
	[ -d /sys/fs/cgroup/freezer ] &&
		{ grep -q "^  v1 .*(freezer): freezer yes, create yes" "$D/out" &&
		grep -q "^  v1 .*(memory): freezer -, create yes" "$D/out"; }
		verdict $? "... the v1 freezer: freezer yes; the memory hierarchy: freezer -"
	check "... nothing on stderr (CRIU's own output is captured)" [ ! -s "$D/err" ]
	cr check --json >"$D/json" 2>"$D/err"
	check "... check --json: one document a strict parser takes, with the same verdicts" /usr/bin/python3 -c '
import json, sys
def strict(x): raise ValueError(x)
d = json.loads(open(sys.argv[1]).read(), parse_constant=strict)
assert d["checkpoint"]["ok"] is True and d["restore"]["ok"] is True and d["criu_check"]["ok"] is True
assert d["pre_dump"]["ok"] is False and "CONFIG_MEM_SOFT_DIRTY=y" in d["pre_dump"]["fix"]
assert d["criu_version"].startswith("4.") and {h["version"] for h in d["hierarchies"]} <= {"v1", "v2"}' "$D/json"
	check "... leaves no temporary directory (in \$TMPDIR, $TMPDIR)" [ -z "$(ls "$TMPDIR")" ]
	# Debian bookworm's own CRIU (3.17.1): too old for kernels whose vDSO
	# layout changed (6.18 here); where it works, check must say yes
	check "bookworm's CRIU is there (tests/criu-root.sh bookworm)" [ -x "${CRIU_OLD:-/nonexistent}" ]
	[ -x "${CRIU_OLD:-/nonexistent}" ] || return 0
	"$CR" -c none --criu "$CRIU_OLD" check >"$D/out" 2>"$D/err"
	rc=$?
	sed -n 's/^\(criu \|checkpoint \|  *fix\)/# bookworm: &/p' "$D/out"
	if [ $rc = 0 ]; then
		check "bookworm's CRIU 3.17.1 works on this kernel ($(uname -r)): check says yes" grep -q '^checkpoint   yes$' "$D/out"
	else
		{ [ $rc = 1 ] && [ "$(grep -c . "$D/err")" = 1 ] && grep -q '^cr: checkpoint and restore cannot work here: ' "$D/err" &&
			grep -q '^checkpoint   no: .*CRIU says: Error (' "$D/out"; }
		verdict $? "bookworm's CRIU 3.17.1 fails on this kernel ($(uname -r)): exit 1, CRIU's error quoted on the checkpoint line, one cr line on stderr"
		if grep -q '^checkpoint   no: .*vdso' "$D/out"; then
			check "... a vDSO error: the fix says CRIU 4.2 or newer" \
				sh -c "grep -A1 '^checkpoint' '$D/out' | grep -q 'fix: this CRIU is too old for this kernel: CRIU 4.2 or newer works'"
		fi
	fi
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
	{ [ $? = 1 ] && grep -q "nonexistent.sock" "$D/err"; }
	verdict $? "a missing service socket: exit 1, named"
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


# ========================= hooks and statistics =========================

scenario_hooks() {
	rec=$D/rec
	hk="echo \"\$CR_EVENT|\$CR_COMMAND|\${CR_PID-unset}|\$CR_IMAGE_PATH|\$CR_WORK_PATH\" >>$rec"
	{
		echo "[hooks]"
		for e in pre-dump post-dump pre-restore post-restore pre-resume post-resume; do echo "$e = $hk"; done
	} >"$D/cr.ini"
	chmod 600 "$D/cr.ini"
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 2
	"$CR" -c "$D/cr.ini" --criu "$CRIU" checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint with hooks from the ini file" [ $? = 0 ]
	wait "$P" 2>/dev/null
	cut -d'|' -f1 "$rec" | tr '\n' ' ' >"$D/order"
	check "hooks fire in CRIU's order: $(cat "$D/order")" [ "$(cat "$D/order")" = "pre-dump post-dump " ]
	check "... with CR_COMMAND, CR_PID and the temporary image directory as CR_IMAGE_PATH and CR_WORK_PATH" \
		grep -q "^post-dump|checkpoint|$P|$D/.ck.cr-[0-9]*|$D/.ck.cr-[0-9]*\$" "$rec"
	: >"$rec"
	"$CR" -c "$D/cr.ini" --criu "$CRIU" restore -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore with hooks" [ $? = 0 ]
	cut -d'|' -f1 "$rec" | tr '\n' ' ' >"$D/order"
	check "restore hooks in order: $(cat "$D/order")" \
		[ "$(cat "$D/order")" = "pre-restore post-restore pre-resume post-resume " ]
	check "... post-restore gets CRIU's pid ($P), the image directory and the command" \
		grep -q "^post-restore|restore|$P|$D/ck|$D/ck\$" "$rec"
	: >"$rec"
	"$CR" -c "$D/cr.ini" --criu "$CRIU" checkpoint --leave-running --hook "post-dump=echo flag >>$rec" -D "$D/ck2" "$P" 2>"$D/err"
	check "--hook beats [hooks] for its event; the others still run" [ "$(cat "$rec" | cut -d'|' -f1 | tr '\n' ' ')" = "pre-dump flag " ]
	cr checkpoint --hook "post-dump=exit 3" -D "$D/ck3" "$P" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "exit status 3" "$D/err"; }
	verdict $? "a failing post-dump hook fails the checkpoint (exit 1)"
	check "... the process keeps running, untraced" running "$P"
	{ [ ! -e "$D/ck3" ] && no_temp_dirs; }
	verdict $? "... no image directory, no temporary one"
	cr checkpoint --hook "pre-dump=sleep 20" --hook-timeout 1 -D "$D/ck4" "$P" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "timed out" "$D/err"; }
	verdict $? "a hook that times out fails the checkpoint"
	check "... the process keeps running" running "$P"
	printf '#!/bin/sh\nexit 0\n' >"$D/notexec"
	chmod 644 "$D/notexec"
	cr checkpoint --hook "pre-dump=$D/notexec" -D "$D/ck5" "$P" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "exit status 126" "$D/err"; }
	verdict $? "a hook that is not executable fails the checkpoint (exit 126 from sh)"
	{ [ ! -e "$D/ck5" ] && running "$P"; }
	verdict $? "... nothing left, the process runs"
}

scenario_stats() {
	"$W" counter "$D/c" 16 &
	P=$!
	wait_above "$D/c" 0 200
	cr checkpoint --leave-running --print-stats --json -D "$D/ck" "$P" >"$D/json" 2>"$D/err"
	check "checkpoint --print-stats --json" [ $? = 0 ]
	check "... the JSON parses" sh -c "/usr/bin/python3 -m json.tool \"$D/json\" >/dev/null"
	# jget FILE KEY[.KEY...]: a value of the JSON document in FILE
	jget() { /usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split('.'):
    d = d[k]
print(d)" "$@"; }
	pw=$(jget "$D/json" pages_written) fz=$(jget "$D/json" frozen_ms) wall=$(jget "$D/json" cr_wall_ms)
	check "... pages written ($pw) > 4096 for 16 MiB of data" [ "${pw%.*}" -gt 4096 ]
	check "... CRIU's frozen time ($fz ms) is not above cr's wall time ($wall ms)" \
		/usr/bin/python3 -c "import sys; sys.exit(not 0 < float('$fz') <= float('$wall'))"
	"$CR" stats --json "$D/ck" >"$D/json2" 2>"$D/err"
	check "cr stats DIR --json reproduces the figures" [ $? = 0 -a "$(jget "$D/json2" dump.pages_written)" = "$pw" -a \
		"$(jget "$D/json2" dump.frozen_ms)" = "$fz" ]
	"$CR" stats "$D/ck" >"$D/out" 2>"$D/err"
	check "cr stats DIR prints a table on stdout" grep -q "pages_written *$pw pages" "$D/out"
	cr checkpoint --print-stats -D "$D/ck2" "$P" >"$D/out" 2>"$D/err"
	{ grep -q "frozen_ms" "$D/err" && [ ! -s "$D/out" ]; }
	verdict $? "--print-stats prints the table on stderr, nothing on stdout"
	wait "$P" 2>/dev/null
	cr restore --print-stats --json -D "$D/ck2" >"$D/json3" 2>"$D/err"
	{ [ "$(jget "$D/json3" pid)" = "$P" ] && /usr/bin/python3 -c "import json; d=json.load(open('$D/json3')); assert d['pages_restored'] > 4096 and 'forking_ms' in d"; }
	verdict $? "restore --print-stats --json: JSON with the pid and the restore figures"
	"$CR" stats --json "$D/ck2" >"$D/json4" 2>"$D/err"
	check "cr stats --json of a directory with both stats files: one document, with dump and restore" \
		/usr/bin/python3 -c "import json; d=json.load(open('$D/json4')); assert d['dump']['command'] == 'dump' and d['restore']['pages_restored'] > 4096, d"
	kill "$P"
	# corrupt stats files: each way gets its own message, exit 1
	mkdir -p "$D/bad"
	cp "$D/ck/stats-dump" "$D/bad/stats-dump"
	printf 'XXXX' | dd of="$D/bad/stats-dump" conv=notrunc 2>/dev/null
	"$CR" stats "$D/bad" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "bad magic" "$D/err"; }
	verdict $? "a stats file with a bad magic: exit 1, says so"
	head -c 20 "$D/ck/stats-dump" >"$D/bad/stats-dump"
	"$CR" stats "$D/bad" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "truncated" "$D/err"; }
	verdict $? "a truncated stats file: exit 1, says so"
	{ head -c 8 "$D/ck/stats-dump"; printf '\377\377\0\0'; head -c 5000 /dev/zero; } >"$D/bad/stats-dump"
	"$CR" stats "$D/bad" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "oversized" "$D/err"; }
	verdict $? "an oversized stats file: exit 1, says so"
	rm "$D/bad/stats-dump"
	"$CR" stats "$D/bad" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "neither stats-dump" "$D/err"; }
	verdict $? "no stats file at all: exit 1, says where CRIU writes them"
}

# ===================== page server and lazy pages =======================

scenario_page_server() {
	"$W" counter "$D/c" 16 &
	P=$!
	wait_above "$D/c" 0 200
	port=$((30000 + $$ % 20000))
	mkfifo "$D/fifo"
	cat "$D/fifo" >"$D/ps.status" &
	RD=$!
	"$CR" -c none --criu "$CRIU" page-server --address 127.0.0.1 --port "$port" --status-fd 3 -D "$D/remote" \
		>"$D/ps.out" 2>"$D/ps.err" 3>"$D/fifo" &
	S=$!
	_i=0
	while kill -0 "$RD" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	check "page-server: --status-fd gets its byte when it listens" [ "$(wc -c <"$D/ps.status")" = 1 ]
	{ not kill -0 "$RD" 2>/dev/null &&
		running "$S"; }
	verdict $? "... and is closed then (the reader saw EOF while the page server runs)"
	check "page-server prints its port" [ "$(cat "$D/ps.out")" = "$port" ]
	cr checkpoint --page-server "127.0.0.1:$port" -D "$D/local" "$P" 2>"$D/err"
	{ [ $? = 0 ] && ls "$D/remote"/pages-*.img >/dev/null 2>&1; }
	verdict $? "checkpoint --page-server sends the pages there"
	check "... and none stay local" sh -c "! ls '$D/local'/pages-*.img 2>/dev/null"
	wait "$S"
	check "page-server exits 0 after serving the dump" [ $? = 0 ]
	wait "$P" 2>/dev/null
	c1=$(count "$D/c")
	cp -p "$D/remote"/* "$D/local/"
	cr verify "$D/local" >"$D/out" 2>"$D/err"
	check "cr verify: the local images are intact (exit 0)" [ $? = 0 ]
	check "... and it says the pages from the page server are not covered" \
		grep -q "memory pages went to a page server: they are not covered" "$D/out"
	cr restore -D "$D/local" >"$D/out" 2>"$D/err"
	{ [ $? = 0 ] && wait_above "$D/c" $((c1 + 21)) &&
		grep -q " ok" "$D/c"; }
	verdict $? "local images + remote pages restore; the data checks out"
}

scenario_lazy() {
	old=$(cat /proc/sys/fs/pipe-max-size)
	trap 'echo "$old" >/proc/sys/fs/pipe-max-size' EXIT
	echo 1048576 >/proc/sys/fs/pipe-max-size
	"$W" counter "$D/c" 64 &
	P=$!
	wait_above "$D/c" 0 300
	cr checkpoint --lazy-pages --page-server 127.0.0.1:1 -D "$D/ck" "$P" 2>"$D/err"
	check "lazy checkpoint with fs.pipe-max-size 1 MiB and no CAP_SYS_RESOURCE: refused (exit 1)" [ $? = 1 ]
	check "... says why and what to do" grep -q "sysctl -w fs.pipe-max-size=4194304" "$D/err"
	setpriv --bounding-set -sys_resource "$CR" -c none --criu "$CRIU" check >"$D/out" 2>"$D/err"
	{ grep -q "^lazy pages   no: fs.pipe-max-size is 1048576 and cr lacks CAP_SYS_RESOURCE" "$D/out" &&
		grep -A1 "^lazy pages" "$D/out" | grep -q "fix: sysctl -w fs.pipe-max-size=4194304" &&
		grep -q '^checkpoint   yes$' "$D/out"; }
	verdict $? "... cr check (without CAP_SYS_RESOURCE) says lazy pages no, why, and the sysctl that fixes it"
	{ running "$P" && [ ! -e "$D/ck" ] && no_temp_dirs; }
	verdict $? "... the process runs, nothing written"
	echo 4194304 >/proc/sys/fs/pipe-max-size
	CRIU_FAULT=1 cr checkpoint --lazy-pages --page-server 127.0.0.1:1 --status-fd 3 -D "$D/ck" "$P" 3>"$D/status" 2>"$D/err"
	{ [ $? = 1 -a ! -s "$D/status" ] && running "$P" && [ ! -e "$D/ck" ]; }
	verdict $? "a lazy checkpoint that fails (CRIU_FAULT=1): exit 1, --status-fd closed without its byte"
	kill "$P"
	wait "$P" 2>/dev/null
	# the restored pid must be free in the target's fresh pid namespace,
	# where cr, criu and criu lazy-pages take the first pids
	_i=0
	while [ $_i -lt 40 ]; do /bin/true; _i=$((_i + 1)); done
	rm -f "$D/c"
	"$W" counter "$D/c" 64 &
	P=$!
	wait_above "$D/c" 0 300
	port=$((30000 + $$ % 20000))
	"$CR" -c none --criu "$CRIU" checkpoint --lazy-pages --page-server "127.0.0.1:$port" --status-fd 3 -D "$D/ck" "$P" \
		--json 3>"$D/status" >"$D/lazy.json" 2>"$D/dump.err" &
	C=$!
	_i=0
	while [ ! -s "$D/status" ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	check "lazy checkpoint: --status-fd gets one byte when the page server is ready" [ "$(wc -c <"$D/status")" = 1 ]
	c1=$(count "$D/c")
	img=$(ls -d "$D"/.ck.cr-*)
	unshare --pid --fork --mount-proc sh -c "\"$CR\" -c none --criu \"$CRIU\" restore --lazy-pages \
		--page-server 127.0.0.1:$port -D \"$img\" >\"$D/out\" 2>\"$D/err\"; echo \$? >\"$D/rst\"; sleep 2" &
	R=$!
	wait "$C"
	check "the lazy checkpoint completes once the pages are served" [ $? = 0 -a -d "$D/ck" ]
	check "... its --json says frozen_ms is unknown, and why" grep -q '"frozen_ms":null,.*"note":"frozen_ms of a lazy dump' "$D/lazy.json"
	check "... cr stats on it says so too" sh -c "\"$CR\" stats \"$D/ck\" 2>&1 | grep -q 'frozen  *unknown'"
	wait "$R"
	check "restore --lazy-pages (own pid namespace) exits 0" [ "$(cat "$D/rst")" = 0 ]
	{ [ "$(count "$D/c")" -gt "$c1" ] && grep -q " ok" "$D/c"; }
	verdict $? "the restored counter counted on ($c1 -> $(count "$D/c")) with its 64 MiB intact"
}

# The manifest: every way a checkpoint can be damaged in transit is refused
# by restore (before CRIU reads anything: the tree never runs) and named by
# verify; a checkpoint made by plain CRIU restores, said to be unverified.
damage_case() { # damage_case NAME COMMAND-ON-$C EXPECTED-PATTERN
	rm -rf "$D/d"
	cp -a "$D/ck" "$D/d"
	C=$D/d
	eval "$2"
	cr verify "$C" >"$D/out" 2>"$D/err"
	st=$?
	{ [ $st = 1 ] && grep -q "$3" "$D/out"; }
	verdict $? "$1: verify exits 1 and names it ($(head -c 160 "$D/out"))"
	cr restore -D "$C" >"$D/out" 2>"$D/err"
	st=$?
	{ [ $st = 1 ] && grep -q "$3" "$D/err" && grep -q "failed verification .*nothing was restored" "$D/err" &&
		gone "$P"; }
	verdict $? "$1: restore refuses it (exit 1), names it, nothing runs"
}
scenario_integrity() {
	"$W" counter "$D/c" 32 &
	P=$!
	wait_above "$D/c" 3
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a counter with 32 MiB: exit 0, a manifest beside the images" [ $? = 0 -a -s "$D/ck/cr-manifest" ]
	wait "$P" 2>/dev/null
	n=$(grep -c '^f ' "$D/ck/cr-manifest")
	check "... it lists every image file ($n; the logs and statistics left out)" \
		[ "$n" = "$(ls "$D/ck" | grep -v -e '\.log$' -e '^stats-' -e '^cr-manifest$' | wc -l)" ]
	cr verify "$D/ck" >"$D/out" 2>"$D/err"
	check "verify of the intact checkpoint: exit 0, says so ($(cat "$D/out"))" \
		sh -c "[ $? = 0 ] && grep -q 'intact: $n files, 32 MiB in 1 directory' '$D/out'"
	cr verify --json "$D/ck" >"$D/out"
	check "... --json is one document a strict parser accepts" /usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['intact'] is True and j['problems'] == [] and j['files'] == $n, j" "$D/out"
	pg=$(cd "$D/ck" && ls pages-*.img | head -1)
	core=$(cd "$D/ck" && ls core-*.img | head -1)
	damage_case "a flipped byte in $pg" \
		"printf '\\\\377' | dd of=\$C/$pg bs=1 seek=70000 conv=notrunc 2>/dev/null" "$pg: changed: its contents differ"
	damage_case "a truncated $pg" "truncate -s 4096 \$C/$pg" "$pg: truncated: 4096 of its"
	damage_case "a deleted $core" "rm \$C/$core" "$core: missing"
	damage_case "an extra file" "echo x >\$C/extra.img" "extra.img: an extra file, not in the manifest"
	damage_case "a renamed file" "mv \$C/$core \$C/x-$core" "x-$core: an extra file"
	damage_case "an edited manifest" "sed -i 's/^f 0/f 1/; s/^f [1-9a-f]/f 0/' \$C/cr-manifest" "changed: its contents differ"
	cr verify --json "$D/d" >"$D/out"
	check "... verify --json on a damaged one: intact false, its problems listed" /usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['intact'] is False and len(j['problems']) >= 1 and all('file' in p and 'problem' in p for p in j['problems']), j" "$D/out"
	# --no-verify restores what verify refuses: here a byte of the
	# counter's data flipped, which it then reports itself (BAD)
	rm -rf "$D/d"
	cp -a "$D/ck" "$D/d"
	cr restore --no-verify -D "$D/ck" >/dev/null 2>"$D/err"
	check "an intact checkpoint restores (exit 0)" [ $? = 0 ]
	c1=$(count "$D/c")
	check "... and counts on with its data intact" sh -c ". '$(dirname "$0")/lib.sh'; wait_above '$D/c' $((c1 + 2)) && grep -q ' ok' '$D/c'"
	kill "$P"
	wait "$P" 2>/dev/null
	sleep 0.3
	# a checkpoint made by plain CRIU (no manifest): restored, with one line
	"$W" counter "$D/c2" 4 &
	P=$!
	wait_above "$D/c2" 2
	mkdir "$D/plain"
	"$CRIU" dump -t "$P" -D "$D/plain" -o dump.log 2>/dev/null
	check "a plain CRIU dump (criu dump, no manifest)" [ $? = 0 -a ! -e "$D/plain/cr-manifest" ]
	wait "$P" 2>/dev/null
	cr restore -D "$D/plain" >"$D/out" 2>"$D/err"
	{ [ $? = 0 ] && [ "$(grep -c . "$D/err")" = 1 ] && grep -q "has no cr-manifest (made by plain CRIU?): restoring it unverified" "$D/err"; }
	verdict $? "... restores (exit 0) with one line saying it was not verified"
	cr verify "$D/plain" >"$D/out" 2>&1
	check "... verify exits 1 on it, saying it cannot be verified" sh -c "[ $? = 1 ] && grep -q 'no cr-manifest' '$D/out'"
	kill "$P" 2>/dev/null
	wait "$P" 2>/dev/null
}

# ============================== inspect =================================

# cr inspect DIR [--json]: what a checkpoint holds, read from CRIU's images.
# Checked against /proc (tests/inspect_check.py snap, taken right before
# the dump), the text against the JSON, and on damaged images: each problem
# named with its file and byte offset, exit 1, never a signal.
IC=$(cd "$(dirname "$0")" && pwd)/inspect_check.py
# inspect_damaged DESC STATUS FILE-PATTERN [ARGS]: cr inspect of $D/d, which
# the caller damaged: exit STATUS, stderr matches FILE-PATTERN
inspect_damaged() {
	"$CR" inspect ${4:-} "$D/d" >"$D/out" 2>"$D/err"
	_st=$?
	{ [ $_st = "$2" ] && grep -q -e "$3" "$D/err"; }
	verdict $? "$1: exit $2 ($_st), stderr says /$3/ ($(head -c 200 "$D/err" | tr '\n' ' '))"
}
damage() { rm -rf "$D/d"; cp -a "$D/ck" "$D/d"; }
scenario_inspect() {
	# 1. the workload holding a file at an offset, a pipe and a socketpair
	mkdir -p "$D/files"
	"$W" fds "$D/c" "$D/files" &
	P=$!
	wait_above "$D/c" 3
	pipe=$(readlink "/proc/$P/fd/4")
	/usr/bin/python3 "$IC" snap "$P" >"$D/snap.json"
	cr checkpoint --leave-running -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint --leave-running of the workload with a file, a pipe and a socketpair open" [ $? = 0 ]
	"$CR" inspect "$D/ck" >"$D/text" 2>"$D/err"
	check "cr inspect DIR: exit 0, nothing on stderr" [ $? = 0 -a ! -s "$D/err" ]
	check "... the header: $(head -1 "$D/text")" grep -qFx "$D/ck: CRIU image version 2, $(uname -m)" "$D/text"
	check "... the process: pid $P, parent 0, its own session, comm workload, alive, 1 thread" \
		grep -qx "pid $P, parent 0, pgid $P, sid $P: workload, alive, 1 thread" "$D/text"
	check "... and nothing else: one process" [ "$(grep -c '^pid ' "$D/text")" = 1 ]
	check "... its memory: VMAs, KiB mapped, pages dumped ($(grep '^  memory:' "$D/text"))" \
		grep -qx "  memory: [1-9][0-9]* VMAs, [1-9][0-9]* KiB mapped; pages: [1-9][0-9]* dumped, 0 lazy, 0 in the parent" "$D/text"
	check "... fd 3 is the open file's path ($D/files/data)" grep -qFx "  fd 3: $D/files/data" "$D/text"
	{ grep -qFx "  fd 4: $pipe" "$D/text" && grep -qFx "  fd 5: $pipe" "$D/text"; }
	verdict $? "... fds 4 and 5 are the pipe, with the inode /proc showed ($pipe)"
	{ grep -qx "  fd 6: unix stream .*established" "$D/text" && grep -qx "  fd 7: unix stream .*established" "$D/text"; }
	verdict $? "... fds 6 and 7 are the unix stream socketpair"
	check "... fds 0-2 are /dev/null, in order, and there are no others: 8 fds ($(grep -c '^  fd ' "$D/text"))" \
		[ "$(grep '^  fd ' "$D/text" | head -3 | tr '\n' '|')" = "$(printf '  fd %s: /dev/null|' 0 1 2)" -a \
		"$(grep -c '^  fd ' "$D/text")" = 8 ]
	check "... the dump statistics, from stats-dump" grep -q "^  pages_written  *[1-9][0-9]* pages" "$D/text"
	"$CR" inspect --json "$D/ck" >"$D/json" 2>"$D/err"
	check "cr inspect --json DIR: exit 0" [ $? = 0 ]
	check "... a strict parser accepts it (python3 -m json.tool)" sh -c "/usr/bin/python3 -m json.tool '$D/json' >/dev/null"
	check "... it says what the text says ($(/usr/bin/python3 "$IC" text "$D/text" "$D/json" | tail -1))" \
		sh -c "/usr/bin/python3 '$IC' text '$D/text' '$D/json' >'$D/err'"
	check "... and what /proc showed before the dump ($(/usr/bin/python3 "$IC" compare "$D/snap.json" "$D/json" | tail -1))" \
		sh -c "/usr/bin/python3 '$IC' compare '$D/snap.json' '$D/json' >'$D/err'"
	check "... --json after the directory works too, and stats is CRIU's (pages_written as cr stats says)" \
		/usr/bin/python3 -c "
import json, subprocess, sys
a = json.loads(subprocess.run([sys.argv[1], 'inspect', sys.argv[2], '--json'], capture_output=True, check=True).stdout)
b = json.loads(subprocess.run([sys.argv[1], 'stats', '--json', sys.argv[2]], capture_output=True, check=True).stdout)
assert a == json.load(open(sys.argv[3])), 'differs from inspect --json DIR'
assert a['stats']['pages_written'] == b['dump']['pages_written'] > 0, (a['stats'], b)
assert a['dir'] == sys.argv[2] and a['img_version'] == 2 and a['parent'] == '', a" "$CR" "$D/ck" "$D/json"
	kill "$P"
	wait "$P" 2>/dev/null

	# 2. a tree: sh, its children (a subshell, a workload tree with a
	# session of its own) and grandchildren
	"$W" exec sh -c '"$0" tree 3 "$1" & (sleep 600 & sleep 600 & wait) & wait' "$W" "$D/t" >/dev/null 2>&1 &
	R=$!
	wait_above "$D/t.2" 3
	pids=$(tree_pids "$R" | sort -n)
	/usr/bin/python3 "$IC" snap "$R" >"$D/snap2.json"
	cr checkpoint --leave-running -D "$D/ck2" "$R" 2>"$D/err"
	check "checkpoint --leave-running of a tree of $(echo $pids | wc -w) processes, three levels deep" [ $? = 0 ]
	"$CR" inspect "$D/ck2" >"$D/text" 2>"$D/err"
	check "cr inspect of the tree: exit 0" [ $? = 0 ]
	bad=
	for p in $pids; do
		pp=$(awk '{ print $4 }' "/proc/$p/stat")
		[ "$p" = "$R" ] && pp=0
		grep -q "^pid $p, parent $pp, pgid $(awk '{ print $5 }' "/proc/$p/stat"), sid $(awk '{ print $6 }' "/proc/$p/stat"): $(cat "/proc/$p/comm"), alive, 1 thread\$" "$D/text" ||
			bad="$bad $p"
	done
	check "... every pid with its parent, pgid, sid and comm as /proc says (wrong or missing:${bad:- none})" [ -z "$bad" ]
	check "... and no other process ($(grep -c '^pid ' "$D/text") of $(echo $pids | wc -w))" \
		[ "$(grep -c '^pid ' "$D/text")" = "$(echo $pids | wc -w)" -a "$(echo $pids | wc -w)" = 7 ]
	"$CR" inspect --json "$D/ck2" >"$D/json" 2>"$D/err"
	check "... --json agrees with /proc ($(/usr/bin/python3 "$IC" compare "$D/snap2.json" "$D/json" | tail -1))" \
		sh -c "/usr/bin/python3 '$IC' compare '$D/snap2.json' '$D/json' >'$D/err'"
	check "... and with the text ($(/usr/bin/python3 "$IC" text "$D/text" "$D/json" | tail -1))" \
		sh -c "/usr/bin/python3 '$IC' text '$D/text' '$D/json' >'$D/err'"
	kill -KILL $(tree_pids "$R") 2>/dev/null
	wait "$R" 2>/dev/null

	# 3. damaged images
	core=core-$P.img
	damage
	_n=$(/usr/bin/python3 -c "import struct,sys; print(struct.unpack_from('<I', open(sys.argv[1],'rb').read(), 8)[0])" "$D/d/$core")
	truncate -s $((12 + _n / 2)) "$D/d/$core"
	inspect_damaged "$core cut in the middle of its entry ($_n bytes)" 1 "d/$core: truncated at byte 8 "
	check "... it still shows the rest: the process and its fds" \
		sh -c "grep -q '^pid $P, ' '$D/out' && grep -qFx '  fd 3: $D/files/data' '$D/out'"
	damage
	_n=$(/usr/bin/python3 -c "import struct,sys; print(struct.unpack_from('<I', open(sys.argv[1],'rb').read(), 8)[0])" "$D/d/mm-$P.img")
	truncate -s $((12 + _n - 1)) "$D/d/mm-$P.img"
	inspect_damaged "mm-$P.img one byte short of its entry" 1 "d/mm-$P.img: truncated at byte 8 (an entry of $_n bytes)"
	damage
	printf 'XXXX' | dd of="$D/d/pstree.img" conv=notrunc 2>/dev/null
	inspect_damaged "pstree.img with a bad magic" 1 "d/pstree.img: not the CRIU image its name says (magic 58585858"
	check "... and shows no process" not grep -q '^pid ' "$D/out"
	damage
	rm "$D/d/inventory.img"
	inspect_damaged "no inventory.img" 1 "d is not a checkpoint cr can read (its inventory.img is missing)"
	check "... nothing on stdout" [ ! -s "$D/out" ]
	inspect_damaged "... --json too" 1 "d is not a checkpoint" --json
	check "... nothing on stdout" [ ! -s "$D/out" ]
	damage
	head -c 86 /dev/urandom >"$D/d/inventory.img"
	inspect_damaged "an inventory.img of random bytes" 1 "d is not a checkpoint cr can read (its inventory.img is damaged"
	"$CR" inspect "$D/nonexistent" >"$D/out" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "$D/nonexistent: No such file" "$D/err"; }
	verdict $? "a directory that does not exist: exit 1, named"
	"$CR" inspect "$D/d/pstree.img" >"$D/out" 2>"$D/err"
	check "a file, not a directory: exit 1" [ $? = 1 ]
	damage
	if bump_version "$D/d/inventory.img" 1000; then
		inspect_damaged "inventory.img from a newer CRIU (img_version 1000)" 0 "made by a newer CRIU (image version 1000"
		{ grep -qFx "$D/d: CRIU image version 1000, $(uname -m)" "$D/out" &&
			grep -q "^pid $P, parent 0, .*: workload, alive, 1 thread" "$D/out" && grep -qFx "  fd 3: $D/files/data" "$D/out"; }
		verdict $? "... and goes on: the header says version 1000, the process and its fds are there"
	else
		fail "rewrite img_version in $D/d/inventory.img"
	fi
	damage
	rm "$D/d/pstree.img"
	"$CR" inspect "$D/d" >"$D/out" 2>"$D/err"
	{ [ $? = 0 ] && [ "$(wc -l <"$D/out")" = 1 ] && grep -q "^$D/d: a pre-dump (CRIU image version 2)" "$D/out"; }
	verdict $? "no pstree.img (as a pre-dump): exit 0, a one-line note ($(cat "$D/out"))"
	"$CR" inspect --json "$D/d" >"$D/out" 2>"$D/err"
	check "... --json: {\"pre_dump\":true}" /usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
assert j['pre_dump'] is True and j['img_version'] == 2, j" "$D/out"

	# garbage as files.img: random bytes, and CRIU's two magics followed
	# by entries of random bytes, the last one cut short (seeded: the same
	# 24 files every run; one that fails is kept as $D/files-seedN.img)
	damage
	head -c 65536 /dev/urandom >"$D/d/files.img"
	inspect_damaged "64 KiB of random bytes as files.img" 1 "d/files.img: not the CRIU image its name says"
	inspect_damaged "... --json" 1 "d/files.img: not the CRIU image its name says" --json
	check "... the JSON is still whole" sh -c "/usr/bin/python3 -m json.tool '$D/out' >/dev/null"
	bad=
	for seed in $(seq 1 24); do
		/usr/bin/python3 -c "
import random, struct, sys
r = random.Random(int(sys.argv[2]))
b = struct.pack('<II', 0x54564319, 0x56303138)
k = r.randint(1, 6)
for i in range(k):
    n = r.choice([0, 1, 2, 5, 17, 64, 300, 4000, r.randint(0, 70000)])
    p = bytes(r.getrandbits(8) for _ in range(n))
    # a valid length (the bytes may even decode), but the last entry's
    # runs past the end or wraps: no file of these is whole
    w = [n] if i < k - 1 else [n + 7, 0xffffffff, 0x7ffffffc, n + 1]
    b += struct.pack('<I', r.choice(w)) + p
open(sys.argv[1], 'wb').write(b)" "$D/d/files.img" "$seed"
		for j in "" --json; do
			"$CR" inspect $j "$D/d" >"$D/out" 2>"$D/err"
			st=$?
			if [ $st != 1 ] || ! grep -q "d/files.img: .* byte [0-9]" "$D/err"; then
				bad="$bad $seed${j:+(json)}:exit-$st"
				cp "$D/d/files.img" "$D/files-seed$seed.img"
			fi
		done
	done
	check "24 files.img of the right magics and random entries: each exit 1, files.img and a byte offset named (failed:${bad:- none})" [ -z "$bad" ]
	check "... cr inspect of the intact checkpoint still exits 0 (the damage was in the copies)" sh -c "'$CR' inspect '$D/ck' >/dev/null 2>&1"
}

# ============================ migration =================================

. "$(dirname "$0")/hosts.sh"

scenario_migrate() {
	trap net_down EXIT
	net_up && hosts_up || { fail "set up hosts A and B"; return; }
	export D W CR CRIU
	echo s3cret >"$D/tok"
	chmod 600 "$D/tok"
	# --to with a token
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4444 --token-file "$D/tok" -D "$D/in" \
		>"$D/rcv.out" 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	source_run --to 10.77.0.2:4444 --token-file "$D/tok" >"$D/src.out"
	c1=$(count "$D/c")
	check "migrate --to: exit 0 ($(cat "$D/src.out"))" [ "$(field rc "$D/src.out")" = 0 ]
	check "... nothing of the tree is left on A" [ "$(field alive "$D/src.out")" = no ]
	check "... the counter continues on B, never going back ($c1 -> $(sleep 1; count "$D/c"))" \
		wait_above "$D/c" $((c1 + 5))
	check "... and it is B that runs it (the counter file is shared)" b_runs_workload
	check "... its data is intact" grep -q " ok" "$D/c"
	check "... progress lines and a summary with the downtime" grep -q "^cr: done: stop-copy, 0 pre-dump iterations, total .* downtime [0-9]* ms" "$D/err"
	check "... --mode auto says why it is not pre-copy" grep -q "^cr: (auto: no pre-copy: this kernel has no soft-dirty tracking" "$D/err"
	wait "$R"
	check "... the receiver exits 0; -D keeps the images" [ $? = 0 -a -f "$D/in/img/inventory.img" ]
	on_b pkill -x workload
	# --via: the receiver is the command's stdio
	rm -f "$D/c"
	on_b sh -c 'sleep 10' >/dev/null 2>&1 &
	BURN=400 source_run --via "$VIA_B $CR -c none --criu $CRIU receive --stdio -D $D/in2" >"$D/src.out"
	c1=$(count "$D/c")
	check "migrate --via: exit 0 ($(cat "$D/src.out"))" [ "$(field rc "$D/src.out")" = 0 ]
	{ [ "$(field alive "$D/src.out")" = no ] && wait_above "$D/c" $((c1 + 5)); }
	verdict $? "... nothing left on A, the counter continues on B"
	on_b pkill -x workload

	# --cgroup at both ends: the tree of a cgroup on A, into a new one on B
	trap 'cg_cleanup; net_down' EXIT
	mkdir "$V2/$CGN-ma"
	on_a sh -c 'i=0; while [ $i -lt 1100 ]; do /bin/true; i=$((i + 1)); done
		echo $$ >"$1/cgroup.procs"; exec "$W" tree 2 "$D/t"' sh "$V2/$CGN-ma" &
	wait_above "$D/t.1" 2
	on_a "$CR" -c none --criu "$CRIU" migrate --cgroup "$V2/$CGN-ma" \
		--via "$VIA_B $CR -c none --criu $CRIU receive --stdio --cgroup $V2/$CGN-mb" 2>"$D/err"
	check "migrate --cgroup to receive --cgroup: exit 0" [ $? = 0 ]
	check "... the cgroup on A is empty" [ -z "$(cat "$V2/$CGN-ma/cgroup.procs")" ]
	check "... the tree's two processes are in the new cgroup on B" [ "$(wc -l <"$V2/$CGN-mb/cgroup.procs")" = 2 ]
	c1=$(count "$D/t.1")
	check "... and count on" wait_above "$D/t.1" $((c1 + 3))
	on_b pkill -x workload

	# post-copy of 256 MiB through the --via command's stdio, and over --to:
	# the tree runs on B at once and fetches its memory, which must arrive
	# whole (the workload checks it)
	old=$(cat /proc/sys/fs/pipe-max-size)
	trap 'echo "$old" >/proc/sys/fs/pipe-max-size; cg_cleanup; net_down' EXIT
	echo 4194304 >/proc/sys/fs/pipe-max-size
	rm -f "$D/c"
	MIB=256 BURN=800 source_run --mode post-copy --json --via "$VIA_B $CR -c none --criu $CRIU receive --stdio" >"$D/src.out"
	c1=$(count "$D/c")
	check "post-copy --via, 256 MiB: exit 0 ($(grep P= "$D/src.out"))" [ "$(field rc "$D/src.out")" = 0 -a "$(field alive "$D/src.out")" = no ]
	{ wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "... the counter continues on B with its 256 MiB intact"
	check "... the progress says there is no way back" grep -q "post-copy: the tree runs on the target .* no way back" "$D/err"
	cp "$D/src.out" "$D/json.out"
	check "... --json summary: mode, downtime, MiB moved" /usr/bin/python3 -c "
import json, sys
j = json.loads(open(sys.argv[1]).readline())
assert j['mode'] == 'post-copy' and j['downtime_ms'] > 0 and j['mib_moved'] > 256, j
print('#', j)" "$D/json.out"
	on_b pkill -x workload
	rm -f "$D/c"
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4446 --token-file "$D/tok" >/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	MIB=256 BURN=900 source_run --mode post-copy --to 10.77.0.2:4446 --token-file "$D/tok" >"$D/src.out"
	c1=$(count "$D/c")
	wait "$R"
	{ [ $? = 0 -a "$(field rc "$D/src.out")" = 0 ] &&
		wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "post-copy --to, 256 MiB: both exit 0, the data is intact on B"
	on_b pkill -x workload
	sleep 30 &
	S=$!
	"$CR" -c none --criu "$CRIU" migrate --mode pre-copy --via true "$S" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "no soft-dirty memory tracking" "$D/err" && running "$S"; }
	verdict $? "--mode pre-copy on a kernel without soft-dirty tracking: refused before anything (exit 1), says why"
	kill "$S"

	# failures: the tree must still run on A each time, nothing on B
	T=$(($(on_a cat /proc/sys/kernel/ns_last_pid) + 1000))
	on_b sh -c "echo $((T - 1)) >/proc/sys/kernel/ns_last_pid; exec sleep 60" &
	sleep 0.3
	BURN=0 SETPID=$T source_run --via "$VIA_B $CR -c none --criu $CRIU receive --stdio -D $D/in3" >"$D/src.out"
	{ [ "$(field rc "$D/src.out")" = 1 ] &&
		grep -q "pid $T of the tree is taken on the target" "$D/err"; }
	verdict $? "pid taken on B: refused, exit 1 ($(cat "$D/src.out"))"
	check "... the tree still runs on A" [ "$(field alive "$D/src.out")" = yes ]
	echo wrong >"$D/tok2"
	chmod 600 "$D/tok2"
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4445 --token-file "$D/tok" --exit-on-bad-peer -D "$D/in4" \
		>/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	BURN=500 source_run --to 10.77.0.2:4445 --token-file "$D/tok2" >"$D/src.out"
	wait "$R"
	check "wrong token, --exit-on-bad-peer: the receiver does nothing (exit 1), the sender exits 1" [ $? = 1 -a "$(field rc "$D/src.out")" = 1 ]
	check "... the receiver names the peer and why" grep -q "^cr: receive: peer 10.77.0.1:[0-9]*: did not present the token of --token-file" "$D/rcv.err"
	check "... the token appears in no message" sh -c "! grep -q 's3cret\|wrong' '$D/err' '$D/rcv.err'"
	check "... the tree still runs on A, B has no image directory" [ "$(field alive "$D/src.out")" = yes -a ! -e "$D/in4" ]
	BURN=600 source_run --via "$VIA_B env CRIU_FAULT=6 $CR -c none --criu $CRIU receive --stdio -D $D/in5" >"$D/src.out"
	check "restore fails on B (CRIU_FAULT=6): exit 1, the tree runs on A again" [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes ]
	check "... and nothing runs on B" not b_runs_workload
	# the receiver dies while the dump streams its pages (16 MiB of 256
	# have arrived)
	cat >"$D/cut.sh" <<EOF
"$CR" -c none --criu "$CRIU" receive --stdio -D "$D/in6" <&0 & R=\$!
i=0; while [ -z "\$(find "$D/in6" -name 'pages-*.img' -size +16M 2>/dev/null)" ] && [ \$i -lt 3000 ]; do sleep 0.01; i=\$((i + 1)); done
kill -9 \$R
EOF
	MIB=256 BURN=700 source_run --via "$VIA_B sh $D/cut.sh" >"$D/src.out"
	check "the receiver is killed while the dump streams the pages: exit 1, the tree runs on A again" [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes ]
	check "... and nothing runs on B" not b_runs_workload
	# the network goes away mid-transfer (--to, 256 MiB): both sides give up
	# after --timeout, the tree resumes on A
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4447 --token-file "$D/tok" --timeout 4 -D "$D/in7" \
		>/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	( i=0; while [ -z "$(find "$D/in7" -name 'pages-*.img' -size +16M 2>/dev/null)" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	  ip -n "$NA" link set "v$NA" down ) &
	MIB=256 BURN=1000 source_run --to 10.77.0.2:4447 --token-file "$D/tok" --timeout 4 >"$D/src.out"
	wait "$R"
	check "the network is cut while the dump streams the pages: both exit 1, the tree runs on A again" [ $? = 1 -a "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes ]
	check "... and nothing runs on B" not b_runs_workload
	ip -n "$NA" link set "v$NA" up
	# a receiver interrupted while it waits for its peer (it says so, and
	# exits 1), and once the images flow into its temporary directory in
	# $TMPDIR (test.sh gives each scenario its own): nothing is left
	on_b "$CR" -v -c none --criu "$CRIU" receive --listen 10.77.0.2:4448 --token-file "$D/tok" >/dev/null 2>"$D/rcv.err" &
	R=$!
	i=0; while ! grep -q "listening on" "$D/rcv.err" && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
	on_b pkill -INT -f "receive --listen 10.77.0.2:4448"
	wait "$R"
	{ [ $? = 1 ] && grep -q "interrupted by SIGINT while waiting for a sender on 10.77.0.2:4448" "$D/rcv.err"; }
	verdict $? "receive --listen interrupted by SIGINT before a peer came: exit 1, says so"
	# (the images' directory may be a tmpfs no path shows: the receiver's
	# -v line on where they go says that the transfer begins)
	on_b "$CR" -v -c none --criu "$CRIU" receive --listen 10.77.0.2:4449 --token-file "$D/tok" >/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	( i=0; while ! grep -q "the images go to" "$D/rcv.err" && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	  on_b pkill -INT -f "receive --listen 10.77.0.2:4449" ) &
	MIB=256 BURN=1100 source_run --to 10.77.0.2:4449 --token-file "$D/tok" >"$D/src.out"
	wait "$R"
	check "receive interrupted mid-transfer: both exit 1, the tree runs on A again" [ $? = 1 -a "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes ]
	check "... and nothing runs on B" not b_runs_workload
	check "... no temporary image directory left on either side (\$TMPDIR: $(echo $(ls "$TMPDIR")))" [ -z "$(ls "$TMPDIR")" ]
}

# Stop-copy streams the dump's pages to a page server on the target, which
# keeps the images in a private tmpfs when they fit (attached nowhere, gone
# when its last fd closes): the source writes only the small images, the
# target none, and the tmpfs's memory (Shmem) is given back on every path.
shmem_mib() { sed -n 's/^Shmem: *\([0-9]*\) kB/\1/p' /proc/meminfo | awk '{ print int($1 / 1024) }'; }
# back to within 32 MiB of $1 within 5 s
shmem_back() {
	_i=0
	while [ "$(shmem_mib)" -gt $(($1 + 32)) ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	[ "$(shmem_mib)" -le $(($1 + 32)) ]
}
scenario_migrate_stream() {
	trap net_down EXIT
	net_up && hosts_up || { fail "set up hosts A and B"; return; }
	export D W CR CRIU
	RCV="$VIA_B $CR -v -c none --criu $CRIU receive --stdio"
	s0=$(shmem_mib)
	MIB=256 BURN=300 source_run --mode stop-copy --json --via "$RCV" >"$D/src.out"
	c1=$(count "$D/c")
	check "stop-copy of 256 MiB, images in the target's tmpfs: exit 0, nothing left on A ($(grep P= "$D/src.out"))" \
		[ "$(field rc "$D/src.out")" = 0 -a "$(field state "$D/src.out")" = - ]
	{ wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "... it counts on on B with its 256 MiB intact"
	check "... the receiver kept the images in a private tmpfs" grep -q "^cr: receive: the images go to a private tmpfs" "$D/err"
	check "... the source sent only the small images, under 1 MiB ($(sed -n 's/^cr: images sent (\(.*\));.*/\1/p' "$D/err"))" \
		grep -q "^cr: images sent ([0-9]* files, [0-9][0-9]\{0,2\} KiB)" "$D/err"
	check "... --json: the downtime's parts add up (dump + transfer + restore + waits)" /usr/bin/python3 -c "
import json, sys
j = json.loads([l for l in open(sys.argv[1]) if l.startswith('{')][0])
parts = j['dump_ms'] + j['transfer_ms'] + j['restore_ms'] + j['wait_ms']
assert j['dump_ms'] > 0 and j['restore_ms'] > 0 and j['wait_ms'] >= 0 and parts == j['downtime_ms'], j
print('#', j)" "$D/src.out"
	check "... the tmpfs's memory is given back (Shmem $s0 -> $(shmem_mib) MiB)" shmem_back "$s0"
	check "... no image directory on either side (\$TMPDIR: $(echo $(ls "$TMPDIR")))" [ -z "$(ls "$TMPDIR")" ]
	on_b pkill -x workload

	rm -f "$D/c"
	MIB=64 BURN=400 source_run --mode stop-copy --via "$RCV --tmpfs no" >"$D/src.out"
	c1=$(count "$D/c")
	{ [ "$(field rc "$D/src.out")" = 0 ] && wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c" &&
		grep -q "^cr: receive: the images go to disk (--tmpfs no)" "$D/err"; }
	verdict $? "--tmpfs no: the images go to the target's disk, and the tree moves"
	on_b pkill -x workload

	# the target's restore fails, and the receiver is killed while the
	# pages stream into its tmpfs: the tree runs on A, the tmpfs is gone
	rm -f "$D/c"
	MIB=256 BURN=500 source_run --mode stop-copy --via "$VIA_B env CRIU_FAULT=6 $CR -c none --criu $CRIU receive --stdio" >"$D/src.out"
	{ [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes -a "$(field traced "$D/src.out")" = no ] &&
		not b_runs_workload; }
	verdict $? "streamed stop-copy, the target's restore fails (CRIU_FAULT=6): exit 1, the tree runs on A untraced, nothing on B"
	check "... the tmpfs's memory is given back (Shmem $s0 -> $(shmem_mib) MiB)" shmem_back "$s0"
	on_a pkill -x workload
	rm -f "$D/c"
	cat >"$D/kill.sh" <<EOF
"$CR" -c none --criu "$CRIU" receive --stdio <&0 & R=\$!
i=0; while [ "\$(sed -n 's/^Shmem: *\([0-9]*\) kB/\1/p' /proc/meminfo)" -lt $(((s0 + 48) * 1024)) ] && [ \$i -lt 3000 ]; do sleep 0.01; i=\$((i + 1)); done
kill -9 \$R
EOF
	MIB=256 BURN=600 source_run --mode stop-copy --via "$VIA_B sh $D/kill.sh" >"$D/src.out"
	{ [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes -a "$(field traced "$D/src.out")" = no ] &&
		not b_runs_workload; }
	verdict $? "streamed stop-copy, the receiver SIGKILLed with 48 MiB in its tmpfs: exit 1, the tree runs on A untraced, nothing on B"
	check "... the tmpfs's memory is given back though cr was killed (Shmem $s0 -> $(shmem_mib) MiB)" shmem_back "$s0"
	on_a pkill -x workload
	return 0
}

# Post-copy with a program built the ordinary way (gcc, glibc): its rseq
# area is faulted in by CRIU's restorer before the target's post-restore,
# so the source's page server must already serve (it used to deadlock).
# And the ways it can break: the target's restore fails (the source must
# run on, untraced), the stream breaks after the target's tree ran (the
# source stays stopped and cr says how to settle it), the target stops
# answering, and a receiver that never answers at all (bounded without
# --timeout).
scenario_migrate_postcopy() {
	old=$(cat /proc/sys/fs/pipe-max-size)
	trap 'echo "$old" >/proc/sys/fs/pipe-max-size; net_down' EXIT
	echo 4194304 >/proc/sys/fs/pipe-max-size
	net_up && hosts_up || { fail "set up hosts A and B"; return; }
	glibc_workload || { fail "build the glibc workload (gcc)"; return; }
	W=$WG WNAME=workload-glibc
	export D W CR CRIU
	echo s3cret >"$D/tok"
	chmod 600 "$D/tok"
	RCV="$VIA_B $CR -c none --criu $CRIU receive --stdio"
	MIB=64 BURN=300 source_run --mode post-copy --via "$RCV" >"$D/src.out"
	c1=$(count "$D/c")
	check "post-copy --via of a glibc program, 64 MiB: exit 0, nothing left on A ($(cat "$D/src.out"))" \
		[ "$(field rc "$D/src.out")" = 0 -a "$(field state "$D/src.out")" = - ]
	{ wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "... it counts on on B ($c1 -> $(count "$D/c")) with its data intact"
	on_b pkill -x workload-glibc
	rm -f "$D/c"
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4450 --token-file "$D/tok" >/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	MIB=64 BURN=400 source_run --mode post-copy --to 10.77.0.2:4450 --token-file "$D/tok" >"$D/src.out"
	wait "$R"
	st=$?
	c1=$(count "$D/c")
	{ [ $st = 0 -a "$(field rc "$D/src.out")" = 0 -a "$(field state "$D/src.out")" = - ] &&
		wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "post-copy --to of a glibc program: both exit 0, it counts on on B, data intact"
	on_b pkill -x workload-glibc

	# the target's restore fails: early (CRIU_FAULT=2), and after the
	# tree was restored and the restorer had fetched pages (6)
	for f in 2 6; do
		rm -f "$D/c"
		MIB=64 BURN=$((400 + f * 50)) source_run --mode post-copy --via "$VIA_B env CRIU_FAULT=$f $CR -c none --criu $CRIU receive --stdio" >"$D/src.out"
		{ [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes -a "$(field traced "$D/src.out")" = no ] &&
			grep -q "the target did not restore the tree: cr ended CRIU's page server, and CRIU resumed the tree here" "$D/err"; }
		verdict $? "post-copy, the target's restore fails (CRIU_FAULT=$f): exit 1, the tree runs on A untraced, cr says why ($(cat "$D/src.out"))"
		c1=$(count "$D/c")
		{ wait_above "$D/c" $((c1 + 3)) && grep -q " ok" "$D/c" && not b_runs_workload; }
		verdict $? "... it counts on on A with its data intact ($c1 -> $(count "$D/c")), nothing runs on B"
		on_a pkill -x workload-glibc
	done

	# the target stops answering before COMMIT (its receiver is stopped
	# once the images are there): no --timeout, a short --stall-timeout;
	# the source gives up and runs on, and B is left with nothing
	rm -rf "$D/c" "$D/in1"
	( i=0; while [ ! -f "$D/in1/img/inventory.img" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	  on_b pkill -STOP -f "receive --stdio -D $D/in1" ) &
	t0=$(date +%s)
	MIB=16 BURN=600 source_run --mode post-copy --stall-timeout 2 --via "$RCV -D $D/in1" >"$D/src.out"
	t1=$(date +%s)
	{ [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes -a "$(field traced "$D/src.out")" = no ] &&
		grep -q "the target's restore: the target sent nothing and fetched no page for [0-9]* s" "$D/err"; }
	verdict $? "post-copy, the target stops answering before COMMIT: without --timeout the source gives up in $((t1 - t0)) s, names the step, runs on"
	on_b pkill -KILL -f "receive --stdio -D $D/in1"
	sleep 0.5
	check "... nothing runs on B" not b_runs_workload
	on_a pkill -x workload-glibc

	# the stream breaks once the target's tree runs (a slow link, cut):
	# the source must not resume (two copies) nor kill (none): it stays
	# stopped, untraced, and cr prints the commands that settle it
	rm -f "$D/c"
	tc -n "$NA" qdisc add dev "v$NA" root tbf rate 16mbit burst 64kbit latency 500ms
	on_b "$CR" -c none --criu "$CRIU" receive --listen 10.77.0.2:4451 --token-file "$D/tok" --timeout 5 >/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	( i=0; while ! b_runs_workload && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
	  sleep 0.5; ip -n "$NA" link set "v$NA" down ) &
	MIB=128 BURN=700 source_run --mode post-copy --timeout 5 --to 10.77.0.2:4451 --token-file "$D/tok" >"$D/src.out"
	wait "$R"
	st=$?
	P=$(field P "$D/src.out")
	{ [ "$(field rc "$D/src.out")" = 1 -a "$(field state "$D/src.out")" = T -a "$(field traced "$D/src.out")" = no ] &&
		grep -q "post-copy broke off once the target's tree could run .*kill -KILL $P.*kill -CONT $P" "$D/err"; }
	verdict $? "post-copy, the stream breaks after the target's tree ran: exit 1, the source stays stopped and untraced, cr prints kill -KILL / kill -CONT ($(cat "$D/src.out"))"
	check "... the receiver exits 1 and kills its copy (its memory is not complete)" [ $st = 1 ]
	sleep 0.5
	check "... nothing runs on B" not b_runs_workload
	c1=$(count "$D/c")
	on_a kill -CONT "$P"
	{ wait_above "$D/c" $((c1 + 3)) && grep -q " ok" "$D/c"; }
	verdict $? "... resumed as cr said (kill -CONT), it counts on on A with its data intact ($c1 -> $(count "$D/c"))"
	on_a pkill -x workload-glibc
	ip -n "$NA" link set "v$NA" up

	# a receiver that never answers: bounded without --timeout
	t0=$(date +%s)
	MIB=16 BURN=800 source_run --stall-timeout 2 --via "sleep 60" >"$D/src.out"
	t1=$(date +%s)
	{ [ "$(field rc "$D/src.out")" = 1 -a "$(field alive "$D/src.out")" = yes ] &&
		grep -q "the other side sent nothing for [0-9]* s during the receiver's checks" "$D/err"; }
	verdict $? "a receiver that never answers: without --timeout, exit 1 after $((t1 - t0)) s, the step named, the tree runs on"
	on_a pkill -x workload-glibc
	pkill -f "^sleep 60$"
	return 0
}

# receive --listen among stray and hostile peers, as sshd: a second address
# of host A (10.77.0.3) opens 35 bad connections (20 silent, 10 wrong
# tokens, garbage, an oversized frame, a truncated one, an old protocol, a
# slow-loris) while the real sender (10.77.0.1) migrates 64 MiB. The bad
# peers come in a fixed order so that each kind meets the receiver in a slot
# of its own and every line is predictable (peers.py below says when); the
# rate limit per address and --exit-on-bad-peer come after.
# lbp_ended PID: a child of this shell has ended (gone, or a zombie)
lbp_ended() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# lbp_reap PID TENTHS [PORT]: wait for the child PID at most TENTHS tenths
# of a second, then kill it, and the receiver on PORT in host B (the child
# is nsenter); its exit status (137 when it had to be killed)
lbp_reap() {
	_i=0
	while ! lbp_ended "$1" && [ $_i -lt "$2" ]; do sleep 0.1; _i=$((_i + 1)); done
	if ! lbp_ended "$1"; then
		[ -n "${3:-}" ] && on_b pkill -9 -f "listen 10.77.0.2:$3"
		kill -9 "$1" 2>/dev/null
	fi
	wait "$1"
}
lbp_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# cr, criu or python3 left on either host (B's pid namespace is a child of A's)
lbp_left() { echo $(on_a pgrep -x 'cr|criu|python3'; on_b pgrep -x 'cr|criu|python3'); }
scenario_listen_bad_peers() {
	trap net_down EXIT
	net_up && hosts_up || { fail "set up hosts A and B"; return; }
	ip -n "$NA" addr add 10.77.0.3/24 dev "v$NA" || { fail "give host A a second address, 10.77.0.3"; return; }
	export D W CR CRIU
	echo s3cret >"$D/tok"
	chmod 600 "$D/tok"
	# peers.py MODE PORT [RECEIVER-STDERR]: the bad peers, all from 10.77.0.3.
	# One line per connection: "peer KIND PORT GOT HOW T", GOT what came (-
	# nothing, busy a BUSY frame, else hex), HOW how it ended (eof, reset,
	# timeout), T when, in seconds from the start; then "started N".
	cat >"$D/peers.py" <<'EOF'
import os, select, socket, struct, sys, threading, time

mode, port = sys.argv[1], int(sys.argv[2])
T0 = time.monotonic()
lock = threading.Lock()
BUSY = struct.pack("<II", 15, 0)
PFX = "cr-migrate 2 criu=40201 pid=4194000 mib=64 pids=4194000 token="
started = 0

def now():
    return time.monotonic() - T0

def say(*a):
    with lock:
        print(*a, flush=True)

def hello(body):
    p = body.encode()
    return struct.pack("<II", 1, len(p)) + p

def connect():
    global started
    s = socket.socket()
    s.bind(("10.77.0.3", 0))
    s.settimeout(10)
    s.connect(("10.77.0.2", port))
    s.settimeout(None)
    with lock:
        started += 1
    return s

def send(s, data, shut=False):
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def rest(s, kind, drip=b""):
    """Until the receiver closes the connection (at most 20 s), sending
    drip one byte a second meanwhile."""
    sport, got, how, sent, end = s.getsockname()[1], b"", "timeout", 0, time.monotonic() + 20
    while time.monotonic() < end:
        if select.select([s], [], [], 1.0)[0]:
            try:
                d = s.recv(4096)
            except OSError:
                how = "reset"
                break
            if not d:
                how = "eof"
                break
            got += d
        elif sent < len(drip):
            try:
                s.send(drip[sent:sent + 1])
                sent += 1
            except OSError:
                how = "reset"
                break
    s.close()
    say("peer", kind, sport, "-" if not got else "busy" if got == BUSY else got.hex(), how, "%.2f" % now())

def peer(kind, data=b"", shut=False, drip=b""):
    try:
        s = connect()
    except OSError as e:
        say("peer", kind, "-", "-", "refused:" + type(e).__name__, "%.2f" % now())
        return
    send(s, data, shut)
    rest(s, kind, drip)

def waiting(kind, drip=b""):
    """Connected now (in this order), then waits in a thread of its own."""
    s = connect()
    th = threading.Thread(target=rest, args=(s, kind, drip))
    th.start()
    return s, th

def bg(kind, **kw):
    th = threading.Thread(target=peer, args=(kind,), kwargs=kw)
    th.start()
    return th

if mode == "hostile":
    # the receiver has 4 slots (--max-unauthenticated) and a grace time of
    # 3 s. (1) one at a time, each after the one before was closed: a
    # truncated frame, an old protocol, a wrong token (its address now waits
    # 1 s: ~1.05 s); (2) the slots filled: a silent peer, a slow-loris, and
    # the garbage and oversized peers, silent for now (their grace time ends
    # at ~4.05 s, after the address's wait); (3) 26 more at once, each told
    # BUSY; "ready": the real sender starts and is told BUSY too, once a
    # second; (4) at ~3 s, just after one of its BUSYs (while it sleeps),
    # the garbage and oversized peers send and go, two more silent ones take
    # their slots (their grace time ends at ~6 s); (5) ~4.05 s: the silent
    # peer and the slow-loris run out of time; the sender gets in at its
    # next try (~5 s), the two silent ones still wait: dropped.
    junk = os.urandom(64)
    while junk[:4] == b"\1\0\0\0":
        junk = os.urandom(64)
    peer("truncated", data=struct.pack("<II", 1, 100) + b"cr-migrate", shut=True)
    peer("old-protocol", data=hello("cr-migrate 1 criu=40201 pid=4194000 pids=4194000 token=s3cret"))
    peer("wrong-1", data=hello(PFX + "wrong-1"))
    hold = [waiting("silent-1"), waiting("slow-loris", drip=hello(PFX + "wrong-loris"))]
    g, gt = waiting("garbage")
    o, ot = waiting("oversized")
    flood = [bg("silent-%d" % i) for i in range(4, 21)] + \
        [bg("wrong-%d" % i, data=hello(PFX + "wrong-%d" % i)) for i in range(2, 11)]
    for th in flood:
        th.join()
    say("ready %.2f" % now())

    def honest_busy():
        try:
            with open(sys.argv[3]) as f:
                return sum(": peer 10.77.0.1:" in l for l in f)
        except OSError:
            return 0
    while now() < 2.9:
        time.sleep(0.01)
    n0, synced = honest_busy(), "unsynced"
    while now() < 3.8:
        if honest_busy() > n0:
            synced = "synced"
            break
        time.sleep(0.005)
    send(g, junk)
    gt.join()
    hold.append(waiting("silent-2"))
    send(o, struct.pack("<II", 1, 0x7fffffff) + b"cr-migrate 2 ")
    ot.join()
    hold.append(waiting("silent-3"))
    say("swapped %.2f %s" % (now(), synced))
    for s, th in hold:
        th.join()
elif mode == "ratelimit":
    # three wrong tokens at once: the receiver reads the first at once, the
    # second 1 s after it, the third 2 s after that
    for th in [bg("wrong-%d" % i, data=hello(PFX + "wrong-%d" % i)) for i in range(1, 4)]:
        th.join()
elif mode == "strict":
    # silent for a second (still open then?), then garbage
    s = connect()
    early = select.select([s], [], [], 1.0)[0]
    say("early", "yes" if early else "no")
    send(s, b"\x07" * 64)
    rest(s, "garbage")
say("started", started)
EOF
	RCV="$CR -c none --criu $CRIU receive --token-file $D/tok --grace-time 3 --timeout 60"

	# the baseline: the same migration, nobody else around
	on_b $RCV --listen 10.77.0.2:4460 >/dev/null 2>"$D/rcv0.err" &
	R=$!
	sleep 0.5
	t0=$(date +%s.%N)
	MIB=64 source_run --mode stop-copy --to 10.77.0.2:4460 --token-file "$D/tok" --timeout 60 >"$D/src.out"
	t1=$(date +%s.%N)
	base=$(lbp_secs "$t0" "$t1")
	c1=$(count "$D/c")
	lbp_reap "$R" 300 4460
	st=$?
	check "baseline: 64 MiB stop-copy --to, no bad peers: both exit 0 in $base s ($(cat "$D/src.out"), receiver $st)" \
		[ "$(field rc "$D/src.out")" = 0 -a $st = 0 ]
	{ [ "$(field alive "$D/src.out")" = no ] && b_runs_workload && wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "... nothing left on A, it counts on on B with its data intact"
	check "... the receiver names no peer" not grep -q "peer " "$D/rcv0.err"
	on_b pkill -x workload
	rm -f "$D/c"

	# the hostile run
	on_b $RCV --listen 10.77.0.2:4461 >/dev/null 2>"$D/rcv.err" &
	R=$!
	sleep 0.5
	on_a timeout 40 python3 "$D/peers.py" hostile 4461 "$D/rcv.err" >"$D/peers.out" 2>"$D/peers.err" &
	PP=$!
	i=0
	while ! grep -q "^ready" "$D/peers.out" && ! lbp_ended "$PP" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	t0=$(date +%s.%N)
	MIB=64 BURN=400 source_run --mode stop-copy --to 10.77.0.2:4461 --token-file "$D/tok" --timeout 60 >"$D/src.out"
	t1=$(date +%s.%N)
	took=$(lbp_secs "$t0" "$t1")
	c1=$(count "$D/c")
	# (a receiver whose sender gave up waits on: not for long then)
	lbp_reap "$R" "$([ "$(field rc "$D/src.out")" = 0 ] && echo 300 || echo 20)" 4461
	st=$?
	lbp_reap "$PP" 300
	check "among 35 bad peers: the 64 MiB stop-copy --to migrates, both exit 0 ($(cat "$D/src.out"), receiver $st)" \
		[ "$(field rc "$D/src.out")" = 0 -a $st = 0 ]
	check "... nothing of the tree is left on A" [ "$(field alive "$D/src.out")" = no ]
	{ b_runs_workload && wait_above "$D/c" $((c1 + 5)) && grep -q " ok" "$D/c"; }
	verdict $? "... the counter continues on B ($c1 -> $(count "$D/c")) with its data intact"
	{ [ "$(field rc "$D/src.out")" = 0 ] && awk -v a="$took" -v b="$base" 'BEGIN { exit !(a <= b + 3 + 5) }'; }
	verdict $? "... it took $took s, the baseline $base s: at most the grace time (3 s) + 5 s more"
	check "... the sender was told BUSY and tried again ($(grep -c ': peer 10.77.0.1:[0-9]*: over --max-unauthenticated' "$D/rcv.err") times)" \
		grep -q "^cr: receive: peer 10.77.0.1:[0-9]*: over --max-unauthenticated" "$D/rcv.err"
	for r in "no complete HELLO within the grace time" "did not present the token" "sent a frame of type" \
		"sent a frame of [0-9]* bytes" "closed before its HELLO was complete" "does not speak cr-migrate 2" \
		"over --max-unauthenticated" "dropped: a sender presented the token"; do
		if grep -q "^cr: receive: peer 10\.77\.0\.3:[0-9]*: $r" "$D/rcv.err"; then pass "... a bad peer named: $r"
		else fail "... a bad peer named: $r" "$D/rcv.err" "$D/peers.out" "$D/peers.err"; fi
	done
	n=$(sed -n 's/^started \([0-9]*\)$/\1/p' "$D/peers.out")
	named=$(grep -c "^cr: receive: peer 10\.77\.0\.3:" "$D/rcv.err")
	once=$(sed -n 's/^cr: receive: peer 10\.77\.0\.3:\([0-9]*\): .*/\1/p' "$D/rcv.err" | sort -u | wc -l)
	if [ "${n:-0}" = 35 ] && [ "$named" = "$n" ] && [ "$once" = "$n" ] && [ "$(grep -c '^peer ' "$D/peers.out")" = "$n" ]; then
		pass "... each of the ${n:-?} bad connections is named in exactly one line"
	else fail "... each of the ${n:-?} bad connections (35 meant) is named in exactly one line ($named lines, $once ports)" \
		"$D/rcv.err" "$D/peers.out" "$D/peers.err"; fi
	bad=
	for p in $(awk '$1 == "peer" && $2 ~ /^silent-/ { print $3 }' "$D/peers.out"); do
		[ "$(grep -c "^cr: receive: peer 10\.77\.0\.3:$p: \(no complete HELLO within the grace time\|over --max-unauthenticated\|dropped: a sender presented the token\)" "$D/rcv.err")" = 1 ] ||
			bad="$bad $p"
	done
	if [ "$(grep -c '^peer silent-' "$D/peers.out")" = 20 ] && [ -z "$bad" ]; then
		pass "... each of the 20 silent ones: out of grace time, over --max-unauthenticated, or dropped"
	else fail "... each of the 20 silent ones: out of grace time, over --max-unauthenticated, or dropped (not:$bad)" \
		"$D/rcv.err" "$D/peers.out"; fi
	{ [ "$(awk '$2 == "wrong-1" { print $4 }' "$D/peers.out")" = - ] &&
		[ -z "$(awk '$1 == "peer" && $4 != "-" && $4 != "busy"' "$D/peers.out")" ] &&
		[ "$(awk '$1 == "peer" && $4 == "busy" && $2 ~ /^silent-/' "$D/peers.out" | wc -l)" = 17 ]; }
	verdict $? "... what the bad peers got: a wrong token nothing, those over the cap a BUSY frame, no peer anything else"
	check "... no line shows the token" not grep -q s3cret "$D/rcv.err" "$D/err"
	check "... no cr, criu or python3 left on A or B ($(lbp_left))" [ -z "$(lbp_left)" ]
	check "... no temporary directory left (\$TMPDIR: $(echo $(ls "$TMPDIR")))" [ -z "$(ls "$TMPDIR")" ]
	on_b pkill -x workload

	# the rate limit: three wrong tokens from one address at once
	on_b $RCV --listen 10.77.0.2:4462 >/dev/null 2>"$D/rcv2.err" &
	R=$!
	sleep 0.5
	on_a timeout 30 python3 "$D/peers.py" ratelimit 4462 >"$D/peers2.out" 2>&1
	ts=$(awk '$1 == "peer" { print $6 }' "$D/peers2.out" | sort -n | tr '\n' ' ')
	{ [ "$(grep -c '^peer wrong-[0-9]* [0-9]* - eof' "$D/peers2.out")" = 3 ] &&
		echo "$ts" | awk '{ exit !(NF == 3 && $1 < 1 && $2 - $1 >= 0.8 && $3 - $2 >= 1.7 && $3 - $1 >= 2.5 && $3 - $1 < 5) }'; }
	_v=$? desc="rate limit: three wrong tokens from one address at once are closed at $ts s (the first at once, then 1 s, then 2 s later)"
	if [ $_v = 0 ]; then pass "$desc"; else fail "$desc" "$D/peers2.out" "$D/rcv2.err"; fi
	if [ "$(grep -c '^cr: receive: peer 10\.77\.0\.3:[0-9]*: did not present the token' "$D/rcv2.err")" = 3 ]; then pass "... each named"
	else fail "... each named" "$D/rcv2.err" "$D/peers2.out"; fi
	on_b pkill -TERM -f "listen 10.77.0.2:4462"
	lbp_reap "$R" 100 4462
	st=$?
	{ [ $st = 1 ] && grep -q "interrupted by SIGTERM" "$D/rcv2.err"; }
	verdict $? "... the receiver listens on; SIGTERM ends it: exit 1 ($st), says so"
	{ [ -z "$(lbp_left)" ] && [ -z "$(ls "$TMPDIR")" ]; }
	verdict $? "... nothing left ($(lbp_left), \$TMPDIR: $(echo $(ls "$TMPDIR")))"

	# --exit-on-bad-peer: the old strict receiver
	t0=$(date +%s.%N)
	on_b $RCV --exit-on-bad-peer --listen 10.77.0.2:4463 >/dev/null 2>"$D/rcv3.err" &
	R=$!
	sleep 0.5
	on_a timeout 30 python3 "$D/peers.py" strict 4463 >"$D/peers3.out" 2>&1
	lbp_reap "$R" 50 4463
	st=$?
	t1=$(date +%s.%N)
	p=$(awk '$1 == "peer" { print $3 }' "$D/peers3.out")
	check "--exit-on-bad-peer: a peer silent for 1 s, then garbage: the receiver exits 1 ($st) after $(lbp_secs "$t0" "$t1") s" \
		[ $st = 1 ]
	check "... it names the peer" grep -q "^cr: receive: peer 10\.77\.0\.3:${p:-x}: sent a frame of type" "$D/rcv3.err"
	check "... not before the garbage came" grep -q "^early no" "$D/peers3.out"
	{ [ -z "$(lbp_left)" ] && [ -z "$(ls "$TMPDIR")" ]; }
	verdict $? "... nothing left ($(lbp_left), \$TMPDIR: $(echo $(ls "$TMPDIR")))"
}

# ============================ cgroups ===================================

scenario_cgroup_v2() {
	trap cg_cleanup EXIT
	A=$V2/$CGN-a B=$V2/$CGN-b
	mkdir "$A"
	start_in "$A" -- "$W" tree 2 "$D/c"
	P=$!
	wait_above "$D/c.1" 3
	cr checkpoint --cgroup "$A" --remove-cgroup -D "$D/ck" 2>"$D/err"
	check "v2: checkpoint by --cgroup (root found from the cgroup)" [ $? = 0 -a -f "$D/ck/core-$P.img" ]
	wait "$P" 2>/dev/null
	check "v2: --remove-cgroup removed the emptied cgroup" [ ! -d "$A" ]
	c1=$(count "$D/c.1")
	cr restore --cgroup "$B" -D "$D/ck" >"$D/out" 2>"$D/err"
	check "v2: restore --cgroup into a new cgroup" [ $? = 0 -a -d "$B" ]
	all=$(tree_pids "$P" | sort | tr '\n' ' ')
	inb=$(sort "$B/cgroup.procs" | tr '\n' ' ')
	check "v2: every restored pid ($all) is in the new cgroup ($inb)" [ "$all" = "$inb" -a "$(echo $all | wc -w)" = 2 ]
	bad=
	for p in $all; do in_cgroup "$p" "" "/$CGN-b" || bad="$bad $p"; done
	check "v2: /proc/PID/cgroup agrees for each" [ -z "$bad" ]
	check "v2: the restored tree counts on" wait_above "$D/c.1" $((c1 + 3))

	cr checkpoint --leave-running --cgroup "$B" -D "$D/ck2" 2>"$D/err"
	check "v2: checkpoint --leave-running through the freezer" [ $? = 0 ]
	check "v2: the cgroup is thawed afterwards ($(v2_state "$B"))" [ "$(v2_state "$B")" = 00 ]
	echo 1 >"$B/cgroup.freeze"
	sleep 0.2
	cr checkpoint --leave-running --cgroup "$B" -D "$D/ck3" 2>"$D/err"
	check "v2: checkpoint of a frozen cgroup" [ $? = 0 ]
	check "v2: a cgroup that was frozen stays frozen ($(v2_state "$B"))" [ "$(v2_state "$B")" = 11 ]
	echo 0 >"$B/cgroup.freeze"
	cr -v checkpoint --leave-running --freeze -D "$D/ck4" "$P" 2>"$D/err"
	{ [ $? = 0 ] && grep -q "is in $B" "$D/err"; }
	verdict $? "v2: --freeze with only a pid freezes the pid's own cgroup"
	check "v2: ... thawed afterwards ($(v2_state "$B"))" [ "$(v2_state "$B")" = 00 ]
	for f in 1 3; do
		CRIU_FAULT=$f cr checkpoint --cgroup "$B" -D "$D/ckf$f" "$P" 2>"$D/err"
		check "v2: CRIU_FAULT=$f fails the checkpoint (exit 1)" [ $? = 1 ]
		check "v2: ... the cgroup is thawed ($(v2_state "$B"))" [ "$(v2_state "$B")" = 00 ]
		check "v2: ... the tree runs, untraced" running "$P"
		check "v2: ... no image directory" [ ! -e "$D/ckf$f" ]
	done

	# a tree that uses a sub-cgroup of its own: soft mode recreates it
	# below the new cgroup, which restore's check must accept
	C=$V2/$CGN-c E=$V2/$CGN-e
	mkdir -p "$C/sub"
	start_in "$C" -- "$W" tree 2 "$D/s"
	Q=$!
	wait_above "$D/s.1" 3
	K=$(echo $(cat /proc/"$Q"/task/*/children))
	echo "$K" >"$C/sub/cgroup.procs"
	cr checkpoint --manage-cgroups-mode soft --cgroup "$C" -D "$D/cks" 2>"$D/err"
	check "v2: checkpoint of a tree with a sub-cgroup of its own (soft mode)" [ $? = 0 ]
	wait "$Q" 2>/dev/null
	cr restore --manage-cgroups-mode soft --cgroup "$E" -D "$D/cks" >/dev/null 2>"$D/err"
	{ [ $? = 0 ] && in_cgroup "$Q" "" "/$CGN-e" && in_cgroup "$K" "" "/$CGN-e/sub"; }
	verdict $? "v2: ... restored into a new cgroup: the sub-cgroup is recreated below it, exit 0"
}

# Kill criu, or interrupt cr, while it dumps 256 MiB: the cgroup must end
# thawed and the process running untraced.
interrupt_mid_dump() { # interrupt_mid_dump CGROUP PID WHAT(criu|cr) SIGNAL
	"$CR" -c none --criu "$CRIU" checkpoint --cgroup "$1" -D "$D/ck-$3" >"$D/out" 2>"$D/err" &
	C=$!
	# as soon as CRIU has seized the process (it is being dumped)
	_i=0
	until [ "$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$2/status")" != 0 ] || [ $_i -gt 2000 ]; do
		_i=$((_i + 1))
	done
	# criu rewrites its command line: find it as cr's child
	if [ "$3" = criu ]; then kill "-$4" $(pgrep -P "$C"); else kill "-$4" "$C"; fi
	wait "$C"
}

# cgk_runs_on CGROUP COUNTFILE PREFIX: after criu was SIGKILLed mid-dump,
# the process $P counts on and runs untraced. Or the kill landed in the
# instant criu ran a syscall inside it (compel's code over the process's
# own, then an int3: CRIU's window, docs/reliability.md; it happened in 1 CI
# run of many) and it died of SIGTRAP: then that is checked, and a new
# process in CGROUP takes its place for what follows.
cgk_runs_on() {
	_c=$(count "$2")
	if wait_above "$2" $((_c + 2)) && running "$P"; then
		pass "$3... the process counts on ($_c -> $(count "$2")) and runs, untraced"
		return 0
	fi
	kill -9 "$P" 2>/dev/null
	wait "$P" 2>/dev/null
	_ps=$?
	check "$3... the process died of SIGTRAP ($_ps): criu was killed inside its syscall injection (CRIU's window)" \
		[ "$_ps" = 133 ]
	rm -f "$2"
	start_in "$1" -- "$W" counter "$2" 512
	P=$!
	wait_above "$2" 0 200
}

scenario_cgroup_kill() {
	trap cg_cleanup EXIT
	A=$V2/$CGN-a
	mkdir "$A"
	start_in "$A" -- "$W" counter "$D/c" 512
	P=$!
	wait_above "$D/c" 0 200
	interrupt_mid_dump "$A" "$P" criu KILL
	check "criu SIGKILLed mid-dump: exit 1" [ $? = 1 ]
	check "... says criu died" grep -q "criu exited without answering\|killed by signal" "$D/err"
	check "... the cgroup is thawed ($(v2_state "$A"))" [ "$(v2_state "$A")" = 00 ]
	cgk_runs_on "$A" "$D/c" ""
	{ [ ! -e "$D/ck-criu" ] && no_temp_dirs; }
	verdict $? "... no image directory, no temporary one"
	interrupt_mid_dump "$A" "$P" cr INT
	check "SIGINT to cr mid-dump: exit 1" [ $? = 1 ]
	check "... says it was interrupted" grep -q "got SIGINT" "$D/err"
	check "... the cgroup is thawed ($(v2_state "$A"))" [ "$(v2_state "$A")" = 00 ]
	check "... the process runs, untraced" running "$P"
	{ [ ! -e "$D/ck-cr" ] && no_temp_dirs; }
	verdict $? "... no image directory, no temporary one"
	check "... no criu left behind" [ -z "$(pgrep -x criu)" ]
	kill "$P"
	wait "$P" 2>/dev/null
	[ -d "$FZ" ] || return 0
	# the same on a v1 freezer cgroup
	A=$FZ/$CGN-a
	mkdir "$A"
	start_in "$A" -- "$W" counter "$D/c1" 512
	P=$!
	wait_above "$D/c1" 0 200
	for w in criu:KILL cr:INT; do
		interrupt_mid_dump "$A" "$P" "${w%:*}" "${w#*:}"
		check "v1: SIG${w#*:} to ${w%:*} mid-dump: exit 1, THAWED ($(cat "$A/freezer.state"))" \
			[ $? = 1 -a "$(cat "$A/freezer.state")" = THAWED ]
		{ [ ! -e "$D/ck-${w%:*}" ] && no_temp_dirs && [ -z "$(pgrep -x criu)" ]; }
		verdict $? "v1: ... nothing left"
		if [ "${w%:*}" = criu ]; then cgk_runs_on "$A" "$D/c1" "v1: "
		else check "v1: ... the process runs, untraced" running "$P"; fi
	done
}

scenario_cgroup_foreign() {
	trap cg_cleanup EXIT
	A=$V2/$CGN-a
	mkdir "$A"
	start_in "$A" -- "$W" counter "$D/c"
	P=$!
	start_in "$A" -- "$W" counter "$D/f"
	F=$!
	wait_above "$D/f" 2
	cr checkpoint --leave-running --cgroup "$A" -D "$D/ck" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "$P $F\|$F $P" "$D/err"; }
	verdict $? "two trees in the cgroup and no pid: exit 1, both roots listed"
	cr checkpoint --leave-running -D "$D/ck" "$P" --cgroup "$A" 2>"$D/err"
	check "a foreign process in the cgroup: refused (exit 1)" [ $? = 1 ]
	check "... the message lists it" grep -q "processes in the cgroup but not in the tree: $F\$" "$D/err"
	check "... nothing frozen ($(v2_state "$A")), no image directory" [ "$(v2_state "$A")" = 00 -a ! -e "$D/ck" ]
	{ running "$P" && running "$F"; }
	verdict $? "... both keep running"
	cr checkpoint --leave-running --allow-foreign -D "$D/ck" "$P" --cgroup "$A" 2>"$D/err"
	check "with --allow-foreign it works" [ $? = 0 ]
	{ running "$F" && [ "$(v2_state "$A")" = 00 ]; }
	verdict $? "... the foreign process runs on, thawed"
	c=$(count "$D/f")
	check "... and counts" wait_above "$D/f" $((c + 2))
}

scenario_cgroup_v1() {
	trap cg_cleanup EXIT
	A=$FZ/$CGN-a M=/sys/fs/cgroup/memory/$CGN-a
	mkdir "$A" "$M"
	start_in "$A" "$M" -- "$W" tree 2 "$D/c"
	P=$!
	wait_above "$D/c.1" 3
	cr checkpoint --cgroup "$M" -D "$D/ck" 2>"$D/err"
	check "v1: --cgroup in a hierarchy without a freezer: exit 2" [ $? = 2 ]
	check "... says so" grep -q "has no freezer" "$D/err"
	echo FROZEN >"$A/freezer.state"
	sleep 0.2
	cr checkpoint --leave-running --cgroup "$A" -D "$D/ck0" 2>"$D/err"
	check "v1: checkpoint of a frozen freezer cgroup" [ $? = 0 ]
	check "v1: it stays FROZEN ($(cat "$A/freezer.state"))" [ "$(cat "$A/freezer.state")" = FROZEN ]
	echo THAWED >"$A/freezer.state"
	for f in 1 3; do
		CRIU_FAULT=$f cr checkpoint --cgroup "$A" -D "$D/ckf" 2>"$D/err"
		{ [ $? = 1 -a "$(cat "$A/freezer.state")" = THAWED ] && running "$P" && [ ! -e "$D/ckf" ]; }
		verdict $? "v1: CRIU_FAULT=$f: exit 1, THAWED ($(cat "$A/freezer.state")), running"
	done
	cr checkpoint --cgroup "$A" --remove-cgroup -D "$D/ck" 2>"$D/err"
	check "v1: checkpoint by the freezer cgroup" [ $? = 0 ]
	wait "$P" 2>/dev/null
	check "v1: --remove-cgroup removed the freezer cgroup it was given" [ ! -d "$A" ]
	rmdir "$M"
	B=$FZ/$CGN-b
	cr restore --cgroup "$B" --cgroup-controllers freezer,memory -D "$D/ck" >"$D/out" 2>"$D/err"
	check "v1: restore --cgroup --cgroup-controllers freezer,memory" [ $? = 0 ]
	bad=
	for p in $(tree_pids "$P"); do
		in_cgroup "$p" freezer "/$CGN-b" && in_cgroup "$p" memory "/$CGN-b" || bad="$bad $p"
	done
	check "v1: every restored pid is in freezer and memory /$CGN-b" [ -z "$bad" ]
	check "v1: ... and not in the pids hierarchy's" [ ! -d "/sys/fs/cgroup/pids/$CGN-b" ]
	kill $(tree_pids "$P")
	sleep 0.3
	cr restore --cgroup "$FZ/$CGN-c" -D "$D/ck" >"$D/out" 2>"$D/err"
	check "v1: restore --cgroup without --cgroup-controllers" [ $? = 0 ]
	bad=
	for h in /sys/fs/cgroup/*/; do
		h=${h%/}
		[ "$h" = "$V2" ] && continue
		grep -q "^$P\$" "$h/$CGN-c/cgroup.procs" 2>/dev/null || bad="$bad ${h##*/}"
	done
	check "v1: ... the tree is in every v1 hierarchy's $CGN-c (missing:$bad)" [ -z "$bad" ]
}

scenario_cgroup_bad() {
	trap cg_cleanup EXIT
	"$W" counter "$D/c" &
	P=$!
	cr checkpoint --cgroup /tmp -D "$D/ck" 2>"$D/err"
	{ [ $? = 2 ] && grep -q "not on cgroupfs" "$D/err"; }
	verdict $? "--cgroup outside cgroupfs: exit 2"
	cr checkpoint --cgroup "$V2/$CGN-missing" -D "$D/ck" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "No such file" "$D/err"; }
	verdict $? "a missing cgroup: exit 1"
	mkdir "$V2/$CGN-empty"
	cr checkpoint --cgroup "$V2/$CGN-empty" -D "$D/ck" 2>"$D/err"
	{ [ $? = 1 ] && grep -q "has no processes" "$D/err"; }
	verdict $? "a cgroup with no tasks: exit 1"
	cr checkpoint --cgroup "$V2/../$CGN-empty" -D "$D/ck" 2>"$D/err"
	check "a --cgroup path with ..: exit 2" [ $? = 2 ]
	cr checkpoint --freeze -D "$D/ck" "$P" 2>"$D/err"
	{ [ $? = 2 ] && grep -q "root cgroup" "$D/err"; }
	verdict $? "--freeze for a pid in no cgroup of its own: exit 2"
	{ [ ! -e "$D/ck" ] && running "$P"; }
	verdict $? "nothing was touched: no image directory, the process runs"
	cr restore --cgroup "$V2/$CGN-x" --criu-socket /nonexistent -D "$D/ck" 2>"$D/err"
	check "restore --cgroup with --criu-socket: exit 2" [ $? = 2 ]
	cr checkpoint --cgroup "$V2" -D "$D/ck" 2>"$D/err"
	{ [ $? = 2 ] && grep -q "root cgroup" "$D/err"; }
	verdict $? "--cgroup of a hierarchy's root: exit 2, before anything is read"
}

# A tree in an exclusive v1 cpuset, checkpointed in soft mode; by the
# restore a sibling cpuset (docker's, say) holds those CPUs, so CRIU cannot
# make the cpuset exclusive again: cr says what to do, and that works. On a
# host whose siblings already hold every CPU no cpuset can be exclusive,
# and there is nothing to test.
scenario_cgroup_cpuset_sibling() {
	R=/sys/fs/cgroup/cpuset
	[ -d "$R" ] || { pass "no v1 cpuset hierarchy here: nothing to test"; return; }
	trap cg_cleanup EXIT
	X=$R/$CGN-x S=$R/$CGN-s
	mkdir "$X" && cat "$R/cpuset.effective_cpus" >"$X/cpuset.cpus" && cat "$R/cpuset.effective_mems" >"$X/cpuset.mems" || {
		fail "make a v1 cpuset cgroup"; return; }
	if ! echo 1 2>/dev/null >"$X/cpuset.cpu_exclusive"; then
		pass "a sibling cpuset holds this host's CPUs already: no cpuset can be exclusive here, nothing to test"
		return
	fi
	start_in "$X" -- "$W" counter "$D/c"
	P=$!
	wait_above "$D/c" 3
	cr checkpoint --manage-cgroups-mode soft -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint of a tree in an exclusive cpuset (soft mode)" [ $? = 0 ]
	wait "$P" 2>/dev/null
	rmdir "$X"
	mkdir "$S" && cat "$R/cpuset.effective_cpus" >"$S/cpuset.cpus" && cat "$R/cpuset.effective_mems" >"$S/cpuset.mems"
	cr restore --manage-cgroups-mode soft -D "$D/ck" >/dev/null 2>"$D/err"
	{ [ $? = 1 ] && grep -q "cpuset.cpu_exclusive: Invalid argument" "$D/err" &&
		grep -q "a sibling cpuset cgroup holds CPUs .*--manage-cgroups-mode ignore" "$D/err"; }
	verdict $? "restore next to a sibling cpuset holding those CPUs: exit 1, CRIU's error quoted, cr says what to do"
	check "... the tree does not run" gone "$P"
	cr restore --manage-cgroups-mode ignore -D "$D/ck" >/dev/null 2>"$D/err"
	check "... restored with --manage-cgroups-mode ignore, as cr said: exit 0" [ $? = 0 ]
	c1=$(count "$D/c")
	check "... it counts on ($c1 -> $(sleep 0.5; count "$D/c"))" wait_above "$D/c" $((c1 + 2))
	kill "$P"
	wait "$P" 2>/dev/null
}

# restore --cgroup when criu cannot be moved there: a v1 cpuset cgroup that
# exists with no cpus refuses tasks (ENOSPC). cr must stop before RESTORE.
scenario_cgroup_move_fails() {
	trap cg_cleanup EXIT
	[ -d /sys/fs/cgroup/cpuset ] || { pass "no v1 cpuset hierarchy here: nothing to test"; return; }
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 0
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	check "checkpoint" [ $? = 0 ]
	wait "$P" 2>/dev/null
	mkdir "/sys/fs/cgroup/cpuset/$CGN-e"
	cr restore --cgroup "$FZ/$CGN-e" -D "$D/ck" >"$D/out" 2>"$D/err"
	check "restore --cgroup into a cgroup criu cannot join: exit 1" [ $? = 1 ]
	check "... says the move failed" grep -q "move criu (pid [0-9]*) into /sys/fs/cgroup/cpuset/$CGN-e/cgroup.procs" "$D/err"
	check "... nothing was restored" not running "$P"
	check "... the cgroups cr created are removed" [ ! -d "$FZ/$CGN-e" ]
	check "... the one it did not create stays" [ -d "/sys/fs/cgroup/cpuset/$CGN-e" ]
}

# v2: --cgroup-controllers enables the controllers in every ancestor
scenario_cgroup_v2_ctrls() {
	trap 'cg_cleanup; [ -n "$was" ] || echo "-$ctl" >"$V2/cgroup.subtree_control" 2>/dev/null' EXIT
	ctl=$(cut -d' ' -f1 "$V2/cgroup.controllers")
	[ -n "$ctl" ] || { pass "no controller in the v2 hierarchy here: nothing to test"; return; }
	was=$(grep -w "$ctl" "$V2/cgroup.subtree_control")
	"$W" counter "$D/c" &
	P=$!
	wait_above "$D/c" 0
	cr checkpoint -D "$D/ck" "$P" 2>"$D/err"
	wait "$P" 2>/dev/null
	cr restore --cgroup "$V2/$CGN-p/sub" --cgroup-controllers "$ctl" -D "$D/ck" >"$D/out" 2>"$D/err"
	check "v2: restore --cgroup A/sub --cgroup-controllers $ctl" [ $? = 0 ]
	check "... $ctl is enabled in the parent's subtree_control" grep -qw "$ctl" "$V2/$CGN-p/cgroup.subtree_control"
	check "... and available in the new cgroup" grep -qw "$ctl" "$V2/$CGN-p/sub/cgroup.controllers"
	check "... the tree is there" grep -q "^$P\$" "$V2/$CGN-p/sub/cgroup.procs"
	kill "$P"
	sleep 0.2
}

"scenario_$name"
exit 0
