#!/usr/bin/python3
# bench/report.py FACTS RAW OUT.json: the table on stdout and the figures in
# OUT.json, from what bench/run.sh and bench/pairs.sh recorded.
#
# Figure names are stable: scripts and the README compare runs by them.
#   <op>_<tool>_<metric>_<stat>[_<workload>]   one tool's distribution
#       op: dump, restore, version, check; tool: cr, criu
#       metric: wall_ms, cpu_ms (the process alone), kids_cpu_ms (the
#       children it reaped: CRIU under cr), tot_cpu_ms, rss_kib (the
#       process alone), kids_rss_kib (largest reaped child, approximate),
#       downtime_ms (dump: longest heartbeat gap), first_beat_ms (restore:
#       from the start of the restore to the first heartbeat),
#       frozen_ms, memdump_ms, memwrite_ms, pages_written (dump),
#       restore_ms, pages_restored (restore): CRIU's own statistics of that
#       operation, whichever tool asked for it
#       stat: median, min, max, q1, q3, n
#       workload: 16, 256, 1024 (MiB, not dirtied), 256_r16 (dirtied at
#       16 MiB/s), tree1, tree10, tree100 (processes)
#   <op>_wall_ratio_<workload>     median cr wall / median criu wall
#   <op>_overhead_ms_<workload>    median over pairs of cr wall - criu wall
#   cr_overhead_ms_median          the same over every dump and restore pair
#   cr_wall_ratio_median / _worst  over the dump and restore workloads
#   cr_cpu_ms_median / _max        cr's own CPU per dump or restore
#   cr_cpu_ms_worst_median         the largest per-workload median (the goal)
#   cr_peak_rss_kib (max) / cr_rss_kib_median
#   cr_size_bytes, criu_size_bytes, criu_libs, criu_total_bytes, runc_*
import json
import statistics
import sys

GOAL_RATIO, GOAL_CPU_MS, GOAL_RSS_KIB = 1.02, 2.0, 1024

facts_path, raw_path, out_path = sys.argv[1:4]

facts = {}
with open(facts_path) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("=")
        if k:
            facts[k] = int(v) if v.isdigit() else v

rows = []
try:
    with open(raw_path) as f:
        for line in f:
            r = {}
            for kv in line.split():
                k, _, v = kv.partition("=")
                try:
                    r[k] = float(v)
                except ValueError:
                    r[k] = v
            rows.append(r)
except FileNotFoundError:
    pass


def split(bench):
    """dump_mem_256_r16 -> (dump, 256_r16); restore_tree_10 -> (restore, tree10)"""
    p = bench.split("_")
    if len(p) == 1:
        return p[0], ""
    if p[1] == "mem":
        return p[0], p[2] + ("" if len(p) < 4 or p[3] == "r0" else "_" + p[3])
    return p[0], "tree" + p[2]


def name(op, tool, metric, stat, wl):
    return "_".join(x for x in (op, tool, metric, stat, wl) if x)


# raw key -> figure metric
METRICS = {
    "wall_ms": "wall_ms",
    "self_cpu_ms": "cpu_ms",
    "kids_cpu_ms": "kids_cpu_ms",
    "tot_cpu_ms": "tot_cpu_ms",
    "self_rss_kib": "rss_kib",
    "tot_rss_kib": "kids_rss_kib",
    "gap_ms": "downtime_ms",
    "first_ms": "first_beat_ms",
    "criu_frozen_ms": "frozen_ms",
    "criu_memdump_ms": "memdump_ms",
    "criu_memwrite_ms": "memwrite_ms",
    "criu_restore_ms": "restore_ms",
    "criu_pages_written": "pages_written",
    "criu_pages_restored": "pages_restored",
}


def dist(xs):
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return {"median": statistics.median(xs), "min": xs[0], "max": xs[-1], "q1": q[0], "q3": q[2], "n": len(xs)}


fig = {}
benches = []  # (op, wl) in run order
ok = {}  # (op, wl, tool) -> {pair: row}
failed = {}
for r in rows:
    op, wl = split(r["bench"])
    if (op, wl) not in benches:
        benches.append((op, wl))
    good = r.get("status") == 0
    if not good:
        failed[(op, wl, r["tool"])] = failed.get((op, wl, r["tool"]), 0) + 1
    # pair 0 is the warm-up, discarded
    if good and r["pair"] >= 1:
        ok.setdefault((op, wl, r["tool"]), {})[int(r["pair"])] = r

for (op, wl, tool), byp in ok.items():
    for key, metric in METRICS.items():
        xs = [r[key] for r in byp.values() if isinstance(r.get(key), float) and r[key] >= 0]
        # the observer's figures mean something only for its own op
        if (metric == "downtime_ms" and op != "dump") or (metric == "first_beat_ms" and op != "restore"):
            continue
        if not xs:
            continue
        for stat, v in dist(xs).items():
            fig[name(op, tool, metric, stat, wl)] = round(v, 3) if isinstance(v, float) else v

all_diff, all_ratio, cr_cpu, cr_rss, cpu_medians = [], [], [], [], []
for op, wl in benches:
    a, b = ok.get((op, wl, "cr"), {}), ok.get((op, wl, "criu"), {})
    pairs = sorted(set(a) & set(b))
    if not pairs:
        continue
    diffs = [a[p]["wall_ms"] - b[p]["wall_ms"] for p in pairs]
    ratio = statistics.median(a[p]["wall_ms"] for p in pairs) / statistics.median(b[p]["wall_ms"] for p in pairs)
    sfx = "_" + wl if wl else ""
    fig[op + "_wall_ratio" + sfx] = round(ratio, 4)
    fig[op + "_overhead_ms" + sfx] = round(statistics.median(diffs), 3)
    if op in ("dump", "restore"):
        all_diff += diffs
        all_ratio.append(ratio)
        cr_cpu += [a[p]["self_cpu_ms"] for p in pairs]
        cpu_medians.append(statistics.median(a[p]["self_cpu_ms"] for p in pairs))
        cr_rss += [a[p]["self_rss_kib"] for p in pairs]

if all_diff:
    fig["cr_overhead_ms_median"] = round(statistics.median(all_diff), 3)
    fig["cr_wall_ratio_median"] = round(statistics.median(all_ratio), 4)
    fig["cr_wall_ratio_worst"] = round(max(all_ratio), 4)
    fig["cr_cpu_ms_median"] = round(statistics.median(cr_cpu), 3)
    fig["cr_cpu_ms_max"] = round(max(cr_cpu), 3)
    fig["cr_cpu_ms_worst_median"] = round(max(cpu_medians), 3)
    fig["cr_rss_kib_median"] = statistics.median(cr_rss)
    fig["cr_peak_rss_kib"] = max(cr_rss)
for k in ("cr_size_bytes", "criu_size_bytes", "criu_libs", "criu_total_bytes", "runc_size_bytes", "runc_libs",
          "runc_total_bytes"):
    if k in facts:
        fig[k] = facts[k]
if "cr_size_bytes" in fig and "criu_total_bytes" in fig:
    fig["cr_size_ratio_criu_total"] = round(fig["cr_size_bytes"] / fig["criu_total_bytes"], 4)
if "cr_size_bytes" in fig and "runc_size_bytes" in fig:
    fig["cr_size_ratio_runc"] = round(fig["cr_size_bytes"] / fig["runc_size_bytes"], 4)

goals = {
    "wall_ratio_max": GOAL_RATIO,
    "cpu_ms_max": GOAL_CPU_MS,
    "rss_kib_max": GOAL_RSS_KIB,
}
if all_diff:
    goals["wall_ratio_met"] = fig["cr_wall_ratio_worst"] <= GOAL_RATIO
    goals["cpu_ms_met"] = fig["cr_cpu_ms_worst_median"] < GOAL_CPU_MS
    goals["rss_kib_met"] = fig["cr_peak_rss_kib"] < GOAL_RSS_KIB

machine = {k: facts[k] for k in ("kernel", "arch", "cpus", "cpu_model", "mem_total_kib", "criu_version",
                                 "criu_path", "cr_version", "cr_git", "image_fs", "image_dev", "loadavg_start", "loadavg_end", "virt", "kdamonds")
           if k in facts}
machine["run_is_tmpfs"] = facts.get("run_fs") == "tmpfs"
machine["run_fs"] = facts.get("run_fs")
if "runc_version" in facts:
    machine["runc_version"] = facts["runc_version"]

out = {
    "schema": 1,
    "command": "sh bench/run.sh" + (" --quick" if facts.get("mode") == "quick" else ""),
    "date": facts.get("date"),
    "elapsed_s": facts.get("elapsed_s"),
    "mode": facts.get("mode"),
    "pairs": facts.get("pairs"),
    "pairs_discarded": 1,
    "machine": machine,
    "goals": goals,
    "failures": {"_".join(x for x in k if x): v for k, v in failed.items()},
    "figures": dict(sorted(fig.items())),
    "method": [
        "Pairs alternate cr then criu (A B A B ...) on the same workload; pair 0 is discarded.",
        "cr: cr -c none checkpoint --leave-running -D DIR PID / restore -D DIR. criu: criu dump -t PID -D DIR "
        "--leave-running -o dump.log --manage-cgroups=ignore / criu restore -D DIR -d -o restore.log "
        "--manage-cgroups=ignore (cr's defaults: log level 2, cgroups ignored).",
        "Dumps write into a fresh directory on the image filesystem; between operations the images are "
        "deleted and sync run, outside the timing. Images land in the page cache (no fsync by CRIU).",
        "Restores reuse one set of images per workload (made by criu dump); the restored tree is killed "
        "between restores.",
        "wall_ms: fork to exit of the command (bench/rusage.c). cpu_ms: the command alone, scheduler runtime "
        "from /proc/PID/schedstat of its zombie (exact, children excluded). kids_cpu_ms: wait4 total minus "
        "that (CRIU under cr). rss_kib: VmHWM at the ptrace exit stop (exact); kids_rss_kib: wait4 ru_maxrss "
        "(largest of the command and its reaped children, read without summing per-CPU counters: "
        "approximate by up to ~1 MiB).",
        "downtime_ms: the longest gap between two heartbeats (1 ms period) of the workload, read from "
        "outside the tree while the dump ran; includes one heartbeat period. first_beat_ms: from the "
        "observer's start, just before the restore command, to the restored tree's first heartbeat.",
        "criu_*: CRIU's own stats-dump/stats-restore of that operation (cr stats --json), read afterwards.",
        "check: cr check does more than criu check (several CRIU requests, kernel feature and cgroup "
        "probes); compare with care.",
        "Sizes: file size of cr (static) against criu plus the shared libraries its loader lists "
        "(ld.so --list; dlopen'd ones not counted), and runc likewise when installed.",
    ],
}
with open(out_path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")


# ---- the table ----
def g(op, tool, metric, stat, wl):
    return fig.get(name(op, tool, metric, stat, wl))


def fmt(v, w=8, d=1):
    return ("%*.*f" % (w, d, v)) if isinstance(v, (int, float)) else "%*s" % (w, "-")


def cell(op, tool, metric, wl, d=1):
    m = g(op, tool, metric, "median", wl)
    if m is None:
        return "%-24s" % "-"
    return "%-24s" % ("%.*f [%.*f-%.*f]" % (d, m, d, g(op, tool, metric, "q1", wl), d, g(op, tool, metric, "q3", wl)))


def label(op, wl):
    if wl.startswith("tree"):
        w = "tree of %s" % wl[4:]
    elif wl:
        n, _, r = wl.partition("_r")
        w = "%s MiB%s" % (n, " @%s MiB/s" % r if r else "")
    else:
        w = ""
    return ("%s %s" % (op, w)).strip()


print("cr %s vs CRIU %s CLI, %s; %s pairs alternating cr, criu (first discarded); median [q1-q3]" % (
    facts.get("cr_version", "?").split()[1] if len(facts.get("cr_version", "").split()) > 1 else "?",
    facts.get("criu_version", "?"), facts.get("kernel", "?"), facts.get("pairs", "?")))
print("images on %s (%s), /run %s a tmpfs" % (facts.get("image_fs", "?"), facts.get("image_dev", "?"),
                                             "is" if machine["run_is_tmpfs"] else "is not"))
print()
print("%-26s %-24s %-24s %7s %9s" % ("wall time, ms", "cr", "criu", "ratio", "cr-criu"))
for op, wl in benches:
    sfx = "_" + wl if wl else ""
    print("%-26s %s %s %7s %9s" % (label(op, wl), cell(op, "cr", "wall_ms", wl), cell(op, "criu", "wall_ms", wl),
                                    fmt(fig.get(op + "_wall_ratio" + sfx), 7, 3),
                                    fmt(fig.get(op + "_overhead_ms" + sfx), 9, 1)))
print("(ratio: of the two medians; cr-criu: median of the differences within pairs; both lean on medians, "
      "so under heavy-tailed noise they can disagree in sign)")
print()
print("%-34s %-24s %-24s %9s %9s" % ("seen from outside, ms", "cr", "criu", "CRIU: cr", "criu"))
for op, wl in benches:
    if op == "dump":
        m, st = "downtime_ms", "frozen_ms"
    elif op == "restore":
        m, st = "first_beat_ms", "restore_ms"
    else:
        continue
    print("%-34s %s %s %9s %9s" % (label(op, wl) + (" downtime" if op == "dump" else " first beat"),
                                    cell(op, "cr", m, wl), cell(op, "criu", m, wl),
                                    fmt(g(op, "cr", st, "median", wl), 9), fmt(g(op, "criu", st, "median", wl), 9)))
print("(dump: longest heartbeat gap; restore: from the start to the first heartbeat; CRIU: its own frozen_time "
      "or restore_time)")
print()
print("%-26s %-24s %-16s %-14s %-14s" % ("cr's own cost", "cr cpu ms", "cr peak rss KiB", "criu cpu ms",
                                          "criu cpu ms"))
print("%-26s %-24s %-16s %-14s %-14s" % ("", "", "", "(under cr)", "(CLI)"))
for op, wl in benches:
    print("%-26s %s %-16s %-14s %-14s" % (
        label(op, wl), cell(op, "cr", "cpu_ms", wl, 2),
        fmt(g(op, "cr", "rss_kib", "max", wl), 6, 0).strip(),
        fmt(g(op, "cr", "kids_cpu_ms", "median", wl), 6, 1).strip(),
        fmt(g(op, "criu", "tot_cpu_ms", "median", wl), 6, 1).strip()))
print("(cr: its own process, CRIU excluded; criu under cr: all cr reaped; CLI: criu and what it reaped)")
print()
print("sizes: cr %s bytes (static); criu %s bytes + %s shared libraries = %s bytes" % (
    fig.get("cr_size_bytes", "?"), fig.get("criu_size_bytes", "?"), fig.get("criu_libs", "?"),
    fig.get("criu_total_bytes", "?")), end="")
if "runc_size_bytes" in fig:
    print("; runc %s bytes (%s with %s libraries)" % (fig["runc_size_bytes"], fig["runc_total_bytes"],
                                                     fig["runc_libs"]))
else:
    print("; runc not installed")
if all_diff:
    print("goals: wall ratio <= %.2f: worst workload %.3f (median workload %.3f) %s;\n"
          "       cr cpu < %g ms: worst workload median %.2f (all: median %.2f, max %.2f) %s; "
          "cr rss < %d KiB: peak %d %s" % (
              GOAL_RATIO, fig["cr_wall_ratio_worst"], fig["cr_wall_ratio_median"],
              "met" if goals["wall_ratio_met"] else "NOT met",
              GOAL_CPU_MS, fig["cr_cpu_ms_worst_median"], fig["cr_cpu_ms_median"], fig["cr_cpu_ms_max"],
              "met" if goals["cpu_ms_met"] else "NOT met",
              GOAL_RSS_KIB, fig["cr_peak_rss_kib"], "met" if goals["rss_kib_met"] else "NOT met"))
    print("cr overhead (cr wall - criu wall, median over all dump and restore pairs): %.1f ms" %
          fig["cr_overhead_ms_median"])
if failed:
    print("FAILED operations: " + ", ".join("%s x%d" % ("_".join(x for x in k if x), v) for k, v in failed.items()))
print("elapsed %ss; figures in %s" % (facts.get("elapsed_s", "?"), out_path))
