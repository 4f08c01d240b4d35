#!/bin/sh
# test.sh: cr's test suite. POSIX sh (dash, busybox sh).
#
#   sh test.sh            tier 0 (no root, no CRIU) and, as root, tier 1
#   CR=path/to/cr         the binary under test (default ./cr)
#   CR_TEST_KEEP=1        keep the scratch directory
#   CR_TEST_ONLY=PATTERN  run only the tier-1 scenarios whose name matches
#
# Tier 1 drives real CRIU against real processes. It sets up the CRIU it
# needs itself (tests/criu-root.sh: Debian's newest criu in a private root,
# cached under /var/cache/cr-test), so it always runs where the suite runs as
# root; in CI (CI=true) a tier that cannot run is a failure, not a skip.
# Every scenario runs in its own pid namespace, every wait has a timeout,
# and a failing scenario prints CRIU's log.
set -u
top=$(cd "$(dirname "$0")" && pwd)
CR=${CR:-$top/cr}
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac
T=$(mktemp -d /tmp/cr-test.XXXXXX)
chmod 755 "$T"
n=0 pass=0 failed=0

cleanup() {
	[ -n "${CR_TEST_KEEP:-}" ] && { echo "# kept $T"; return; }
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { n=$((n + 1)); pass=$((pass + 1)); _why=0; echo "ok $n - $1"; }
notok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	echo "not ok $n - $1" >>"$T/failed"
	echo "== not ok $n - $1" >>"$T/failed.why"
	shift
	for f in "$@"; do [ -f "$f" ] && sed 's/^/#   /' "$f" | tail -40 | tee -a "$T/failed.why"; done
	_why=1
	return 0
}
# a line of the details a scenario printed under its failure: kept for the
# recap at the end too
why() { echo "$1"; [ "${_why:-0}" = 1 ] && echo "$1" >>"$T/failed.why"; return 0; }

# run NAME EXPECTED_STATUS CMD...: run with stdout/stderr in $T/out, $T/err
run() {
	desc=$1 want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then return 0; fi
	echo "# $desc: exit $got, wanted $want" >>"$T/why"
	return 1
}
# expect DESC STATUS PATTERN CMD...: exit status and a stderr/stdout pattern
expect() {
	desc=$1 want=$2 pat=$3; shift 3
	: >"$T/why"
	if run "$desc" "$want" "$@" && { [ -z "$pat" ] || grep -q -e "$pat" "$T/err" "$T/out"; }; then
		ok "$desc"
	else
		echo "# expected /$pat/" >>"$T/why"
		notok "$desc" "$T/why" "$T/err" "$T/out"
	fi
}

# ======================= tier 0: no root, no CRIU =========================

[ -x "$CR" ] || { echo "not ok 1 - $CR is not built (make)"; echo "0 passed, 1 failed"; exit 1; }

expect "--version prints the version" 0 '^cr [0-9]' "$CR" --version
expect "version command" 0 '^cr [0-9]' "$CR" version
"$CR" --help >"$T/out" 2>"$T/err"; st=$?
miss=
for c in checkpoint pre-dump restore check stats page-server migrate receive version; do grep -q "^  $c " "$T/out" || miss="$miss $c"; done
if [ $st = 0 ] && [ -z "$miss" ] && [ ! -s "$T/err" ]; then ok "--help on stdout names every command"
else notok "--help on stdout names every command (missing:$miss)" "$T/out"; fi
for c in checkpoint pre-dump restore check; do
	expect "$c --help" 0 "Usage: cr $c" "$CR" "$c" --help
done
expect "dump is an alias of checkpoint" 0 "Usage: cr checkpoint" "$CR" dump --help
expect "no arguments: usage, exit 2" 2 "^Usage:" "$CR"
expect "unknown command: exit 2" 2 'unknown command "frobnicate"' "$CR" frobnicate
expect "unknown flag: exit 2" 2 "unknown option --no-such-flag" "$CR" checkpoint --no-such-flag 1
expect "flag of another command: exit 2" 2 "does not apply to restore" "$CR" restore --leave-running
expect "command flag before the command: exit 2" 2 "belongs after the command" "$CR" --leave-running checkpoint 1
expect "missing flag value: exit 2" 2 "needs a value" "$CR" checkpoint 1 --image-path
expect "--name=value works for a string option" 1 "image path $T/eqform" "$CR" -c none restore --image-path="$T/eqform"
expect "short booleans cluster (-Rf) and a short option takes an attached value (-D...)" 1 "no such process" \
	"$CR" -c none checkpoint -Rf -D"$T/x" 4194000
expect "-- ends the options: what follows is an argument" 2 '"--leave-running" is not a process id' "$CR" -c none checkpoint -- --leave-running
expect "long names must be given in full" 2 "unknown option --leave" "$CR" -c none checkpoint --leave 2
expect "600 clustered short options: exit 2, no overflow" 2 "more than 512 option values" \
	"$CR" -c none checkpoint "-$(head -c 600 /dev/zero | tr '\0' R)" 2
expect "--status-fd on stderr: exit 2" 2 "not an open fd (other than stdin" "$CR" -c none page-server --status-fd 2
expect "--status-fd on a checkpoint that is not lazy: exit 2" 2 "needs --lazy-pages" \
	sh -c "exec 3>/dev/null; exec \"$CR\" -c none checkpoint --status-fd 3 2"
expect "checkpoint without a pid: exit 2" 2 "needs exactly one PID" "$CR" -c none checkpoint
expect "restore with an argument: exit 2" 2 "takes no arguments" "$CR" -c none restore 42
expect "pid that is not a number: exit 2" 2 'is not a process id' "$CR" -c none checkpoint 12ab
expect "pid 0: exit 2" 2 'is not a process id' "$CR" -c none checkpoint 0
expect "pid 1: exit 2" 2 "init" "$CR" -c none checkpoint 1
expect "cr's own pid: exit 2" 2 "is cr itself" sh -c "exec \"$CR\" -c none checkpoint \$\$"
expect "nonexistent pid: exit 1" 1 "no such process" "$CR" -c none checkpoint 4194000
expect "--detach with --wait: exit 2" 2 "exclude each other" "$CR" -c none restore --detach --wait
expect "absolute --parent-path: exit 2" 2 "must be relative" "$CR" -c none checkpoint --parent-path /x 2
expect "--log-file with a slash: exit 2" 2 "not a path" "$CR" -c none checkpoint --log-file a/b 2
expect "bad --manage-cgroups-mode: exit 2" 2 '"bogus" is not one of soft|full|strict|ignore' \
	"$CR" -c none checkpoint --manage-cgroups-mode bogus 2
expect "bad --timeout: exit 2" 2 'not a number from 0 to' "$CR" -c none checkpoint --timeout -5 2
expect "--timeout out of range: exit 2" 2 'not a number from 0 to 86400' "$CR" -c none checkpoint --timeout 99999999 2
expect "empty --empty-ns is no namespace, bad one: exit 2" 2 'not one of network' "$CR" -c none checkpoint --empty-ns pid 2
expect "--inherit-fd without a number: exit 2" 2 "expected KEY:FD" "$CR" -c none restore --inherit-fd pipe
expect "--inherit-fd of a closed fd: exit 2" 2 "is not open in cr" "$CR" -c none restore --inherit-fd 'pipe:[1]:77'
expect "--wait with --criu-socket: exit 2" 2 "needs criu swrk" "$CR" -c none restore --wait --criu-socket /x
expect "migrate without a transport: exit 2" 2 "exactly one of --via" "$CR" -c none migrate 2
expect "migrate --to without a token: exit 2" 2 "needs --token-file" "$CR" -c none migrate --to 127.0.0.1:1 2
expect "migrate --to without a port: exit 2" 2 "expected HOST:PORT" "$CR" -c none migrate --to host:x --token-file /x 2
expect "migrate --to a host name: exit 2 (cr has no resolver)" 2 "HOST a numeric IPv4 or IPv6 address" "$CR" -c none migrate --to localhost:4444 --token-file /x 2
expect "receive --listen a host name: exit 2" 2 "HOST a numeric IPv4 or IPv6 address" "$CR" -c none receive --listen localhost:4444 --token-file /x
expect "receive without --stdio or --listen: exit 2" 2 "exactly one of --stdio" "$CR" -c none receive
expect "--lazy-pages without --page-server: exit 2" 2 "needs --page-server" "$CR" -c none checkpoint --lazy-pages 2
long=$(head -c 4096 /dev/zero | tr '\0' a)
expect "4 KiB value: exit 2" 2 "longer than 1023 bytes" "$CR" -c none checkpoint -D "$long" 2
expect "control character in a value: exit 2" 2 "control character" "$CR" -c none checkpoint -D "$(printf 'a\nb')" 2
expect "non-UTF-8 image path is accepted as bytes but must exist for restore: exit 1" 1 "image path" \
	"$CR" -c none restore -D "$(printf '/nonexistent/\377\376')"
expect "restore from a missing directory: exit 1" 1 "No such file or directory" "$CR" -c none restore -D "$T/none"
mkdir -p "$T/notck"
expect "restore from a directory that is not a checkpoint: exit 1" 1 "not a checkpoint" "$CR" -c none restore -D "$T/notck"
expect "criu missing: exit 1, names what was tried" 1 "tried: /nonexistent/criu" \
	env PATH=/nonexistent CR_CRIU= "$CR" -c none check
: >"$T/notexec"; chmod 644 "$T/notexec"
expect "criu not executable: exit 1" 1 "criu $T/notexec" "$CR" -c none --criu "$T/notexec" check

# Configuration file.
ini() { printf '%s\n' "$@" >"$T/cr.ini"; chmod 600 "$T/cr.ini"; }
ini "[criu]" "binary = /nonexistent/from-ini"
expect "ini [criu] binary is used" 1 "/nonexistent/from-ini" "$CR" -c "$T/cr.ini" check
expect "a flag beats the ini file" 1 "/nonexistent/from-flag" "$CR" -c "$T/cr.ini" --criu /nonexistent/from-flag check
expect "the ini file beats \$CR_CRIU" 1 "/nonexistent/from-ini" env CR_CRIU=/nonexistent/from-env "$CR" -c "$T/cr.ini" check
expect "\$CR_CRIU beats PATH" 1 "/nonexistent/from-env" env CR_CRIU=/nonexistent/from-env "$CR" -c none check
mkdir -p "$T/full-ini" "$T/full-flag"; : >"$T/full-ini/x"; : >"$T/full-flag/x"
ini "[checkpoint]" "image-path = $T/full-ini"
expect "ini [checkpoint] image-path is used" 1 "full-ini is not empty" "$CR" -c "$T/cr.ini" checkpoint $$
expect "-D beats [checkpoint] image-path" 1 "full-flag is not empty" "$CR" -c "$T/cr.ini" checkpoint -D "$T/full-flag" $$
expect "[checkpoint] keys do not apply to restore" 1 "image path checkpoint" "$CR" -c "$T/cr.ini" restore
ini "[checkpoint]" "leave-running = true" "bogus line"
expect "unparsable ini line: FILE:LINE, exit 2" 2 "cr.ini:3: cannot parse" "$CR" -c "$T/cr.ini" checkpoint 2
ini "[checkpoint]" "" "leave-runing = true"
expect "unknown ini key: FILE:LINE, exit 2" 2 'cr.ini:3: unknown key "leave-runing" in \[checkpoint\]' "$CR" -c "$T/cr.ini" checkpoint 2
ini "[dump]" "x = 1"
expect "unknown ini section: exit 2" 2 "cr.ini:1: unknown section \[dump\]" "$CR" -c "$T/cr.ini" checkpoint 2
ini "[restore]" "leave-running = true"
expect "key of another section: exit 2" 2 'cr.ini:2: unknown key "leave-running" in \[restore\]' "$CR" -c "$T/cr.ini" checkpoint 2
ini "[restore]" "wait = maybe"
expect "bad value in another command's section is still reported" 2 'cr.ini:2: wait: "maybe" is not a boolean' "$CR" -c "$T/cr.ini" checkpoint 2
ini "[criu]" "log-level = 9"
expect "out-of-range ini value: exit 2" 2 "cr.ini:2: log-level" "$CR" -c "$T/cr.ini" check
ini "[checkpoint]" "image-path = $long"
expect "4 KiB ini value: exit 2" 2 "longer than 1023 bytes" "$CR" -c "$T/cr.ini" checkpoint 2
expect "missing -c file: exit 2" 2 "config $T/nope" "$CR" -c "$T/nope" check
if [ "$(id -u)" = 0 ]; then
	ini "[criu]"; chmod 666 "$T/cr.ini"
	expect "root refuses a world-writable config: exit 2" 2 "writable by group or others" "$CR" -c "$T/cr.ini" check
	chmod 620 "$T/cr.ini"
	expect "root refuses a group-writable config: exit 2" 2 "config $T/cr.ini: writable by group or others" "$CR" -c "$T/cr.ini" check
	chmod 600 "$T/cr.ini"; chown nobody "$T/cr.ini"
	expect "root refuses a config owned by another user: exit 2" 2 "config $T/cr.ini: owned by another user" "$CR" -c "$T/cr.ini" check
	chown root "$T/cr.ini"
	echo s3cret >"$T/tok"; chmod 640 "$T/tok"
	expect "root refuses a token file others can read: exit 2" 2 "token-file $T/tok: readable or writable by others" \
		"$CR" -c none migrate --to 127.0.0.1:1 --token-file "$T/tok" $$
	chmod 600 "$T/tok"; chown nobody "$T/tok"
	expect "root refuses a token file owned by another user: exit 2" 2 "token-file $T/tok: owned by another user" \
		"$CR" -c none receive --listen 127.0.0.1:1 --token-file "$T/tok"
	if grep -q s3cret "$T/err" "$T/out"; then notok "... and never shows the token" "$T/err"; else ok "... and never shows the token"; fi
	rm -f "$T/tok"
fi
# No value but a hook command reaches a shell: these would create $T/pwned
# if cr ran them through sh -c.
mkdir -p "$T/sh"
(cd "$T/sh" && "$CR" -c none --criu '$(touch ../pwned)' check) >/dev/null 2>&1
(cd "$T/sh" && "$CR" -c none restore -D '`touch ../pwned`') >/dev/null 2>&1
if [ ! -e "$T/pwned" ] && [ -z "$(ls "$T/sh")" ]; then ok "values of --criu and -D never reach a shell"
else notok "values of --criu and -D never reach a shell"; fi

# cr.ini.example documents every key, in the right section.
for sec in checkpoint pre-dump restore page-server cgroup criu hooks migrate; do
	case $sec in
	cgroup) keys="path freeze allow-foreign remove controllers" ;;
	hooks) keys="post-dump timeout" ;;
	migrate) keys=$({ "$CR" migrate --help; "$CR" receive --help; } | sed -n 's/^  \(-., \)\{0,1\} *--\([a-z-]*\).*/\2/p' |
		sort -u | grep -v -e '^config$' -e '^help$' -e '^criu$' -e '^criu-socket$' -e '^log-level$' -e '^verbose$' \
			-e '^cgroup' -e '^freeze$' -e '^allow-foreign$') ;;
	criu) keys="binary socket log-level verbose" ;;
	*) keys=$("$CR" "$sec" --help | sed -n 's/^  \(-., \)\{0,1\} *--\([a-z-]*\).*/\2/p' |
		grep -v -e '^config$' -e '^help$' -e '^criu$' -e '^criu-socket$' -e '^log-level$' -e '^verbose$' \
			-e '^cgroup' -e '^freeze$' -e '^allow-foreign$' -e '^remove-cgroup$' -e '^hook') ;;
	esac
	miss=
	for k in $keys; do
		awk -v s="[$sec]" -v k="$k" '$0 == s { in_s = 1; next } /^\[/ { in_s = 0 } in_s && $0 ~ "^;" k " =" { f = 1 } END { exit !f }' \
			"$top/cr.ini.example" || miss="$miss $k"
	done
	if [ -z "$miss" ]; then ok "cr.ini.example documents every [$sec] key"
	else notok "cr.ini.example lacks [$sec] keys:$miss"; fi
done
sed 's/^;\([a-z-]* = \)/\1/' "$top/cr.ini.example" >"$T/all.ini"; chmod 600 "$T/all.ini"
expect "every key of cr.ini.example, uncommented, is accepted" 1 "connect to criu service at /run/criu_service.socket" "$CR" -c "$T/all.ini" check

# The documentation (README.md, docs/*.md) against cr.c's option and command
# tables (tests/check-docs.py; it reads them, it runs nothing). Sources, not
# the binary: once, not again for each cross binary.
if [ -n "${CR_TIER0_ONLY:-}" ]; then
	:
elif ! command -v python3 >/dev/null; then
	if [ "${CI:-}" = true ]; then notok "python3 for the documentation checks"
	else echo "# documentation checks skipped: no python3"; fi
else
	for c in "options:docs/options.md is current (make docs)" \
		"coverage:every command has a section in docs/usage.md, every flag is documented, every --flag shown exists" \
		"commands:every cr command line in README.md's and docs/'s code blocks parses" \
		"links:every relative link in README.md and docs/ leads to a file and a heading"; do
		if python3 "$top/tests/check-docs.py" "${c%%:*}" >"$T/docs-${c%%:*}.out" 2>&1; then ok "${c#*:}"
		else notok "${c#*:}" "$T/docs-${c%%:*}.out"; fi
	done
fi

# The binary itself (a sanitizer build is neither static nor small).
if [ -n "${CR_SANITIZED:-}" ]; then
	echo "# $CR is a sanitizer build: static link and size not checked"
else
	if file -L "${CR_BIN:-$CR}" | grep -q "statically linked"; then ok "cr is statically linked"
	else notok "cr is statically linked: $(file -L "${CR_BIN:-$CR}")"; fi
	size=$(stat -c %s "${CR_BIN:-$CR}")
	if [ "$size" -le 131072 ]; then ok "cr is $size bytes, within the 131072-byte budget"
	else notok "cr is $size bytes, over the 131072-byte budget"; fi
fi

# ================= hostile input: every flag and ini key =================
# tests/hostile.sh runs cr with every option and ini key set to empty,
# 4 KiB, non-UTF-8, newline and out-of-range values, hostile paths and
# pids, argument bombs; every run must fail clearly and touch nothing.
sh "$top/tests/hostile.sh" "$CR" >"$T/hostile.out" 2>&1
while IFS= read -r line; do
	case $line in
	"ok - "*) ok "hostile: ${line#ok - }" ;;
	"not ok - "*) notok "hostile: ${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$T/hostile.out"

# ==================== a fake criu, for what CRIU won't do ==================
# tests/fake-criu.c speaks CRIU's side of the RPC protocol and misbehaves on
# demand (FAKE_CRIU=mode): the only stand-in for CRIU in this suite.
FAKE=$top/tests/bin/fake-criu
if mkdir -p "$top/tests/bin" && cc -O2 -I"$top/nanopb" -o "$FAKE" "$top/tests/fake-criu.c" "$top/nanopb/rpc.pb.c" \
	"$top/nanopb/pb_common.c" "$top/nanopb/pb_encode.c" "$top/nanopb/pb_decode.c" 2>"$T/cc.log"; then
	sleep 300 </dev/null >/dev/null 2>&1 &
	S=$!
	fk() { # fk MODE STATUS PATTERN ARGS...: cr against the fake in mode MODE
		_m=$1 _s=$2 _p=$3; shift 3
		rm -rf "$T/fk" "$T/fk.dump.log"
		expect "fake criu ($_m): exit $_s from: cr ${*#fkrun $_m }" "$_s" "$_p" "$@"
	}
	fkrun() { _m=$1; shift; FAKE_CRIU=$_m "$CR" -c none --criu "$FAKE" "$@"; }
	mkdir -p "$T/notck2"; echo precious >"$T/notck2/file"
	fk force-non-checkpoint 1 "holds no checkpoint (no inventory.img), so --force will not replace it" \
		fkrun ok checkpoint --force -D "$T/notck2" $S
	if [ "$(cat "$T/notck2/file")" = precious ]; then ok "... and the directory is untouched"
	else notok "... and the directory is untouched"; fi
	# a temporary directory left by a killed cr of the same pid is not reused
	fk stale-tmp 0 "" sh -c 'mkdir -p "$1/.fk.cr-$$" && : >"$1/.fk.cr-$$/stale-1.img" && FAKE_CRIU=ok exec "$2" -c none --criu "$3" checkpoint -D "$1/fk" "$4"' \
		sh "$T" "$CR" "$FAKE" $S
	if [ -f "$T/fk/inventory.img" ] && [ ! -e "$T/fk/stale-1.img" ]; then ok "... the stale temporary directory's files are gone"
	else notok "... the stale temporary directory's files are gone"; fi
	# $TMPDIR: where check (and migrate, receive) make their directories
	mkdir -p "$T/tmpdir"
	expect "check with \$TMPDIR: exit 0" 0 "" env TMPDIR="$T/tmpdir" FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" check
	if [ -z "$(ls -A "$T/tmpdir")" ]; then ok "... its temporary directory is gone afterwards"
	else notok "... its temporary directory is gone afterwards: $(ls -A "$T/tmpdir")"; fi
	expect "check with a \$TMPDIR that does not exist: exit 1, named" 1 "create $T/nonexistent/cr-check\.[0-9a-f]*: No such file" \
		env TMPDIR="$T/nonexistent" FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" check
	# check owns its report: CRIU's stderr and cr's warnings are captured,
	# each "no" says why in one line and names the fix it knows
	chk_run() { # chk_run NAME FAKE_CRIU [PREFIX...]: check (and --json) against the fake
		_n=$1 _m=$2; shift 2
		"$@" env FAKE_CRIU="$_m" "$CR" -c none --criu "$FAKE" check >"$T/chk.$_n" 2>"$T/chk.$_n.err"; echo $? >"$T/chk.$_n.rc"
		"$@" env FAKE_CRIU="$_m" "$CR" -c none --criu "$FAKE" check --json >"$T/chk.$_n.json" 2>>"$T/chk.$_n.err"
	}
	# chk_json NAME PYTHON-EXPR: --json's one document, parsed strictly, makes EXPR true (d: the document)
	chk_json() {
		python3 -c 'import json, sys
def strict(x): raise ValueError("not JSON: " + x)
d = json.loads(open(sys.argv[1]).read(), parse_constant=strict)
sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/chk.$1.json" "$2" 2>>"$T/chk.$1.err"
	}
	chk_run vdso "log@FEATURE_CHECK,msg=Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds"
	if [ "$(cat "$T/chk.vdso.rc")" = 1 ] && [ "$(grep -c . "$T/chk.vdso.err")" = 2 ] &&
		[ "$(grep -c '^cr: checkpoint and restore cannot work here: .*vDSO area bounds$' "$T/chk.vdso.err")" = 2 ] &&
		grep -q '^checkpoint   no: .*CRIU says: Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds$' "$T/chk.vdso" &&
		grep -A1 '^restore      no: ' "$T/chk.vdso" | grep -q '^  *fix: this CRIU is too old for this kernel: CRIU 4.2 or newer works' &&
		grep -q '^pre-dump     unknown: ' "$T/chk.vdso"; then
		ok "check, CRIU too old for the kernel (vDSO): exit 1, one line on stderr (and CRIU's stderr not there), CRIU's error quoted in one line, the fix named"
	else notok "check, CRIU too old for the kernel (vDSO): exit 1, CRIU's error quoted, the fix named" "$T/chk.vdso" "$T/chk.vdso.err"; fi
	if chk_json vdso 'd["checkpoint"]["ok"] is False and "vDSO area" in d["checkpoint"]["why"] and "4.2 or newer" in d["restore"]["fix"] and d["pre_dump"]["ok"] is None and d["criu_version"] == "4.2.1"'; then
		ok "... check --json: one document a strict parser takes, with the same facts"
	else notok "... check --json: one document with the same facts" "$T/chk.vdso.json" "$T/chk.vdso.err"; fi
	chk_run plain ok
	if [ "$(cat "$T/chk.plain.rc")" = 0 ] && [ ! -s "$T/chk.plain.err" ] && grep -q '^checkpoint   yes$' "$T/chk.plain" &&
		grep -q '^pre-dump     no: the kernel has no soft-dirty memory tracking (CONFIG_MEM_SOFT_DIRTY)$' "$T/chk.plain" &&
		grep -A1 '^pre-dump' "$T/chk.plain" | grep -q '^  *fix: checkpoint without pre-dump (migrate --mode stop-copy or post-copy), or a kernel with CONFIG_MEM_SOFT_DIRTY=y' &&
		chk_json plain 'd["checkpoint"]["ok"] is True and d["restore"]["ok"] is True and d["pre_dump"]["ok"] is False and "soft-dirty" in d["pre_dump"]["why"] and "CONFIG_MEM_SOFT_DIRTY=y" in d["pre_dump"]["fix"]'; then
		ok "check, no soft-dirty tracking (FEATURE_CHECK mem_track=no): exit 0, pre-dump no, why and fix (text and --json)"
	else notok "check, no soft-dirty tracking: pre-dump no, why and fix" "$T/chk.plain" "$T/chk.plain.json" "$T/chk.plain.err"; fi
	chk_run uffd no-uffd,mem-track
	if [ "$(cat "$T/chk.uffd.rc")" = 0 ] && grep -q '^pre-dump     yes$' "$T/chk.uffd" &&
		grep -q '^lazy pages   no: this kernel has no userfaultfd that CRIU can use' "$T/chk.uffd" &&
		grep -A1 '^lazy pages' "$T/chk.uffd" | grep -q '^  *fix: post-copy cannot work here: migrate --mode stop-copy' &&
		chk_json uffd 'd["lazy_pages"]["ok"] is False and "userfaultfd" in d["lazy_pages"]["why"] and d["pre_dump"]["ok"] is True'; then
		ok "check, no userfaultfd (FEATURE_CHECK lazy_pages=no): exit 0, lazy pages no, why and fix"
	else notok "check, no userfaultfd: lazy pages no, why and fix" "$T/chk.uffd" "$T/chk.uffd.json" "$T/chk.uffd.err"; fi
	chk_run log log@CHECK
	if [ "$(cat "$T/chk.log.rc")" = 1 ] && [ "$(grep -c . "$T/chk.log.err")" = 2 ] &&
		grep -q '^criu check   no: failed (log: .*/check.log)$' "$T/chk.log" &&
		grep -q '^checkpoint   no: .*CRIU says: Error (criu/cr-check.c:1): fake failure$' "$T/chk.log" &&
		! grep -A1 '^checkpoint' "$T/chk.log" | grep -q 'fix:' && chk_json log '"fake failure" in d["checkpoint"]["why"] and d["checkpoint"]["fix"] is None'; then
		ok "check, CRIU's own check fails: exit 1, its log named, its Error line quoted, no fix made up"
	else notok "check, CRIU's own check fails: its log named, its Error line quoted" "$T/chk.log" "$T/chk.log.err"; fi
	rm -rf "${TMPDIR:-/tmp}"/cr-check.*
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && command -v unshare >/dev/null; then
		chmod 755 "$T"
		chk_run user ok setpriv --reuid 65534 --regid 65534 --clear-groups env TMPDIR=/tmp
		if [ "$(cat "$T/chk.user.rc")" = 1 ] && grep -q '^user         uid 65534$' "$T/chk.user" &&
			grep -q '^checkpoint   no: cr runs as uid 65534, not root$' "$T/chk.user" &&
			grep -A1 '^checkpoint' "$T/chk.user" | grep -q '^  *fix: run cr as root' &&
			chk_json user 'd["user"] == "uid 65534" and d["restore"]["ok"] is False and "not root" in d["restore"]["why"]'; then
			ok "check as uid 65534: exit 1, checkpoint no: not root, fix: run cr as root"
		else notok "check as uid 65534: not root, and the fix" "$T/chk.user" "$T/chk.user.json" "$T/chk.user.err"; fi
		mkdir -p "$T/run-dir"
		chk_run runtmpfs ok unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec "$@"' sh
		chk_run rundir ok unshare -m sh -c 'mount --bind "$0" /run && exec "$@"' "$T/run-dir"
		if grep -q '^/run tmpfs   yes$' "$T/chk.runtmpfs" && [ "$(cat "$T/chk.runtmpfs.rc")" = 0 ] &&
			grep -q '^/run tmpfs   no: CRIU probes the kernel on every run' "$T/chk.rundir" &&
			grep -A1 '^/run tmpfs' "$T/chk.rundir" | grep -q '^  *fix: mount -t tmpfs tmpfs /run' &&
			[ "$(cat "$T/chk.rundir.rc")" = 0 ] && chk_json rundir 'd["run_tmpfs"]["ok"] is False and d["checkpoint"]["ok"] is True'; then
			ok "check, /run a tmpfs: yes; /run a plain directory: no, a speed note with its fix, and exit 0 all the same"
		else notok "check, /run tmpfs or not" "$T/chk.runtmpfs" "$T/chk.rundir" "$T/chk.rundir.err"; fi
	fi
	# receive --listen outlives bad peers: against the fake criu, a silent
	# peer, garbage, a wrong token and one over --max-unauthenticated (told
	# BUSY) are each named in one line, and the good HELLO that comes after
	# them gets READY (the "sender" then hangs up: exit 1, nothing left)
	if command -v python3 >/dev/null; then
		echo s3cret >"$T/tok"; chmod 600 "$T/tok"
		_port=$((20000 + $$ % 20000))
		mkdir -p "$T/rcvtmp"
		TMPDIR="$T/rcvtmp" FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" receive --listen 127.0.0.1:$_port --token-file "$T/tok" \
			--tmpfs no --grace-time 2 --max-unauthenticated 2 --timeout 30 >"$T/rcv.out" 2>"$T/rcv.err" &
		_r=$!
		python3 "$top/tests/listen-peers.py" bad "$_port" >"$T/peers.out" 2>&1
		wait $_r; _st=$?
		_named=$(grep -c '^cr: receive: peer 127\.0\.0\.1:[0-9]*: ' "$T/rcv.err")
		if grep -q '^busy got frame 15$' "$T/peers.out" && grep -q '^wrong got None$' "$T/peers.out" &&
			grep -q '^good got frame 2$' "$T/peers.out" && [ $_st = 1 ] && [ "$_named" = 5 ] &&
			grep -q ': over --max-unauthenticated (2 connections wait for their HELLO): told busy$' "$T/rcv.err" &&
			grep -q ': sent a frame of type 117901063, not a HELLO$' "$T/rcv.err" &&
			grep -q ': did not present the token of --token-file; the next from its address waits$' "$T/rcv.err" &&
			[ "$(grep -c ': no complete HELLO within the grace time (2 s; 0 bytes came)$' "$T/rcv.err")" = 2 ] &&
			! grep -q 's3cret\|wrong' "$T/rcv.err" && [ -z "$(ls -A "$T/rcvtmp")" ]; then
			ok "receive --listen outlives a silent peer, garbage, a wrong token and one over the cap (told BUSY), each named once; the right token then gets READY"
		else notok "receive --listen outlives bad peers (exit $_st, $_named named)" "$T/peers.out" "$T/rcv.err"; fi
	fi
	# ... and each waiting connection keeps its own buffer: a HELLO sent in
	# two parts around another peer's leaving and a newcomer's header
	# still arrives whole (it once shared the newcomer's buffer)
	if command -v python3 >/dev/null; then
		_port=$((_port + 1))
		TMPDIR="$T/rcvtmp" FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" receive --listen 127.0.0.1:$_port --token-file "$T/tok" \
			--tmpfs no --timeout 30 >"$T/rcv.out" 2>"$T/rcv.err" &
		_r=$!
		python3 "$top/tests/listen-peers.py" split "$_port" >"$T/peers.out" 2>&1
		wait $_r
		if grep -q '^x got frame 2$' "$T/peers.out" && [ "$(grep -c 'peer 127.0.0.1:[0-9]*: ' "$T/rcv.err")" = 2 ] &&
			grep -q 'peer 127.0.0.1:[0-9]*: closed before its HELLO was complete (0 bytes came)$' "$T/rcv.err" &&
			grep -q 'peer 127.0.0.1:[0-9]*: dropped: a sender presented the token$' "$T/rcv.err"; then
			ok "... a HELLO in two parts, around another peer leaving and a newcomer's header, arrives whole: READY"
		else notok "... a HELLO in two parts arrives whole" "$T/peers.out" "$T/rcv.err"; fi
	fi
	# ... and nothing keeps a slot past its grace time: silent connections
	# from an address that keeps failing the token (each failure holds
	# the address) are still dropped on time
	if command -v python3 >/dev/null; then
		_port=$((_port + 1))
		TMPDIR="$T/rcvtmp" FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" receive --listen 127.0.0.1:$_port --token-file "$T/tok" \
			--tmpfs no --grace-time 2 --timeout 16 >"$T/rcv.out" 2>"$T/rcv.err" &
		_r=$!
		python3 "$top/tests/listen-peers.py" slots "$_port" >"$T/peers.out" 2>&1
		wait $_r
		_secs=$(sed -n 's/^silent ones closed after \([0-9.]*\) s$/\1/p' "$T/peers.out")
		if [ -n "$_secs" ] && awk -v s="$_secs" 'BEGIN { exit !(s <= 10.5) }' &&
			[ "$(grep -c ': no complete HELLO within the grace time (2 s; 0 bytes came)$' "$T/rcv.err")" = 3 ]; then
			ok "... silent connections from an address that keeps failing the token are still dropped in bounded time (${_secs} s: grace 2 s + at most 8 s of its address's wait)"
		else notok "... silent connections are dropped on time whatever their address does (${_secs:-?} s)" "$T/peers.out" "$T/rcv.err"; fi
	fi
	# a known CRIU error in a failed operation's log gets its fix too
	fk "log,msg=Can't get 1:16 opt" 1 "this CRIU is too old for this kernel: CRIU 4.2 or newer works" \
		fkrun "log,msg=Can't get 1:16 opt: Operation not supported" checkpoint -D "$T/fk" $S
	# ... and only then: another error that merely mentions the vDSO gets none
	rm -rf "$T/fk" "$T/fk.dump.log"
	FAKE_CRIU="log,msg=vdso: Parsing at 7ffd1c5f4000 7ffd1c5f6000" "$CR" -c none --criu "$FAKE" checkpoint -D "$T/fk" $S >"$T/out" 2>"$T/err"
	if [ $? = 1 ] && grep -q 'vdso: Parsing at' "$T/err" && ! grep -q 'too old for this kernel' "$T/err"; then
		ok "... a failure whose log mentions the vDSO elsewhere gets no such fix"
	else notok "... a failure whose log mentions the vDSO elsewhere gets no such fix" "$T/err"; fi
	fk parent-path 1 "--parent-path ../nope: no such directory relative to the image directory" \
		fkrun mem-track pre-dump --parent-path ../nope -D "$T/fk" $S
	rm -f "$T/rec"
	fk record 0 "" env FAKE_CRIU_RECORD="$T/rec" FAKE_CRIU=mem-track "$CR" -c none --criu "$FAKE" pre-dump --auto-dedup -D "$T/fk" $S
	if grep -q "^SINGLE_PRE_DUMP .*auto_dedup=1" "$T/rec"; then ok "pre-dump --auto-dedup reaches CRIU"
	else notok "pre-dump --auto-dedup reaches CRIU" "$T/rec"; fi
	# restore --cgroup: the cg_root entries cr sends (real cgroupfs, fake criu)
	V2=/sys/fs/cgroup/unified
	[ -f /sys/fs/cgroup/cgroup.controllers ] && V2=/sys/fs/cgroup
	if [ "$(id -u)" = 0 ] && [ -d "$T/fk" ] && [ -d "$V2" ]; then
		cgn=cr-t0-$$
		rm -f "$T/rec"
		FAKE_CRIU_RECORD="$T/rec" FAKE_CRIU_CHILD=1 "$CR" -c none --criu "$FAKE" restore --cgroup "$V2/$cgn" -D "$T/fk" >/dev/null 2>"$T/err"
		# the unnamed entry first; on a hybrid host also one per mounted
		# v1 controller, naming the cgroup criu (like this shell) is in
		# there, so that CRIU does not take the unnamed one for v1 too
		v1=$(sed -n 's/.* - cgroup [^ ]* //p' /proc/self/mountinfo | tr ',' '\n' |
			grep -v -E '^(rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|noprefix|xattr|cpuset_v2_mode|favordynmods|release_agent=.*)$')
		want="cg_root=:/$cgn $(for c in $v1; do
			awk -F: -v c="$c" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print "cg_root=" c ":" $3 }' /proc/self/cgroup
		done | sort | tr '\n' ' ')"
		roots=$(grep -o 'cg_root=[^ ]*' "$T/rec" | head -n 1 | tr '\n' ' ')$(grep -o 'cg_root=[^ ]*' "$T/rec" | tail -n +2 | sort | tr '\n' ' ')
		if [ "$roots" = "$want" ]; then ok "restore --cgroup on v2: one unnamed cg_root entry, and one per v1 controller naming criu's own cgroup ($(echo $roots | wc -w))"
		else notok "restore --cgroup on v2: one unnamed cg_root entry, then the v1 ones (got: $roots; want: $want)" "$T/err" "$T/rec"; fi
		if [ -d /sys/fs/cgroup/freezer ] && [ "$V2" != /sys/fs/cgroup ]; then
			rm -f "$T/rec"
			FAKE_CRIU_RECORD="$T/rec" FAKE_CRIU_CHILD=1 "$CR" -c none --criu "$FAKE" restore --cgroup "/sys/fs/cgroup/freezer/$cgn" -D "$T/fk" >/dev/null 2>"$T/err"
			want=$(sed -n 's/.* - cgroup [^ ]* //p' /proc/self/mountinfo | tr ',' '\n' |
				grep -v -E '^(rw|ro|relatime|noatime|nosuid|nodev|noexec|clone_children|noprefix|xattr|cpuset_v2_mode|favordynmods|release_agent=.*)$' |
				sed "s|.*|cg_root=&:/$cgn|" | sort | tr '\n' ' ')
			got=$(grep -o 'cg_root=[^ ]*' "$T/rec" | sort | tr '\n' ' ')
			if [ -n "$want" ] && [ "$got" = "$want" ]; then ok "restore --cgroup on v1: one cg_root per controller of every hierarchy ($(echo $got | wc -w))"
			else notok "restore --cgroup on v1: one cg_root per controller (got: $got; want: $want)" "$T/err"; fi
		fi
		sleep 1.2
		for h in "$V2" /sys/fs/cgroup/*; do [ -d "$h/$cgn" ] && rmdir "$h/$cgn"; done
	fi
	rm -rf "$T/fk" "$T/wd2" "$T/deep"
	fk deep-parents 1 "fake failure" fkrun log checkpoint -W "$T/wd2" -D "$T/deep/a/b/ck" $S
	if [ ! -e "$T/deep" ] && [ -s "$T/wd2/dump.log" ]; then ok "... the parent directories cr created for it are gone, the log is kept"
	else notok "... the parent directories cr created for it are gone, the log is kept"; fi
	fk version=3.14 1 "CRIU 3.14.0 is too old: cr needs CRIU 3.15" fkrun version=3.14 checkpoint -D "$T/fk" $S
	fk version=3.18 1 "network-lock skip needs CRIU 3.19" fkrun version=3.18 checkpoint --network-lock skip -D "$T/fk" $S
	fk version=3.15 1 "network-lock nftables needs CRIU 3.16" fkrun version=3.15 checkpoint --network-lock nftables -D "$T/fk" $S
	fk version=3.19 0 "" fkrun version=3.19 checkpoint --network-lock skip -D "$T/fk" $S
	fk exit 1 "criu exited without answering the VERSION request" fkrun exit checkpoint -D "$T/fk" $S
	fk crash 1 "without answering the DUMP request (killed by signal 11" fkrun crash checkpoint -D "$T/fk" $S
	fk garbage 1 "malformed reply from criu" fkrun garbage checkpoint -D "$T/fk" $S
	fk truncated 1 "malformed reply from criu" fkrun truncated check
	fk oversized 1 "larger than 4096 bytes: not a CRIU reply" fkrun oversized checkpoint -D "$T/fk" $S
	fk wrongtype 1 "unexpected response type DUMP to the VERSION request" fkrun wrongtype checkpoint -D "$T/fk" $S
	fk flood 0 "" fkrun flood checkpoint -D "$T/fk" $S
	# the fake writes no stats files: --print-stats and --json cannot be
	# honoured, though the operation itself succeeded
	fk no-stats 1 "the checkpoint itself is complete, in $T/fk; only its statistics are missing" \
		fkrun ok checkpoint --print-stats -D "$T/fk" $S
	if [ -f "$T/fk/inventory.img" ] && grep -q "$T/fk/stats-dump:" "$T/err"; then ok "... the images are in place; the missing file is named"
	else notok "... the images are in place; the missing file is named" "$T/err"; fi
	expect "restore --json without stats: exit 1, the pid named" 1 "the restore itself is complete (pid [0-9]*); only its statistics are missing" \
		env FAKE_CRIU_CHILD=1 FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" restore --json -D "$T/fk"
	fk fd 0 "" fkrun fd checkpoint -D "$T/fk" $S
	if [ -s "$T/err" ]; then notok "fake criu (fd): cr closed the fd it did not ask for" "$T/err"
	else ok "fake criu (fd): cr closed the fd it did not ask for"; fi
	fk ok 0 "" fkrun ok checkpoint -D "$T/fk" $S
	expect "fake criu (fd@pre-restore): exit 0" 0 "" env FAKE_CRIU_CHILD=1 FAKE_CRIU=fd@pre-restore "$CR" -c none --criu "$FAKE" restore -D "$T/fk"
	if [ -s "$T/err" ]; then notok "fake criu (fd with a notification, as orphan-pts-master): cr closed it" "$T/err"
	else ok "fake criu (fd with a notification, as orphan-pts-master): cr closed it"; fi
	fk log 1 "No such process (errno 3)" fkrun log checkpoint -D "$T/fk" $S
	if grep -q "fake failure" "$T/err" && [ ! -e "$T/fk" ] && [ -s "$T/fk.dump.log" ]; then
		ok "a failed checkpoint quotes CRIU's log, kept beside the target; no image directory"
	else notok "a failed checkpoint quotes CRIU's log, kept beside the target; no image directory" "$T/err"; fi
	mkdir -p "$T/wd"
	fk log 1 "CRIU log: $T/wd/dump.log" fkrun log checkpoint -W "$T/wd" -D "$T/fk" $S
	if [ -z "$(find "$T" -maxdepth 1 -name '.fk.cr-*')" ] && [ ! -e "$T/fk" ]; then
		ok "a failed checkpoint with --work-path leaves no temporary directory"
	else notok "a failed checkpoint with --work-path leaves no temporary directory"; fi
	echo "Error (criu/old.c:1): a stale error" >"$T/wd/dump.log"
	fk exit-after-version 1 "CRIU wrote no log" fkrun exit-after-version checkpoint -W "$T/wd" -D "$T/fk" $S
	if grep -q "stale error" "$T/err"; then notok "an earlier run's log is never quoted" "$T/err"
	else ok "an earlier run's log is never quoted"; fi
	t0=$(date +%s)
	fk hang 1 "timed out after 2 s (--timeout): killing criu" fkrun hang checkpoint --timeout 2 -D "$T/fk" $S
	t1=$(date +%s)
	if [ $((t1 - t0)) -le 6 ] && [ -z "$(find "$T" -maxdepth 1 -name '.fk.cr-*')" ]; then
		ok "--timeout 2 ends a hung criu within $((t1 - t0)) s, nothing left"
	else notok "--timeout 2 ends a hung criu within $((t1 - t0)) s, nothing left"; fi
	fk flood-hang 1 "timed out" fkrun flood-hang checkpoint --timeout 3 -D "$T/fk" $S
	fk hang 1 "timed out after 2 s" fkrun hang check --timeout 2
	# criu dies after post-dump, and the tree is gone: the images must stay
	sleep 300 </dev/null >/dev/null 2>&1 &
	V=$!
	fk crash@post-dump 1 "images are kept in" fkrun crash@post-dump checkpoint --hook "post-dump=kill -9 \$CR_PID" -D "$T/fk" $V
	if [ -n "$(find "$T" -maxdepth 1 -name '.fk.cr-*')" ]; then ok "... they are there"; rm -rf "$T"/.fk.cr-*
	else notok "... they are there"; fi
	fk crash@post-dump 1 "the tree is running" fkrun crash@post-dump checkpoint -D "$T/fk" $S
	fk wrongtype@pre-dump 1 "wrote no inventory.img" fkrun wrongtype@pre-dump checkpoint -D "$T/fk" $S
	# --status-fd: closed without its byte when the operation fails (the
	# fake has no page server; the lazy checkpoint's case is in tier 1)
	FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" page-server --status-fd 3 -D "$T/fkps" 3>"$T/status" >/dev/null 2>"$T/err"
	if [ $? = 1 ] && [ ! -s "$T/status" ] && grep -q "page server" "$T/err"; then ok "--status-fd gets no byte when the page server fails"
	else notok "--status-fd gets no byte when the page server fails" "$T/err"; fi
	# --via is split on blanks and executed, never given to a shell
	(cd "$T/sh" && FAKE_CRIU=ok "$CR" -c none --criu "$FAKE" migrate --via 'true;touch ../pwned' $S) >/dev/null 2>"$T/err"
	if [ ! -e "$T/pwned" ]; then ok "--via never reaches a shell"; else notok "--via never reaches a shell" "$T/err"; fi
	fk hook 1 'hook post-dump (exit 3) failed: exit status 3' fkrun ok checkpoint --hook 'post-dump=exit 3' -D "$T/fk" $S
	fk hook-timeout 1 'hook pre-dump timed out' fkrun ok checkpoint --hook 'pre-dump=sleep 30' --hook-timeout 1 -D "$T/fk" $S
	fk hook-missing 1 'hook pre-dump (/nonexistent/hook) failed: exit status 127' fkrun ok checkpoint --hook 'pre-dump=/nonexistent/hook' -D "$T/fk" $S
	kill $S
	wait $S 2>/dev/null
else
	notok "build the fake criu (tests/fake-criu.c)" "$T/cc.log"
fi

# tier 0 of another architecture's binary, run under qemu-user (below)
if [ -n "${CR_TIER0_ONLY:-}" ]; then
	echo "$pass passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

# ==================== tier 1: root, real CRIU, real kernel =================

tier1_skip() {
	if [ "${CI:-}" = true ]; then notok "tier 1 must run in CI: $1"
	else echo "# tier 1 skipped: $1"; fi
}

# tier1 PREFIX: every scenario of tests/scenarios.sh, tests/faults.sh and
# tests/matrix.sh, each as pid 1 of its own pid namespace, its results counted
# as PREFIX...; then the compatibility matrix of tests/matrix.sh as a table
# sweep_cgroups NAME-GLOB: scratch cgroups of that name in every hierarchy,
# sub-cgroups first: processes killed, freezers thawed, directories removed.
# For a scenario its timeout killed (its own traps never ran) and for what
# an earlier, killed run of the suite left behind.
sweep_cgroups() {
	for _c in $(for _h in /sys/fs/cgroup /sys/fs/cgroup/*; do
		for _d in "$_h"/$1; do [ -d "$_d" ] && find "$_d" -depth -type d; done
	done); do
		for _p in $(cat "$_c/cgroup.procs" 2>/dev/null); do kill -9 "$_p" 2>/dev/null; done
		[ -f "$_c/cgroup.freeze" ] && echo 0 >"$_c/cgroup.freeze" 2>/dev/null
		[ -f "$_c/freezer.state" ] && echo THAWED >"$_c/freezer.state" 2>/dev/null
		sleep 0.1
		rmdir "$_c" 2>/dev/null
	done
	return 0
}

tier1() {
	_left=
	: >"$T/matrix"
	# an earlier run of the suite that was killed left its scratch
	# cgroups (its directory is gone): they must not get in the way
	for _stale in $(ls -d /sys/fs/cgroup/cr-test-* /sys/fs/cgroup/*/cr-test-* 2>/dev/null); do
		_o=$(basename "$_stale" | sed -n 's/^cr-test-crtest\([a-zA-Z0-9]*\)-.*/\1/p')
		[ -n "$_o" ] && [ -d "$_stale" ] && [ ! -d "/tmp/cr-test.$_o" ] && sweep_cgroups "$(basename "$_stale")" &&
			echo "# removed $_stale and its namesakes, left by an earlier run"
	done
	for s in $(sed -n 's/^scenario_\([a-z0-9_]*\)() {$/scenarios:\1/p' "$top/tests/scenarios.sh") \
		$(sed -n 's/^scenario_\([a-z0-9_]*\)() {$/faults:\1/p' "$top/tests/faults.sh" 2>/dev/null) \
		$(sed -n 's/^scenario_\([a-z0-9_]*\)() {$/matrix:\1/p' "$top/tests/matrix.sh" 2>/dev/null); do
		file=${s%%:*} s=${s#*:}
		case $s in ${CR_TEST_ONLY:-*}) ;; *) continue ;; esac
		rm -rf "$T/$s" "$T/$s.tmp"
		mkdir -p "$T/$s" "$T/$s.tmp"
		_t0=$(date +%s)
		TMPDIR=$T/$s.tmp timeout -s KILL 180 unshare --pid --fork --mount-proc \
			sh "$top/tests/$file.sh" "$s" "$T/$s" >"$T/$s.out" 2>&1 </dev/null
		st=$?
		while IFS= read -r line; do
			case $line in
			"ok - "*) ok "$1$s: ${line#ok - }" ;;
			"not ok - "*) notok "$1$s: ${line#not ok - }" ;;
			"# matrix: "*) echo "${line#\# matrix: }" >>"$T/matrix" ;;
			"#   "*) why "$line" ;;
			*) echo "$line" ;;
			esac
		done <"$T/$s.out"
		if [ $st != 0 ]; then
			notok "$1$s: scenario exited with status $st"
			# killed by its timeout: what its traps would have undone
			sweep_cgroups "cr-test-$(basename "$T" | tr -dc 'a-zA-Z0-9')-$s*"
			_h=$(echo "$T/$s" | cksum | cut -c1-6)
			ip netns del "cra$_h" 2>/dev/null; ip netns del "crb$_h" 2>/dev/null
			rm -rf "$T/$s.tmp"/*
		fi
		[ "$file" = matrix ] && echo "# $1$s: $(($(date +%s) - _t0)) s"
		[ -z "$(ls "$T/$s.tmp")" ] || _left="$_left $(ls -d "$T/$s.tmp"/*)"
	done
	# what every scenario must have cleaned up: its scratch cgroups (in
	# every hierarchy, sub-cgroups too) and cr's temporary directories
	_tag=$(basename "$T" | tr -dc 'a-zA-Z0-9')
	_left="$(ls -d /sys/fs/cgroup/cr-test-"$_tag"-* /sys/fs/cgroup/*/cr-test-"$_tag"-* 2>/dev/null)$_left"
	if [ -z "$_left" ]; then ok "${1}tier 1 left no scratch cgroup and no temporary directory"
	else notok "${1}tier 1 left no scratch cgroup and no temporary directory: left $(echo $_left)"; fi
	# the matrix: programs as rows, the five modes as columns; a note
	# (why refused, n/a or FAIL) becomes a numbered footnote; "-": the
	# scenario reported nothing for it (killed by its timeout, or not run)
	[ -s "$T/matrix" ] && awk -F'|' -v pre="$1" -v criu="$("$CRIU" --version 2>&1 | sed -n 's/^Version: //p')" '
		BEGIN {
			nm = split("checkpoint+restore|leave-running copy|stop-copy --via|post-copy --via|post-copy --to", mode, "|")
			for (i = 1; i <= nm; i++) known[mode[i]] = 1
		}
		{
			if (!($1 in seen)) { seen[$1] = 1; prog[++np] = $1 }
			if (!($2 in known)) { known[$2] = 1; mode[++nm] = $2 }
			c = $3
			if ($4 != "") {
				if (!($4 in fn)) { fn[$4] = ++nf; note[nf] = $4 }
				c = c " [" fn[$4] "]"
			}
			cell[$1, $2] = c
		}
		END {
			w0 = length("program")
			for (p = 1; p <= np; p++) {
				if (length(prog[p]) > w0) w0 = length(prog[p])
				for (m = 1; m <= nm; m++) if (!((prog[p], mode[m]) in cell)) cell[prog[p], mode[m]] = "-"
			}
			for (m = 1; m <= nm; m++) {
				w[m] = length(mode[m])
				for (p = 1; p <= np; p++) if (length(cell[prog[p], mode[m]]) > w[m]) w[m] = length(cell[prog[p], mode[m]])
			}
			printf "# %scompatibility matrix: real programs through every cr mode (CRIU %s; tests/matrix.sh)\n", pre, criu
			line = sprintf("#   %-" w0 "s", "program")
			for (m = 1; m <= nm; m++) line = line sprintf(" | %-" w[m] "s", mode[m])
			sub(/ +$/, "", line)
			print line
			line = "#   "
			for (i = 0; i < w0; i++) line = line "-"
			for (m = 1; m <= nm; m++) { line = line "-+-"; for (i = 0; i < w[m]; i++) line = line "-" }
			print line
			for (p = 1; p <= np; p++) {
				line = sprintf("#   %-" w0 "s", prog[p])
				for (m = 1; m <= nm; m++) {
					line = line sprintf(" | %-" w[m] "s", cell[prog[p], mode[m]])
				}
				sub(/ +$/, "", line)
				print line
			}
			for (i = 1; i <= nf; i++) printf "#   [%d] %s\n", i, note[i]
		}' "$T/matrix"
	return 0
}

if [ "$(id -u)" != 0 ]; then
	tier1_skip "needs root"
elif ! CRIU=$(sh "$top/tests/criu-root.sh" 2>"$T/criu-root.log" | tail -n 1) || [ ! -x "$CRIU" ]; then
	notok "set up CRIU for tier 1 (tests/criu-root.sh)" "$T/criu-root.log"
elif ! { mkdir -p "$top/tests/bin" && ${CC_TEST:-$(command -v musl-gcc || echo cc)} -static -O2 -Wall -o "$top/tests/bin/workload" "$top/tests/workload.c"; } 2>"$T/cc.log"; then
	notok "build tests/workload.c" "$T/cc.log"
else
	echo "# tier 1 with $("$CRIU" --version 2>&1 | head -1) ($CRIU)"
	# Debian bookworm's own CRIU, which check must judge as it is here
	CRIU_OLD=$(sh "$top/tests/criu-root.sh" bookworm 2>>"$T/criu-root.log" | tail -n 1) || CRIU_OLD=
	export CRIU CR T CRIU_OLD
	W=$top/tests/bin/workload
	export W
	tier1 ""
	# ... and again against cr built with AddressSanitizer and
	# UndefinedBehaviorSanitizer (glibc, clang): every report is fatal, and
	# one found in the reports directory afterwards fails the suite too.
	if [ -n "${CR_SANITIZED:-}" ] || [ "${CR_TEST_ASAN:-1}" = 0 ]; then
		echo "# sanitizer tier left out"
	elif ! make -s -C "$top" cr-asan >"$T/asan-build.log" 2>&1; then
		notok "asan: build cr-asan (make cr-asan; clang)" "$T/asan-build.log"
	else
		mkdir -p "$T/asan-reports"
		CR=$top/cr-asan CR_SANITIZED=1 \
			ASAN_OPTIONS="log_path=$T/asan-reports/asan:detect_leaks=1:abort_on_error=1" \
			UBSAN_OPTIONS="log_path=$T/asan-reports/ubsan:print_stacktrace=1:halt_on_error=1" tier1 "asan: "
		if [ -z "$(ls "$T/asan-reports")" ]; then ok "asan: no sanitizer report in the whole tier"
		else notok "asan: sanitizer reports" $(ls -d "$T/asan-reports"/*); fi
	fi
fi

# ========= tier 0 again, for the other architectures' binaries ==========
# cr-aarch64 and cr-riscv64 (make cross) through qemu-user: a wrapper stands in for the
# binary (no binfmt_misc needed), CR_BIN names the binary itself for the
# static-link and size checks. Every tier-0 test: the CLI, the config file,
# usage and exit codes, the fake criu (a host binary, which qemu-user's
# execve hands to the kernel as it is) and tests/hostile.sh.
# CR_TEST_CROSS=0 leaves it out.
for a in ${CR_TEST_CROSS_ARCHS-aarch64 riscv64}; do
	[ "${CR_TEST_CROSS:-1}" = 0 ] && break
	if ! command -v "qemu-$a-static" >/dev/null; then
		notok "$a: qemu-$a-static is missing (make deps installs qemu-user-static)"
		continue
	fi
	if [ ! -x "$top/cr-$a" ] && ! make -s -C "$top" "cr-$a" >"$T/cross-$a.log" 2>&1; then
		notok "$a: build cr-$a (make cr-$a)" "$T/cross-$a.log"
		continue
	fi
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v "qemu-$a-static")" "$top/cr-$a" >"$T/cr-$a"
	chmod 755 "$T/cr-$a"
	t0=$(date +%s)
	CR=$T/cr-$a CR_BIN=$top/cr-$a CR_TIER0_ONLY=1 sh "$top/test.sh" >"$T/tier0-$a.out" 2>&1 </dev/null
	st=$?
	xfail=0
	while IFS= read -r line; do
		case $line in
		"ok "[0-9]*) ok "$a: ${line#ok * - }" ;;
		"not ok "[0-9]*) notok "$a: ${line#not ok * - }"; xfail=1 ;;
		"#   "*) why "$line" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$T/tier0-$a.out"
	if [ $st != 0 ] && [ $xfail = 0 ]; then notok "$a: tier 0 under qemu-$a-static failed (exit $st)" "$T/tier0-$a.out"; fi
	echo "# tier 0 of cr-$a under qemu-$a-static: $(($(date +%s) - t0)) s"
done

# ================= fuzzing: a short smoke of each harness =================
# fuzz/run.sh builds the libFuzzer harnesses (clang, ASan + UBSan), replays
# every input kept in fuzz/regress/ and fuzzes each decoder for a while
# (make fuzz: 60 s each). CR_TEST_FUZZ=SECS sets the smoke's length, 0 skips it.
if [ "${CR_TEST_FUZZ:-10}" = 0 ] || [ -n "${CR_SANITIZED:-}" ]; then
	echo "# fuzz smoke left out"
else
	sh "$top/fuzz/run.sh" "${CR_TEST_FUZZ:-10}" >"$T/fuzz.out" 2>&1
	st=$?
	ffail=0
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*) notok "${line#not ok - }"; ffail=1 ;;
		esac
	done <"$T/fuzz.out"
	if [ $st != 0 ] && [ $ffail = 0 ]; then notok "fuzz/run.sh failed (exit $st)" "$T/fuzz.out"; fi
fi

# ============ the VM tier: a real kernel, a busybox initramfs =============
# tests/vm/run.sh boots Debian bookworm's kernel (which tracks dirty memory)
# under qemu with cr, the workload and two CRIUs in an initramfs; its
# results join this suite's counts. Then the same for arm64 (cr-aarch64,
# bookworm's arm64 kernel under qemu-system-aarch64), its results prefixed
# "vm-aarch64: ". CR_TEST_VM=0 leaves both out (for quick runs by hand; CI
# never sets it, and there a tier that cannot run fails).
if [ "${CR_TEST_VM:-1}" = 0 ]; then
	echo "# VM tier left out (CR_TEST_VM=0)"
elif [ "$(id -u)" != 0 ]; then
	tier1_skip "the VM tier needs root"
else
	for va in x86_64 aarch64; do
		vp=vm vcr=$CR
		if [ $va != x86_64 ]; then
			vp=vm-$va vcr=$top/cr-$va
			# (make: a no-op when cr-$va is up to date with the sources)
			if ! make -s -C "$top" "cr-$va" >"$T/vm-cross-$va.log" 2>&1; then
				notok "$vp: build cr-$va (make cr-$va)" "$T/vm-cross-$va.log"
				continue
			fi
		fi
		t0=$(date +%s)
		CR="$vcr" CR_VM_ARCH=$va sh "$top/tests/vm/run.sh" >"$T/$vp.out" 2>"$T/$vp.err"
		st=$?
		vfail=0
		while IFS= read -r line; do
			case $line in
			"ok "[0-9]*) ok "$vp: ${line#ok * - }" ;;
			"not ok "[0-9]*) notok "$vp: ${line#not ok * - }"; vfail=1 ;;
			*" passed, "*" failed"*) echo "# $vp: $line" ;;
			"#   "*) why "$line" ;;
			*) echo "$line" ;;
			esac
		done <"$T/$vp.out"
		if [ $st != 0 ] && [ $vfail = 0 ]; then notok "$vp: tests/vm/run.sh failed (exit $st)" "$T/$vp.err"; fi
		grep '^vm: ' "$T/$vp.err" | sed "s/^vm: /# $vp: /"
		echo "# $vp: the tier took $(($(date +%s) - t0)) s"
	done
fi

# The failures again, last, where a CI log cut to its tail still shows
# them: the first three with the first lines of their details, then the
# titles of up to 12 (everything is above, in place)
if [ -s "$T/failed" ]; then
	echo "# ---- the first failures, again:"
	awk '/^== not ok / { f++; k = 0; if (f <= 3) print "# " substr($0, 4); next } f <= 3 && k++ < 5' "$T/failed.why"
	echo "# ---- the $failed failure(s):"
	head -n 12 "$T/failed" | sed 's/^/# /'
	[ "$failed" -gt 12 ] && echo "# ... and $((failed - 12)) more"
fi
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
