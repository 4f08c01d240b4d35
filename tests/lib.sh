# tests/lib.sh: what the tier-1 scenario files (tests/scenarios.sh,
# tests/faults.sh) share. Sourced after NAME and D are set; runs in the
# scenario's own pid namespace.

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

# verdict STATUS DESC: pass or fail on STATUS, for conditions that check
# cannot take as one command: { A && B; }; verdict $? DESC (STATUS comes
# first: it must be expanded before DESC's command substitutions run)
verdict() {
	_v=$1
	shift
	if [ "$_v" = 0 ]; then pass "$1"; else fail "$1" "$D/err" $(find "$D" -name '*.log' 2>/dev/null); fi
}
# The first number in a status file's first line (0 if none yet).
count() { c=; read -r c _ 2>/dev/null <"$1"; echo "${c:-0}"; }
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
not() { ! "$@"; }
# A fingerprint of a directory's file names and contents.
fingerprint() { (cd "$1" && find . -type f | sort | xargs md5sum) 2>/dev/null | md5sum; }
no_temp_dirs() { [ -z "$(find "$D" -maxdepth 1 -name '.*.cr-*')" ]; }

# ================================ cgroups ================================

V2=/sys/fs/cgroup/unified
[ -f /sys/fs/cgroup/cgroup.controllers ] && V2=/sys/fs/cgroup
FZ=/sys/fs/cgroup/freezer
# Scratch cgroups are named after the scenario's directory, removed at exit.
CGN=cr-test-$(basename "$(dirname "$D")" | tr -dc 'a-zA-Z0-9')-$name
cg_cleanup() {
	# the scratch cgroups and any below them (CRIU's soft mode recreates a
	# tree's sub-cgroups, in every hierarchy), deepest first
	_cgs=$(for h in "$V2" /sys/fs/cgroup/*; do
		for c in "$h/$CGN"*; do [ -d "$c" ] && find "$c" -depth -type d; done
	done)
	for c in $_cgs; do
		for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		[ -f "$c/cgroup.freeze" ] && echo 0 >"$c/cgroup.freeze"
		[ -f "$c/freezer.state" ] && echo THAWED >"$c/freezer.state"
	done
	sleep 0.2
	for c in $_cgs; do rmdir "$c" 2>/dev/null; done
	return 0
}
# v2: "0"/"1" from cgroup.freeze and "frozen N" from cgroup.events agree
v2_state() { echo "$(cat "$1/cgroup.freeze")$(sed -n 's/^frozen //p' "$1/cgroup.events")"; }
# start_in CGROUPDIR... -- WORKLOAD ARGS: a workload started inside the cgroups
start_in() {
	_c=
	while [ "$1" != -- ]; do _c="$_c echo \$\$ >$1/cgroup.procs;"; shift; done
	shift
	sh -c "$_c exec \"\$@\"" sh "$@" &
}
# every pid of the tree rooted at $1 (itself and its children, recursively)
tree_pids() {
	echo "$1"
	for _k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$_k"; done
}
# in_cgroup PID HIERARCHY-PATTERN REL: /proc/PID/cgroup says so
in_cgroup() { grep -q "^[0-9]*:$2:$3\$" "/proc/$1/cgroup"; }


# The workload built the ordinary way (gcc, dynamically linked against
# glibc, which registers rseq as every glibc 2.35+ program does), built
# once for all scenarios next to $W.
WG=$(dirname "$W")/workload-glibc
glibc_workload() {
	[ -x "$WG" ] && return 0
	gcc -O2 -Wall -o "$WG.$$" "$(dirname "$0")/workload.c" && mv "$WG.$$" "$WG"
}
# Is PID stopped (T) and untraced: left stopped by CRIU, not held by it?
stopped_untraced() {
	[ "$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" = T ] &&
		[ "$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$1/status")" = 0 ]
}

# ============================ damaged images ============================

# bump_version FILE VERSION: inventory.img says img_version VERSION (CRIU's
# image layout: u32 magic 0x58313116, then a u32 length and the protobuf
# InventoryEntry, whose field 1 is img_version, a varint). For the damaged
# images of tests/faults.sh and tests/scenarios.sh (inspect).
bump_version() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import struct, sys
path, ver = sys.argv[1], int(sys.argv[2])
b = open(path, 'rb').read()
magic, n = struct.unpack_from('<II', b, 0)
assert magic == 0x58313116, hex(magic)
msg = b[8:8 + n]
assert msg[0] == 0x08, 'field 1 (img_version, varint) does not come first'
i = 1
while msg[i] & 0x80:
    i += 1
v, out = ver, b''
while True:
    c, v = v & 0x7f, v >> 7
    out += bytes([c | 0x80 if v else c])
    if not v:
        break
msg = b'\x08' + out + msg[i + 1:]
open(path, 'wb').write(struct.pack('<II', magic, len(msg)) + msg + b[8 + n:])
EOF
}
