#!/usr/bin/python3
# bench/report.py FACTS RAW OUT.json: the table on stdout and the figures in
# OUT.json, from what bench/run.sh and bench/pairs.sh recorded.
#
# Figure names are stable: scripts and docs/performance.md compare runs by them.
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
# Migration (bench/migrate.sh; raw lines bench=migrate_<mode>_<mib>), mode
# stopcopy or lazy (post-copy), mib 256 or 1024, pair 0 discarded:
#   <mode>_downtime_ms_<mib>         median of the observer's longest
#                                    heartbeat gap during the migration
#   <mode>_downtime_ms_<stat>_<mib>  its min, max, q1, q3, n
#   <mode>_cr_downtime_ms_<mib>      median of cr migrate --json downtime_ms
#   <mode>_total_ms_<mib>, <mode>_restore_ms_<mib>, <mode>_mib_moved_<mib>
#                                    medians of cr's total_ms, restore_ms,
#                                    mib_moved
#   lazy_stopcopy_downtime_ratio_<mib>   lazy / stopcopy downtime medians
#   lazy_downtime_growth, stopcopy_downtime_growth
#                                    downtime median at 1024 / at 256 MiB
# VM tier (tests/vm/guest.sh scenario_bench; bench=vm_precopy_<n>), n
# pre-copy iterations asked for (0: stop-copy), every round kept:
#   vm_precopy_downtime_ms_<n>, vm_precopy_downtime_ms_<stat>_<n>,
#   vm_precopy_cr_downtime_ms_<n>, vm_precopy_total_ms_<n>,
#   vm_precopy_mib_moved_<n>, vm_precopy_iterations_<n> (iterations done)
import json
import statistics
import sys

GOAL_RATIO, GOAL_CPU_MS, GOAL_RSS_KIB = 1.02, 2.0, 1024
# "post-copy downtime that does not grow with memory": 4 times the memory
# (1024 MiB against 256) may cost at most this factor of downtime
GOAL_LAZY_GROWTH = 1.25

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

# migration rows have figures of their own (below)
mig_rows = [r for r in rows if str(r.get("bench", "")).startswith(("migrate_", "vm_"))]
rows = [r for r in rows if r not in mig_rows]


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

# ---- migration ----
MIG_MODES = (("stopcopy", "stop-copy"), ("stopcopydisk", "stop-copy, images on disk"), ("lazy", "post-copy"))
# stop-copy against a local checkpoint + restore of the same tree, same run
GOAL_STOPCOPY_LOCAL = {1024: 1.3, 256: 1.5}
mig_sizes = [int(x) for x in str(facts.get("migrate_sizes", "")).split()]
VM_ITERS = (0, 1, 3)
mig_missing = []


def mig_ok(bench, first_pair):
    return [r for r in mig_rows if r.get("bench") == bench and r.get("status") == 0 and r.get("pair", -1) >= first_pair]


def put_dist(prefix, sfx, xs, full=True):
    d = dist(xs)
    fig[prefix + "_" + sfx] = round(d["median"], 3)
    if full:
        for stat in ("min", "max", "q1", "q3", "n"):
            v = d[stat]
            fig["%s_%s_%s" % (prefix, stat, sfx)] = round(v, 3) if isinstance(v, float) else v


def vals(rs, key):
    return [r[key] for r in rs if isinstance(r.get(key), float) and r[key] >= 0]


for r in mig_rows:
    if r.get("status") != 0:
        failed[(r["bench"],)] = failed.get((r["bench"],), 0) + 1
for k, _ in MIG_MODES:
    for n in mig_sizes:
        rs = mig_ok("migrate_%s_%d" % (k, n), 1)
        if not vals(rs, "gap_ms"):
            mig_missing.append("%s_downtime_ms_%d" % (k, n))
            continue
        put_dist(k + "_downtime_ms", str(n), vals(rs, "gap_ms"))
        for key, m in (("cr_downtime_ms", "cr_downtime_ms"), ("cr_total_ms", "total_ms"),
                       ("cr_restore_ms", "restore_ms"), ("cr_mib_moved", "mib_moved"),
                       ("cr_dump_ms", "dump_ms"), ("cr_transfer_ms", "transfer_ms"), ("cr_wait_ms", "wait_ms")):
            if vals(rs, key):
                fig["%s_%s_%d" % (k, m, n)] = round(statistics.median(vals(rs, key)), 3)
for n in mig_sizes:
    a, b = fig.get("lazy_downtime_ms_%d" % n), fig.get("stopcopy_downtime_ms_%d" % n)
    if a is not None and b:
        fig["lazy_stopcopy_downtime_ratio_%d" % n] = round(a / b, 4)
    rs = mig_ok("migrate_local_%d" % n, 1)
    if vals(rs, "dump_ms") and vals(rs, "restore_ms"):
        d, r = statistics.median(vals(rs, "dump_ms")), statistics.median(vals(rs, "restore_ms"))
        fig["local_dump_ms_%d" % n], fig["local_restore_ms_%d" % n] = round(d, 3), round(r, 3)
        for k in ("stopcopy", "stopcopydisk"):
            if fig.get("%s_downtime_ms_%d" % (k, n)) is not None and d + r > 0:
                fig["%s_local_ratio_%d" % (k, n)] = round(fig["%s_downtime_ms_%d" % (k, n)] / (d + r), 4)
    else:
        mig_missing.append("local_dump_ms_%d" % n)
for k, _ in MIG_MODES:
    a, b = fig.get("%s_downtime_ms_1024" % k), fig.get("%s_downtime_ms_256" % k)
    if a is not None and b:
        fig[k + "_downtime_growth"] = round(a / b, 4)
vm_wanted = facts.get("vm_bench") == 1
for i in VM_ITERS:
    rs = mig_ok("vm_precopy_%d" % i, 0)
    if not vals(rs, "gap_ms"):
        if vm_wanted:
            mig_missing.append("vm_precopy_downtime_ms_%d" % i)
        continue
    put_dist("vm_precopy_downtime_ms", str(i), vals(rs, "gap_ms"))
    for key, m in (("cr_downtime_ms", "cr_downtime_ms"), ("cr_total_ms", "total_ms"),
                   ("cr_mib_moved", "mib_moved"), ("cr_iterations", "iterations")):
        if vals(rs, key):
            fig["vm_precopy_%s_%d" % (m, i)] = round(statistics.median(vals(rs, key)), 3)

goals = {
    "wall_ratio_max": GOAL_RATIO,
    "cpu_ms_max": GOAL_CPU_MS,
    "rss_kib_max": GOAL_RSS_KIB,
}
if all_diff:
    goals["wall_ratio_met"] = fig["cr_wall_ratio_worst"] <= GOAL_RATIO
    goals["cpu_ms_met"] = fig["cr_cpu_ms_worst_median"] < GOAL_CPU_MS
    goals["rss_kib_met"] = fig["cr_peak_rss_kib"] < GOAL_RSS_KIB
if "lazy_downtime_growth" in fig:
    goals["lazy_downtime_growth_max"] = GOAL_LAZY_GROWTH
    goals["lazy_downtime_growth"] = fig["lazy_downtime_growth"]
    goals["lazy_downtime_flat_met"] = fig["lazy_downtime_growth"] <= GOAL_LAZY_GROWTH
for n, g in GOAL_STOPCOPY_LOCAL.items():
    if "stopcopy_local_ratio_%d" % n in fig:
        goals["stopcopy_local_ratio_max_%d" % n] = g
        goals["stopcopy_local_ratio_met_%d" % n] = fig["stopcopy_local_ratio_%d" % n] <= g

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
    "migrate_pairs": facts.get("migrate_pairs"),
    "elapsed_parts_s": {k[8:-2]: facts[k] for k in ("elapsed_pairs_s", "elapsed_migrate_s", "elapsed_vm_s")
                        if k in facts},
    "machine": machine,
    "goals": goals,
    "failures": {"_".join(x for x in k if x): v for k, v in failed.items()},
    "missing": mig_missing,
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
        "Migration: hosts A and B are network+pid+mount namespaces of this machine (unshare), siblings; "
        "`load mem MIB 0 HB` moves A->B->A... with cr migrate --json --mode stop-copy|post-copy, alternating "
        "(stop-copy always went A->B, post-copy B->A: the hosts are built alike), over --via 'load pass SOCK', "
        "which hands cr's socketpair to a cr receive --stdio started in the target (setns cannot enter a "
        "sibling pid namespace, so nsenter could only go one way). Pair 0 discarded. fs.pipe-max-size raised "
        "to 4 MiB for it when lower, then put back.",
        "Migration downtime_ms: the longest heartbeat gap an observer outside both hosts saw while cr migrate "
        "ran (the restored tree beats into the same file); cr_downtime_ms: cr's own figure (--json), which "
        "starts before the final dump's request to CRIU, i.e. before the freeze.",
        "VM (full mode): tests/vm/run.sh CR_VM_ONLY=bench, TCG guest, newest CRIU: `load mem 64 8 HB` migrated "
        "into a host B of the guest with stop-copy (0) and pre-copy --max-iterations N --min-pages 0 "
        "--min-shrink 0 (N 1, 3); three rounds, all kept.",
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
if mig_rows or mig_sizes:
    print()
    print("%-28s %-26s %-26s %9s %8s %8s" % ("migration downtime, ms", "stop-copy", "post-copy", "post/stop",
                                             "cr: stop", "post"))
    for n in mig_sizes:
        def mc(k):
            m = fig.get("%s_downtime_ms_%d" % (k, n))
            if m is None:
                return "%-26s" % "FAILED/missing"
            return "%-26s" % ("%.1f [%.1f-%.1f]" % (m, fig["%s_downtime_ms_q1_%d" % (k, n)],
                                                    fig["%s_downtime_ms_q3_%d" % (k, n)]))
        print("%-28s %s %s %9s %8s %8s" % (
            "%d MiB (observer)" % n, mc("stopcopy"), mc("lazy"),
            fmt(fig.get("lazy_stopcopy_downtime_ratio_%d" % n), 9, 3),
            fmt(fig.get("stopcopy_cr_downtime_ms_%d" % n), 8, 0), fmt(fig.get("lazy_cr_downtime_ms_%d" % n), 8, 0)))
    for n in mig_sizes:
        print("%-28s %-26s %-26s" % ("%d MiB: total ms, MiB moved" % n,
                                     "%s, %s" % (fmt(fig.get("stopcopy_total_ms_%d" % n), 1, 0),
                                                 fmt(fig.get("stopcopy_mib_moved_%d" % n), 1, 1)),
                                     "%s, %s" % (fmt(fig.get("lazy_total_ms_%d" % n), 1, 0),
                                                 fmt(fig.get("lazy_mib_moved_%d" % n), 1, 1))))
    print("(%s pairs stop-copy, post-copy between two namespace hosts, first discarded; observer: longest heartbeat "
          "gap seen from outside; cr: its --json downtime_ms, medians)" % facts.get("migrate_pairs", "?"))
    for n in mig_sizes:
        if "local_dump_ms_%d" % n not in fig:
            continue
        print("%d MiB stop-copy against a local checkpoint (%.0f ms) + restore (%.0f ms): tmpfs %sx, disk %sx; "
              "cr's breakdown (tmpfs): dump %s, transfer %s, restore %s, waits %s ms" % (
                  n, fig["local_dump_ms_%d" % n], fig["local_restore_ms_%d" % n],
                  fmt(fig.get("stopcopy_local_ratio_%d" % n), 1, 3).strip(),
                  fmt(fig.get("stopcopydisk_local_ratio_%d" % n), 1, 3).strip(),
                  *(fmt(fig.get("stopcopy_%s_%d" % (k, n)), 1, 0).strip()
                    for k in ("dump_ms", "transfer_ms", "restore_ms", "wait_ms"))))
        g = GOAL_STOPCOPY_LOCAL.get(n)
        if g and "stopcopy_local_ratio_%d" % n in fig:
            print("goal: at most %.1fx at %d MiB: %s" % (g, n, "met" if goals["stopcopy_local_ratio_met_%d" % n]
                                                        else "NOT met"))
    if "lazy_downtime_growth" in fig:
        print("goal: post-copy downtime does not grow with memory (1024 MiB at most %.2fx 256 MiB): %.3fx %s "
              "(stop-copy: %sx)" % (GOAL_LAZY_GROWTH, fig["lazy_downtime_growth"],
                                    "met" if goals["lazy_downtime_flat_met"] else "NOT met",
                                    fmt(fig.get("stopcopy_downtime_growth"), 1, 2).strip()))
    if any(fig.get("vm_precopy_downtime_ms_%d" % i) is not None for i in VM_ITERS) or vm_wanted:
        print()
        print("%-28s %-26s %8s %9s %9s %10s" % ("VM: pre-copy iterations", "downtime ms (observer)", "cr ms",
                                              "total ms", "MiB moved", "iterations"))
        for i in VM_ITERS:
            m = fig.get("vm_precopy_downtime_ms_%d" % i)
            c = "%-26s" % "FAILED/missing" if m is None else "%-26s" % ("%.1f [%.1f-%.1f]" % (
                m, fig["vm_precopy_downtime_ms_q1_%d" % i], fig["vm_precopy_downtime_ms_q3_%d" % i]))
            print("%-28s %s %8s %9s %9s %10s" % (
                "%d%s" % (i, " (stop-copy)" if i == 0 else ""), c, fmt(fig.get("vm_precopy_cr_downtime_ms_%d" % i), 8, 0),
                fmt(fig.get("vm_precopy_total_ms_%d" % i), 9, 0), fmt(fig.get("vm_precopy_mib_moved_%d" % i), 9, 1),
                fmt(fig.get("vm_precopy_iterations_%d" % i), 10, 0)))
        print("(TCG guest, newest CRIU, 64 MiB rewritten at 8 MiB/s; --min-pages 0 --min-shrink 0; every round kept)")
if mig_missing:
    print("MISSING migration figures: " + ", ".join(mig_missing))
if failed:
    print("FAILED operations: " + ", ".join("%s x%d" % ("_".join(x for x in k if x), v) for k, v in failed.items()))
print("elapsed %ss; figures in %s" % (facts.get("elapsed_s", "?"), out_path))
