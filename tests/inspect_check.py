#!/usr/bin/python3
# tests/inspect_check.py: what `cr inspect` says, checked against what
# /proc showed (tests/matrix.sh) and against itself (tests/scenarios.sh).
#
#   inspect_check.py snap PID
#       /proc of the tree rooted at PID, as JSON on stdout: per process its
#       ppid, pgid, sid, comm, thread count (ls /proc/PID/task), open fds (readlink
#       /proc/PID/fd/N) and the TCP ports of its listening sockets
#   inspect_check.py compare SNAP INSPECT_JSON [--transient COMM]...
#       the snapshot against `cr inspect --json`: the set of pids, each
#       one's ppid (the root's is 0 in CRIU's pstree), pgid, sid, comm, thread count,
#       set of fd numbers, the path of each fd that /proc showed as a path
#       (outside /dev/, not deleted), the port of each listening TCP socket.
#       A process of comm COMM (a `sleep` a shell loop forks every 50 ms),
#       or a fork not yet exec'd (its parent's comm, no children), may be
#       on one side only: it came or went between the snapshot and the
#       dump. Prints one line that sums up what agrees, or every difference
#       (exit 1).
#   inspect_check.py text TEXT_OUT JSON_OUT
#       `cr inspect DIR` and `cr inspect --json DIR` say the same: the
#       header, every process line, its memory line and its fds.
import json
import os
import re
import sys


def tree(root):
    out, todo = [], [root]
    while todo:
        p = todo.pop(0)
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def listeners(pid):
    """inode -> port of the listening TCP sockets in pid's network namespace"""
    ports = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    x = line.split()
                    if x[3] == "0A":  # TCP_LISTEN
                        ports[x[9]] = int(x[1].rsplit(":", 1)[1], 16)
        except OSError:
            pass
    return ports


def snap(root):
    # first what is quick to read, every process as close to the same
    # moment as can be; then the listening sockets (a read of
    # /proc/PID/net/tcp walks the kernel's whole table: milliseconds), once
    # per network namespace, for the processes that hold sockets
    procs = {}
    for p in tree(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            x = st[st.rindex(")") + 2:].split()
            ppid, pgid, sid = int(x[1]), int(x[2]), int(x[3])
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().rstrip("\n")
            threads = len(os.listdir(f"/proc/{p}/task"))
            fds = {}
            for n in os.listdir(f"/proc/{p}/fd"):
                try:
                    fds[n] = os.readlink(f"/proc/{p}/fd/{n}")
                except OSError:
                    pass  # closed meanwhile
        except (OSError, ValueError):
            continue  # gone meanwhile (a transient child)
        procs[str(p)] = {"ppid": ppid, "pgid": pgid, "sid": sid, "comm": comm, "threads": threads, "fds": fds,
                         "listen": {}}
    netns = {}
    for p, e in procs.items():
        socks = {n: m.group(1) for n, t in e["fds"].items() if (m := re.fullmatch(r"socket:\[(\d+)\]", t))}
        if not socks:
            continue
        try:
            ns = os.readlink(f"/proc/{p}/ns/net")
        except OSError:
            continue
        if ns not in netns:
            netns[ns] = listeners(p)
        e["listen"] = {n: netns[ns][ino] for n, ino in socks.items() if ino in netns[ns]}
    return {"root": root, "procs": procs}


def compare(snapf, inspf, transient):
    with open(snapf) as f:
        s = json.load(f)
    with open(inspf) as f:
        ins = json.load(f)
    root = str(s["root"])
    sp = s["procs"]
    ip = {str(p["pid"]): p for p in ins["processes"]}
    diffs, notes = [], []

    def comm_of(side, pid):
        return side[pid]["comm"] if pid in side else None

    def is_transient(side, pid):
        if not transient:
            return False
        e = side[pid]
        if e["comm"] in transient:
            return True
        # a fork that has not exec'd yet: its parent's comm, a leaf
        par = str(e["ppid"])
        leaf = not any(str(o["ppid"]) == pid for o in side.values())
        return par in side and side[par]["comm"] == e["comm"] and leaf and pid != root

    if root not in ip:
        diffs.append(f"the root, pid {root} ({sp.get(root, {}).get('comm')}), is not in the image")
    for pid in sorted(set(sp) - set(ip), key=int):
        if is_transient(sp, pid):
            notes.append(f"pid {pid} ({sp[pid]['comm']}) only in /proc: transient")
        else:
            diffs.append(f"pid {pid} ({sp[pid]['comm']}, ppid {sp[pid]['ppid']}) is in /proc but not in the image")
    # the image's ppids, for is_transient on its side
    iside = {pid: {"comm": p["comm"], "ppid": p["ppid"]} for pid, p in ip.items()}
    for pid in sorted(set(ip) - set(sp), key=int):
        if is_transient(iside, pid):
            notes.append(f"pid {pid} ({ip[pid]['comm']}) only in the image: transient")
        else:
            diffs.append(f"pid {pid} ({ip[pid]['comm']}, ppid {ip[pid]['ppid']}) is in the image but not in /proc")
    nfd = npath = nport = nthr = 0
    for pid in sorted(set(sp) & set(ip), key=int):
        a, b = sp[pid], ip[pid]
        if a["comm"] != b["comm"]:
            if a["comm"] in transient or b["comm"] in transient:
                notes.append(f"pid {pid}: comm {a['comm']} in /proc, {b['comm']} in the image: exec'd between, transient")
                continue
            diffs.append(f"pid {pid}: comm: /proc {a['comm']!r}, image {b['comm']!r}")
        want_ppid = 0 if pid == root else a["ppid"]
        if b["ppid"] != want_ppid:
            diffs.append(f"pid {pid} ({a['comm']}): ppid: /proc {a['ppid']}{' (the root: 0 in the image)' if pid == root else ''}, image {b['ppid']}")
        for k in ("pgid", "sid"):
            if a[k] != b[k]:
                diffs.append(f"pid {pid} ({a['comm']}): {k}: /proc {a[k]}, image {b[k]}")
        if a["threads"] != b["threads"]:
            diffs.append(f"pid {pid} ({a['comm']}): threads: /proc {a['threads']}, image {b['threads']}")
        nthr += b["threads"]
        ifd = {str(f["fd"]): f["what"] for f in b["files"]}
        only_p = sorted(set(a["fds"]) - set(ifd), key=int)
        only_i = sorted(set(ifd) - set(a["fds"]), key=int)
        if only_p:
            diffs.append(f"pid {pid} ({a['comm']}): fds in /proc, not in the image: "
                         + ", ".join(f"{n} ({a['fds'][n]})" for n in only_p))
        if only_i:
            diffs.append(f"pid {pid} ({a['comm']}): fds in the image, not in /proc: "
                         + ", ".join(f"{n} ({ifd[n]})" for n in only_i))
        for n in sorted(set(a["fds"]) & set(ifd), key=int):
            nfd += 1
            t = a["fds"][n]
            if t.startswith("/") and not t.startswith("/dev/") and not t.endswith(" (deleted)"):
                npath += 1
                if ifd[n] != t:
                    diffs.append(f"pid {pid} ({a['comm']}): fd {n}: /proc {t!r}, image {ifd[n]!r}")
            if n in a["listen"]:
                nport += 1
                m = re.fullmatch(r"tcp6? (\S+):(\d+) -> \S+ listen", ifd[n])
                if not m or int(m.group(2)) != a["listen"][n]:
                    diffs.append(f"pid {pid} ({a['comm']}): fd {n}: /proc a TCP socket listening on port "
                                 f"{a['listen'][n]}, image {ifd[n]!r}")
    for n in notes:
        print(f"# note: {n}")
    if diffs:
        for d in diffs:
            print(f"DIFF: {d}")
        return 1
    common = set(sp) & set(ip)
    print(f"{len(common)} processes ({', '.join(sorted({ip[p]['comm'] for p in common}))}), "
          f"{nthr} threads, {nfd} fds, {npath} paths, {nport} listening ports agree")
    return 0


def text(textf, jsonf):
    with open(jsonf) as f:
        j = json.load(f)
    with open(textf) as f:
        lines = f.read().split("\n")
    want = [f"{j['dir']}: CRIU image version {j['img_version']}, {j['arch']}"
            + (f", on top of {j['parent']}" if j["parent"] else "")]
    for p in j["processes"]:
        m = p["memory"]
        want.append(f"pid {p['pid']}, parent {p['ppid']}, pgid {p['pgid']}, sid {p['sid']}: {p['comm']}, "
                    f"{p['state']}, {p['threads']} thread{'' if p['threads'] == 1 else 's'}")
        want.append(f"  memory: {m['vmas']} VMAs, {m['mapped_kib']} KiB mapped; pages: {m['pages']} dumped, "
                    f"{m['lazy_pages']} lazy, {m['parent_pages']} in the parent")
        want += [f"  fd {f['fd']}: {f['what']}" for f in p["files"]]
    got = lines[:len(want)]
    bad = 0
    for i, (w, g) in enumerate(zip(want, got + [None] * (len(want) - len(got)))):
        if w != g:
            print(f"line {i + 1}: text {g!r}, from the JSON {w!r}")
            bad = 1
    nxt = lines[len(want)] if len(lines) > len(want) else ""
    if not nxt.startswith("cgroup:"):
        print(f"line {len(want) + 1}: text {nxt!r}, expected the cgroup line (a process or fd the JSON lacks?)")
        bad = 1
    if not bad:
        print(f"{len(want)} lines agree")
    return bad


def main(a):
    if len(a) == 2 and a[0] == "snap":
        json.dump(snap(int(a[1])), sys.stdout)
        print()
        return 0
    if len(a) >= 3 and a[0] == "compare":
        tr = [a[i + 1] for i in range(3, len(a) - 1) if a[i] == "--transient"]
        return compare(a[1], a[2], set(tr))
    if len(a) == 3 and a[0] == "text":
        return text(a[1], a[2])
    print("usage: inspect_check.py snap PID | compare SNAP INSPECT_JSON [--transient COMM]... | text TEXT JSON",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
