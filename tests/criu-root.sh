#!/bin/sh
# Provide a CRIU that works on this host, in a private root.
#
#   sh tests/criu-root.sh [SUITE...]      (default: forky sid trixie)
#   CR_CRIU_ARCH=arm64 sh tests/criu-root.sh [SUITE...]
#
# Bookworm's criu 3.17 fails on new kernels (vDSO layout), and newer criu
# needs its suite's libc, so nothing is installed system-wide: the suite's
# .debs are fetched through a private apt configuration, unpacked with
# dpkg-deb -x, and criu is patched (ELF interpreter + rpath) to run from there.
# The suite equal to the host's own release (bookworm here) keeps the
# host's loader and libraries and only unpacks what the host lacks.
#
# The absolute path of a runnable criu is the last line on stdout; all
# else goes to stderr.  Cache: ${CR_CACHE:-/var/cache/cr-test}/criu-SUITE.
# A finished root is reused without touching the network.
# CR_CRIU_ARCH (a Debian architecture, default the host's) fetches another
# architecture's criu for a VM guest (tests/vm/run.sh): its .debs, every
# library from the root (the host's installed set counts for nothing), the
# root's loader patched in, checked through qemu-user (qemu-ARCH-static)
# instead of run natively; cached in criu-ARCH-SUITE.
# CR_MIRROR overrides the archive URL taken from the system's apt sources;
# CR_KEYRING overrides the keyring that verifies the suite.
set -eu

CACHE=${CR_CACHE:-/var/cache/cr-test}
KEYRING=${CR_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# Only the binary's own interpreter and rpath may decide what it loads.
unset LD_LIBRARY_PATH LD_PRELOAD

log() { printf 'criu-root: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -gt 0 ] || set -- forky sid trixie
HOST=$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
# apt-config, not dpkg: busybox sh would run its own dpkg applet.
eval "$(apt-config shell ARCH APT::Architecture)"
[ -n "${ARCH:-}" ] || die "cannot tell the host architecture"
# Another architecture: cache directory criu-ARCH-SUITE, and its criu runs
# here only under qemu-user (QEMU: empty for the host's own).
PFX="" QEMU=""
if [ -n "${CR_CRIU_ARCH:-}" ] && [ "$CR_CRIU_ARCH" != "$ARCH" ]; then
	ARCH=$CR_CRIU_ARCH PFX=$CR_CRIU_ARCH-
	case $ARCH in
	arm64) QEMU=qemu-aarch64-static ;;
	armhf) QEMU=qemu-arm-static ;;
	*) QEMU=qemu-$ARCH-static ;;
	esac
fi

# Warm path first: any finished root among the wanted suites, in order.
for s in "$@"; do
	if [ -f "$CACHE/criu-$PFX$s/complete" ] && [ -x "$CACHE/criu-$PFX$s/root/usr/sbin/criu" ]; then
		log "using cached ${PFX:+$ARCH }$s criu"
		echo "$CACHE/criu-$PFX$s/root/usr/sbin/criu"
		exit 0
	fi
done
[ -z "$QEMU" ] || command -v "$QEMU" >/dev/null 2>&1 ||
	die "$QEMU is missing (make deps installs qemu-user-static): cannot check an $ARCH criu"

command -v patchelf >/dev/null 2>&1 || {
	log "installing patchelf"
	apt-get install -y -q patchelf >&2 || die "patchelf is missing and could not be installed"
}

# The archive the host already uses (its main suite, not -security):
# apt's own parse of /etc/apt sources, so both file formats are handled.
MIRROR=${CR_MIRROR:-}
if [ -z "$MIRROR" ] && [ -n "$HOST" ]; then
	MIRROR=$(apt-get indextargets --format '$(REPO_URI)' \
		"Release: $HOST" "Target-Of: deb" 2>/dev/null | head -n 1)
fi
[ -n "$MIRROR" ] || die "no Debian archive for '$HOST' in the apt sources; set CR_MIRROR"

# fetch SUITE: fill $CACHE/criu-SUITE/root; non-zero if the suite is unusable.
fetch() {
	suite=$1 dir=$CACHE/criu-$PFX$1
	root=$dir/root apt=$dir/apt
	# the host's own release and architecture: its installed libraries serve
	own=""
	[ "$suite" = "$HOST" ] && [ -z "$QEMU" ] && own=1
	rm -rf "$root" "$dir/debs" "$dir/complete"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/debs" "$root"
	echo "deb [signed-by=$KEYRING${QEMU:+ arch=$ARCH}] $MIRROR $suite main" >"$apt/sources.list"
	# Empty status and no pins: the host's installed set and preferences
	# must not change which versions are candidates for download.  Keep
	# the binary caches (docker images disable them) or each apt-cache
	# call below re-parses the lists (~1 s each).
	: >"$apt/status"
	set -- -q -o Dir::Etc::SourceList="$apt/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$apt/lists" \
		-o Dir::Cache="$apt/cache" -o Dir::State::status="$apt/status" \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
		-o APT::Architectures="$ARCH" -o Acquire::Languages=none \
		-o APT::Sandbox::User=root \
		-o Dir::Cache::pkgcache=pkgcache.bin -o Dir::Cache::srcpkgcache=srcpkgcache.bin
	log "$suite: apt-get update ($MIRROR)"
	apt-get "$@" update >&2 || { log "$suite: apt-get update failed"; return 1; }
	apt-cache "$@" show criu >/dev/null 2>&1 || { log "$suite: no criu package"; return 1; }

	# Closure of criu's Depends over library packages only (bookworm's criu
	# also depends on python3 for crit, which criu itself never loads).
	# For the host's release, what the host has installed is already there.
	pkgs="" next=criu
	while [ -n "$next" ]; do
		pkgs="$pkgs $next" new=""
		for p in $(apt-cache "$@" depends --no-recommends --no-suggests \
			--no-conflicts --no-breaks --no-replaces --no-enhances $next |
			sed -n 's/^ *|\{0,1\}\(Pre-\)\{0,1\}Depends: \(lib[^ <>:]*\).*/\2/p' | sort -u); do
			case " $pkgs $new " in *" $p "*) continue ;; esac
			if [ -n "$own" ] &&
				dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
				continue
			fi
			new="$new $p"
		done
		next=${new# }
	done
	log "$suite: downloading$pkgs"
	(cd "$dir/debs" && apt-get "$@" download $pkgs) >&2 ||
		{ log "$suite: apt-get download failed"; return 1; }
	# set -e is off inside `if fetch`: each step checks for itself.
	for deb in "$dir/debs"/*.deb; do dpkg-deb -x "$deb" "$root" || return 1; done

	# A real ELF, not a wrapper: cr passes an fd to `criu swrk FD`.
	# RPATH (not RUNPATH) so the libraries' own needs resolve here too.
	rpath=""
	for d in "$root"/lib/*-linux-gnu* "$root"/usr/lib/*-linux-gnu*; do
		[ -d "$d" ] && rpath="$rpath${rpath:+:}$d"
	done
	criu=$root/usr/sbin/criu
	if [ -z "$own" ]; then
		ld=""
		for f in "$root"/usr/lib/*-linux-gnu*/ld-linux*.so.* "$root"/lib/*-linux-gnu*/ld-linux*.so.*; do
			[ -f "$f" ] && ld=$f && break
		done
		[ -n "$ld" ] || { log "$suite: no dynamic loader in $root"; return 1; }
		patchelf --set-interpreter "$ld" "$criu" || return 1
	fi
	[ -z "$rpath" ] || patchelf --force-rpath --set-rpath "$rpath" "$criu" || return 1

	# Every library must resolve, and for a foreign suite only from the root
	# (the loader would otherwise fall back silently to the host's copies).
	# (qemu-user hands its environment to the program: the loader traces)
	libs=$(LD_TRACE_LOADED_OBJECTS=1 $QEMU "$criu") || { log "$suite: criu does not load"; return 1; }
	bad=$(printf '%s\n' "$libs" | awk -v r="$root/" -v foreign="$([ -n "$own" ] || echo 1)" '
		/not found/ { print; next }
		foreign && $2 == "=>" && index($3, r) != 1 { print }')
	[ -z "$bad" ] || { log "$suite: libraries resolve badly:"; printf '%s\n' "$bad" >&2; return 1; }
	$QEMU "$criu" --version >&2 || { log "$suite: criu --version failed"; return 1; }
	rm -f "$apt/cache/"*.bin	# 90 MB that a finished root never reads
	echo "$suite" >"$dir/complete"
}

for s in "$@"; do
	if fetch "$s"; then
		echo "$CACHE/criu-$PFX$s/root/usr/sbin/criu"
		exit 0
	fi
done
die "no usable criu from: $*"
