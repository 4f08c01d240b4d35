#!/bin/sh
# demo.sh: cr's main job, end to end, on a built-in example (`make demo`).
# A counter process is started, checkpointed (it is gone), restored, and
# shown to continue from where it stopped. Runs in its own pid namespace so
# the restored pid is free. Needs root.
#
# CRIU: $CR_CRIU if set; else the system's criu if `criu check` passes;
# else Debian's newest CRIU in a private root (tests/criu-root.sh).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
CR=${CR:-$top/cr}

if [ "${1:-}" != inner ]; then
	[ "$(id -u)" = 0 ] || { echo "demo: run as root (CRIU needs it)" >&2; exit 1; }
	if [ -z "${CR_CRIU:-}" ]; then
		if command -v criu >/dev/null 2>&1 && criu check >/dev/null 2>&1; then
			CR_CRIU=$(command -v criu)
		else
			echo "demo: the system has no working criu; fetching Debian's newest into a private root" >&2
			CR_CRIU=$(sh "$top/tests/criu-root.sh" | tail -n 1)
		fi
	fi
	export CR_CRIU CR
	mkdir -p "$top/tests/bin"
	cc=$(command -v musl-gcc || echo cc)
	"$cc" -static -O2 -o "$top/tests/bin/workload" "$top/tests/workload.c"
	exec unshare --pid --fork --mount-proc sh "$0" inner
fi

# From here on: pid 1 of a fresh pid namespace.
D=$(mktemp -d /tmp/cr-demo.XXXXXX)
trap 'rm -rf "$D"' EXIT
count() { cut -d' ' -f1 "$D/count" 2>/dev/null || echo 0; }
show() { # show N: print N successive counts
	i=0 last=
	while [ $i -lt "$1" ]; do
		c=$(count)
		[ "$c" != "$last" ] && [ "$c" != 0 ] && { printf ' %s' "$c"; last=$c; i=$((i + 1)); }
		sleep 0.05
	done
	echo
}

echo "== cr $("$CR" --version | cut -d' ' -f2), CRIU $("$CR_CRIU" --version 2>&1 | sed -n 's/Version: //p') ($CR_CRIU)"
"$top/tests/bin/workload" counter "$D/count" 16 &
P=$!
printf '== a counter process (pid %s, 16 MiB of data it checks) counts:' "$P"
show 5
echo "== cr checkpoint -D $D/ck $P"
"$CR" -c none checkpoint -D "$D/ck" "$P"
wait "$P" 2>/dev/null || true
before=$(count)
[ -d "/proc/$P" ] && { echo "demo: pid $P still exists after the checkpoint" >&2; exit 1; }
echo "   pid $P is gone; it stopped at $before; images: $(ls "$D/ck" | wc -l) files, $(du -sh "$D/ck" | cut -f1)"
sleep 1
echo "   one second later the count is still $(count)"
echo "== cr restore -D $D/ck"
pid=$("$CR" -c none restore -D "$D/ck")
echo "   restored as pid $pid"
printf '== it continues from where it stopped:'
show 5
after=$(count)
status=$(cut -d' ' -f2 "$D/count")
kill "$pid"
if [ "$after" -gt "$before" ] && [ "$status" = ok ]; then
	echo "== demo OK: counted $before before the checkpoint, $after after the restore; its data checks out"
else
	echo "== demo FAILED: before=$before after=$after data=$status" >&2
	exit 1
fi
