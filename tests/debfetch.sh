#!/bin/sh
# debfetch.sh: fetch Debian packages through a private apt configuration,
# for `make deps` and the cross builds.
#
#   sh tests/debfetch.sh source DIR PKG[=VER]...
#   sh tests/debfetch.sh binary DIR ARCH SUITE PKG...
#
# source: bookworm and trixie deb-src entries; the files land in DIR/src.
# binary: the .debs of PKG for ARCH from SUITE land in DIR/debs and are
# unpacked into DIR/root (dpkg-deb -x: nothing is installed; no
# `dpkg --add-architecture` either), then DIR/complete is written.
# The private configuration lives in DIR (lists, cache, a sources file) on
# the mirror the system's own apt sources name, so nothing under /etc/apt
# is edited and no mirror is written down here. What is already there is
# not fetched again.
set -eu
mode=${1:-}
case $mode in
source) [ $# -ge 3 ] ;;
binary) [ $# -ge 5 ] ;;
*) false ;;
esac || { echo "usage: $0 source DIR PKG... | binary DIR ARCH SUITE PKG..." >&2; exit 2; }
dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"

if [ "$mode" = source ]; then
	mkdir -p "$dir/src"
	need=
	for p in "$@"; do
		n=${p%%=*}; v=${p#*=}
		[ "$v" != "$p" ] && ls "$dir/src/${n}_${v%-*}".orig.tar.* >/dev/null 2>&1 || need="$need $p"
	done
	[ -n "$need" ] || exit 0
else
	arch=$1 suite=$2; shift 2
	[ -f "$dir/complete" ] && [ "$(cat "$dir/complete")" = "$arch $suite $*" ] && exit 0
fi

# The first Debian archive URI the system uses (deb822 or one-line format),
# skipping the security archive.
uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
[ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	awk '$1 == "deb" && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }')
[ -n "$uri" ] || { echo "debfetch: no Debian mirror found in /etc/apt" >&2; exit 1; }

key=/usr/share/keyrings/debian-archive-keyring.gpg
if [ "$mode" = source ]; then
	printf 'deb-src [signed-by=%s] %s %s main\n' "$key" "$uri" bookworm "$key" "$uri" trixie >"$dir/sources.list"
else
	printf 'deb [signed-by=%s arch=%s] %s %s main\n' "$key" "$arch" "$uri" "$suite" >"$dir/sources.list"
	: >"$dir/status"
fi
apt() {
	apt-get -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
		-o Dir::State::status="$dir/status" -o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null -o Acquire::Languages=none \
		${arch:+-o APT::Architectures="$arch"} -o APT::Sandbox::User=root "$@"
}
[ -f "$dir/status" ] || : >"$dir/status"
apt update >"$dir/update.log" 2>&1 || { cat "$dir/update.log" >&2; exit 1; }
if [ "$mode" = source ]; then
	# shellcheck disable=SC2086
	(cd "$dir/src" && apt source --download-only $need)
	exit 0
fi
rm -rf "$dir/debs" "$dir/root" "$dir/complete"
mkdir -p "$dir/debs" "$dir/root"
(cd "$dir/debs" && apt download "$@") >&2
for deb in "$dir/debs"/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
echo "$arch $suite $*" >"$dir/complete"
