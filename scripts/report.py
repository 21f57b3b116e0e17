#!/usr/bin/env python3
"""Tables, plot data and PERFORMANCE.md from one run of the perf harness.

usage: scripts/report.py --raw DIR [--out DIR] [--config perf/gates.json]
                         [--performance FILE]

DIR holds what scripts/main.sh wrote: <group>.json (Google Benchmark),
<group>.meta.json (peak resident memory, missing library sides),
machine.txt, and OUT/gate1.json when gate 1 ran. Writes OUT/benchmarks.md
(every benchmark: median, spread, ratio to its floor and to each peer),
OUT/summary.json, OUT/data/*.dat (for scripts/plots.sh) and, with
--performance, that markdown file.
"""

import argparse
import glob
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate  # noqa: E402  (shared parsing of benchmark names and runs)

GROUP_ORDER = ["chunks", "reads", "touch", "flush", "atomics", "open",
               "policy", "scaling"]
GROUP_TITLE = {
    "chunks": "1. Chunks and pages",
    "reads": "2. Reads: view vs read_into",
    "touch": "3. touch_pages",
    "flush": "4. Flushing",
    "atomics": "5. Atomics",
    "open": "6. Create, open, resize, advise, read_into",
    "policy": "7. Flush policies",
    "scaling": "8. Scaling",
}
IMPL_ORDER = {"floor": 0, "mmapio": 2, "boost": 3, "glib": 4}


def impl_rank(impl):
    return IMPL_ORDER.get(impl, 1)


def fmt_ns(ns):
    if ns is None:
        return "—"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return "%.3g %s" % (ns / div, unit)
    return "%.3g ns" % ns


def fmt_rate(bps):
    if not bps:
        return ""
    for unit, div in (("GiB/s", 2 ** 30), ("MiB/s", 2 ** 20), ("KiB/s", 2 ** 10)):
        if bps >= div:
            return "%.3g %s" % (bps / div, unit)
    return "%.3g B/s" % bps


def fmt_ratio(r):
    return "—" if r is None else "%.2f×" % r


def fmt_size(n):
    n = int(n)
    for unit, div in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def first_arg(variant):
    m = re.match(r"^/(\d+)", variant)
    return int(m.group(1)) if m else None


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2.0


class Target:
    """The SPEC target that applies to a library benchmark, if any."""

    def __init__(self, config):
        self.entries = config.get("targets", [])

    def find(self, op, variant):
        for t in self.entries:
            if t["op"] != op:
                continue
            spec = t.get("variants", "*")
            if spec == "*" or any(re.fullmatch(p, variant) for p in spec):
                return t
        return None


def load(raw):
    runs = {}
    metas = {}
    for path in sorted(glob.glob(os.path.join(raw, "*.json"))):
        base = os.path.basename(path)
        if base.endswith(".meta.json"):
            with open(path) as f:
                metas[base[: -len(".meta.json")]] = json.load(f)
            continue
        group = base[: -len(".json")]
        runs[group] = gate.Run([path])
    machine = {}
    mpath = os.path.join(raw, "machine.txt")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    machine[k.strip()] = v.strip()
    return runs, metas, machine


def rows_for(run, group, targets):
    """One row per benchmark of a group's run, with its ratios."""
    rows = []
    for b in run.benches.values():
        if b.op is None:
            continue
        floor = run.get(b.op, "floor", b.variant)
        best = run.floor(b.op, b.variant, "best")
        row = {
            "group": group, "name": b.name, "op": b.op, "impl": b.impl,
            "variant": b.variant, "state": b.label, "median_ns": b.median,
            "spread": b.spread, "n": len(b.samples), "errors": b.errors,
            "bytes_per_second": median(b.bytes_per_second),
            "items_per_second": median(b.items_per_second),
            "counters": b.counters,
            "metric": "wall" if gate.wall_clock(b.variant) else "cpu",
        }

        def ratio(other):
            if other is None or not other.samples or not b.samples or other is b:
                return None
            return b.median / other.median

        row["vs_floor"] = ratio(floor) if b.impl != "floor" else None
        nfloors = len([f for f in run.floors(b.op, b.variant) if f.samples])
        row["vs_best_floor"] = (ratio(best) if nfloors > 1 and b.impl == "mmapio"
                                else None)
        row["best_floor"] = best.name if best is not None else None
        if b.impl.startswith("floor_") and floor is not None:
            row["vs_floor"] = ratio(floor)
        row["vs_boost"] = ratio(run.get(b.op, "boost", b.variant)) if b.impl == "mmapio" else None
        row["vs_glib"] = ratio(run.get(b.op, "glib", b.variant)) if b.impl == "mmapio" else None
        t = targets.find(b.op, b.variant) if b.impl == "mmapio" else None
        row["target"] = t.get("max") if t else None
        row["target_abs_ns"] = t.get("abs_ns") if t else None
        row["target_floor"] = t.get("floor", "floor") if t else None
        row["spec"] = t.get("spec") if t else None
        if t and t.get("max") is not None:
            r = row["vs_best_floor"] if t.get("floor") == "best" and row["vs_best_floor"] is not None else row["vs_floor"]
            row["target_ratio"] = r
            row["target_met"] = None if r is None else r <= t["max"]
        else:
            row["target_ratio"] = None
            row["target_met"] = None
        if t and t.get("abs_ns") is not None and b.median is not None:
            row["abs_met"] = b.median <= t["abs_ns"]
        rows.append(row)
    rows.sort(key=lambda r: (r["op"], r["variant"] and first_arg(r["variant"]) or 0,
                             r["variant"], impl_rank(r["impl"]), r["impl"]))
    return rows


def table(rows):
    out = ["| benchmark | state | median | spread | throughput | ÷ floor | ÷ best floor | ÷ boost | ÷ glib | target |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["errors"]:
            out.append("| `%s` | %s | error: %s | | | | | | | |" % (
                r["name"], r["state"], r["errors"][0]))
            continue
        tgt = ""
        if r["target"] is not None:
            mark = "✅" if r["target_met"] else ("❌" if r["target_met"] is False else "")
            tgt = "≤ %.2f× %s" % (r["target"], mark)
        if r.get("target_abs_ns") is not None:
            mark = "✅" if r.get("abs_met") else "❌"
            tgt = (tgt + " " if tgt else "") + "≤ %g ns %s" % (r["target_abs_ns"], mark)
        rate = fmt_rate(r["bytes_per_second"])
        if not rate and r["items_per_second"]:
            rate = "%.3g /s" % r["items_per_second"]
        out.append("| `%s` | %s | %s | %.0f %% | %s | %s | %s | %s | %s | %s |" % (
            r["name"], r["state"], fmt_ns(r["median_ns"]), r["spread"] * 100, rate,
            fmt_ratio(r["vs_floor"]), fmt_ratio(r["vs_best_floor"]),
            fmt_ratio(r["vs_boost"]), fmt_ratio(r["vs_glib"]), tgt))
    return "\n".join(out)


# ---- plot data ----


def write_series(path, points, header):
    with open(path, "w") as f:
        f.write("# %s\n" % header)
        for p in points:
            f.write(" ".join("%.6g" % v if isinstance(v, float) else str(v) for v in p) + "\n")


def series_by_size(all_rows, op, impl, extra=""):
    """[(size, ns, bytes/s)] for BM_<op>_<impl>/<size><extra> over all groups."""
    pts = {}
    for r in all_rows:
        if r["op"] != op or r["impl"] != impl or r["errors"] or r["median_ns"] is None:
            continue
        m = re.fullmatch(r"/(\d+)" + re.escape(extra), r["variant"])
        if not m:
            continue
        size = int(m.group(1))
        pts[size] = (size, r["median_ns"], size / r["median_ns"] * 1e9)
    return [pts[k] for k in sorted(pts)]


def plot_data(all_rows, data):
    os.makedirs(data, exist_ok=True)
    for f in glob.glob(os.path.join(data, "*.dat")):
        os.remove(f)
    reads = {
        "reads_view": ("seq_full", "mmapio"),
        "reads_loop_floor": ("seq_full", "floor"),
        "reads_read_into": ("seq_read_into", "mmapio"),
        "reads_memcpy_floor": ("seq_read_into", "floor"),
        "reads_pread_floor": ("seq_read_into", "floor_pread"),
        "reads_boost": ("seq_full", "boost"),
        "reads_glib": ("seq_full", "glib"),
    }
    for name, (op, impl) in reads.items():
        write_series(os.path.join(data, name + ".dat"),
                     series_by_size(all_rows, op, impl), "size ns bytes_per_s")
    for state, extra in (("warm", ""), ("cold", "/manual_time"), ("sparse", "/manual_time")):
        for impl in ("mmapio", "floor", "floor_populate"):
            write_series(os.path.join(data, "touch_%s_%s.dat" % (state, impl)),
                         series_by_size(all_rows, "touch_" + state, impl, extra),
                         "size ns bytes_per_s")
        for impl in ("mmapio", "floor"):
            write_series(os.path.join(data, "touch_naive_%s_%s.dat" % (state, impl)),
                         series_by_size(all_rows, "touch_naive_" + state, impl, extra),
                         "size ns bytes_per_s")
    for op, impl in (("flush_range", "mmapio"), ("flush_range", "floor"),
                     ("flush_range", "boost"), ("flush_hint", "mmapio"),
                     ("flush_hint", "floor")):
        write_series(os.path.join(data, "%s_%s.dat" % (op, impl)),
                     series_by_size(all_rows, op, impl, "/real_time"), "len ns bytes_per_s")
    for op in ("atomic_add64", "atomic_add32"):
        for impl in ("mmapio", "floor"):
            pts = []
            for r in all_rows:
                if r["op"] == op and r["impl"] == impl and r["median_ns"] is not None:
                    m = re.search(r"threads:(\d+)", r["variant"])
                    if m:
                        pts.append((int(m.group(1)), r["median_ns"]))
            write_series(os.path.join(data, "%s_%s.dat" % (op, impl)), sorted(pts),
                         "threads ns")
    bars = []
    for r in all_rows:
        if r["impl"] != "mmapio" or r["errors"]:
            continue
        ratio = r["vs_best_floor"] if r["target_floor"] == "best" and r["vs_best_floor"] else r["vs_floor"]
        if ratio is None:
            continue
        label = (r["op"] + r["variant"]).replace("/real_time", "").replace("/manual_time", "")
        bars.append((label, ratio, r["target"] if r["target"] is not None else float("nan")))
    bars.sort(key=lambda b: b[0])
    with open(os.path.join(data, "ratios.dat"), "w") as f:
        f.write("# index label ratio target (0: no SPEC target)\n")
        for i, (label, ratio, tgt) in enumerate(bars):
            f.write('%d "%s" %.6g %.6g\n' % (i, label, ratio, 0.0 if math.isnan(tgt) else tgt))
    return len(bars)


# ---- scaling ----


def scaling(all_rows):
    """Log-log slope of time against size per family, from 1 MiB up (where
    fixed per-call costs no longer dominate): 1.0 is linear. Families are
    BM_<op>_<impl> with the same arguments after the size."""
    fams = {}
    for r in all_rows:
        if r["errors"] or r["median_ns"] is None:
            continue
        m = re.fullmatch(r"/(\d+)(/\d+)?((?:/[a-z_]+(?::\d+)?)*)", r["variant"])
        if not m or "threads" in (m.group(3) or ""):
            continue
        key = (r["op"], (m.group(2) or "") + m.group(3), r["impl"])
        fams.setdefault(key, {})[int(m.group(1))] = r["median_ns"]
    out = {}
    for (op, rest, impl), pts in sorted(fams.items()):
        big = sorted((s, t) for s, t in pts.items() if s >= 2 ** 20)
        if len(big) < 3:
            continue
        xs = [math.log(s) for s, _ in big]
        ys = [math.log(t) for _, t in big]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")
        fam = out.setdefault((op, rest), {"family": "BM_%s_*%s" % (op, rest),
                                          "sizes": sorted(pts), "slopes": {}})
        fam["slopes"][impl] = slope
        fam["sizes"] = sorted(set(fam["sizes"]) | set(pts))
    return [out[k] for k in sorted(out)]


# ---- PERFORMANCE.md ----


def key_figures(all_rows):
    def get(name):
        for r in all_rows:
            if r["name"] == name:
                return r
        return None

    want = [
        ("random view, 64 B at 16 MiB", "BM_rand_view_mmapio/64"),
        ("view call alone", "BM_view_call_mmapio"),
        ("chunks 4 KiB over 16 MiB", "BM_chunks_mmapio/16777216/4096"),
        ("chunks 64 KiB over 16 MiB", "BM_chunks_mmapio/16777216/65536"),
        ("owned chunks 4 KiB over 16 MiB", "BM_chunks_owned_mmapio/16777216/4096"),
        ("random read_into 64 B", "BM_rand_read_into_mmapio/64"),
        ("random read_into 4 KiB", "BM_rand_read_into_mmapio/4096"),
        ("touch warm 32 MiB", "BM_touch_warm_mmapio/33554432"),
        ("touch cold 32 MiB", "BM_touch_cold_mmapio/33554432/manual_time"),
        ("durable flush_range of 4 KiB", "BM_flush_range_mmapio/4096/real_time"),
        ("writeback hint of 4 KiB", "BM_flush_hint_mmapio/4096/real_time"),
        ("resize 1→8→1 MiB", "BM_resize_mmapio/real_time"),
        ("create 1 MiB", "BM_create_mmapio/1048576/manual_time"),
        ("open read-only", "BM_open_ro_mmapio/real_time"),
        ("atomic fetch_add, 1 thread", "BM_atomic_add64_mmapio/real_time/threads:1"),
        ("atomic fetch_add, 2 threads", "BM_atomic_add64_mmapio/real_time/threads:2"),
    ]
    lines = ["| workload | mmapio | raw floor | ratio | target |", "|---|---:|---:|---:|---|"]
    for what, name in want:
        r = get(name)
        if r is None or r["median_ns"] is None:
            lines.append("| %s | not measured | | | |" % what)
            continue
        fl = get(r["best_floor"]) if r["target_floor"] == "best" and r["best_floor"] else \
            get(name.replace("_mmapio", "_floor", 1))
        ratio = r["target_ratio"] if r["target_ratio"] is not None else r["vs_floor"]
        tgt = ""
        if r["target"] is not None:
            tgt = "≤ %.2f× %s" % (r["target"], "✅" if r["target_met"] else "❌")
        if r.get("target_abs_ns") is not None:
            tgt = (tgt + " " if tgt else "") + "≤ %g ns %s" % (
                r["target_abs_ns"], "✅" if r.get("abs_met") else "❌")
        lines.append("| %s | %s | %s | %s | %s |" % (
            what, fmt_ns(r["median_ns"]), fmt_ns(fl["median_ns"]) if fl else "—",
            fmt_ratio(ratio), tgt))
    return "\n".join(lines)


def targets_table(all_rows, config):
    lines = ["| benchmark | library | floor | ratio | SPEC target | met |",
             "|---|---:|---:|---:|---|---|"]
    met = missed = 0
    for r in sorted(all_rows, key=lambda r: (GROUP_ORDER.index(r["group"]) if r["group"] in GROUP_ORDER else 99, r["name"])):
        if r["impl"] != "mmapio" or (r["target"] is None and r.get("target_abs_ns") is None):
            continue
        ok = []
        if r["target"] is not None and r["target_met"] is not None:
            ok.append(r["target_met"])
        if r.get("target_abs_ns") is not None:
            ok.append(bool(r.get("abs_met")))
        verdict = "✅" if ok and all(ok) else ("❌" if ok else "—")
        met += verdict == "✅"
        missed += verdict == "❌"
        floor_name = r["best_floor"] if r["target_floor"] == "best" else r["name"].replace("_mmapio", "_floor", 1)
        fl = next((x for x in all_rows if x["name"] == floor_name), None)
        spec = r["spec"] or ""
        lines.append("| `%s` | %s | %s | %s | %s | %s |" % (
            r["name"], fmt_ns(r["median_ns"]), fmt_ns(fl["median_ns"]) if fl else "—",
            fmt_ratio(r["target_ratio"] if r["target_ratio"] is not None else r["vs_floor"]),
            spec, verdict))
    for rel in config.get("relative", []):
        a = next((x for x in all_rows if x["name"] == rel["bench"]), None)
        b = next((x for x in all_rows if x["name"] == rel["reference"]), None)
        if a is None or b is None or not a["median_ns"] or not b["median_ns"]:
            lines.append("| `%s` ÷ `%s` | not measured | | | %s | — |" % (
                rel["bench"], rel["reference"], rel["spec"]))
            continue
        ratio = a["median_ns"] / b["median_ns"]
        ok = ratio <= rel["max"]
        met += ok
        missed += not ok
        raw = ""
        fa = next((x for x in all_rows if x["name"] == rel.get("floor_bench")), None)
        fb = next((x for x in all_rows if x["name"] == rel.get("floor_reference")), None)
        if fa and fb and fa["median_ns"] and fb["median_ns"]:
            raw = " (the raw floors: %s)" % fmt_ratio(fa["median_ns"] / fb["median_ns"])
        lines.append("| `%s` ÷ `%s` | %s | %s | %s%s | %s | %s |" % (
            rel["bench"], rel["reference"], fmt_ns(a["median_ns"]), fmt_ns(b["median_ns"]),
            fmt_ratio(ratio), raw, rel["spec"], "✅" if ok else "❌"))
    return "\n".join(lines), met, missed


PLOTS = [
    ("reads_time", "Sequential reads: time against size (log-log): view and read_into against the pointer loop, memcpy, pread and the peers."),
    ("reads_throughput", "Sequential reads: throughput against size."),
    ("touch", "touch_pages warm and cold against both raw floors (one-byte loop, MADV_POPULATE_READ) and the naive one-read_into-per-page path."),
    ("flush", "Flush latency against the bytes written: durable flush_range vs raw msync(MS_SYNC), the writeback hint vs raw sync_file_range, Boost's flush."),
    ("atomics", "Atomic fetch_add on one mapped counter: cost against threads."),
    ("ratios", "Every library path as a ratio to its raw floor; the red marks are the SPEC targets."),
]


def performance_md(path, out_dir, all_rows, metas, machine, gate1, config, scal, groups_present):
    rel = os.path.relpath(out_dir, os.path.dirname(os.path.abspath(path)))
    L = []
    L.append("# mmapio performance")
    L.append("")
    L.append("Generated by `scripts/main.sh` (`scripts/report.py`) from the run of "
             "%s on commit %s (%s). Do not edit by hand: run the command below to "
             "regenerate it." % (machine.get("date", "?"), machine.get("commit", "?"),
                                machine.get("mode", "?")))
    L.append("")
    L.append("## The machine")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, label in (("cpu", "CPU"), ("cores", "cores"), ("memory", "memory"),
                     ("kernel", "kernel"), ("os", "OS"), ("filesystem", "filesystem of the data files"),
                     ("data_dir", "data directory"), ("c_compiler", "C compiler"),
                     ("cxx_compiler", "C++ compiler"), ("build", "build"),
                     ("pkg_libbenchmark-dev", "Google Benchmark"), ("pkg_libboost-dev", "Boost"),
                     ("pkg_libglib2.0-dev", "GLib"), ("thp", "transparent huge pages"),
                     ("load_end", "load average at the end"), ("duration_run", "duration of the run")):
        if k in machine:
            L.append("| %s | %s |" % (label, machine[k].replace("|", "\\|")))
    L.append("")
    L.append("## How to reproduce")
    L.append("")
    L.append("```sh\n"
             "sudo bash scripts/main.sh            # everything: deps, Release build, all groups, gate 1, plots, this file\n"
             "sudo bash scripts/main.sh --quick    # smaller sizes, 3 repetitions (a few minutes)\n"
             "bash scripts/main.sh --ci            # gate 1 only, quick (what .ci/run runs)\n"
             "bash scripts/gate2.sh [--base REV]   # gate 2: this tree against REV (default HEAD~1), interleaved\n"
             "bash scripts/test_gate.sh            # the gates' own tests\n"
             "build/perf-release/perf/mmapio_perf --mmapio_group=reads --benchmark_filter=rand_view  # one group by hand\n"
             "```")
    L.append("")
    L.append("## How it is measured")
    L.append("")
    L.append(
        "- Every library benchmark (`BM_<op>_mmapio`) runs in the same binary and run as its raw "
        "floor (`BM_<op>_floor`, and `BM_<op>_floor_<kind>` where there are two) doing identical "
        "work over identical ranges: a bare pointer loop, `memcpy`, `pread`, one `madvise`, one "
        "`msync`, a C11 atomic. The peers, Boost.Interprocess `mapped_region` and GLib "
        "`GMappedFile`, run beside them where they have an equivalent.\n"
        "- Each group is one process (so its peak resident memory is the group's); repetitions are "
        "interleaved at random across the group's benchmarks "
        "(`--benchmark_enable_random_interleaving`), so a burst of load on the machine hits floors "
        "and library alike. Figures are medians over the repetitions; *spread* is "
        "(max − min) / median.\n"
        "- Time is the process's CPU time for CPU-bound benchmarks (less disturbed by other load "
        "on a shared machine) and wall-clock time for those that wait for the device or span "
        "threads (names ending `/real_time` or `/manual_time`). Sparse touch runs set their "
        "manual time to the thread's CPU time: their work is the kernel allocating and zeroing "
        "pages, no device.\n"
        "- **Warm** runs fault every page in before timing and check with `mincore` that 100 % is "
        "resident, or the benchmark fails. **Cold** runs, before every iteration and outside the "
        "timing, drop the process's page-table entries (`MADV_DONTNEED`) and the file's clean "
        "pages (`POSIX_FADV_DONTNEED`) and check with `mincore` that at most 1 % is resident, or "
        "the benchmark fails; the data files are written and `fsync`ed once, so a cold read "
        "really comes from the device. **Sparse** runs truncate the file to 0 and back before "
        "every iteration: a fresh sparse file with nothing cached. Cold and sparse iterations "
        "also fault in and free as much huge-page-advised anonymous memory, untimed, so the "
        "page-cache folios the timed part allocates come from memory the machine has backed (on "
        "a VM whose balloon reports free blocks to the host, a discarded block costs a host fault "
        "on first write: 1 GiB sparse took 2.2-2.7 s instead of 0.1-0.3 s, for every "
        "implementation alike). Each benchmark's state is its label (the *state* column).")
    L.append("")
    if gate1:
        L.append("## Gate 1: %s" % gate1.get("status", "?").upper())
        L.append("")
        L.append("Within this run: each gated speedup of the library is at least 0.85 of the same "
                 "speedup between the raw floors, and each gated library path is within its SPEC "
                 "target of its floor (`perf/gates.json`), at the bulk sizes (1 MiB and up) for "
                 "touch_pages. Judged on medians; a miss fails only when fewer than 5 % of "
                 "bootstrap resamples of the repetitions would pass, otherwise it is marked "
                 "*within noise*. Cold reads from the device are gated in full runs only.")
        L.append("")
        L.append("| check | verdict | detail |")
        L.append("|---|---|---|")
        for c in gate1.get("checks", []):
            L.append("| `%s` | %s | %s |" % (c["name"], c["status"], c["message"].replace("|", "\\|")))
        for n in gate1.get("notes", []):
            L.append("")
            L.append("Note: %s." % n)
        L.append("")
    L.append("## Key figures")
    L.append("")
    L.append(key_figures(all_rows))
    L.append("")
    tt, met, missed = targets_table(all_rows, config)
    L.append("## SPEC targets (library ÷ floor, same run): %d met, %d missed" % (met, missed))
    L.append("")
    L.append(tt)
    L.append("")
    L.append("## Plots")
    L.append("")
    for name, caption in PLOTS:
        if os.path.exists(os.path.join(out_dir, name + ".svg")) or True:
            L.append("![%s](%s/%s.svg)" % (caption, rel, name))
            L.append("")
            L.append("*%s* ([PNG](%s/%s.png))" % (caption, rel, name))
            L.append("")
    L.append("## Scaling")
    L.append("")
    L.append("Slope of log(time) against log(size), fitted over the sizes from 1 MiB up, for "
             "each implementation: 1.00 means the cost grows linearly with the work. Warm "
             "families above 1 are leaving the CPU caches as the range grows (the floors do the "
             "same); cold families below 1 gain from read-ahead. What matters is that the "
             "library's slope matches its floor's.")
    L.append("")
    found = {i for f in scal for i in f["slopes"]}
    impls = sorted(found, key=lambda i: (impl_rank(i), i))
    L.append("| family | sizes measured | " + " | ".join(impls) + " |")
    L.append("|---|---|" + "---:|" * len(impls))
    for f in scal:
        L.append("| `%s` | %s | %s |" % (
            f["family"], ", ".join(fmt_size(x) for x in f["sizes"]),
            " | ".join("%.2f" % f["slopes"][i] if i in f["slopes"] else "" for i in impls)))
    L.append("")
    L.append("### Peak resident memory per group")
    L.append("")
    L.append("| group | benchmarks | peak RSS | library sides missing |")
    L.append("|---|---:|---:|---|")
    for g in groups_present:
        m = metas.get(g, {})
        L.append("| %s | %s | %s | %s |" % (
            GROUP_TITLE.get(g, g), m.get("benchmarks_run", "?"),
            "%.1f MiB" % (m["peak_rss_kib"] / 1024.0) if "peak_rss_kib" in m else "?",
            m.get("apis_missing") or "none"))
    L.append("")
    L.append("RSS counts every page mapped into the process, so a group that maps a 1 GiB file "
             "through several mappings in turn shows at least 1 GiB; the page cache itself is "
             "shared and not counted twice.")
    L.append("")
    L.append("## Honest notes")
    L.append("")
    notes = honest_notes(all_rows, metas, machine)
    for n in notes:
        L.append("- " + n)
    L.append("")
    L.append("## Every benchmark")
    L.append("")
    L.append("The same tables are in [%s/benchmarks.md](%s/benchmarks.md); the raw Google "
             "Benchmark JSON of this run is in `%s/raw/`." % (rel, rel, rel))
    L.append("")
    for g in groups_present:
        rows = [r for r in all_rows if r["group"] == g]
        L.append("<details><summary>%s (%d benchmarks)</summary>" % (GROUP_TITLE.get(g, g), len(rows)))
        L.append("")
        L.append(table(rows))
        L.append("")
        L.append("</details>")
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def honest_notes(all_rows, metas, machine):
    notes = []
    notes.append(
        "**Durable** means `msync(MS_SYNC)` returned for the range (on Linux, fdatasync of it): "
        "`mmapio_flush` / `mmapio_flush_range` and the EVERY_* policies. The **hint** level "
        "(`mmapio_flush_hint`, `mmapio_flush_range_hint`) only starts writeback "
        "(`sync_file_range(SYNC_FILE_RANGE_WRITE)`) and promises nothing; its figures are not "
        "durability figures. Boost's `flush(…, async=false)` is also `msync(MS_SYNC)`; GLib's "
        "`GMappedFile` has no flush (its writable mode is a private copy), so it has no flush row.")
    cold = [r for r in all_rows if r["state"] == "cold" and not r["errors"]]
    if cold:
        worst = max(r["counters"].get("resident_pct_max", 0.0) for r in cold)
        notes.append(
            "**Cold** figures are from the device the data directory is on (%s), after the page "
            "cache was dropped and checked; the worst residency seen before a timed cold "
            "iteration was %.2f %%. They include the kernel's read-ahead, which both the floors "
            "and the library get, and they vary with the device far more than warm figures." % (
                machine.get("filesystem", "?"), worst))
    else:
        notes.append("No cold benchmark ran in this run (or all failed their residency check).")
    errs = [r for r in all_rows if r["errors"]]
    if errs:
        notes.append("Benchmarks that failed their own checks (and so have no figure): %s." % ", ".join(
            "`%s` (%s)" % (r["name"], r["errors"][0]) for r in errs[:12]))
    missing = sorted({a for m in metas.values() for a in (m.get("apis_missing") or "").split(",") if a})
    if missing:
        notes.append("Library sides not measured because the public header does not have them yet: "
                     "%s. Their floors ran; their rows and gate checks say so." % ", ".join(missing))
    notes.append(
        "The peers are measured with what their users would write: both give a base pointer and "
        "no checked range view, so their view and read rows are pointer arithmetic and `memcpy`, "
        "i.e. floors plus the cost of getting the pointer once. The library's rows include its "
        "bounds checks and a call into a shared library.")
    notes.append(
        "Where a peer has no equivalent it has no row: neither maps a new file of a given size "
        "(create) or grows a mapping (resize; Boost's `shrink_by` only unmaps a tail), GLib "
        "cannot flush, and neither has atomics or a writeback hint. Boost's and GLib's open "
        "rows map the whole file as the floor does; GLib's COW row is `g_mapped_file_new(…, "
        "TRUE)`, a private writable mapping.")
    notes.append(
        "The atomic floor is a sequentially consistent `fetch_add` on the mapped word (GCC's "
        "`__atomic` builtin, the code C11 `atomic_fetch_add` compiles to); the library's atomic "
        "operations are the same static inline calls, so only getting the view costs a call.")
    notes.append(
        "Debian's libbenchmark is built without NDEBUG, so Google Benchmark prints a 'Library "
        "was built as DEBUG' warning; that concerns the harness's own bookkeeping outside the "
        "timed loops.")
    load = machine.get("load_end")
    if load:
        notes.append(
            "Load average at the end of the run: %s on %s cores. Figures from a machine shared "
            "with other work are noisier; the spread column shows how much, and ratios within one "
            "run (what the gates use) hold up better than absolute times." % (load, machine.get("cores", "?")))
    return notes


def main(argv):
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", default=None)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--config", default=os.path.join(here, "..", "perf", "gates.json"))
    ap.add_argument("--performance")
    a = ap.parse_args(argv)
    out = a.out or os.path.dirname(os.path.abspath(a.raw))
    with open(a.config) as f:
        config = json.load(f)
    try:
        runs, metas, machine = load(a.raw)
    except gate.HarnessError as e:
        print("report.py: %s" % e, file=sys.stderr)
        return 2
    if not runs:
        print("report.py: no benchmark JSON in %s" % a.raw, file=sys.stderr)
        return 2
    targets = Target(config)
    groups_present = [g for g in GROUP_ORDER if g in runs] + sorted(g for g in runs if g not in GROUP_ORDER)
    all_rows = []
    for g in groups_present:
        all_rows += rows_for(runs[g], g, targets)
    # Group 8 repeats group 1-3 families at other sizes: ratios there use
    # the floors measured beside them in group 8's own run.
    os.makedirs(out, exist_ok=True)
    md = ["# Every benchmark", "",
          "From `%s` (%s, %s). Median over repetitions; spread = (max − min) / median; "
          "÷ columns: this benchmark's median divided by the other's (below 1 = faster). "
          "Target: the SPEC §14 ratio for library rows." % (
              os.path.relpath(a.raw, out), machine.get("date", "?"), machine.get("mode", "?")), ""]
    for g in groups_present:
        md += ["## " + GROUP_TITLE.get(g, g), "", table([r for r in all_rows if r["group"] == g]), ""]
    with open(os.path.join(out, "benchmarks.md"), "w") as f:
        f.write("\n".join(md))
    nbars = plot_data(all_rows, os.path.join(out, "data"))
    scal = scaling(all_rows)
    gate1 = None
    gpath = os.path.join(out, "gate1.json")
    if os.path.exists(gpath):
        with open(gpath) as f:
            gate1 = json.load(f)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"machine": machine, "groups": metas, "scaling": scal,
                   "benchmarks": all_rows}, f, indent=1, default=str)
        f.write("\n")
    if a.performance:
        performance_md(a.performance, out, all_rows, metas, machine, gate1, config, scal,
                       groups_present)
    print("report.py: %d benchmarks in %d groups; %d library ratios; wrote %s/benchmarks.md, "
          "%s/summary.json, %s/data/%s" % (
              len(all_rows), len(groups_present), nbars, out, out, out,
              (" and " + a.performance) if a.performance else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
