#!/bin/sh
# tests/vm/reboot.sh PHASE: the VM tier's reboot scenario, run by /init when
# the kernel's command line says cr.phase=PHASE (tests/vm/run.sh boots it).
# Two programs that live on a persistent disk (ext4 on virtio-blk, mounted
# at /mnt/disk in every boot) are checkpointed onto that disk under one
# kernel and restored from it under another:
#
#   checkpoint  boot 1 (bookworm's 6.1): mount the disk, start the static
#               musl workload and the dynamic glibc one from /mnt/disk/bin,
#               counting into /mnt/disk/data with 8 MiB they checksum;
#               cr checkpoint -D /mnt/disk/ck/NAME each; sync, unmount.
#               With cr.via=kexec the next kernel is loaded (kexec -l)
#               before the checkpoint and started (kexec -e) after it;
#               otherwise /init powers off and the host boots the next one.
#   restore     boot 2 (trixie's 6.12): mount the disk; (cr.via=cold) a
#               file the musl program has mapped, its executable, is moved
#               away: cr restore fails (exit 1, naming CRIU's log) and
#               leaves the checkpoint as it was (fingerprint, cr verify);
#               moved back, then cr restore --pid-file of both; each runs
#               under its old pid and counts on from where it stopped, its
#               data intact.
#
# Times (the guest's wall clock, from qemu's RTC, -rtc base=utc) are kept
# on the disk in /mnt/disk/run/times; the downtime is printed as "#" lines.
# "CR-T WHAT" lines mark the same moments for the host, which stamps the
# console as it arrives (the RTC gives the guest whole seconds at boot).
# shellcheck disable=SC1091,SC2153 # /guest.sh (the guest's path) sets CRIUS
# shellcheck disable=SC2016,SC2046,SC2034 # eval'd conditions; log lists as words; c1 (read by intact)
set -u
CR_VM_LIB=1 . /guest.sh
PHASE=${1:-}
M=/mnt/disk
VIA=$(sed -n 's/.*cr\.via=\([a-z]*\).*/\1/p' /proc/cmdline)
# the newest CRIU (the last in the list): 3.17 predates kernel 6.12
CRIU=${CRIUS##* }
V=$("$CRIU" --version 2>/dev/null | sed -n 's/^Version: //p')
D=$T/reboot
mkdir -p "$D"
tag="reboot/$VIA $PHASE, Linux $(uname -r), criu ${V:-?}"
cr() { timeout 120 /bin/cr -c none --criu "$CRIU" "$@"; }
# check DESC CMD...: as guest.sh's, with CRIU's logs on the disk shown too
check() {
	desc=$1
	shift
	if "$@"; then pass "[$tag] $desc"; else
		fail "[$tag] $desc" "$D/err" $(find "$D" "$M/ck" "$M/work" -name '*.log' 2>/dev/null)
	fi
}
# the wall clock with microseconds (busybox date has no %N)
now() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d\n", s, u }'; }
# sizes and checksums of every file under a directory
fingerprint() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs md5sum | while read -r s f; do echo "$s $(stat -c %s "$f") $f"; done); }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a - b }'; }
# the first count a restored counter writes past C1 (0 if none within 30 s)
wait_past() { wait_above "$1" "$2" 300 && count "$1"; }

echo "# [$tag] kernel: $(uname -r) ($(uname -v)); uptime $(cut -d' ' -f1 /proc/uptime) s"
# The disk: virtio-blk probes asynchronously.
_w=0
while [ ! -b /dev/vda ] && [ $_w -lt 100 ]; do _w=$((_w + 1)); sleep 0.1; done
mkdir -p "$M"
mount -t ext4 /dev/vda "$M" 2>"$D/err"
mounted() { grep -q "^/dev/vda $M " /proc/mounts; }
check "the disk (ext4 on virtio-blk, /dev/vda) is mounted at $M" mounted
mounted || exit 1

case $PHASE in
checkpoint)
	mkdir -p "$M/data" "$M/ck" "$M/run" "$M/work"
	check "the programs are on the disk ($M/bin: workload, static musl; workload-glibc, dynamic)" \
		[ -x "$M/bin/workload" -a -x "$M/bin/workload-glibc" ]
	# Pids far from those boot-time processes take under either kernel, so
	# that they are free in the next boot.
	echo 5000 >/proc/sys/kernel/ns_last_pid
	"$M/bin/workload" counter "$M/data/musl" 8 &
	PM=$!
	"$M/bin/workload-glibc" counter "$M/data/glibc" 8 &
	PG=$!
	{ wait_above "$M/data/musl" 21 600 && wait_above "$M/data/glibc" 21 600 &&
		grep -q ' ok$' "$M/data/musl" && grep -q ' ok$' "$M/data/glibc"; }
	verdict $? "both count on the disk, their 8 MiB checked (pids $PM $PG: $(cat "$M/data/musl") / $(cat "$M/data/glibc"))"
	if [ "$VIA" = kexec ]; then
		# the next kernel is loaded while the programs still run: not downtime
		t=$(now)
		kexec -l "$M/boot/vmlinuz" --initrd="$M/boot/initrd.gz" \
			--append="console=ttyS0 quiet panic=-1 cr.phase=restore cr.via=kexec" >"$D/out" 2>"$D/err"
		check "kexec -l: trixie's kernel and the initramfs loaded from the disk ($(sub "$(now)" "$t") s)" [ $? = 0 ]
	fi
	t0=$(now)
	echo "CR-T ck-start"
	cr checkpoint -D "$M/ck/musl" "$PM" >"$D/out" 2>"$D/err"
	rm=$?
	cr checkpoint -D "$M/ck/glibc" "$PG" >"$D/out2" 2>"$D/err2"
	rg=$?
	t1=$(now)
	check "cr checkpoint -D $M/ck/musl $PM exits 0" [ $rm = 0 ]
	cp "$D/err2" "$D/err"
	check "cr checkpoint -D $M/ck/glibc $PG exits 0" [ $rg = 0 ]
	check "... both are gone" eval 'dead "$PM" && dead "$PG"'
	reap "$PM"
	reap "$PG"
	cr verify "$M/ck/musl" >"$D/out" 2>"$D/err" && cr verify "$M/ck/glibc" >>"$D/out" 2>>"$D/err"
	check "cr verify of both checkpoints exits 0" [ $? = 0 ]
	echo "$PM $(count "$M/data/musl")" >"$M/run/musl"
	echo "$PG $(count "$M/data/glibc")" >"$M/run/glibc"
	fingerprint "$M/ck/musl" >"$M/run/musl.fp"
	echo "# [$tag] checkpoints: musl $(du -sk "$M/ck/musl" | cut -f1) KiB, glibc $(du -sk "$M/ck/glibc" | cut -f1) KiB; at counts $(cut -d' ' -f2 "$M/run/musl") and $(cut -d' ' -f2 "$M/run/glibc"); $(sub "$t1" "$t0") s"
	{ echo "ck_start $t0"; echo "ck_end $t1"; echo "kernel1 $(uname -r)"; } >"$M/run/times"
	sync
	t2=$(now)
	echo "down $t2" >>"$M/run/times"
	sync
	umount "$M" 2>"$D/err"
	check "the disk is unmounted cleanly" eval '! mounted'
	if [ "$VIA" = kexec ]; then
		echo "CR-T kexec-e"
		kexec -e >"$D/out" 2>"$D/err"
		fail "[$tag] kexec -e started the next kernel (it returned $?)" "$D/err"
	fi
	echo "CR-T down"
	exit 0 ;;
restore)
	t_up=$(now)
	echo "# [$tag] the disk is mounted $(cut -d' ' -f1 /proc/uptime) s after the kernel started"
	read -r PM CM <"$M/run/musl"
	read -r PG CG <"$M/run/glibc"
	check "the checkpointed pids ($PM, $PG) are free" [ ! -e "/proc/$PM" -a ! -e "/proc/$PG" ]
	if [ "$VIA" = cold ]; then
		# The failure case: the musl program's executable (mapped, and
		# its /proc/PID/exe) is not where it was.
		fp0=$(cat "$M/run/musl.fp")
		mv "$M/bin/workload" "$M/bin/workload.aside"
		cr restore -D "$M/ck/musl" -W "$D/wfail" --pid-file "$D/fail.pid" >"$D/out" 2>"$D/err"
		rc=$?
		sed 's/^/#   cr: /' "$D/err" | head -n 12
		check "restore with the program's executable gone: exit 1 ($rc)" [ $rc = 1 ]
		check "... cr says the restore failed and names CRIU's log ($D/wfail/restore.log)" \
			eval 'grep -q "restore.*failed" "$D/err" && grep -q "$D/wfail/restore.log" "$D/err"'
		check "... CRIU's log names the missing file (${M#/}/bin/workload, relative to the root)" grep -q "${M#/}/bin/workload" "$D/wfail/restore.log"
		check "... no process under the old pid, no pid file" [ ! -e "/proc/$PM" -a ! -e "$D/fail.pid" ]
		check "... the checkpoint is unchanged (sizes and checksums of its files)" [ "$(fingerprint "$M/ck/musl")" = "$fp0" ]
		cr verify "$M/ck/musl" >"$D/out" 2>"$D/err"
		check "... cr verify $M/ck/musl exits 0" [ $? = 0 ]
		mv "$M/bin/workload.aside" "$M/bin/workload"
	fi
	t_r=$(now)
	echo "CR-T restore-start"
	cr restore -D "$M/ck/musl" -W "$M/work/musl" --pid-file "$M/run/musl.pid" >"$D/out" 2>"$D/err"
	rm=$?
	cr restore -D "$M/ck/glibc" -W "$M/work/glibc" --pid-file "$M/run/glibc.pid" >"$D/out2" 2>"$D/err2"
	rg=$?
	m1=$(wait_past "$M/data/musl" "$CM")
	g1=$(wait_past "$M/data/glibc" "$CG")
	t_run=$(now)
	echo "CR-T running"
	check "cr restore -D $M/ck/musl --pid-file ... exits 0" [ $rm = 0 ]
	cp "$D/err2" "$D/err"
	check "cr restore -D $M/ck/glibc --pid-file ... exits 0" [ $rg = 0 ]
	check "the pid files hold the old pids ($(cat "$M/run/musl.pid" 2>/dev/null), $(cat "$M/run/glibc.pid" 2>/dev/null))" \
		[ "$(cat "$M/run/musl.pid" 2>/dev/null)" = "$PM" -a "$(cat "$M/run/glibc.pid" 2>/dev/null)" = "$PG" ]
	check "the musl program counts on from where it stopped ($CM -> ${m1:-nothing})" \
		eval '[ -n "$m1" ] && [ "$m1" -gt "$CM" ] && [ "$m1" -le $((CM + 20)) ]'
	check "the glibc program counts on from where it stopped ($CG -> ${g1:-nothing})" \
		eval '[ -n "$g1" ] && [ "$g1" -gt "$CG" ] && [ "$g1" -le $((CG + 20)) ]'
	D0=$D
	D=$M/data
	c1=$CM # (intact reads it)
	watch_intact "$M/data/musl" "$CM"
	cp "$M/data/musl" "$D/c"
	check "... its 8 MiB intact after two more checksums ($(cat "$M/data/musl"))" intact
	c1=$CG # (intact reads it)
	watch_intact "$M/data/glibc" "$CG"
	cp "$M/data/glibc" "$D/c"
	check "... the glibc one's too ($(cat "$M/data/glibc"))" intact
	rm -f "$D/c"
	D=$D0
	check "both run, untraced, under their old pids" eval 'running "$PM" && running "$PG"'
	t0=$(sed -n 's/^ck_start //p' "$M/run/times")
	t1=$(sed -n 's/^ck_end //p' "$M/run/times")
	t2=$(sed -n 's/^down //p' "$M/run/times")
	k1=$(sed -n 's/^kernel1 //p' "$M/run/times")
	echo "# [$tag] downtime (guest clock, $VIA reboot $k1 -> $(uname -r)): $(sub "$t_run" "$t0") s from the checkpoint's start to both running again; checkpoint $(sub "$t1" "$t0") s, checkpoint end to power-off/kexec $(sub "$t2" "$t1") s, down to the disk mounted in boot 2 $(sub "$t_up" "$t2") s, restore to running $(sub "$t_run" "$t_r") s (boot 2 times include the failure case: $(sub "$t_r" "$t_up") s)"
	{ echo "up $t_up"; echo "restore_start $t_r"; echo "running $t_run"; echo "kernel2 $(uname -r)"; } >>"$M/run/times"
	stop "$PM"
	stop "$PG"
	sync
	umount "$M"
	exit 0 ;;
*)
	fail "[$tag] unknown phase '$PHASE'"
	exit 1 ;;
esac
