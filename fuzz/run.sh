#!/bin/sh
# SPDX-License-Identifier: MIT
#
# fuzz/run.sh: build cr's libFuzzer harnesses (fuzz/fz_*.c, clang with
# libFuzzer, ASan and UBSan, uninitialised locals filled with a pattern)
# into fuzz/bin/, replay fuzz/regress/NAME/*, then fuzz each harness for
# SECS seconds (default $FUZZ_SECS, else 60) on a scratch copy of
# fuzz/corpus/NAME (the committed corpus never grows). The harnesses: rpc
# (CRIU's replies), stats (its stats files), ini (config files), mig (the
# migration stream), man (the manifest check: verify), img (CRIU's images
# as inspect reads them) and hello (what receive --listen reads before the
# token); FZ_ONLY="man img" runs only those.
#
#   sh fuzz/run.sh [SECS]
#
# One line per harness (TAP-like "ok - ..." / "not ok - ..."), logs in
# fuzz/bin/log/, crashing inputs in fuzz/crashes/. Exit status 1 on any
# failure. Needs nanopb/ (with images.pb.c) and .deps/ (make deps && make,
# or an earlier build) and clang with libFuzzer (libclang-rt-dev).
set -u
cd "$(dirname "$0")/.." || exit 1

secs=${1:-${FUZZ_SECS:-60}}
case $secs in
'' | *[!0-9]*) echo "usage: sh fuzz/run.sh [SECS]" >&2; exit 2 ;;
esac
harnesses=${FZ_ONLY:-"rpc stats ini mig man img hello"}
bin=fuzz/bin
log=$bin/log
inih=${INIH_SRC:-.deps/inih-r59}
xxh=${XXH_SRC:-.deps/xxHash-0.8.3}
CC=${CC:-$(command -v clang-14 || command -v clang || echo clang)}
DEFS="-DCR_VERSION=\"0.1.0\" -DINI_HANDLER_LINENO=1 -DINI_ALLOW_MULTILINE=0 -DINI_MAX_LINE=8192 \
-DINI_STOP_ON_FIRST_ERROR=1 -DINI_CALL_HANDLER_ON_NEW_SECTION=1 -DINI_ALLOW_INLINE_COMMENTS=0 \
-DPB_BUFFER_ONLY=1 -Inanopb -I$inih -I$xxh"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS_FZ="-g -O1 -fno-omit-frame-pointer -ftrivial-auto-var-init=pattern"

mkdir -p "$bin/obj" "$log" fuzz/crashes || exit 1

build() {
	for f in nanopb/rpc.pb.c nanopb/images.pb.c nanopb/pb_common.c nanopb/pb_encode.c nanopb/pb_decode.c \
		"$inih/ini.c"; do
		[ -f "$f" ] || { echo "missing $f: run 'make deps' and 'make' first"; return 1; }
	done
	objs=
	for f in nanopb/rpc.pb.c nanopb/images.pb.c nanopb/pb_common.c nanopb/pb_encode.c nanopb/pb_decode.c \
		"$inih/ini.c"; do
		o=$bin/obj/$(basename "$f" .c).o
		echo "$CC $CFLAGS_FZ $SAN -fsanitize=fuzzer-no-link $DEFS -c -o $o $f"
		# shellcheck disable=SC2086
		$CC $CFLAGS_FZ $SAN -fsanitize=fuzzer-no-link $DEFS -c -o "$o" "$f" || return 1
		objs="$objs $o"
	done
	for h in $harnesses; do
		echo "$CC $CFLAGS_FZ $SAN -fsanitize=fuzzer $DEFS -o $bin/$h fuzz/fz_$h.c$objs"
		# shellcheck disable=SC2086
		$CC $CFLAGS_FZ $SAN -fsanitize=fuzzer $DEFS -o "$bin/$h" "fuzz/fz_$h.c" $objs || return 1
	done
	# the seed generator (fuzz/bin/mkseeds fuzz/corpus rewrites the seeds)
	echo "$CC -g -O1 -DPB_BUFFER_ONLY=1 -Inanopb -o $bin/mkseeds fuzz/mkseeds.c nanopb/rpc.pb.c nanopb/pb_common.c nanopb/pb_encode.c"
	$CC -g -O1 -DPB_BUFFER_ONLY=1 -Inanopb -o "$bin/mkseeds" fuzz/mkseeds.c nanopb/rpc.pb.c nanopb/pb_common.c \
		nanopb/pb_encode.c || return 1
}

if ! build >"$log/build.log" 2>&1; then
	echo "not ok - fuzz build: failed, see $log/build.log"
	exit 1
fi

fail=0
for h in $harnesses; do
	# the regression inputs first: each must run without a crash
	reg=
	if [ -d "fuzz/regress/$h" ] && [ -n "$(find "fuzz/regress/$h" -type f ! -name .keep)" ]; then
		if ! find "fuzz/regress/$h" -type f ! -name .keep -exec "$bin/$h" -rss_limit_mb=2048 -timeout=25 \
			-close_fd_mask=3 {} + >"$log/$h-regress.log" 2>&1; then
			bad=$(sed -n 's/^Running: //p' "$log/$h-regress.log" | tail -n 1)
			reg="regression input ${bad:-in fuzz/regress/$h} crashes (log: $log/$h-regress.log); "
			fail=1
		fi
	fi
	work=$bin/work/$h
	rm -rf "$work" && mkdir -p "$work" || exit 1
	cp "fuzz/corpus/$h/"* "$work/" 2>/dev/null
	[ "$h" = ini ] && cp cr.ini.example "$work/"
	t0=$(date +%s)
	"$bin/$h" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
		-close_fd_mask=3 -artifact_prefix="fuzz/crashes/$h-" "$work" >"$log/$h.log" 2>&1
	rc=$?
	t=$(($(date +%s) - t0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/$h.log" | tail -n 1)
	n=$(find "$work" -type f | wc -l | tr -d ' ')
	if [ "$rc" != 0 ]; then
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log/$h.log" | tail -n 1)
		echo "not ok - fuzz $h: ${reg}crash, input saved in ${art:-fuzz/crashes/ (none written)} (log: $log/$h.log)"
		fail=1
	elif [ -n "$reg" ]; then
		echo "not ok - fuzz $h: ${reg}fuzzing: ${execs:-?} execs in $t s, corpus $n files, no new crash"
	else
		echo "ok - fuzz $h: ${execs:-?} execs in $t s, corpus $n files, no crash"
	fi
done
exit $fail
