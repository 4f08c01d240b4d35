#!/bin/sh
# debfetch.sh: fetch Debian source packages through a private apt
# configuration, for `make deps`.
#
#   sh tests/debfetch.sh source DIR PKG[=VER]...
#
# The private configuration lives in DIR (lists, cache, a sources file) and
# lists bookworm and trixie deb-src entries on the mirror the system's own apt
# sources name, so nothing under /etc/apt is edited and no mirror is written
# down here. The downloaded files land in DIR/src. Files already there are
# not fetched again.
set -eu
[ "${1:-}" = source ] && [ $# -ge 3 ] || { echo "usage: $0 source DIR PKG..." >&2; exit 2; }
dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/src"

need=
for p in "$@"; do
	n=${p%%=*}; v=${p#*=}
	[ "$v" != "$p" ] && ls "$dir/src/${n}_${v%-*}".orig.tar.* >/dev/null 2>&1 || need="$need $p"
done
[ -n "$need" ] || exit 0

# The first Debian archive URI the system uses (deb822 or one-line format),
# skipping the security archive.
uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
	awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }')
[ -n "$uri" ] || uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	awk '$1 == "deb" && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }')
[ -n "$uri" ] || { echo "debfetch: no Debian mirror found in /etc/apt" >&2; exit 1; }

key=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb-src [signed-by=%s] %s %s main\n' "$key" "$uri" bookworm "$key" "$uri" trixie >"$dir/sources.list"
apt() {
	apt-get -q -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
		-o APT::Sandbox::User=root "$@"
}
apt update >"$dir/update.log" 2>&1 || { cat "$dir/update.log" >&2; exit 1; }
# shellcheck disable=SC2086
(cd "$dir/src" && apt source --download-only $need)
