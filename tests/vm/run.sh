#!/bin/sh
# tests/vm/run.sh: the VM tier. Boots Debian bookworm's kernel under qemu
# with a busybox initramfs that holds the static cr, a test workload, two
# CRIUs and the kernel modules CRIU needs, runs tests/vm/guest.sh in the
# guest and turns its ok/not ok lines from the serial console into counts.
#
#   sh tests/vm/run.sh
#   CR_VM_ARCH=aarch64 sh tests/vm/run.sh
#
#   CR_VM_ARCH=ARCH    x86_64 (default) or aarch64: the guest's architecture.
#                      aarch64 boots bookworm's arm64 kernel under
#                      qemu-system-aarch64 (TCG, -M virt) with cr-aarch64,
#                      arm64 busybox, workloads and CRIUs (fetched through
#                      private apt configurations for arm64), and runs the
#                      scenarios a kernel without soft-dirty tracking allows
#   CR=PATH            the static cr to test (default: cr at the top of the
#                      repository, or cr-aarch64 for aarch64, built with make
#                      when missing)
#   CR_CACHE=DIR       download cache (default /var/cache/cr-test); the
#                      kernel lives in DIR/vm (DIR/vm-aarch64), the CRIUs in
#                      DIR/criu-SUITE (DIR/criu-arm64-SUITE)
#   CR_VM_TIMEOUT=SEC  hard limit for the boot (default 600)
#   CR_VM_ACCEL=ACCEL  qemu accelerator (tcg or kvm); by default TCG, or KVM
#                      where a quick probe boot shows it works (on the build
#                      machine a KVM guest hangs at boot: machine-notes)
#   CR_VM_CPU=max      qemu CPU model (aarch64: max,pauth-impdef=on, below)
#   CR_VM_ONLY=PATTERN run only the guest scenarios whose name matches
#
# Why a VM at all: the build machine's kernel lacks soft-dirty tracking, so
# pre-dump chains can only be tested on another kernel; and cr's users run it
# from initramfs-like systems with nothing but busybox, which is what the
# guest is. Exit status: 0 when every scenario passed and the guest reached
# its end marker, 1 otherwise.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${CR_CACHE:-/var/cache/cr-test}
TIMEOUT=${CR_VM_TIMEOUT:-600}
ACCEL=${CR_VM_ACCEL:-}
ARCH=${CR_VM_ARCH:-x86_64}
# Per architecture: Debian's name, the qemu binary and machine options, the
# serial console, the kernel's arch/ directory (its crypto modules), the
# host packages the run needs, and the guest's CPU model. x86_64: qemu64,
# the default model, lacks XSAVE, SSE4.2 and RDRAND: CRIU would only ever
# see the legacy FPU path, crc32c-intel would not load, and the guest would
# have no early entropy. "max" is all TCG can emulate. aarch64: "max" too
# (SVE, pointer authentication, RNDR for early entropy), with
# pauth-impdef=on: the architected pointer-authentication cipher (QARMA)
# costs TCG dearly on every kernel function return, the implementation-
# defined one does not, and the guest cannot tell. QEMU_USER runs the
# guest's dynamic programs here (their loader's library trace).
case $ARCH in
x86_64)
	DARCH=amd64 QEMU=qemu-system-x86_64 MACHINE="" CONSOLE=ttyS0 KARCH=x86 QEMU_USER=""
	CPU=${CR_VM_CPU:-max}
	VM=$CACHE/vm
	HOSTPKGS="qemu-system-x86 busybox-static cpio kmod musl-tools iptables" ;;
aarch64)
	DARCH=arm64 QEMU=qemu-system-aarch64 MACHINE="-M virt" CONSOLE=ttyAMA0 KARCH=arm64
	QEMU_USER=qemu-aarch64-static
	CPU=${CR_VM_CPU:-max,pauth-impdef=on}
	VM=$CACHE/vm-aarch64
	# clang, lld: cr-aarch64 and the musl workload (the Makefile's cross
	# build); gcc-aarch64-linux-gnu: the glibc workload and its libraries
	HOSTPKGS="qemu-system-arm qemu-user-static gcc-aarch64-linux-gnu clang lld cpio kmod patchelf" ;;
*)
	printf 'vm: error: CR_VM_ARCH=%s: x86_64 or aarch64\n' "$ARCH" >&2
	exit 1 ;;
esac
# The guest prints this and guest.sh's exit status after its last scenario:
# without it the run crashed, hung or was cut short, whatever the counts say.
MARK='CR-VM-DONE'
# apt's sandbox user cannot write into root's cache directory.
APT_OPTS="-q -o APT::Sandbox::User=root"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (apt-get, mknod, reading CRIU's cache)"
mkdir -p "$VM"

# ---------------------------------------------------------------- host tools
# A package counts as present only when dpkg says it is installed: the
# dynamic `busybox` package would give a busybox that cannot run in the
# guest, hence the explicit busybox-static.
installed() { dpkg-query -W -f '${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }
missing=""
for p in $HOSTPKGS; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	log "installing$missing"
	# Recommends would pull in a GUI stack qemu does not need with -nographic.
	# shellcheck disable=SC2086
	apt-get install -y $APT_OPTS --no-install-recommends $missing >&2 || {
		log "install failed; refreshing the package lists once"
		apt-get update $APT_OPTS >&2
		# shellcheck disable=SC2086
		apt-get install -y $APT_OPTS --no-install-recommends $missing >&2
	} || die "could not install$missing"
fi

# -------------------------------------------------------------------- kernel
# The host's apt, which on bookworm names bookworm's packages; another
# architecture's come through a private apt configuration in $VM/apt (its
# own lists and cache, bookworm or CR_VM_SUITE, arch=DARCH, the mirror the
# host's sources name or CR_MIRROR; the system's configuration is left as
# it is, nothing is installed: `apt-get download` and dpkg-deb -x only).
if [ -z "$QEMU_USER" ]; then
	xapt() { "$@"; }
else
	SUITE=${CR_VM_SUITE:-bookworm}
	MIRROR=${CR_MIRROR:-}
	[ -n "$MIRROR" ] || MIRROR=$(apt-get indextargets --format '$(REPO_URI)' \
		"Release: $(. /etc/os-release; echo "$VERSION_CODENAME")" "Target-Of: deb" 2>/dev/null | head -n 1)
	[ -n "$MIRROR" ] || die "no Debian archive in the host's apt sources; set CR_MIRROR"
	XA=$VM/apt
	mkdir -p "$XA/lists/partial" "$XA/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=$DARCH] $MIRROR $SUITE main" \
		>"$XA/sources.list"
	[ -f "$XA/status" ] || : >"$XA/status"
	# xapt apt-get|apt-cache ARG...
	xapt() {
		_c=$1
		shift
		"$_c" -o Dir::Etc::SourceList="$XA/sources.list" -o Dir::Etc::SourceParts=/dev/null \
			-o Dir::State::Lists="$XA/lists" -o Dir::Cache="$XA/cache" -o Dir::State::status="$XA/status" \
			-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
			-o APT::Architectures="$DARCH" -o Acquire::Languages=none "$@"
	}
fi
# The exact package bookworm's linux-image-DARCH depends on: a pattern would
# match dozens of kernels (over 1 GB); another architecture's is named
# NAME:DARCH. Stale or empty lists are refreshed once, only when they fail us.
# (APT: the apt wrapper to ask, xapt or, for the reboot scenario's second
# kernel, tapt.)
kpkg() {
	$APT apt-cache depends "linux-image-$DARCH" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\)\(:[a-z0-9]*\)\{0,1\}$/\1/p' | head -n 1
}
updated=""
refresh() { [ -n "$updated" ] && return 1; updated=1; log "apt-get update"; $APT apt-get update $APT_OPTS >&2; }
# What of a kernel package is kept: the kernel and the module trees CRIU's
# needs come from (net, netfilter, crc32c, tun/veth): about a third of the
# 400 MB unpacked; on x86_64 also virtio-blk and ext4 (the reboot
# scenario's disk). The list is written into KDIR/complete: a cache made
# with another list is unpacked again (from the cached .deb).
KEEP="net lib crypto arch/$KARCH/crypto drivers/net"
[ "$ARCH" != x86_64 ] || KEEP="$KEEP drivers/block drivers/virtio fs/ext4 fs/jbd2 fs/mbcache.ko*"
# getkernel APT: the kernel linux-image-DARCH depends on, as APT names it,
# downloaded (not installed) and unpacked once into $VM/PKG; sets KPKG,
# KDIR and KVER.
getkernel() {
APT=$1 updated=""
KPKG=$(kpkg)
[ -n "$KPKG" ] || { refresh && KPKG=$(kpkg); } || true
[ -n "$KPKG" ] || die "apt knows no linux-image-$DARCH (are bookworm's sources configured?)"
KDIR=$VM/$KPKG

if [ ! -f "$KDIR/complete" ] || [ "$(cat "$KDIR/complete")" != "$KPKG $KEEP" ]; then
	mkdir -p "$VM/debs"
	# Only the package just named: an older kernel's .deb in the cache is
	# not what linux-image-amd64 points at any more.
	deb=$(ls "$VM/debs/${KPKG}_"*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		log "downloading $KPKG"
		(cd "$VM/debs" && $APT apt-get download $APT_OPTS "$KPKG" >&2) ||
			{ refresh && (cd "$VM/debs" && $APT apt-get download $APT_OPTS "$KPKG" >&2); } ||
			die "apt-get download $KPKG failed"
		deb=$(ls "$VM/debs/${KPKG}_"*.deb | head -n 1)
	fi
	log "unpacking $(basename "$deb")"
	rm -rf "$KDIR" "$KDIR.tmp"
	mkdir -p "$KDIR.tmp/x"
	# A download cut short leaves a file that is no package: drop it so the
	# next run fetches it again.
	dpkg-deb -x "$deb" "$KDIR.tmp/x" || { rm -f "$deb"; die "$deb is damaged; removed it, run again"; }
	# Newer packages ship /usr/lib/modules: accept both.
	mdir=$(ls -d "$KDIR.tmp/x/lib/modules/"* "$KDIR.tmp/x/usr/lib/modules/"* 2>/dev/null | head -n 1)
	[ -n "$mdir" ] || die "$KPKG holds no modules directory"
	kver=$(basename "$mdir")
	keep=$KDIR.tmp/k/lib/modules/$kver
	mkdir -p "$keep"
	cp "$KDIR.tmp/x/boot/vmlinuz-$kver" "$KDIR.tmp/k/vmlinuz"
	cp "$KDIR.tmp/x/boot/config-$kver" "$KDIR.tmp/k/config"
	cp "$mdir"/modules.order "$mdir"/modules.builtin* "$keep/"
	# (a name may be a pattern: trixie's modules end in .ko.xz)
	for d in $KEEP; do
		for f in "$mdir/kernel/"$d; do
			[ -e "$f" ] && mkdir -p "$keep/kernel/$(dirname "$d")" &&
				cp -a "$f" "$keep/kernel/$(dirname "$d")/"
		done
	done
	depmod -b "$KDIR.tmp/k" "$kver"
	echo "$kver" >"$KDIR.tmp/k/kver"
	rm -rf "$KDIR.tmp/x"
	mv "$KDIR.tmp/k" "$KDIR"
	rmdir "$KDIR.tmp"
	grep -q '^CONFIG_MEM_SOFT_DIRTY=y' "$KDIR/config" || [ "$ARCH" != x86_64 ] ||
		log "warning: $KPKG has no CONFIG_MEM_SOFT_DIRTY: the pre-dump scenarios will fail"
	echo "$KPKG $KEEP" >"$KDIR/complete"
fi
KVER=$(cat "$KDIR/kver")
}
getkernel xapt
# The reboot scenario (x86_64; tests/vm/reboot.sh): a process kept across a
# reboot into another kernel, trixie's, from the package trixie's
# linux-image-amd64 depends on, fetched through a private apt configuration
# in $VM/apt-trixie (the mirror the host's sources name or CR_MIRROR;
# nothing under /etc/apt is touched). It runs unless CR_VM_REBOOT=0 or
# CR_VM_ONLY names other scenarios; with CR_VM_ONLY=reboot only it runs
# (no main boot).
ONLY=${CR_VM_ONLY:-}
REBOOT=${CR_VM_REBOOT:-1}
[ "$ARCH" = x86_64 ] || REBOOT=0
[ -z "$ONLY" ] || case reboot in *"$ONLY"*) ;; *) REBOOT=0 ;; esac
MAIN=1
if [ -n "$ONLY" ]; then
	MAIN=0
	for s in check counter chain prefault dedup cgroup tcp refuse migrate bench \
		data leave nopredump fault stopcopy postcopy; do
		case $s in *"$ONLY"*) MAIN=1 ;; esac
	done
fi
if [ "$REBOOT" = 1 ]; then
	B1PKG=$KPKG B1DIR=$KDIR B1VER=$KVER
	TA=$VM/apt-trixie
	TMIRROR=${CR_MIRROR:-}
	[ -n "$TMIRROR" ] || TMIRROR=$(apt-get indextargets --format '$(REPO_URI)' \
		"Release: $(. /etc/os-release; echo "$VERSION_CODENAME")" "Target-Of: deb" 2>/dev/null | head -n 1)
	[ -n "$TMIRROR" ] || die "no Debian archive in the host's apt sources; set CR_MIRROR"
	mkdir -p "$TA/lists/partial" "$TA/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=$DARCH] $TMIRROR trixie main" \
		>"$TA/sources.list"
	[ -f "$TA/status" ] || : >"$TA/status"
	tapt() {
		_c=$1
		shift
		"$_c" -o Dir::Etc::SourceList="$TA/sources.list" -o Dir::Etc::SourceParts=/dev/null \
			-o Dir::State::Lists="$TA/lists" -o Dir::Cache="$TA/cache" -o Dir::State::status="$TA/status" \
			-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
			-o APT::Architectures="$DARCH" -o Acquire::Languages=none "$@"
	}
	getkernel tapt
	B2PKG=$KPKG B2DIR=$KDIR B2VER=$KVER
	KPKG=$B1PKG KDIR=$B1DIR KVER=$B1VER
	# kexec-tools (bookworm's, the host's apt) for the kexec variant, with
	# the Xen libraries it links (not on the host): unpacked into
	# $VM/kexec/root, complete once its loader finds every library there
	# or on the host.
	KX=$VM/kexec/root
	KXPKGS="kexec-tools libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
		libxengnttab1 libxentoolcore1 libxentoollog1 libxenhypfs1 libxenstore4 libyajl2"
	if [ "$(cat "$VM/kexec/complete" 2>/dev/null)" != "$(echo $KXPKGS)" ]; then
		rm -rf "$VM/kexec"
		mkdir -p "$VM/kexec/debs" "$KX"
		# shellcheck disable=SC2086
		(cd "$VM/kexec/debs" && apt-get download $APT_OPTS $KXPKGS >&2) || die "apt-get download kexec-tools failed"
		for d in "$VM/kexec/debs/"*.deb; do
			dpkg-deb -x "$d" "$KX" || { rm -rf "$VM/kexec"; die "$d: damaged package"; }
		done
		echo $KXPKGS >"$VM/kexec/complete"
	fi
fi

# What the guest checks cr check's and cr pre-dump's answers against: the
# kernel's own configuration (soft-dirty is x86, powerpc and s390 only).
SOFT_DIRTY=no
grep -q '^CONFIG_MEM_SOFT_DIRTY=y' "$KDIR/config" && SOFT_DIRTY=yes

# Busybox and iptables for the guest: the host's on x86_64; else
# bookworm's busybox-static and iptables (with the libraries it needs but
# libc, which the cross toolchain's sysroot gives, as for the glibc
# workload) for DARCH, unpacked into $VM/NAME/root (not installed).
# xfetch NAME PKG...: once; a later run finds NAME/complete.
xfetch() {
	_n=$1
	shift
	[ -f "$VM/$_n/complete" ] && [ "$(cat "$VM/$_n/complete")" = "$DARCH $*" ] && return 0
	rm -rf "$VM/$_n"
	mkdir -p "$VM/$_n/debs" "$VM/$_n/root"
	(cd "$VM/$_n/debs" && xapt apt-get download $APT_OPTS "$@" >&2) ||
		{ refresh && (cd "$VM/$_n/debs" && xapt apt-get download $APT_OPTS "$@" >&2); } ||
		die "apt-get download $* ($DARCH) failed"
	for _d in "$VM/$_n/debs/"*.deb; do
		dpkg-deb -x "$_d" "$VM/$_n/root" || { rm -rf "$VM/$_n"; die "$_d is damaged; removed it, run again"; }
	done
	echo "$DARCH $*" >"$VM/$_n/complete"
}
if [ -z "$QEMU_USER" ]; then
	BUSYBOX=/bin/busybox
else
	xfetch busybox busybox-static
	BUSYBOX=$VM/busybox/root/bin/busybox
	"$QEMU_USER" "$BUSYBOX" true || die "$DARCH busybox does not run under $QEMU_USER"
	xfetch iptables iptables libip4tc2 libip6tc2 libxtables12 libmnl0 libnetfilter-conntrack3 libnfnetlink0 libnftnl11
fi

# --------------------------------------------------------------------- CRIUs
# Bookworm's 3.17.1 (works on the guest's 6.1 kernel, not on the host's) and
# the newest one the host tests use. criu-root.sh prints the binary's path on
# its last line; its progress goes to stderr.
# (CR_CRIU_ARCH: another architecture's, checked through qemu-user)
CRIU_OLD=$(CR_CRIU_ARCH=$DARCH sh "$top/tests/criu-root.sh" bookworm | tail -n 1)
CRIU_NEW=$(CR_CRIU_ARCH=$DARCH sh "$top/tests/criu-root.sh" | tail -n 1)
for c in "$CRIU_OLD" "$CRIU_NEW"; do
	[ -x "$c" ] || die "criu-root.sh gave no runnable criu ($c)"
	# The guest mounts file systems of its own there (/tmp and /run are
	# carried over by /init).
	case $c in /dev/* | /proc/* | /sys/*) die "CR_CACHE must not lie under /dev, /proc or /sys ($c)" ;; esac
done

# --------------------------------------------------------------- accelerator
# TCG unless a probe shows that KVM boots this kernel here: a tiny initramfs
# that prints a marker and powers off, with a hard limit. The verdict is
# cached per host kernel, qemu and guest kernel, so the probe (20 s where
# KVM hangs) runs once.
# (KVM runs only the host's own architecture.)
if [ -z "$ACCEL" ]; then
	ACCEL=tcg
	if [ "$ARCH" = x86_64 ] && [ -w /dev/kvm ]; then
		key="$(uname -r) $(qemu-system-x86_64 --version | head -n 1) $KPKG"
		if [ -f "$VM/kvm-probe" ] && [ "$(sed -n 1p "$VM/kvm-probe")" = "$key" ]; then
			ACCEL=$(sed -n 2p "$VM/kvm-probe")
		else
			pr=$(mktemp -d "$VM/probe.XXXXXX")
			mkdir -p "$pr/r/bin" "$pr/r/dev"
			cp /bin/busybox "$pr/r/bin/busybox"
			mknod "$pr/r/dev/console" c 5 1 2>/dev/null || true
			printf '#!/bin/busybox sh\necho CR-KVM-OK\n/bin/busybox poweroff -f\n' >"$pr/r/init"
			chmod 755 "$pr/r/init"
			(cd "$pr/r" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$pr/initrd.gz"
			timeout -k 5 20 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nographic -no-reboot -nic none \
				-kernel "$KDIR/vmlinuz" -initrd "$pr/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
				</dev/null >"$pr/log" 2>&1 || true
			grep -q CR-KVM-OK "$pr/log" && ACCEL=kvm
			printf '%s\n%s\n' "$key" "$ACCEL" >"$VM/kvm-probe"
			rm -rf "$pr"
		fi
		log "KVM probe: $([ "$ACCEL" = kvm ] && echo "KVM boots here" || echo "no KVM guest booted within 20 s"): $ACCEL"
	fi
fi

# ------------------------------------------------------------- cr, workload
crname=cr
[ "$ARCH" = x86_64 ] || crname=cr-$ARCH
CR=${CR:-$top/$crname}
case $CR in /*) ;; *) CR=$PWD/$CR ;; esac
if [ ! -x "$CR" ] && [ "$CR" = "$top/$crname" ]; then
	log "building $crname"
	make -C "$top" "$crname" >&2
fi
[ -x "$CR" ] || die "no cr binary at $CR"
# The guest has no C library outside the CRIUs' private copies.
readelf -l "$CR" 2>/dev/null | grep -q INTERP && die "$CR is not static"
# ... and it must be built for the guest (readelf's name of its machine)
case $ARCH:$(readelf -h "$CR" | sed -n 's/^ *Machine: *//p') in
x86_64:*X86-64* | aarch64:AArch64) ;;
*) die "$CR is not built for $ARCH ($(readelf -h "$CR" | sed -n 's/^ *Machine: *//p'))" ;;
esac

B=$(mktemp -d "$VM/build.XXXXXX")
# qemu runs in the background under timeout (its own process group): an
# interrupted run must stop it too.
qpid=""
# the last run's console stays in $VM/console.log for a look afterwards
# (|| true: set -e holds in the trap too, and a run that failed before the
# boot has no console log: the cp would end the trap before the rm)
trap 'cp "$B/console.log" "$VM/console.log" 2>/dev/null || true; for f in "$B"/reboot-*.ts; do [ ! -f "$f" ] || cp "$f" "$VM/"; done; rm -rf "$B"; [ -z "$qpid" ] || kill "$qpid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
if [ "$ARCH" = x86_64 ]; then
	musl-gcc -static -O2 -o "$B/workload" "$top/tests/workload.c"
	# ... and the same program built the ordinary way (gcc, glibc, dynamic): it
	# registers rseq, which post-copy's restore faults in (see the migrate
	# scenario); its libraries join the initramfs below.
	gcc -O2 -o "$B/workload-glibc" "$top/tests/workload.c"
	musl-gcc -static -O2 -o "$B/benchload" "$top/bench/load.c"	# bench/run.sh's VM part (CR_VM_ONLY=bench)
else
	# cr-ARCH's compiler and musl (the Makefile's cross build), static; and
	# the cross gcc's glibc build, dynamic (its sysroot's libraries below)
	make -s -C "$top" "tests/bin/workload-$ARCH" >&2 || die "make tests/bin/workload-$ARCH failed"
	cp "$top/tests/bin/workload-$ARCH" "$B/workload"
	SYSROOT=/usr/$ARCH-linux-gnu
	"$ARCH-linux-gnu-gcc" -O2 -o "$B/workload-glibc" "$top/tests/workload.c"
fi

# ----------------------------------------------------------------- initramfs
S=$B/root
mkdir -p "$S/bin" "$S/sbin" "$S/usr/bin" "$S/usr/sbin" "$S/etc" "$S/dev" "$S/proc" \
	"$S/sys" "$S/tmp" "$S/run" "$S/root" "$S/lib/modules"
cp "$BUSYBOX" "$S/bin/busybox"
# Applet links made here rather than with --install at boot: the guest's
# file system is then complete before /init's first line.
for a in $($QEMU_USER "$S/bin/busybox" --list-full); do
	[ -e "$S/$a" ] || ln -s /bin/busybox "$S/$a"
done
# The kernel opens /dev/console for /init's stdio before anything is mounted;
# /init reopens it after mounting devtmpfs in case mknod is not allowed here.
mknod "$S/dev/console" c 5 1 2>/dev/null || true
cp "$top/tests/vm/init" "$S/init"
cp "$top/tests/vm/guest.sh" "$S/guest.sh"
cp "$CR" "$S/bin/cr"
cp "$B/workload" "$S/bin/workload"
[ ! -f "$B/benchload" ] || cp "$B/benchload" "$S/bin/load"
chmod 755 "$S/init" "$S/guest.sh" "$S/bin/cr" "$S/bin/workload"

# Each CRIU and everything its loader maps, at the same absolute paths as on
# the host: the binaries carry an absolute interpreter and rpath (criu-root.sh
# patches them), so recreating those paths needs no wrapper and no
# LD_LIBRARY_PATH. cp -L: the guest gets the files, not the host's symlinks.
addfile() {
	mkdir -p "$S$(dirname "$1")"
	[ -e "$S$1" ] || cp -L "$1" "$S$1"
}
# addelf FILE: a dynamic executable or library and what its loader maps.
addelf() {
	addfile "$1"
	addlibs "$1"
}
# addlibs FILE [SYSROOT]: what the loader maps for FILE (traced natively, or
# under qemu-user); with SYSROOT (a cross toolchain's), the libraries are
# taken from there, at the paths the guest's loader will look for them.
addlibs() {
	libs=$(LD_TRACE_LOADED_OBJECTS=1 $QEMU_USER ${2:+-L "$2"} "$1") || die "$1 does not load"
	printf '%s\n' "$libs" | grep -q 'not found' && die "$1: missing libraries: $libs"
	for f in $(printf '%s\n' "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		if [ -n "${2:-}" ] && [ -e "$2$f" ]; then
			mkdir -p "$S$(dirname "$f")"
			[ -e "$S$f" ] || cp -L "$2$f" "$S$f"
		else
			addfile "$f"
		fi
	done
}
addelf "$CRIU_OLD"
addelf "$CRIU_NEW"
mkdir -p "$S/opt"
cp "$B/workload-glibc" "$S/opt/workload-glibc"
addlibs "$S/opt/workload-glibc" ${SYSROOT:-}
# iptables, which CRIU runs: 3.17 probes it on every start (without it each
# cr check logs eight "exited, status=1" errors) and locks TCP connections
# and network namespaces with it. The host's (bookworm's nft-based one), its
# extensions (dlopen'ed, so not in ldd's list) and the names CRIU calls.
if [ "$ARCH" = x86_64 ]; then
	ipt=$(readlink -f /usr/sbin/iptables)
	addelf "$ipt"
	for f in /usr/lib/"$(gcc -print-multiarch)"/xtables/*.so; do
		[ -e "$f" ] && addfile "$f"	# they need only libxtables and libc
	done
else
	# Debian's iptables: the nft variant, as the host's; the root made a
	# sysroot for the trace by the cross toolchain's loader and libc. (It
	# cannot run here: qemu-user has no netfilter netlink.)
	IR=$VM/iptables/root
	ipt=/usr/sbin/xtables-nft-multi
	mkdir -p "$IR/lib"
	for f in "$SYSROOT"/lib/ld-linux-*.so.* "$SYSROOT/lib/libc.so.6"; do cp -L "$f" "$IR/lib/"; done
	mkdir -p "$S/usr/sbin"
	cp "$IR$ipt" "$S$ipt"
	addlibs "$IR$ipt" "$IR"
	for f in "$IR/usr/lib/$ARCH-linux-gnu/xtables/"*.so; do
		mkdir -p "$S/usr/lib/$ARCH-linux-gnu/xtables"
		cp "$f" "$S/usr/lib/$ARCH-linux-gnu/xtables/"
	done
fi
for name in iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save; do
	ln -sf "$(basename "$ipt")" "$S/usr/sbin/$name"
done
[ -f /etc/protocols ] && cp /etc/protocols "$S/etc/"

# Kernel modules CRIU needs: sock_diag for its socket dump, nftables,
# conntrack and the xtables bits iptables-nft falls back to for network
# locking, tun and veth for network namespaces. The host's kmod resolves
# dependencies and softdeps (busybox modprobe ignores softdeps: nf_tables
# needs crc32c through libcrc32c's), so the guest just loads a flat, ordered
# list.
MODS="crc32c_generic unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag
	af_packet_diag nf_tables nft_ct nf_conntrack nft_compat xt_mark xt_tcpudp tun veth"
: >"$B/load"
# addmods KDIR KVER LOADFILE MODULE...: the modules and their dependencies
# into $S/lib/modules/KVER, their names appended to LOADFILE in load order
# (a module already there is skipped). Compressed ones (trixie's are .ko.xz)
# are unpacked here: busybox modprobe reads plain .ko files.
addmods() {
	_kd=$1 _kv=$2 _lf=$3
	shift 3
	for m in "$@"; do
		modprobe -d "$_kd" -S "$_kv" --show-depends "$m" >"$B/deps" || die "no module $m in $_kd"
		# builtin lines name nothing to load
		for f in $(awk '$1 == "insmod" { print $2 }' "$B/deps"); do
			rel=${f#"$_kd"/}
			case $rel in *.ko.xz) rel=${rel%.xz} ;; *.ko.zst) rel=${rel%.zst} ;; esac
			[ -e "$S/$rel" ] && continue
			mkdir -p "$S/$(dirname "$rel")"
			case $f in
			*.xz) xz -dc "$f" >"$S/$rel" ;;
			*.zst) zstd -qdc "$f" >"$S/$rel" ;;
			*) cp "$f" "$S/$rel" ;;
			esac
			basename "$rel" .ko >>"$_lf"
		done
	done
	cp "$_kd/lib/modules/$_kv/modules.order" "$_kd/lib/modules/$_kv/modules.builtin" \
		"$_kd/lib/modules/$_kv/modules.builtin.modinfo" "$S/lib/modules/$_kv/"
	depmod -b "$S" "$_kv"
}
# shellcheck disable=SC2086 # MODS: words
addmods "$KDIR" "$KVER" "$B/load" $MODS
cp "$B/load" "$S/etc/cr-vm-modules"

# What the guest script needs to know, as shell assignments.
v_old=$($QEMU_USER "$CRIU_OLD" --version | sed -n 's/^Version: //p')
v_new=$($QEMU_USER "$CRIU_NEW" --version | sed -n 's/^Version: //p')
# SCENARIOS: guest.sh's default list on x86_64 (soft-dirty: pre-dump
# chains, pre-copy); without soft-dirty the pre-dump refusal, stop-copy and
# post-copy instead, the counter's data checked, --leave-running, a fault.
SCENARIOS=""
[ "$ARCH" = x86_64 ] ||
	SCENARIOS="check counter data leave cgroup tcp refuse nopredump fault stopcopy postcopy"
cat >"$S/etc/cr-vm.env" <<EOF
CRIUS='$CRIU_OLD $CRIU_NEW'
KVER='$KVER'
ONLY='${CR_VM_ONLY:-}'
ARCH='$ARCH'
SOFT_DIRTY='$SOFT_DIRTY'
SCENARIOS='$SCENARIOS'
EOF

# in this run's own directory: a make bench and a make check at the same
# time must not boot each other's initramfs or read each other's console
INITRD=$B/initrd.gz
(cd "$S" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$INITRD.tmp"
mv "$INITRD.tmp" "$INITRD"
log "initramfs $(du -k "$INITRD" | cut -f1) KiB; kernel $KPKG; criu $v_old and $v_new; accel $ACCEL${QEMU_USER:+; $ARCH, cpu $CPU}"

# --------------------------------------------------- the reboot scenario's
# One initramfs for both of its kernels: the tier's, plus reboot.sh, kexec
# (bookworm's kexec-tools and the Xen libraries it links), virtio-blk and
# ext4 for 6.1, and trixie's modules (the same list, with the disk's) with
# a load list of their own (/init picks /etc/cr-vm-modules-$(uname -r)).
# Two disks (ext4 images, made as files with mkfs.ext4 -d: no mount), with
# the programs in /bin: one for the cold reboot, one for kexec that also
# carries trixie's kernel and this initramfs in /boot for kexec -l.
if [ "$REBOOT" = 1 ]; then
	cp "$top/tests/vm/reboot.sh" "$S/reboot.sh"
	cp "$KX/sbin/kexec" "$S/sbin/kexec"
	libs=$(/lib64/ld-linux-x86-64.so.2 --library-path "$KX/usr/lib/x86_64-linux-gnu" --list "$KX/sbin/kexec") ||
		die "kexec does not load"
	printf '%s\n' "$libs" | grep -q 'not found' && die "kexec: missing libraries: $libs"
	for f in $(printf '%s\n' "$libs" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		case $f in
		"$KX"/*) mkdir -p "$S$(dirname "${f#"$KX"}")"; cp -L "$f" "$S${f#"$KX"}" ;;
		*) addfile "$f" ;;
		esac
	done
	DISKMODS="virtio_pci virtio_blk ext4"
	cp "$B/load" "$B/load1"
	# shellcheck disable=SC2086 # words
	addmods "$KDIR" "$KVER" "$B/load1" $DISKMODS
	cp "$B/load1" "$S/etc/cr-vm-modules-$KVER"
	: >"$B/load2"
	# shellcheck disable=SC2086 # words
	addmods "$B2DIR" "$B2VER" "$B/load2" $MODS $DISKMODS
	cp "$B/load2" "$S/etc/cr-vm-modules-$B2VER"
	RINITRD=$B/initrd-reboot.gz
	(cd "$S" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$RINITRD"
	mkdir -p "$B/disk/bin"
	cp "$B/workload" "$B/workload-glibc" "$B/disk/bin/"
	for d in cold kexec; do
		if [ $d = kexec ]; then
			mkdir -p "$B/disk/boot"
			cp "$B2DIR/vmlinuz" "$B/disk/boot/vmlinuz"
			cp "$RINITRD" "$B/disk/boot/initrd.gz"
		fi
		rm -f "$B/disk-$d.img"
		truncate -s 256M "$B/disk-$d.img"
		mkfs.ext4 -q -F -L crdisk -d "$B/disk" "$B/disk-$d.img" >&2 || die "mkfs.ext4 -d failed (e2fsprogs 1.43 or later needed)"
	done
	log "reboot scenario: initramfs $(du -k "$RINITRD" | cut -f1) KiB; kernels $KPKG and $B2PKG; criu $(${QEMU_USER} "$CRIU_NEW" --version | sed -n 's/^Version: //p')"
fi

# ---------------------------------------------------------------------- boot
# -nic none: no network device, so no option ROM to look for either.
# -no-reboot with panic=-1: a guest that dies (init exiting, a panic) ends
# qemu at once instead of rebooting into the tests again.
LOGF=$B/console.log
# Once in about 60 boots here, qemu sat for the full timeout without printing
# a byte (not even SeaBIOS's banner). /init's first line normally comes
# within 10 s, so a boot that has not shown it after BOOT_LIMIT seconds is
# killed and tried once more; one that fails twice is reported.
BOOT_LIMIT=120
boot() {
	# shellcheck disable=SC2086 # MACHINE: words
	timeout -k 10 "$TIMEOUT" "$QEMU" $MACHINE -accel "$ACCEL" -cpu "$CPU" -m 2048 -smp 2 \
		-nographic -no-reboot -nic none -kernel "$KDIR/vmlinuz" -initrd "$INITRD" \
		-append "console=$CONSOLE quiet panic=-1" </dev/null >"$LOGF" 2>&1 &
	qpid=$! waited=0
	while kill -0 "$qpid" 2>/dev/null; do
		if [ $waited -ge $BOOT_LIMIT ] && ! grep -q 'cr VM tier: kernel' "$LOGF"; then
			kill "$qpid" 2>/dev/null	# timeout passes it on to qemu
			wait "$qpid" 2>/dev/null
			qpid=""
			return 200
		fi
		sleep 1
		waited=$((waited + 1))
	done
	wait "$qpid"
	_rc=$?
	qpid=""
	return $_rc
}
# clean LOG: serial output ends lines with CR LF, and SeaBIOS's terminal
# escapes run into the guest's first line.
clean() { tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'; }
# Every boot's console goes into one stream, each after a line
# "CR-VM-BOOT NAME QEMU-STATUS SECONDS LOG", for the parser below; LOGS:
# the boots' logs, whose tails are shown when one did not reach its end.
ALL=$B/results
: >"$ALL"
LOGS=""
secs=0
if [ "$MAIN" = 1 ]; then
	rm -f "$LOGF.hung"
	start=$(date +%s)
	set +e
	boot
	qrc=$?
	if [ $qrc = 200 ]; then
		log "no /init output after $BOOT_LIMIT s; booting again"
		cp "$LOGF" "$LOGF.hung"
		start=$(date +%s)
		boot
		qrc=$?
	fi
	set -e
	secs=$(($(date +%s) - start))
	{ echo "CR-VM-BOOT main $qrc $secs $LOGF"; clean "$LOGF"; } >>"$ALL"
	LOGS="$LOGS $LOGF"
fi

# The reboot scenario's boots: each console is stamped with the host's
# clock as it arrives (the guest's "CR-T WHAT" lines mark the moments the
# downtime is measured between), in $B/reboot-NAME.ts (kept in $VM).
# rboot NAME KERNEL DISK APPEND: one boot; sets qrc and rsecs. A boot that
# shows nothing of /init within BOOT_LIMIT s is killed and tried again once
# (nothing ran in it, the disk is as it was).
rboot() {
	_try=0
	while :; do
		_t=$(date +%s)
		{
			timeout -k 10 300 qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -m 2048 -smp 2 -nographic \
				-no-reboot -nic none -rtc base=utc -drive "file=$3,if=virtio,format=raw" \
				-kernel "$2" -initrd "$RINITRD" -append "console=ttyS0 quiet panic=-1 $4" </dev/null 2>&1 &
			echo $! >"$B/rboot.pid"
			wait $!
			echo "CR-QEMU-EXIT $?"
		} | while IFS= read -r _l; do printf '%s %s\n' "$(date +%s.%N)" "$_l"; done >"$B/reboot-$1.ts" &
		_p=$! _w=0
		while kill -0 $_p 2>/dev/null; do
			if [ $_w -ge $BOOT_LIMIT ] && ! grep -q 'cr VM tier: kernel' "$B/reboot-$1.ts"; then
				kill "$(cat "$B/rboot.pid")" 2>/dev/null
				break
			fi
			sleep 1
			_w=$((_w + 1))
		done
		wait $_p
		rsecs=$(($(date +%s) - _t))
		grep -q 'cr VM tier: kernel' "$B/reboot-$1.ts" && break
		_try=$((_try + 1))
		[ $_try -lt 2 ] || break
		log "reboot-$1: no /init output after $BOOT_LIMIT s; booting again"
	done
	qrc=$(sed -n 's/.* CR-QEMU-EXIT \([0-9]*\).*/\1/p' "$B/reboot-$1.ts" | tail -n 1)
	sed 's/^[^ ]* //' "$B/reboot-$1.ts" | grep -v '^CR-QEMU-EXIT' >"$B/reboot-$1.log"
	{ echo "CR-VM-BOOT reboot-$1 ${qrc:-1} $rsecs $VM/reboot-$1.ts"; clean "$B/reboot-$1.log"; } >>"$ALL"
	LOGS="$LOGS $B/reboot-$1.log"
}
# stamp NAME WHAT: the host's time of the first console line of boot NAME
# that holds WHAT
stamp() { grep -m 1 -- "$2" "$B/reboot-$1.ts" | cut -d' ' -f1; }
# hostcheck DESC COND...: a result of the host's own, in the stream
hostcheck() {
	_d=$1
	shift
	if "$@"; then echo "ok 1 - $_d"; else echo "not ok 1 - $_d"; fi >>"$ALL"
}
if [ "$REBOOT" = 1 ]; then
	rt0=$(date +%s)
	K1="$KDIR/vmlinuz" K2="$B2DIR/vmlinuz"
	rboot cold1 "$K1" "$B/disk-cold.img" "cr.phase=checkpoint cr.via=cold"
	rboot cold2 "$K2" "$B/disk-cold.img" "cr.phase=restore cr.via=cold"
	hostcheck "reboot/cold: boot 1 ran Linux $KVER, boot 2 Linux $B2VER" eval \
		'grep -q "cr VM tier: kernel $KVER," "$B/reboot-cold1.log" && grep -q "cr VM tier: kernel $B2VER," "$B/reboot-cold2.log"'
	a=$(stamp cold1 'CR-T ck-start') z=$(stamp cold2 'CR-T running')
	q=$(grep -m 1 . "$B/reboot-cold2.ts" | cut -d' ' -f1)
	[ -z "$a" ] || [ -z "$z" ] ||
		echo "# reboot/cold: downtime seen by the host $(awk -v a="$a" -v z="$z" 'BEGIN { printf "%.2f", z - a }') s (checkpoint start in boot 1 to both counting in boot 2; of that, boot 2's first console line (SeaBIOS) to running $(awk -v a="$q" -v z="$z" 'BEGIN { printf "%.2f", z - a }') s, and boot 2 includes the failure case)" >>"$ALL"
	rboot kexec "$K1" "$B/disk-kexec.img" "cr.phase=checkpoint cr.via=kexec"
	hostcheck "reboot/kexec: Linux $KVER, then Linux $B2VER by kexec -e in the same qemu run" eval \
		'grep -q "cr VM tier: kernel $KVER," "$B/reboot-kexec.log" && grep -q "cr VM tier: kernel $B2VER," "$B/reboot-kexec.log"'
	a=$(stamp kexec 'CR-T ck-start') e=$(stamp kexec 'CR-T kexec-e') z=$(stamp kexec 'CR-T running')
	[ -z "$a" ] || [ -z "$z" ] ||
		echo "# reboot/kexec: downtime seen by the host $(awk -v a="$a" -v z="$z" 'BEGIN { printf "%.2f", z - a }') s (checkpoint start to both counting; kexec -e to running $(awk -v a="$e" -v z="$z" 'BEGIN { printf "%.2f", z - a }') s)" >>"$ALL"
	echo "# reboot: the scenario's three boots took $(($(date +%s) - rt0)) s" >>"$ALL"
fi

# ------------------------------------------------------------------- results
# Results are renumbered in the order seen; "#" lines (cr check's report,
# failure details) are shown as they are. Each boot must reach the marker,
# which carries its script's exit status: a script that died half-way (a
# shell error) printed fewer results, all of which may be ok.
awk -v mark="$MARK" -v limit="$BOOT_LIMIT" '
	function finish() {
		if (name == "") return
		if (!done && qrc == 200) {
			printf "not ok %d - %sthe guest booted (no output from /init within %d s, twice; log %s)\n", ++n, pre, limit, logf
			failed++
		} else if (!done) {
			printf "not ok %d - %sthe guest reached %s (qemu exit %d after %d s; log %s)\n", ++n, pre, mark, qrc, secs, logf
			failed++
		} else if (rc != "0") {
			printf "not ok %d - %sthe guest script ran to its end (it exited %s)\n", ++n, pre, rc
			failed++
		}
		name = ""
	}
	$1 == "CR-VM-BOOT" {
		finish()
		name = $2; qrc = $3; secs = $4; logf = $5; done = 0; rc = ""
		pre = name == "main" ? "" : name ": "
		if (name == "main") mainsecs = secs; else rebootsecs += secs
		next
	}
	/^(not )?ok [0-9]+/ {
		bad = /^not /
		sub(/^(not )?ok [0-9]+ ?/, "")
		n++; if (bad) failed++; else passed++
		printf "%sok %d %s\n", bad ? "not " : "", n, $0
		next
	}
	/^#/ { print; next }
	$1 == mark { done = 1; rc = $2 }
	END {
		finish()
		t = mainsecs != "" ? sprintf("guest run %d s", mainsecs) : ""
		if (rebootsecs) t = t (t != "" ? ", " : "") sprintf("reboot scenario %d s", rebootsecs)
		printf "%d passed, %d failed (%s)\n", passed, failed, t
		exit failed ? 1 : 0
	}' "$ALL" && exit 0
# The verdict is in; for a crash or a hang the console tail says why.
for l in $LOGS; do
	if ! clean "$l" | grep -q "^$MARK "; then
		echo "# --- last lines of $l"
		clean "$l" | tail -n 40 | sed 's/^/#   /'
	fi
done
exit 1
