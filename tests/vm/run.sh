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
kpkg() {
	xapt apt-cache depends "linux-image-$DARCH" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\)\(:[a-z0-9]*\)\{0,1\}$/\1/p' | head -n 1
}
updated=""
refresh() { [ -n "$updated" ] && return 1; updated=1; log "apt-get update"; xapt apt-get update $APT_OPTS >&2; }
KPKG=$(kpkg)
[ -n "$KPKG" ] || { refresh && KPKG=$(kpkg); } || true
[ -n "$KPKG" ] || die "apt knows no linux-image-$DARCH (are bookworm's sources configured?)"
KDIR=$VM/$KPKG

if [ ! -f "$KDIR/complete" ]; then
	mkdir -p "$VM/debs"
	# Only the package just named: an older kernel's .deb in the cache is
	# not what linux-image-amd64 points at any more.
	deb=$(ls "$VM/debs/${KPKG}_"*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		log "downloading $KPKG"
		(cd "$VM/debs" && xapt apt-get download $APT_OPTS "$KPKG" >&2) ||
			{ refresh && (cd "$VM/debs" && xapt apt-get download $APT_OPTS "$KPKG" >&2); } ||
			die "apt-get download $KPKG failed"
		deb=$(ls "$VM/debs/${KPKG}_"*.deb | head -n 1)
	fi
	log "unpacking $(basename "$deb")"
	rm -rf "$KDIR" "$KDIR.tmp"
	mkdir -p "$KDIR.tmp/x"
	# A download cut short leaves a file that is no package: drop it so the
	# next run fetches it again.
	dpkg-deb -x "$deb" "$KDIR.tmp/x" || { rm -f "$deb"; die "$deb is damaged; removed it, run again"; }
	# Keep the kernel and the module trees CRIU's needs come from (net,
	# netfilter, crc32c, tun/veth): about a third of the 400 MB unpacked.
	# Newer packages ship /usr/lib/modules: accept both.
	mdir=$(ls -d "$KDIR.tmp/x/lib/modules/"* "$KDIR.tmp/x/usr/lib/modules/"* 2>/dev/null | head -n 1)
	[ -n "$mdir" ] || die "$KPKG holds no modules directory"
	kver=$(basename "$mdir")
	keep=$KDIR.tmp/k/lib/modules/$kver
	mkdir -p "$keep"
	cp "$KDIR.tmp/x/boot/vmlinuz-$kver" "$KDIR.tmp/k/vmlinuz"
	cp "$KDIR.tmp/x/boot/config-$kver" "$KDIR.tmp/k/config"
	cp "$mdir"/modules.order "$mdir"/modules.builtin* "$keep/"
	for d in net lib crypto arch/$KARCH/crypto drivers/net; do
		[ -d "$mdir/kernel/$d" ] && mkdir -p "$keep/kernel/$(dirname "$d")" &&
			cp -a "$mdir/kernel/$d" "$keep/kernel/$(dirname "$d")/"
	done
	depmod -b "$KDIR.tmp/k" "$kver"
	echo "$kver" >"$KDIR.tmp/k/kver"
	rm -rf "$KDIR.tmp/x"
	mv "$KDIR.tmp/k" "$KDIR"
	rmdir "$KDIR.tmp"
	grep -q '^CONFIG_MEM_SOFT_DIRTY=y' "$KDIR/config" || [ "$ARCH" != x86_64 ] ||
		log "warning: $KPKG has no CONFIG_MEM_SOFT_DIRTY: the pre-dump scenarios will fail"
	echo "$KPKG" >"$KDIR/complete"
fi
KVER=$(cat "$KDIR/kver")
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
trap 'cp "$B/console.log" "$VM/console.log" 2>/dev/null || true; rm -rf "$B"; [ -z "$qpid" ] || kill "$qpid" 2>/dev/null' EXIT
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
for m in $MODS; do
	modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" >"$B/deps" || die "no module $m in $KPKG"
	# builtin lines name nothing to load
	for f in $(awk '$1 == "insmod" { print $2 }' "$B/deps"); do
		rel=${f#"$KDIR"/}
		[ -e "$S/$rel" ] && continue
		mkdir -p "$S/$(dirname "$rel")"
		cp "$f" "$S/$rel"
		basename "$f" .ko >>"$B/load"
	done
done
cp "$KDIR/lib/modules/$KVER/modules.order" "$KDIR/lib/modules/$KVER/modules.builtin" \
	"$KDIR/lib/modules/$KVER/modules.builtin.modinfo" "$S/lib/modules/$KVER/"
depmod -b "$S" "$KVER"
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

# ------------------------------------------------------------------- results
# Serial output ends lines with CR LF, and SeaBIOS's terminal escapes run
# into the guest's first line. Results are renumbered in the order seen; "#"
# lines (cr check's report, failure details) are shown as they are. The
# marker carries guest.sh's exit status: a script that died half-way (a
# shell error) printed fewer results, all of which may be ok.
clean() { tr -d '\r' <"$LOGF" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g'; }
clean | awk -v mark="$MARK" -v secs="$secs" -v qrc="$qrc" -v logf="$LOGF" -v limit="$BOOT_LIMIT" '
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
		if (!done && qrc == 200) {
			printf "not ok %d - the guest booted (no output from /init within %d s, twice; log %s)\n", ++n, limit, logf
			failed++
		} else if (!done) {
			printf "not ok %d - the guest reached %s (qemu exit %d after %d s; log %s)\n", ++n, mark, qrc, secs, logf
			failed++
		} else if (rc != "0") {
			printf "not ok %d - guest.sh ran to its end (it exited %s)\n", ++n, rc
			failed++
		}
		printf "%d passed, %d failed (guest run %d s)\n", passed, failed, secs
		exit failed ? 1 : 0
	}' && exit 0
# The verdict is in; for a crash or a hang the console tail says why.
if ! clean | grep -q "^$MARK "; then
	echo "# --- last lines of $LOGF"
	clean | tail -n 40 | sed 's/^/#   /'
fi
exit 1
