#!/bin/sh
# tests/matrix.sh NAME DIR: the real-program compatibility matrix, part of
# tier 1 (test.sh runs each scenario_m_* as pid 1 of its own pid namespace,
# as it runs tests/scenarios.sh, and prints the table at the end of the tier).
#
# Programs nobody on this project wrote, from Debian packages, started the
# way a user starts them (with only fds 0-2 open and in a session of their
# own: tests/workload.c's "exec" mode), their real state checked from outside
# (curl, sqlite3, tmux capture-pane, the files they write), through every cr
# mode that applies:
#   checkpoint+restore   cr checkpoint, then cr restore in the same (this
#                        scenario's own) pid namespace
#   leave-running copy   cr checkpoint --leave-running, then cr restore of
#                        the copy on host B, the original running on
#   stop-copy --via      cr migrate --mode stop-copy --via "... receive --stdio"
#   post-copy --via      cr migrate --mode post-copy --via ...
#   post-copy --to       cr migrate --mode post-copy --to B --token-file, to
#                        cr receive --listen on B
# Hosts A and B come from tests/hosts.sh. The programs run in A's network
# namespace but in this scenario's pid and mount namespaces (its pid 1, this
# shell, reaps what the checkpoints kill, so a restore finds the pids free;
# A's own init, a sleep, would leave zombies holding them). B is hosts.sh's
# host B: a pid, mount and network namespace of its own.
#
# Each mode prints "# matrix: PROGRAM|MODE|RESULT|NOTE" (RESULT ok, FAIL,
# refused or n/a); test.sh collects those lines into the table.
#
# Where A and B would be two machines with disks of their own, here they share
# one file system. So a copy on B that must not write into the original's
# files (the leave-running copy; sqlite3's database in every mode that ends
# on B) gets its own copy of the program's directory, bind-mounted over the
# same path in B's mount namespace: as on a second machine, the files are at
# the same paths with the same content (docs/migration.md: Live migration, Limits).
set -u
name=$1
D=$2
cd "$D" || exit 1

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/hosts.sh"
MX=$(cd "$(dirname "$0")" && pwd)/matrix

WD=60		# seconds before a cr command counts as hung (then its state is recorded)
INSPECT=	# 1: the checkpoint modes also check cr inspect --json against /proc
ITRANS=		# processes of this comm may come and go (tests/inspect_check.py --transient)
IC=$(cd "$(dirname "$0")" && pwd)/inspect_check.py
m_n=0		# modes run so far: each gets ports of its own

# ============================== plumbing ==================================

m_up() {
	m_old=$(cat /proc/sys/fs/pipe-max-size)
	trap 'echo "$m_old" >/proc/sys/fs/pipe-max-size; m_down; net_down' EXIT
	echo 4194304 >/proc/sys/fs/pipe-max-size	# post-copy (docs/migration.md: the pipe-size guard)
	net_up && hosts_up || { fail "set up hosts A and B"; return 1; }
	echo s3cret >"$D/tok"
	chmod 600 "$D/tok"
}
m_down() { :; }

# a cr command on host A (A's network namespace) or on host B (run
# through mrun, which bounds them), and one on B in the background, killed
# after $WD s
cra() { nsenter --net="/run/netns/$NA" -- "$CR" -c none --criu "$CRIU" "$@"; }
crb() { nsenter -t "$BPID" --pid --net --mount -- "$CR" -c none --criu "$CRIU" "$@"; }
crb_bg() { nsenter -t "$BPID" --pid --net --mount -- timeout -s KILL "$WD" "$CR" -c none --criu "$CRIU" "$@"; }
on_a_net() { nsenter --net="/run/netns/$NA" -- "$@"; }
# start_a DIR CMD...: CMD on host A in DIR, only fds 0-2, a session of its own
start_a() { cd "$1" && shift && exec nsenter --net="/run/netns/$NA" -- "$W" exec "$@"; }

# mrun OUT ERR CMD...: CMD in the background, stdout to OUT, stderr to ERR;
# if it still runs after $WD + 5 s, the state of every process (ps, wchan,
# kernel stacks) goes to $MD/hang.txt and it is killed. Returns CMD's status.
mrun() {
	_o=$1 _e=$2
	shift 2
	"$@" >"$_o" 2>"$_e" </dev/null &
	_mp=$! _i=0
	while kill -0 "$_mp" 2>/dev/null; do
		if [ $_i -ge $(((WD + 5) * 10)) ]; then
			m_diag "$*" >"$MD/hang.txt" 2>&1
			for _mk in $(tree_pids "$_mp"); do [ "$_mk" -gt 1 ] && kill -9 "$_mk" 2>/dev/null; done
			break
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$_mp"
}
m_diag() {
	echo "hung: $1"
	ps -eo pid,ppid,pgid,stat,wchan:28,args
	for _dp in $(ps -eo pid=,comm= | awk '$2 ~ /^(cr|criu|timeout|nsenter)$/ { print $1 }') ${P:+$(tree_pids "$P")}; do
		echo "--- $_dp $(tr '\0' ' ' <"/proc/$_dp/cmdline" 2>/dev/null)"
		cat "/proc/$_dp/stack" 2>/dev/null
		for _dt in /proc/"$_dp"/task/*; do
			[ "$_dt" = "/proc/$_dp/task/$_dp" ] && continue
			[ -d "$_dt" ] && echo "  task ${_dt##*/}: $(cat "$_dt/wchan" 2>/dev/null)"
		done
	done
}

# The mode's checks: lib.sh's pass/fail, each failure also remembered for
# the matrix line (its first failure becomes the note).
mcheck() {
	_d=$1
	shift
	if "$@"; then pass "$PN, $MODE: $_d"; else mfailed "$_d"; fi
}
mverdict() {
	_v=$1
	shift
	if [ "$_v" = 0 ]; then pass "$PN, $MODE: $1"; else mfailed "$1"; fi
}
mfailed() {
	[ -n "$MFAIL" ] || MFAIL=$(echo "$1" | sed 's/ *(.*//' | tr '|' '/')
	fail "$PN, $MODE: $1" "$MD/err" "$MD/rcv.err" "$MD/hang.txt" $(find "$MD" -name '*.log' 2>/dev/null)
}
row() { echo "# matrix: $PN|$MODE|$1|${2:-}"; }
# With INSPECT=1, the checkpoint modes check what cr inspect reads from the
# images against /proc: m_snap right before the checkpoint (the tree runs),
# m_inspect once it is written. The set of pids and each one's ppid, pgid,
# sid, comm and thread count; its fd numbers, the paths of its regular files
# and the ports of its listening TCP sockets (tests/inspect_check.py).
m_snap() {
	[ -n "$INSPECT" ] || return 0
	/usr/bin/python3 "$IC" snap "$P" >"$MD/snap.json" 2>"$MD/inspect.err"
}
m_inspect() {
	[ -n "$INSPECT" ] || return 0
	_t=$(date +%s%N)
	"$CR" inspect --json "$MD/ck" >"$MD/inspect.json" 2>"$MD/inspect.err"
	_st=$? _t=$((($(date +%s%N) - _t) / 1000000))
	# shellcheck disable=SC2046
	/usr/bin/python3 "$IC" compare "$MD/snap.json" "$MD/inspect.json" $(for _c in $ITRANS; do echo --transient "$_c"; done) \
		>"$MD/inspect.diff" 2>&1
	if [ $? = 0 ] && [ $_st = 0 ]; then
		pass "$PN, $MODE: cr inspect --json (exit 0, $_t ms) agrees with /proc right before the dump: $(tail -1 "$MD/inspect.diff")"
	else
		[ -n "$MFAIL" ] || MFAIL="cr inspect --json disagrees with /proc"
		fail "$PN, $MODE: cr inspect --json (exit $_st, $_t ms) agrees with /proc right before the dump (images kept in $MD/ck)" \
			"$MD/inspect.diff" "$MD/inspect.err"
	fi
}
# what the scenario ran: "# NAME: VERSIONS"
versions() { echo "# $name: $*"; }
# need CMD PACKAGE...: CMD is there, else a failure that names the Debian
# package(s), and every mode of the program FAILs for it
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	_c=$1
	shift
	fail "$PN: $_c is not installed (apt-get install $*)"
	for MODE in "checkpoint+restore" "leave-running copy" "stop-copy --via" "post-copy --via" "post-copy --to"; do
		row FAIL "$_c is not installed (apt-get install $*)"
	done
	return 1
}

# Pids that are free on B for the next program: this namespace's counter
# moved past both its own and B's (B's init does not reap, and restored
# trees keep their pids there).
fresh_pids() {
	_a=$(cat /proc/sys/kernel/ns_last_pid)
	_b=$(on_b cat /proc/sys/kernel/ns_last_pid)
	[ "$_b" -gt "$_a" ] && _a=$_b
	echo $((_a + 600)) >/proc/sys/kernel/ns_last_pid
}
# all_gone PIDS...: within 5 s, none of them runs (here: reaped or a zombie)
all_gone() {
	_i=0
	for _p in "$@"; do
		while running "$_p" || { [ -r "/proc/$_p/status" ] && grep -q '^State:.*[TtD]' "/proc/$_p/status"; }; do
			_i=$((_i + 1))
			[ $_i -gt 50 ] && return 1
			sleep 0.1
		done
	done
}
# reaped PIDS...: within 5 s, none of them exists any more (pids free again)
reaped() {
	_i=0
	for _p in "$@"; do
		while [ -d "/proc/$_p" ]; do
			_i=$((_i + 1))
			[ $_i -gt 50 ] && return 1
			sleep 0.1
		done
	done
}
# b_view DIR: B gets its own copy of DIR (made now) at the same path
b_view() {
	rm -rf "$MD/b"
	cp -a "$1" "$MD/b" && on_b mount --bind "$MD/b" "$1"
}
b_view_end() { on_b umount -l "$1" 2>/dev/null; return 0; }
# tcp_idle PID: wait (5 s at most) until PID holds no TCP connection, only
# listeners (curl's connections closed on the server's side too)
tcp_idle() {
	_i=0
	while on_a_net ss -Htanp 2>/dev/null | grep -v '^LISTEN' | grep -q "pid=$1,"; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && return 1
		sleep 0.1
	done
}
# get WHERE URL: curl on host A or B (its network namespace)
get() {
	case $1 in
	a) on_a_net curl -fsS -m 5 "$2" ;;
	b) on_b curl -fsS -m 5 "$2" ;;
	esac
}
noanswer() { ! get a "$1" >/dev/null 2>&1; }
# up URL: wait (15 s at most) until a server answers on A
up() {
	_i=0
	until get a "$1" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -gt 150 ] && return 1
		sleep 0.1
	done
}
# ========================= one program, one mode ==========================
# m_mode PROG MODE: run program PROG (its hooks PROG_start, _before, _mark,
# _after, _absent and the variables PN, FLAGS, BVIEW) through MODE.
#   PROG_start DIR        start it on A in DIR; set P; fail if it does not come up
#   PROG_before DIR       its state before the operation (checks too)
#   PROG_mark DIR         its state right after the operation returned
#   PROG_after WHERE DIR KIND  the instance on WHERE (a|b) whose files are in
#                         DIR goes on from where it was; KIND is restored,
#                         copy, original or migrated
#   PROG_absent           nothing of it answers on A any more
# BVIEW=all: B gets its own copy of the program's files for every mode that
# ends on B, not only for the leave-running copy.
m_mode() {
	p=$1 MODE=$2
	MFAIL= NOTE=
	m_n=$((m_n + 1))
	port=$((8000 + m_n))
	MD=$D/$p-$(echo "$MODE" | tr -c 'a-z\n' '-' | tr -s '-')
	R=$MD/run
	mkdir -p "$R"
	fresh_pids
	if ! "${p}_start" "$R"; then
		mfailed "it starts on A"
		row FAIL "$MFAIL"
		m_kill
		return
	fi
	pids=$(tree_pids "$P")
	"${p}_before" "$R"
	t0=$(date +%s%N)
	case $MODE in
	checkpoint+restore)
		m_snap
		mrun "$MD/out" "$MD/err" cra checkpoint $FLAGS -D "$MD/ck" "$P"
		mcheck "cr checkpoint${FLAGS:+ $FLAGS} exits 0" [ $? = 0 ]
		"${p}_mark" "$R"
		mcheck "... the tree is gone (all $(echo $pids | wc -w) processes)" reaped $pids
		"${p}_absent"
		m_inspect
		mrun "$MD/out" "$MD/err" cra restore $FLAGS -D "$MD/ck"
		{ [ $? = 0 ] && [ "$(cat "$MD/out")" = "$P" ]; }
		mverdict $? "cr restore${FLAGS:+ $FLAGS} (this scenario's pid namespace) exits 0, prints pid $P ($(cat "$MD/out"))"
		"${p}_after" a "$R" restored
		;;
	"leave-running copy")
		m_snap
		mrun "$MD/out" "$MD/err" cra checkpoint --leave-running $FLAGS -D "$MD/ck" "$P"
		mcheck "cr checkpoint --leave-running${FLAGS:+ $FLAGS} exits 0" [ $? = 0 ]
		"${p}_mark" "$R"
		mcheck "... the original runs on, untraced" running "$P"
		m_inspect
		dir=$R
		if [ -n "$BVIEW" ]; then
			mcheck "B gets its own copy of the program's files (cp -a, bind mount)" b_view "$R"
			dir=$MD/b
			"${p}_bprep" "$dir"
		fi
		mrun "$MD/out" "$MD/err" crb restore $FLAGS -D "$MD/ck"
		{ [ $? = 0 ] && [ "$(cat "$MD/out")" = "$P" ]; }
		mverdict $? "cr restore${FLAGS:+ $FLAGS} on B (another pid and network namespace) exits 0, prints pid $P ($(cat "$MD/out"))"
		"${p}_after" b "$dir" copy
		"${p}_after" a "$R" original
		;;
	*)
		dir=$R
		if [ "$BVIEW" = all ]; then
			mcheck "B gets its own copy of the program's files (cp -a, bind mount)" b_view "$R"
			dir=$MD/b NOTE=${BNOTE:-}
		fi
		case $MODE in
		"stop-copy --via") mrun "$MD/out" "$MD/err" cra migrate $FLAGS --mode stop-copy \
			--via "nsenter -t $BPID --pid --net --mount -- $CR -c none --criu $CRIU receive --stdio -D $MD/in" "$P" ;;
		"post-copy --via") mrun "$MD/out" "$MD/err" cra migrate $FLAGS --mode post-copy \
			--via "nsenter -t $BPID --pid --net --mount -- $CR -c none --criu $CRIU receive --stdio -D $MD/in" "$P" ;;
		"post-copy --to")
			crb_bg -v receive --listen "10.77.0.2:$((4400 + m_n))" --token-file "$D/tok" -D "$MD/in" >"$MD/rcv.out" 2>"$MD/rcv.err" &
			RP=$!
			_i=0
			while ! grep -qs "listening on" "$MD/rcv.err" && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
			mrun "$MD/out" "$MD/err" cra migrate $FLAGS --mode post-copy --to "10.77.0.2:$((4400 + m_n))" --token-file "$D/tok" "$P"
			;;
		esac
		st=$?
		dt=$(sed -n 's/.*downtime \([0-9]*\) ms.*/\1/p' "$MD/err")
		mverdict $st "cr migrate${FLAGS:+ $FLAGS} --mode ${MODE% *} ${MODE#* } exits 0 (downtime ${dt:-?} ms, total $((($(date +%s%N) - t0) / 1000000)) ms)"
		if [ "$MODE" = "post-copy --to" ]; then
			wait "$RP"
			mverdict $? "... cr receive --listen on B exits 0"
		fi
		"${p}_mark" "$R"
		mcheck "... nothing of the tree is left on A ($(echo $pids | wc -w) processes)" all_gone $pids
		"${p}_absent"
		mcheck "... the tree runs on B" on_b_alive "$P"
		"${p}_after" b "$dir" migrated
		;;
	esac
	if [ -n "$MFAIL" ]; then row FAIL "$MFAIL"; else row ok "$NOTE"; fi
	m_kill
	[ -n "$BVIEW" ] && b_view_end "$R"
	return 0
}
# the program's process group, on both hosts
m_kill() {
	[ -n "${P:-}" ] || return 0
	kill -9 -"$P" 2>/dev/null
	on_b kill -KILL -- -"$P" 2>/dev/null
	wait "$P" 2>/dev/null
	reaped $(tree_pids "$P") 2>/dev/null
	P=
	return 0
}
m_all() {
	for _mode in "checkpoint+restore" "leave-running copy" "stop-copy --via" "post-copy --via" "post-copy --to"; do
		m_mode "$1" "$_mode"
	done
}

# ============================== the programs ==============================

# 1. A C program built the ordinary way (gcc, glibc, so it registers rseq),
# 64 MiB of data it checks every second (tests/workload.c: "COUNT ok|BAD").
g_start() {
	(cd "$1" && exec nsenter --net="/run/netns/$NA" -- "$WG" counter "$1/c" 64) </dev/null >/dev/null 2>&1 &
	P=$!
	wait_above "$1/c" 1 300
}
g_before() { mcheck "it counts before ($(cat "$1/c"))" grep -q " ok$" "$1/c"; }
g_mark() { g_k=$(count "$1/c"); }
g_bprep() { :; }
g_absent() { :; }
g_after() {
	_c=$(count "$2/c")
	{ wait_above "$2/c" $((_c + 25)) && grep -q " ok$" "$2/c"; }
	mverdict $? "... on $1 ($3) it counts on ($g_k at the operation, $_c -> $(count "$2/c")), its 64 MiB intact ($(cut -d' ' -f2 "$2/c"))"
}
scenario_m_glibc() {
	PN="glibc C program (gcc)" FLAGS= BVIEW=copy
	need gcc gcc libc6-dev || return
	m_up || return
	glibc_workload || { fail "build the glibc workload (gcc)"; return; }
	versions "$(gcc --version | head -1), $(ldd --version | head -1)"
	m_all g
}

# 2. python3 -m http.server, serving its directory.
py_start() {
	py_port=$port
	echo "hello from $MODE" >"$1/index.html"
	mkdir -p "$1/sub" && echo data >"$1/sub/data.txt"
	(start_a "$1" /usr/bin/python3 -m http.server "$py_port" --bind 127.0.0.1) </dev/null >/dev/null 2>&1 &
	P=$!
	up "http://127.0.0.1:$py_port/"
}
py_before() {
	get a "http://127.0.0.1:$py_port/index.html" >"$MD/got" 2>&1
	mcheck "curl gets its page before" grep -qx "hello from $MODE" "$MD/got"
	tcp_idle "$P"
}
py_mark() { :; }
py_bprep() { :; }
py_absent() { mcheck "... nothing answers on A" noanswer "http://127.0.0.1:$py_port/"; }
py_after() {
	get "$1" "http://127.0.0.1:$py_port/index.html" >"$MD/got" 2>&1
	mcheck "... on $1 ($3) curl gets its page ($(head -c 60 "$MD/got"))" grep -qx "hello from $MODE" "$MD/got"
	get "$1" "http://127.0.0.1:$py_port/sub/" >"$MD/got" 2>&1
	mcheck "... and a directory listing" grep -q 'href="data.txt"' "$MD/got"
}
scenario_m_python() {
	PN="python3 -m http.server" FLAGS= BVIEW= INSPECT=1
	need /usr/bin/python3 python3 && need curl curl || return
	m_up || return
	versions "/usr/bin/python3: $(/usr/bin/python3 --version 2>&1)"
	m_all py
}

# 3. node: an HTTP server (tests/matrix/counter.js) whose counter lives in
# its memory: N before, N+1 after.
js_start() {
	js_port=$port
	(start_a "$1" node "$MX/counter.js" "$js_port") </dev/null >/dev/null 2>&1 &
	P=$!
	up "http://127.0.0.1:$js_port/"
}
# hc WHERE PORT: the server's answer ("count N ticks T" from node)
hc() { get "$1" "http://127.0.0.1:$2/" 2>&1; }
js_before() {
	hc a "$js_port" >"$MD/got"
	js_n=$(awk '{ print $2 }' "$MD/got") js_t=$(awk '{ print $4 }' "$MD/got")
	mcheck "its counter answers before ($(cat "$MD/got"))" [ -n "$js_n" ]
	tcp_idle "$P"
}
js_mark() { :; }
js_bprep() { :; }
js_absent() { mcheck "... nothing answers on A" noanswer "http://127.0.0.1:$js_port/"; }
js_after() {
	hc "$1" "$js_port" >"$MD/got"
	_n=$(awk '{ print $2 }' "$MD/got") _t=$(awk '{ print $4 }' "$MD/got")
	mcheck "... on $1 ($3) the counter goes on: $js_n before, $(cat "$MD/got") now" [ "$_n" = $((js_n + 1)) ]
	sleep 0.3
	hc "$1" "$js_port" >"$MD/got"
	mcheck "... its timer runs: ticks $js_t before, $_t, then $(awk '{ print $4 }' "$MD/got")" \
		[ "$(awk '{ print $2 }' "$MD/got")" = $((js_n + 2)) -a "$(awk '{ print $4 }' "$MD/got")" -gt "${_t:-0}" -a "${_t:-0}" -ge "$js_t" ]
}
scenario_m_node() {
	PN="node HTTP server" FLAGS= BVIEW= INSPECT=1
	need node nodejs && need curl curl || return
	m_up || return
	versions "$(command -v node): node $(node --version)"
	m_all js
}

# 4. A JVM with 20 worker threads (tests/matrix/Counter.java), serving a
# request counter and the smallest count of any worker.
JC=$(dirname "$W")/matrix
java_build() {
	if command -v javac >/dev/null 2>&1; then
		[ -f "$JC/Counter.class" ] && [ "$JC/Counter.class" -nt "$MX/Counter.java" ] && { JRUN="-cp $JC Counter"; return 0; }
		mkdir -p "$JC.$$" && javac -d "$JC.$$" "$MX/Counter.java" && rm -rf "$JC" && mv "$JC.$$" "$JC" || return 1
		JRUN="-cp $JC Counter"
	else
		# only the JRE (default-jre-headless): the source launcher, whose
		# compiler (jdk.compiler) is in the JRE's module image
		JRUN="$MX/Counter.java"
	fi
}
jv_start() {
	jv_port=$port
	# shellcheck disable=SC2086
	(start_a "$1" java $JRUN "$jv_port" 20) </dev/null >/dev/null 2>&1 &
	P=$!
	up "http://127.0.0.1:$jv_port/"
}
# the answer: count N workers W min M sum S
jv_before() {
	hc a "$jv_port" >"$MD/got"
	jv_n=$(awk '{ print $2 }' "$MD/got") jv_min=$(awk '{ print $6 }' "$MD/got")
	jv_thr=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$P/status")
	mcheck "it answers before ($(cat "$MD/got"); $jv_thr threads)" [ -n "$jv_n" -a "${jv_thr:-0}" -gt 20 ]
	tcp_idle "$P"
}
jv_mark() { :; }
jv_bprep() { :; }
jv_absent() { mcheck "... nothing answers on A" noanswer "http://127.0.0.1:$jv_port/"; }
jv_after() {
	hc "$1" "$jv_port" >"$MD/got"
	_n=$(awk '{ print $2 }' "$MD/got") _m=$(awk '{ print $6 }' "$MD/got")
	case $1 in
	a) _thr=$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$P/status") ;;
	b) _thr=$(on_b sed -n 's/^Threads:[[:space:]]*//p' "/proc/$P/status") ;;
	esac
	mcheck "... on $1 ($3) the request counter goes on: $jv_n before, now $(cat "$MD/got"), $_thr threads" \
		[ "$_n" = $((jv_n + 1)) -a "${_thr:-0}" -ge "$jv_thr" ]
	sleep 0.5
	hc "$1" "$jv_port" >"$MD/got"
	mcheck "... all 20 workers run: the smallest count $jv_min before, ${_m:-?}, then $(awk '{ print $6 }' "$MD/got")" \
		[ "$(awk '{ print $4 }' "$MD/got")" = 20 -a "$(awk '{ print $6 }' "$MD/got")" -gt "${_m:-0}" -a "${_m:-0}" -ge "$jv_min" ]
}
scenario_m_jvm() {
	# Every JVM maps /tmp/hsperfdata_USER/PID (a shared file, restored
	# by path) and leaves it behind when it is killed, as a checkpoint
	# kills it: in this scenario's mount namespace (of which A's and B's
	# are copies) that directory is $D/hsperf. If it did not exist, it is
	# made for the bind mount and removed afterwards.
	PN="java, 20 threads" FLAGS= BVIEW= INSPECT=1
	need java default-jre-headless && need curl curl || return
	hs=/tmp/hsperfdata_$(id -un)
	mkdir -p "$D/hsperf"
	m_rmhs=
	[ -d "$hs" ] || { mkdir "$hs" && m_rmhs=1; }
	mount --bind "$D/hsperf" "$hs" || { fail "a private $hs for the JVMs"; return; }
	m_down() { umount -l "$hs" 2>/dev/null; [ -n "$m_rmhs" ] && rmdir "$hs"; return 0; }
	m_up || return
	java_build || { fail "build tests/matrix/Counter.java (javac)"; return; }
	versions "$(java -version 2>&1 | head -1), run as: java $JRUN"
	m_all jv
}

# 5. A bash pipeline: a counting loop | tr | tee -a FILE. The lines must
# go on without a gap or a repeat, and the copy from where the checkpoint was.
pl_start() {
	(start_a "$1" bash -c 'i=0; while :; do i=$((i + 1)); echo "line $i"; sleep 0.05; done | stdbuf -oL tr a-z A-Z | tee -a out.txt >/dev/null') \
		</dev/null >/dev/null 2>&1 &
	P=$!
	_i=0
	while [ "$(lines "$1/out.txt")" -lt 5 ]; do
		_i=$((_i + 1))
		[ $_i -gt 100 ] && return 1
		sleep 0.1
	done
}
# lines FILE: how many
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# consecutive FILE: "LINE s" .. "LINE e", each once, in order: prints "s e"
consecutive() {
	awk 'NR == 1 { s = $2; e = s - 1 } { if ($0 != "LINE " e + 1) { print "gap after " e ": " $0; bad = 1; exit 1 } e++ }
		END { if (bad || !NR) exit 1; print s, e }' "$1"
}
gapless() { consecutive "$1" >/dev/null; }
pl_before() {
	pl_k0=$(lines "$1/out.txt")
	mcheck "its output counts on before: LINE $(consecutive "$1/out.txt")" gapless "$1/out.txt"
}
pl_mark() { pl_k1=$(lines "$1/out.txt"); }
pl_bprep() { : >"$1/out.txt"; }	# the copy's own output only
pl_absent() { :; }
pl_after() {
	case $1 in
	a) _procs=$(ps -o comm= -g "$P" | sort | tr '\n' ' ') ;;
	b) _procs=$(on_b ps -o comm= -g "$P" | sort | tr '\n' ' ') ;;
	esac
	_l=$(lines "$2/out.txt")
	_i=0
	while [ "$(lines "$2/out.txt")" -lt $((_l + 10)) ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
	if _r=$(consecutive "$2/out.txt"); then _s=${_r% *} _e=${_r#* }; else _s=0 _e=0; fi
	case $3 in
	copy)
		# it starts after what the original had written when it was checkpointed
		[ "$_s" -gt "$pl_k0" ] && [ "$_s" -le $((pl_k1 + 1)) ] && [ "$_e" -ge $((_s + 9)) ]
		mverdict $? "... on b (copy) its output goes on from the checkpoint ($pl_k0-$pl_k1 lines then), no gap, no repeat: LINE $_r"
		;;
	*)
		[ "$_s" = 1 ] && [ "$_e" -ge $((pl_k1 + 10)) ]
		mverdict $? "... on $1 ($3) its output goes on, no gap, no repeat: LINE $_r ($pl_k1 lines at the operation)"
		;;
	esac
	mcheck "... all three stages run there ($_procs)" sh -c "echo '$_procs' | grep -q 'bash bash.*tee.*tr'"
}
scenario_m_pipeline() {
	# (the loop forks a sleep every 50 ms: one may come or go between
	# the /proc snapshot and the dump)
	PN="bash pipeline" FLAGS= BVIEW=copy INSPECT=1 ITRANS=sleep
	need bash bash && need stdbuf coreutils || return
	m_up || return
	versions "$(bash --version | head -1); $(tr --version | head -1)"
	m_all pl
}

# 6. sqlite3 reading commands from a fifo, inside BEGIN EXCLUSIVE with an
# uncommitted insert: another sqlite3 finds the database locked, before and
# after; then the transaction commits through the fifo and the row is there.
sq_start() {
	sqlite3 "$1/test.db" 'CREATE TABLE t(x); INSERT INTO t VALUES(1);' &&
		mkfifo "$1/cmd.fifo" || return 1
	(start_a "$1" sqlite3 test.db) <>"$1/cmd.fifo" >>"$1/out.txt" 2>&1 &
	P=$!
	# (.timeout: a checker's brief read lock must not fail BEGIN EXCLUSIVE)
	timeout 5 sh -c 'printf "%s\n" ".timeout 5000" "BEGIN EXCLUSIVE;" "INSERT INTO t VALUES(42);" "SELECT '"'in transaction'"';" >"$1"' \
		sh "$1/cmd.fifo" || return 1
	_i=0
	until grep -q "^in transaction$" "$1/out.txt" && locked "$1"; do
		_i=$((_i + 1))
		[ $_i -gt 50 ] && return 1
		sleep 0.1
	done
}
locked() { sqlite3 "$1/test.db" 'SELECT count(*) FROM t' 2>&1 | grep -q "database is locked"; }
rows() { sqlite3 "$1/test.db" 'SELECT group_concat(x) FROM t' 2>&1; }
sq_before() { mcheck "another sqlite3 finds the database locked" locked "$1"; }
sq_mark() { :; }
sq_bprep() { :; }
sq_absent() { :; }
sq_after() {
	mcheck "... on $1 ($3) another sqlite3 still finds the database locked ($(rows "$2"))" locked "$2"
	timeout 5 sh -c 'echo "COMMIT;" >"$1"' sh "$2/cmd.fifo"
	_i=0
	while [ "$(rows "$2")" != "1,42" ] && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	{ [ "$(rows "$2")" = "1,42" ] && [ "$(cat "$2/out.txt")" = "in transaction" ]; }
	mverdict $? "... COMMIT through the fifo: the uncommitted row is there ($(rows "$2")), sqlite3 reported no error ($(tr '\n' ' ' <"$2/out.txt" | head -c 80))"
}
# The same migration with the database on a file A and B share (no copy
# for B): the target's restore takes the lock again (F_SETLKW) while the
# stopped source still holds it, and waits. cr must give up (the sender's
# --stall-timeout), the source must go on with its transaction, and the
# receiver (its own bound is the default minute) must notice at once that
# the sender gave up, abandon the restore and leave nothing.
sq_shared() {
	MODE="stop-copy, one shared database file" MFAIL=
	MD=$D/sq-shared R=$MD/run
	mkdir -p "$R"
	fresh_pids
	sq_start "$R" || { mfailed "it starts on A"; m_kill; return; }
	t0=$(date +%s)
	mrun "$MD/out" "$MD/err" cra migrate --file-locks --mode stop-copy --stall-timeout 3 \
		--via "nsenter -t $BPID --pid --net --mount -- $CR -c none --criu $CRIU --log-level 4 receive --stdio -D $MD/in" "$P"
	st=$?
	{ [ $st = 1 ] && grep -q "the target did not restore the tree" "$MD/err" &&
		grep -q '(posix)flag' "$MD/in/img/restore.log" && ! grep -q 'Restore finished successfully' "$MD/in/img/restore.log"; }
	mverdict $? "cr migrate --file-locks --stall-timeout 3: the target's restore waits on the lock (its log ends at the posix lock), cr gives up: exit 1 after $(($(date +%s) - t0)) s"
	mcheck "... the source runs on, untraced" running "$P"
	t0=$(date +%s)
	_i=0
	while { on_b_alive "$P" || pgrep -f "receive --stdio -D $MD/in" >/dev/null; } && [ $_i -lt 250 ]; do sleep 0.1; _i=$((_i + 1)); done
	{ grep -q "^cr: receive: the source went away during the restore: abandoning it" "$MD/err" &&
		! pgrep -f "receive --stdio -D $MD/in" >/dev/null; }
	mverdict $? "... the receiver (no --stall-timeout of its own) notices the sender gave up, abandons the restore and exits within $(($(date +%s) - t0)) s"
	mcheck "... and nothing runs on B" not on_b_alive "$P"
	sq_after a "$R" original
	m_kill
}
scenario_m_sqlite() {
	PN="sqlite3 (--file-locks)" FLAGS=--file-locks BVIEW=all
	need sqlite3 sqlite3 || return
	m_up || return
	versions "sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
	BNOTE="B has its own copy of the database, as a second machine would: on a file both share, the target's restore waits for the lock the stopped source holds (checked: cr gives up after --stall-timeout, the source runs on)"
	m_all sq
	sq_shared
}

# 7. A job on a pty: a counting shell loop started at the prompt of a tmux
# pane. cr checkpoints the job (not tmux) with --shell-job; cr restore
# --shell-job is typed into another pane (send-keys), whose pty the restored
# job gets: capture-pane shows its ticks.
tm() { nsenter --net="/run/netns/$NA" -- tmux -S "$D/tmux.sock" "$@"; }
tmb() { on_b tmux -S "$D/tmuxb.sock" "$@"; }
TSH="env HOME=$D HISTFILE=/dev/null TERM=screen bash --norc --noprofile"
# ticks PANE-OUTPUT-FILE: the tick numbers, one per line
ticks() { grep -o 'tick [0-9][0-9]*' "$1" | awk '{ print $2 }'; }
# tick_run FILE: "first last" if the ticks in FILE are consecutive
tick_run() { ticks "$1" | awk 'NR == 1 { s = $1; e = s - 1 } { if ($1 != e + 1) { bad = 1; exit 1 } e++ } END { if (bad || !NR) exit 1; print s, e }'; }
# tm_job PANE: the job of the pane's shell
tm_job() {
	_sh=$(tm display -p -t "$1" '#{pane_pid}')
	pgrep -P "$_sh" -x sh | head -1
}
tm_start() {
	tm new-session -d -s "$1" -x 120 -y 40 "$TSH" &&
		tm split-window -t "$1" "$TSH" || return 1
	sleep 0.3
	tm send-keys -t "$1.0" "cd $MD; sh -c 'i=0; while :; do i=\$((i + 1)); echo \"tick \$i\"; sleep 0.1; done'" Enter
	_i=0
	while :; do
		tm capture-pane -p -J -S - -t "$1.0" >"$MD/pane0"
		[ "$(ticks "$MD/pane0" | tail -1)" -ge 5 ] 2>/dev/null && break
		_i=$((_i + 1))
		[ $_i -gt 100 ] && return 1
		sleep 0.1
	done
	P=$(tm_job "$1.0")
	[ -n "$P" ]
}
# tm_wait WHERE PANE FILE N: capture the pane until it shows tick N or more
tm_wait() {
	_i=0
	while :; do
		case $1 in a) tm capture-pane -p -J -S - -t "$2" >"$3" ;; b) tmb capture-pane -p -J -S - -t "$2" >"$3" ;; esac
		[ "$(ticks "$3" | tail -1)" -ge "$4" ] 2>/dev/null && return 0
		_i=$((_i + 1))
		[ $_i -gt 100 ] && return 1
		sleep 0.1
	done
}
scenario_m_tmux() {
	PN="tmux pane job (--shell-job)"
	need tmux tmux && need bash bash || return
	m_down() { tm kill-server 2>/dev/null; return 0; }
	m_up || return
	versions "$(tmux -V), $(bash --version | head -1)"
	# checkpoint + restore typed into the other pane
	MODE=checkpoint+restore MFAIL= MD=$D/tmux-a
	mkdir -p "$MD"
	fresh_pids
	if tm_start ta; then
		pids=$(tree_pids "$P")
		mrun "$MD/out" "$MD/err" cra checkpoint --shell-job -D "$MD/ck" "$P"
		mcheck "cr checkpoint --shell-job of the pane's job (pid $P) exits 0" [ $? = 0 ]
		mcheck "... the job is gone" reaped $pids
		sleep 0.3
		tm capture-pane -p -J -S - -t ta.0 >"$MD/pane0"
		last=$(ticks "$MD/pane0" | tail -1)
		tm send-keys -t ta.1 "$CR -c none --criu $CRIU restore --shell-job -D $MD/ck" Enter
		tm_wait a ta.1 "$MD/pane1" $((last + 10))
		r=$(tick_run "$MD/pane1")
		{ [ "${r%% *}" = $((last + 1)) ] && [ "${r#* }" -ge $((last + 10)) ]; }
		mverdict $? "... cr restore --shell-job typed into the other pane: the job's ticks go on there, from tick $((last + 1)) (pane 0 stopped at $last; pane 1 shows ${r:-none}, consecutive)"
		mcheck "... the pane shows the restored pid" grep -qx "$P" "$MD/pane1"
		mcheck "... the job's terminal is that pane's ($(tm display -p -t ta.1 '#{pane_tty}'))" \
			[ "$(readlink "/proc/$P/fd/1")" = "$(tm display -p -t ta.1 '#{pane_tty}')" ]
	else
		mfailed "the job starts in a tmux pane"
	fi
	if [ -n "$MFAIL" ]; then row FAIL "$MFAIL"; else row ok; fi
	m_kill

	# --leave-running, the copy restored in a tmux pane on B
	MODE="leave-running copy" MFAIL= MD=$D/tmux-b
	mkdir -p "$MD"
	fresh_pids
	if tm_start tb; then
		tm capture-pane -p -J -S - -t tb.0 >"$MD/pane0"
		k0=$(ticks "$MD/pane0" | tail -1)
		mrun "$MD/out" "$MD/err" cra checkpoint --leave-running --shell-job -D "$MD/ck" "$P"
		mcheck "cr checkpoint --leave-running --shell-job exits 0" [ $? = 0 ]
		tm capture-pane -p -J -S - -t tb.0 >"$MD/pane0"
		k1=$(ticks "$MD/pane0" | tail -1)
		tmb new-session -d -s b -x 120 -y 40 "$TSH"
		sleep 0.3
		tmb send-keys -t b.0 "$CR -c none --criu $CRIU restore --shell-job -D $MD/ck" Enter
		tm_wait b b.0 "$MD/paneb" $((k1 + 10))
		r=$(tick_run "$MD/paneb")
		{ [ "${r%% *}" -gt "$k0" ] && [ "${r%% *}" -le $((k1 + 1)) ] && [ "${r#* }" -ge $((k1 + 10)) ]; } 2>/dev/null
		mverdict $? "... restored in a tmux pane on B: the copy ticks on from the checkpoint (tick $k0-$k1 then; B's pane shows ${r:-none}, consecutive)"
		tm_wait a tb.0 "$MD/pane0" $((k1 + 10))
		r=$(tick_run "$MD/pane0")
		{ [ "${r%% *}" = 1 ] && [ "${r#* }" -ge $((k1 + 10)) ]; } 2>/dev/null
		mverdict $? "... the original ticks on in its pane, untouched (${r:-none}, consecutive)"
		mcheck "... untraced" running "$P"
	else
		mfailed "the job starts in a tmux pane"
	fi
	if [ -n "$MFAIL" ]; then row FAIL "$MFAIL"; else row ok; fi
	m_kill
	tmb kill-server 2>/dev/null

	# migration: cr migrate has no --shell-job (a terminal does not move
	# to another host); what CRIU says without it, and that the job runs on
	MD=$D/tmux-m
	mkdir -p "$MD"
	fresh_pids
	MODE=migrate MFAIL=
	if tm_start tm; then
		mrun "$MD/out" "$MD/err" cra migrate --mode stop-copy \
			--via "nsenter -t $BPID --pid --net --mount -- $CR -c none --criu $CRIU receive --stdio" "$P"
		st=$?
		why=$(sed -n 's/.*Error (criu\/tty.c:[0-9]*): //p' "$MD/err" | head -1)
		{ [ $st = 1 ] && [ -n "$why" ]; }
		mverdict $? "cr migrate (it has no --shell-job) of the pane's job: exit 1, CRIU refuses its terminal ($why)"
		tm capture-pane -p -J -S - -t tm.0 >"$MD/pane0"
		k=$(ticks "$MD/pane0" | tail -1)
		tm_wait a tm.0 "$MD/pane0" $((k + 5))
		r=$(tick_run "$MD/pane0")
		{ [ "${r%% *}" = 1 ] && [ "${r#* }" -ge $((k + 5)) ] && running "$P"; } 2>/dev/null
		mverdict $? "... the job ticks on in its pane, untraced (tick $k then; ${r:-none}, consecutive)"
		mcheck "... nothing runs on B" not on_b_alive "$P"
	else
		mfailed "the job starts in a tmux pane"
		why=
	fi
	for MODE in "stop-copy --via" "post-copy --via" "post-copy --to"; do
		row n/a "cr migrate has no --shell-job: a terminal does not move to another host; without it CRIU refuses the job (${why:-not seen})${MFAIL:+; but the check of that FAILED: $MFAIL}"
	done
	m_kill
	return 0
}

"scenario_$name"
exit 0
