#!/bin/sh
# tests/hostile.sh: hostile input (issue 7), tier 0: no root needed, no CRIU.
#
#   sh tests/hostile.sh CR
#
# Every flag of every command and every ini key of cr.ini.example, each with
# an empty, a 4 KiB, a non-UTF-8, an embedded-newline, an out-of-range and a
# negative value; paths with .., symlinks and non-directories; pids that
# must be refused; argument bombs. Each run must end in exit 2 (a usage or
# configuration error naming the option, the value or FILE:LINE) or exit 1
# (a later check said no), with a "cr: " message, nothing on stdout, no
# crash, no hang, and nothing touched: it runs in an empty scratch
# directory that must stay as it was (names, sizes, modes, times).
#
# The lists come from `cr COMMAND --help` and cr.ini.example, so a new
# option or key is covered without editing this file.
#
# Prints "ok - DESC" / "not ok - DESC" lines (with "#" details: the
# command, its exit status, its stderr) for test.sh to number; exits 0.
set -u
LC_ALL=C
export LC_ALL
[ $# -ge 1 ] || { echo "usage: sh tests/hostile.sh CR" >&2; exit 2; }
CR=$1
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
EX=$top/cr.ini.example
T=$(mktemp -d /tmp/cr-hostile.XXXXXX) || exit 1
W=$T/w		# the working directory of every run: stays empty
FX=$T/fx	# fixtures: must stay as they are
mkdir "$W" "$FX"
BG=
cleanup() {
	for p in $BG; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A criu fallback that does not exist either, should an empty --criu fall
# back to $CR_CRIU.
CR_CRIU=/nonexistent/criu-env
export CR_CRIU
NOCRIU=/nonexistent/criu
NOPID=4194000

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	[ -s "$T/why" ] && sed 's/^/# /' "$T/why"
	return 0
}

# ------------------------------------------------------------------ runs --

# The watched state: every name under $W and $FX with its type, size,
# mode, owner, mtime and ctime.
state() { find "$W" "$FX" -exec stat -c '%n %F %s %a %u %y %z' {} + 2>&1 | sort; }
rebase() { state >"$T/st.base"; }

# One line of a value for the report.
show() {
	case $1 in
	"") echo "''" ;;
	*"
"*) echo "<value with a newline>" ;;
	*) if [ ${#1} -gt 64 ]; then echo "<${#1} bytes>"
	   else printf "'%s'" "$1" | tr -c '[:print:]' '?'; fi ;;
	esac
}

# attempt WANT DISPLAY ARGS...: run cr ARGS (in $W, stdin /dev/null, at
# most 10 s) and judge it. WANT: the acceptable exit statuses ("2", "1 2").
# $T/pats (when non-empty): fixed strings one of which stderr must hold
# when the status is 2. $stdout_ok: a status that may print on stdout
# (check's report). Faults go to $T/why; returns 1 on a fault.
# $own_pid: append the pid cr will run as (sh's $$, then exec).
stdout_ok= own_pid=
attempt() {
	_want=$1 _disp=$2
	shift 2
	if [ -n "$own_pid" ]; then
		(cd "$W" && exec timeout 10 sh -c 'exec "$0" "$@" $$' "$CR" "$@") </dev/null >"$T/out" 2>"$T/err"
	else
		(cd "$W" && exec timeout 10 "$CR" "$@") </dev/null >"$T/out" 2>"$T/err"
	fi
	rc=$?
	_bad=
	case " $_want " in
	*" $rc "*) ;;
	*) case $rc in
	   124) _bad="hung (killed by timeout after 10 s)" ;;
	   0) _bad="exit 0: success where it must fail" ;;
	   *) if [ "$rc" -gt 128 ]; then _bad="killed by signal $((rc - 128))"
	      else _bad="exit $rc"; fi ;;
	   esac
	   _bad="$_bad, wanted $(echo "$_want" | sed 's/ / or /g')" ;;
	esac
	if [ -s "$T/out" ] && [ "$rc" != "$stdout_ok" ]; then _bad="${_bad:+$_bad; }output on stdout"; fi
	if [ "$rc" = 1 ] || [ "$rc" = 2 ]; then
		head -n 1 "$T/err" | grep -q '^cr: ' || _bad="${_bad:+$_bad; }no \"cr: \" message on stderr"
		if [ "$rc" = 2 ] && [ -s "$T/pats" ] && ! grep -q -F -f "$T/pats" "$T/err"; then
			_bad="${_bad:+$_bad; }the message names none of: $(tr '\n' ' ' <"$T/pats" | cut -c1-200)"
		fi
	fi
	state >"$T/st.now"
	if ! cmp -s "$T/st.base" "$T/st.now"; then
		_bad="${_bad:+$_bad; }touched: $(diff "$T/st.base" "$T/st.now" | sed -n 's/^[<>] \([^ ]*\) .*/\1/p' |
			sed "s|^$T/||" | sort -u | tr '\n' ' ' | cut -c1-300)"
		# start the next run from an empty working directory again
		rm -rf "$W"
		mkdir "$W"
		rebase
	fi
	[ -z "$_bad" ] && return 0
	{
		echo "cr $_disp: $_bad"
		head -n 3 "$T/err" | cut -c1-300 | tr -c '[:print:]\n' '?' | sed 's/^/  stderr: /'
		head -n 2 "$T/out" | cut -c1-200 | tr -c '[:print:]\n' '?' | sed 's/^/  stdout: /'
	} >>"$T/why"
	return 1
}
# The arguments, each readable: long or odd ones by show.
showargs() {
	_s=
	for _a in "$@"; do
		case $_a in
		"" | *[!a-zA-Z0-9./:=_+,@%-]*) _s="$_s $(show "$_a")" ;;
		*) if [ ${#_a} -gt 64 ]; then _s="$_s $(show "$_a")"; else _s="$_s $_a"; fi ;;
		esac
	done
	echo "${_s# }"
}
pats() { printf '%s\n' "$@" | sed '/^$/d' >"$T/pats"; }

# expect DESC WANT PATTERN ARGS...: one attempt as its own test line; on
# exit 1 or 2, stderr must also match PATTERN (a grep -E regex).
expect() {
	_d=$1 _w=$2 _p=$3
	shift 3
	: >"$T/why"
	: >"$T/pats"
	_a=$(showargs "$@")
	if attempt "$_w" "$_a" "$@"; then
		if [ -n "$_p" ] && ! grep -q -E -e "$_p" "$T/err"; then
			{ echo "cr $_a: exit $rc, but stderr does not match /$_p/"; head -n 3 "$T/err" | cut -c1-300 | sed 's/^/  stderr: /'; } >>"$T/why"
		fi
	fi
	if [ -s "$T/why" ]; then fail "$_d"; else pass "$_d"; fi
}

# ---------------------------------------------------------- the values --

V_empty=
V_long=$(head -c 4096 /dev/zero | tr '\0' a)
V_bytes=$(printf '\377\376x')
V_nl=$(printf 'a\nb')
V_huge=99999999999
V_neg=-1
CLASSES="empty long bytes nl huge neg"
classdesc="empty, 4 KiB, non-UTF-8, newline, 99999999999, -1"

rebase
[ -x "$CR" ] || { echo "not ok - $CR is not an executable"; exit 0; }

# ======================= 1. every flag of every command ====================

# A run of each command that must fail without touching anything, whatever
# the option under test: no CRIU, a pid that does not exist, a missing
# image directory. pre_CMD goes before the option under test, post_CMD after.
pre_checkpoint= post_checkpoint=$NOPID
pre_pre_dump= post_pre_dump=$NOPID
pre_restore="-D /nonexistent/dir" post_restore=
pre_check= post_check=
pre_stats= post_stats=/nonexistent/dir
pre_page_server="-D /nonexistent/dir" post_page_server=
pre_migrate="--via /nonexistent/cmd" post_migrate=$NOPID
pre_receive="--stdio" post_receive=
COMMANDS="checkpoint pre-dump restore check stats page-server migrate receive"

# "SHORT LONG META" per option of `cr CMD --help` (SHORT and META "-" when
# there is none: META "-" is a boolean).
options() {
	"$CR" "$1" --help 2>/dev/null | sed -n \
		-e 's/^  -\([a-zA-Z]\), --\([a-z0-9-]*\) \([^ ][^ ]*\)  .*/\1 \2 \3/p' \
		-e 's/^  -\([a-zA-Z]\), --\([a-z0-9-]*\)  .*/\1 \2 -/p' \
		-e 's/^      --\([a-z0-9-]*\) \([^ ][^ ]*\)  .*/- \1 \2/p' \
		-e 's/^      --\([a-z0-9-]*\)  .*/- \1 -/p' |
		grep -v -e ' help ' -e ' version '
}

# The statuses a value may get: 2 where no value of the class can be valid.
want_flag() { # META CLASS
	case $2 in long | nl) echo 2; return ;; empty) echo "1 2"; return ;; esac
	case $1 in
	N | SEC | FD | PORT | PAGES | PERCENT | MODE | METHOD | NS | HOST:PORT | ADDR:PORT | KEY:FD | EVENT=CMD) echo 2 ;;
	*) echo "1 2" ;;
	esac
}

for cmd in $COMMANDS; do
	c_=$(echo "$cmd" | tr - _)
	eval "pre=\$pre_$c_ post=\$post_$c_"
	stdout_ok=
	[ "$cmd" = check ] && stdout_ok=1
	: >"$T/why"
	: >"$T/pats"
	attempt "1" "-c none --criu $NOCRIU $cmd${pre:+ $pre}${post:+ $post}" -c none --criu "$NOCRIU" "$cmd" $pre $post
	if [ -s "$T/why" ]; then fail "$cmd: the base run (no CRIU, nothing to act on) fails cleanly, exit 1"
	else pass "$cmd: the base run (no CRIU, nothing to act on) fails cleanly, exit 1"; fi
	options "$cmd" >"$T/opts"
	if [ ! -s "$T/opts" ]; then
		echo "cr $cmd --help lists no options" >"$T/why"
		fail "$cmd: options listed by --help"
		continue
	fi
	while read -r short long meta; do
		: >"$T/why"
		runs=0
		for cl in $CLASSES; do
			eval "v=\$V_$cl"
			# the message must name the option, or the value, or say
			# that it is empty
			pats "--$long"
			case $cl in
			empty) echo empty >>"$T/pats" ;;
			nl) ;;
			*) printf '%s' "$v" | head -c 64 >>"$T/pats"; echo >>"$T/pats" ;;	# its start, quoted
			esac
			if [ "$meta" = - ]; then
				attempt 2 "$cmd${pre:+ $pre} --$long=$(show "$v") $post" -c none --criu "$NOCRIU" "$cmd" $pre "--$long=$v" $post
				runs=$((runs + 1))
			else
				w=$(want_flag "$meta" "$cl")
				attempt "$w" "$cmd${pre:+ $pre} --$long $(show "$v") $post" -c none --criu "$NOCRIU" "$cmd" $pre "--$long" "$v" $post
				runs=$((runs + 1))
				if [ "$short" != - ] && [ $cl = empty ]; then
					attempt "$w" "$cmd${pre:+ $pre} -$short '' $post" -c none --criu "$NOCRIU" "$cmd" $pre "-$short" "" $post
					runs=$((runs + 1))
				elif [ "$short" != - ]; then	# the value attached
					attempt "$w" "$cmd${pre:+ $pre} -$short$(show "$v") $post" -c none --criu "$NOCRIU" "$cmd" $pre "-$short$v" $post
					runs=$((runs + 1))
				fi
			fi
		done
		if [ "$meta" = - ]; then
			pats "--$long"
			attempt "1 2" "$cmd${pre:+ $pre} --$long $post" -c none --criu "$NOCRIU" "$cmd" $pre "--$long" $post
			runs=$((runs + 1))
			desc="$cmd --$long=VALUE ($classdesc; and bare): refused, nothing touched"
		else
			sh_=
			[ "$short" != - ] && sh_="/-$short"
			desc="$cmd --$long$sh_ $meta ($classdesc): refused or failing cleanly, nothing touched"
		fi
		if [ -s "$T/why" ]; then fail "$desc"; else pass "$desc"; fi
	done <"$T/opts"
done
stdout_ok=

# ======================= 2. every ini key of every section =================

INI=$T/cr.ini
# "SECTION KEY EXAMPLE-VALUE" for every ;key = value line of cr.ini.example
awk '/^\[[a-z-]+\]$/ { s = substr($0, 2, length($0) - 2); next }
	s != "" && /^;[a-z][a-z0-9-]* =/ { k = substr($1, 2); v = $0; sub(/^[^=]*= ?/, "", v); print s, k, v }' "$EX" >"$T/keys"
if [ ! -s "$T/keys" ]; then
	echo "no ;key = value lines under [section]s in $EX" >"$T/why"
	fail "cr.ini.example lists keys"
fi
# The metavariable of the flag a key stands for ("-" for none), from every
# command's --help: the key's value must pass the same check.
for cmd in $COMMANDS; do options "$cmd"; done | awk '{ print $2, $3 }' | sort -u >"$T/metas"
key_meta() { # SECTION KEY
	case $1:$2 in
	criu:binary) f=criu ;; criu:socket) f=criu-socket ;;
	cgroup:path) f=cgroup ;; cgroup:remove) f=remove-cgroup ;; cgroup:controllers) f=cgroup-controllers ;;
	hooks:timeout) f=hook-timeout ;; hooks:*) echo -; return ;;
	*) f=$2 ;;
	esac
	awk -v f="$f" '$1 == f { print $2; exit }' "$T/metas"
}
want_ini() { # SECTION KEY EXAMPLE-VALUE CLASS
	case $4 in long | nl) echo 2; return ;; empty) echo "1 2"; return ;; esac
	case $3 in
	true | false) echo 2; return ;;		# a boolean
	*[!0-9]* | "") ;;
	*) echo 2; return ;;			# a number: none of the classes is one
	esac
	want_flag "$(key_meta "$1" "$2")" "$4"	# as strict as its flag
}
while read -r sec key ex; do
	: >"$T/why"
	for cl in $CLASSES; do
		eval "v=\$V_$cl"
		if [ $cl = nl ]; then
			# inih is built without multi-line values: an indented line
			# is not a continuation, and line 3 is the error (the
			# example's value is a valid one for line 2; "a" may not be)
			if [ -n "$ex" ]; then first=$ex; pats "$INI:3:"
			else first=a; pats "$INI:2:" "$INI:3:"; fi
			printf '[%s]\n%s = %s\n  b\n' "$sec" "$key" "$first" >"$INI"
			d="[$sec] $key = $first, then the indented line '  b'"
		else
			printf '[%s]\n%s = %s\n' "$sec" "$key" "$v" >"$INI"
			pats "$INI:2:"
			d="[$sec] $key = $(show "$v")"
		fi
		chmod 600 "$INI"
		attempt "$(want_ini "$sec" "$key" "$ex" $cl)" "-c cr.ini ($d) --criu $NOCRIU checkpoint $NOPID" \
			-c "$INI" --criu "$NOCRIU" checkpoint "$NOPID"
	done
	desc="ini [$sec] $key ($classdesc): FILE:LINE and exit 2, or a clean exit 1; nothing touched"
	if [ -s "$T/why" ]; then fail "$desc"; else pass "$desc"; fi
done <"$T/keys"
rm -f "$INI"
rebase

# ================================== 3. paths ================================

# A process to point at: it must outlive every run, and stay untouched.
sleep 300 </dev/null >/dev/null 2>&1 &
S=$!
BG="$BG $S"
mkdir "$FX/elsewhere"
echo precious >"$FX/elsewhere/file"
echo precious >"$FX/regular"
ln -s "$FX/elsewhere" "$FX/link"
rebase
: >"$T/pats"

expect "checkpoint -D a symlink to a directory elsewhere: refused, the target untouched" "1 2" "symlink" \
	-c none --criu "$NOCRIU" checkpoint -D "$FX/link" "$S"
expect "checkpoint --force -D a symlink to a directory elsewhere: refused, the target untouched" "1 2" "symlink" \
	-c none --criu "$NOCRIU" checkpoint --force -D "$FX/link" "$S"
expect "checkpoint -D a regular file: refused, the file unchanged" "1 2" "not a directory|Not a directory" \
	-c none --criu "$NOCRIU" checkpoint -D "$FX/regular" "$S"
expect "checkpoint -D a path through a regular file: refused" "1 2" "regular|[Nn]ot a directory" \
	-c none --criu "$NOCRIU" checkpoint -D "$FX/regular/ck" "$S"
expect "restore -D a regular file: refused" 1 "regular: Not a directory|regular.*not a directory" \
	-c none --criu "$NOCRIU" restore -D "$FX/regular"
expect "restore -D a symlink to a directory that is not a checkpoint: refused" 1 "not a checkpoint|symlink" \
	-c none --criu "$NOCRIU" restore -D "$FX/link"
expect "restore -D a/../nonexistent (.. is resolved, not confused): No such file, exit 1" 1 \
	"a/\.\./nonexistent: No such file or directory" -c none --criu "$NOCRIU" restore -D a/../nonexistent
expect "restore -D $FX/elsewhere/../elsewhere: not a checkpoint, exit 1" 1 "not a checkpoint" \
	-c none --criu "$NOCRIU" restore -D "$FX/elsewhere/../elsewhere"
for lf in ../x a/b . .. /abs; do
	expect "checkpoint --log-file $lf: must be a name, exit 2" 2 "--log-file.*not a path|--log-file" \
		-c none --criu "$NOCRIU" checkpoint --log-file "$lf" "$S"
done
expect "restore --log-file ../x: exit 2" 2 "--log-file" -c none --criu "$NOCRIU" restore --log-file ../x -D "$FX/elsewhere"
for cg in ../x /sys/fs/cgroup/../../tmp /sys/fs/cgroup/unified/./x /sys/fs/cgroup/unified/a/..; do
	expect "checkpoint --cgroup $cg: exit 2" 2 "--cgroup.*\.\." -c none --criu "$NOCRIU" checkpoint --cgroup "$cg"
done
expect "--parent-path absolute for pre-dump: exit 2" 2 "must be relative" -c none --criu "$NOCRIU" pre-dump --parent-path /x "$S"
expect "-c a directory: exit 2" 2 "config" -c "$FX/elsewhere" --criu "$NOCRIU" check
expect "-c a symlink to a directory: exit 2" 2 "config" -c "$FX/link" --criu "$NOCRIU" check
expect "stats on a regular file: exit 1" 1 "regular" stats "$FX/regular"
# stats DIR: the one command whose argument is a path
: >"$T/why"
for cl in $CLASSES; do
	eval "v=\$V_$cl"
	case $cl in
	empty) pats empty DIR ;;
	nl) pats "control character" ;;
	long) pats "longer than" ;;
	*) printf '%s' "$v" | head -c 64 >"$T/pats"; echo >>"$T/pats" ;;
	esac
	# exit 1 (no such directory) must name it too
	attempt "1 2" "stats $(show "$v")" stats "$v" && [ $rc = 1 ] && ! grep -q -F -f "$T/pats" "$T/err" &&
		{ echo "cr stats $(show "$v"): exit 1, the message names none of: $(tr '\n' ' ' <"$T/pats" | cut -c1-80)"
		  sed 's/^/  stderr: /' "$T/err" | head -n 2 | cut -c1-200; } >>"$T/why"
done
if [ -s "$T/why" ]; then fail "stats DIR ($classdesc): refused, the message says what is wrong"
else pass "stats DIR ($classdesc): refused, the message says what is wrong"; fi
: >"$T/pats"
expect "receive -D a regular file: refused, the file unchanged" "1 2" "" -c none --criu "$NOCRIU" receive --stdio -D "$FX/regular"

# With the fake criu of test.sh (tests/fake-criu.c, a stand-in that
# "succeeds"): the cases where only a working CRIU gets cr far enough.
FAKE=$T/fake-criu
if cc -O2 -I"$top/nanopb" -o "$FAKE" "$top/tests/fake-criu.c" "$top/nanopb/rpc.pb.c" \
	"$top/nanopb/pb_common.c" "$top/nanopb/pb_encode.c" "$top/nanopb/pb_decode.c" 2>"$T/cc.log"; then
	P=$T/p	# cases here may succeed, so outside $W; checked by hand
	mkdir "$P"
	fk() { (cd "$P" && FAKE_CRIU_CHILD=2 FAKE_CRIU=ok exec timeout 10 "$CR" -c none --criu "$FAKE" "$@") </dev/null >"$T/out" 2>"$T/err"; }
	fkwhy() { { echo "cr $1: exit $rc; $2"; sed 's/^/  stderr: /' "$T/err" | head -n 3; } >"$T/why"; }
	fk checkpoint -D ck "$S"; rc=$?
	if [ $rc = 0 ] && [ -f "$P/ck/inventory.img" ]; then pass "fake criu: a checkpoint to refuse things with"
	else fkwhy "checkpoint -D ck" "wanted 0 and ck/inventory.img"; fail "fake criu: a checkpoint to refuse things with"; fi
	ln -s "$P/ck" "$P/cklink"
	sum=$(cd "$P/ck" && cksum inventory.img dump.log 2>/dev/null)

	fk checkpoint --force -D cklink "$S"; rc=$?
	if [ $rc != 0 ] && [ -L "$P/cklink" ] && [ "$(cd "$P/ck" && cksum inventory.img dump.log 2>/dev/null)" = "$sum" ] && grep -q '^cr: ' "$T/err"; then
		pass "fake criu: checkpoint --force -D a symlink to a checkpoint: refused, the checkpoint untouched"
	else fkwhy "checkpoint --force -D cklink" "wanted a refusal, the symlink and $P/ck unchanged"
		fail "fake criu: checkpoint --force -D a symlink to a checkpoint: refused, the checkpoint untouched"; fi

	echo precious >"$P/regular"
	fk checkpoint -W regular -D ck2 "$S"; rc=$?
	if [ $rc = 1 ] || [ $rc = 2 ] && grep -q 'work-path' "$T/err" && [ "$(cat "$P/regular")" = precious ] &&
		[ ! -e "$P/ck2" ] && [ -z "$(find "$P" -maxdepth 1 -name '.ck2.cr-*')" ]; then
		pass "fake criu: checkpoint -W a regular file: refused (names --work-path), the file unchanged, no image directory"
	else fkwhy "checkpoint -W regular -D ck2" "wanted exit 1 or 2 naming --work-path, regular unchanged, no ck2"
		fail "fake criu: checkpoint -W a regular file: refused (names --work-path), the file unchanged, no image directory"; fi

	fk restore -W regular -D ck; rc=$?
	if [ $rc = 1 ] || [ $rc = 2 ] && grep -q 'work-path' "$T/err" && [ "$(cat "$P/regular")" = precious ]; then
		pass "fake criu: restore -W a regular file: refused (names --work-path), the file unchanged"
	else fkwhy "restore -W regular -D ck" "wanted exit 1 or 2 naming --work-path"
		fail "fake criu: restore -W a regular file: refused (names --work-path), the file unchanged"; fi

	fk restore --pid-file /nonexistent/dir/pid -D ck; rc=$?
	if { [ $rc = 1 ] || [ $rc = 2 ]; } && grep -q 'pid-file' "$T/err"; then
		pass "fake criu: restore --pid-file in a directory that does not exist: fails (exit $rc), names --pid-file"
	else fkwhy "restore --pid-file /nonexistent/dir/pid -D ck" "wanted exit 1 or 2 naming --pid-file: the pid file asked for was not written"
		fail "fake criu: restore --pid-file in a directory that does not exist: fails, names --pid-file"; fi

	# new/.. names nothing while new does not exist (the kernel says
	# ENOENT): cr must not create new to make it mean something
	fk checkpoint -D new/../ck3 "$S"; rc=$?
	if [ $rc = 1 ] && grep -q "No such file or directory" "$T/err" && [ ! -e "$P/new" ] && [ ! -e "$P/ck3" ]; then
		pass "fake criu: checkpoint -D new/../ck3 (no new/): exit 1, No such file, creates neither new/ nor ck3"
	else fkwhy "checkpoint -D new/../ck3 (in $P, no new/ there)" "wanted exit 1, ENOENT, no new/ and no ck3 ($(ls -A "$P" | tr '\n' ' '))"
		fail "fake criu: checkpoint -D new/../ck3 (no new/): exit 1, No such file, creates neither new/ nor ck3"; fi

	for cg in ../x /sys/fs/cgroup/unified/../x; do
		fk restore --cgroup "$cg" -D ck; rc=$?
		if [ $rc = 2 ] && grep -q -e "--cgroup $cg: .*without \. or \.\." "$T/err"; then
			pass "fake criu: restore --cgroup $cg: exit 2"
		else fkwhy "restore --cgroup $cg -D ck" "wanted exit 2 naming --cgroup and the .."
			fail "fake criu: restore --cgroup $cg: exit 2"; fi
	done

	fk restore -D ck/../ck; rc=$?
	if [ $rc = 0 ] && grep -q '^[0-9][0-9]*$' "$T/out"; then pass "fake criu: restore -D ck/../ck restores (a .. path is not confused)"
	else fkwhy "restore -D ck/../ck" "wanted exit 0 and the pid on stdout"; fail "fake criu: restore -D ck/../ck restores (a .. path is not confused)"; fi
else
	cp "$T/cc.log" "$T/why"
	fail "build the fake criu (tests/fake-criu.c) for the path cases that need one"
fi
rebase

# ================================== 4. pids =================================

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
$PY -c 'import threading,time; threading.Thread(target=time.sleep,args=(30,)).start(); time.sleep(30)' </dev/null >/dev/null 2>&1 &
TP=$!
BG="$BG $TP"
tid=
i=0
while [ -z "$tid" ] && [ $i -lt 50 ]; do
	tid=$(ls "/proc/$TP/task" 2>/dev/null | grep -v -x "$TP" | head -n 1)
	[ -n "$tid" ] || sleep 0.1
	i=$((i + 1))
done
rebase
for cmd in checkpoint pre-dump migrate; do
	c_=$(echo "$cmd" | tr - _)
	eval "pre=\$pre_$c_"
	: >"$T/pats"
	expect "$cmd pid 0: exit 2" 2 '"0" is not a process id' -c none --criu "$NOCRIU" "$cmd" $pre 0
	expect "$cmd pid 1: exit 2" 2 "pid 1 .*init" -c none --criu "$NOCRIU" "$cmd" $pre 1
	if [ -n "$tid" ]; then
		expect "$cmd a thread id ($tid of $TP): exit 2" 2 "$tid is a thread of process $TP" -c none --criu "$NOCRIU" "$cmd" $pre "$tid"
	else
		echo "no second thread in /proc/$TP/task: $(ls /proc/$TP/task 2>&1 | tr '\n' ' ')" >"$T/why"
		fail "$cmd a thread id: start a process with a second thread"
	fi
	own_pid=1
	expect "$cmd its own pid: exit 2" 2 "is cr itself" -c none --criu "$NOCRIU" "$cmd" $pre
	own_pid=
	for p in -1 -- 99999999999 2147483648 4294967297 12ab 0x10 "1 " " 1" +1 "" "$(printf '1\n2')" "$V_bytes" "$V_long"; do
		expect "$cmd pid $(show "$p"): exit 2" 2 "is not a process id|needs exactly one PID" -c none --criu "$NOCRIU" "$cmd" $pre -- "$p"
	done
	expect "$cmd a pid that does not exist: exit 1" 1 "pid $NOPID: no such process" -c none --criu "$NOCRIU" "$cmd" $pre "$NOPID"
	expect "$cmd two pids: exit 2" 2 "exactly one PID" -c none --criu "$NOCRIU" "$cmd" $pre "$S" "$S"
done
if [ -d "/proc/$S" ] && grep -q '^State:[[:space:]]*S' "/proc/$S/status" && grep -q '^TracerPid:[[:space:]]*0$' "/proc/$S/status"; then
	pass "the process every path case pointed at is still running, not traced or stopped"
else
	grep -e State -e TracerPid "/proc/$S/status" >"$T/why" 2>&1
	fail "the process every path case pointed at is still running, not traced or stopped"
fi
kill "$TP" 2>/dev/null

# ============================== 5. argument bombs ============================

big=$(head -c 102400 /dev/zero | tr '\0' a)
: >"$T/pats"
for cmd in checkpoint restore check page-server migrate receive; do
	expect "$cmd: 600 clustered short options (-vvv...): exit 2" 2 "more than 512 option values" \
		-c none --criu "$NOCRIU" "$cmd" "-$(head -c 600 /dev/zero | tr '\0' v)"
done
set --
i=0
while [ $i -lt 600 ]; do set -- "$@" "$NOPID"; i=$((i + 1)); done
expect "checkpoint with 600 arguments: exit 2" 2 "more than 511 arguments" -c none --criu "$NOCRIU" checkpoint "$@"
expect "stats with 600 arguments: exit 2" 2 "more than 511 arguments" stats "$@"
set --
i=0
while [ $i -lt 600 ]; do set -- "$@" --external x; i=$((i + 1)); done
expect "checkpoint with 600 --external values (1200 arguments): exit 2" 2 "more than 511 arguments|more than 512 option values" \
	-c none --criu "$NOCRIU" checkpoint "$@" "$NOPID"
set --
i=0
while [ $i -lt 600 ]; do set -- "$@" --hook "post-dump=true"; i=$((i + 1)); done
expect "restore with 600 --hook options: exit 2" 2 "more than" -c none --criu "$NOCRIU" restore "$@" -D /nonexistent/dir
set --
expect "a 100 KiB -D value: exit 2" 2 "--image-path: the value is longer than 1023 bytes" -c none --criu "$NOCRIU" checkpoint -D "$big" "$NOPID"
expect "a 100 KiB --hook value: exit 2" 2 "--hook" -c none --criu "$NOCRIU" checkpoint --hook "post-dump=$big" "$NOPID"
expect "a 100 KiB pid: exit 2" 2 "is not a process id" -c none --criu "$NOCRIU" checkpoint "$big"
expect "a 100 KiB option name: exit 2" 2 "unknown option" -c none checkpoint "--$big" "$NOPID"
expect "a 100 KiB --name=value: exit 2" 2 "longer than 1023 bytes" -c none --criu "$NOCRIU" checkpoint "--image-path=$big" "$NOPID"
expect "a 100 KiB command name: exit 2" 2 "unknown command" "$big"
expect "a 100 KiB -c file name: exit 2" 2 "config|longer than" -c "$big" check
printf '[checkpoint]\nimage-path = %s\n' "$big" >"$T/big.ini"
chmod 600 "$T/big.ini"
expect "a 100 KiB ini line: FILE:LINE, exit 2" 2 "big.ini:2:" -c "$T/big.ini" --criu "$NOCRIU" checkpoint "$NOPID"
head -c 1048576 /dev/zero | tr '\0' '\n' >"$T/big.ini"
printf '[checkpoint]\nimage-path\n' >>"$T/big.ini"
expect "a 1 MiB ini file (1048576 empty lines, then a bad one): FILE:LINE or too large, exit 2" 2 "big.ini" \
	-c "$T/big.ini" --criu "$NOCRIU" checkpoint "$NOPID"
rm -f "$T/big.ini"

exit 0
