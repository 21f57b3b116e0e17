#!/usr/bin/env python3
"""Tables, plot data and PERFORMANCE.md from one run of the perf harness.

usage: scripts/report.py --raw DIR [--out DIR] [--config perf/gates.json]
                         [--machines DIR] [--performance FILE]

DIR holds what scripts/main.sh wrote: <group>.json (Google Benchmark),
<group>.meta.json (peak resident memory, missing library sides),
machine.txt, and OUT/gate1.json when gate 1 ran. Writes OUT/benchmarks.md
(every benchmark: median, spread, ratio to its floor and to each peer),
OUT/summary.json, OUT/data/*.dat (for scripts/plots.sh) and, with
--performance, that markdown file: the text of
scripts/templates/PERFORMANCE.md.in with this run's figures and tables.

A full run is also kept per CPU kind: MACHINES/<key>/ (default
OUT/machines; the key names the CPU's model, family and model number, see
scripts/machine.py) gets its benchmarks.md, summary.json, gate1.json,
gate1.junit.xml and machine.txt, replacing that CPU kind's previous run;
PERFORMANCE.md shows the SPEC targets of every CPU kind kept there side by
side, and the gates' power on each CPU kind measured
(MACHINES/KIND/gate_power.json, scripts/test_gate.sh --power).
"""

import argparse
import glob
import json
import math
import os
import re
import shutil
import string
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gate  # noqa: E402  (shared parsing of benchmark names and runs)
import machine as machine_info  # noqa: E402  (the CPU's identity)

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
        return gate.find_target(self.entries, op, variant)


def pool_meta(metas):
    """One group's meta from its processes' (main.sh runs a group in
    several processes as <group>.<k>.json): the first's, with the largest
    peak RSS and the count of processes."""
    meta = dict(metas[0])
    rss = [m["peak_rss_kib"] for m in metas if isinstance(m.get("peak_rss_kib"), int)]
    if rss:
        meta["peak_rss_kib"] = max(rss)
    meta["processes"] = len(metas)
    return meta


def load(raw):
    """The runs, metas and machine of a raw directory. A group is the
    file name up to its first dot: <group>.json, or <group>.<k>.json for
    each process of a group run in several, whose repetitions gate.Run
    pools (repetition k of one file paired with repetition k of the same
    file)."""
    paths = {}
    metas = {}
    for path in sorted(glob.glob(os.path.join(raw, "*.json"))):
        base = os.path.basename(path)
        group = base.split(".", 1)[0]
        if base.endswith(".meta.json"):
            with open(path) as f:
                metas.setdefault(group, []).append(json.load(f))
        else:
            paths.setdefault(group, []).append(path)
    runs = {g: gate.Run(ps) for g, ps in paths.items()}
    metas = {g: pool_meta(ms) for g, ms in metas.items()}
    machine = machine_info.read(os.path.join(raw, "machine.txt"))
    return runs, metas, machine


def judge(row, t):
    """Sets row's target fields from the SPEC target t (None: no target).
    Also re-judges a row kept from an earlier run by today's targets."""
    row["target"] = t.get("max") if t else None
    row["target_abs_ns"] = t.get("abs_ns") if t else None
    row["target_floor"] = t.get("floor", "floor") if t else None
    row["spec"] = t.get("spec") if t else None
    if t and t.get("max") is not None:
        r = (row["vs_best_floor"] if t.get("floor") == "best" and
             row.get("vs_best_floor") is not None else row.get("vs_floor"))
        row["target_ratio"] = r
        row["target_met"] = None if r is None else r <= t["max"]
        d = row.get("decided")
        if d and r is not None and d.get("bound") == t["max"]:
            # Missed on the medians and re-run (gate.py spec): the re-run
            # decides, for the target it was decided against.
            row["target_met"] = d["status"] == "PASS"
    else:
        row["target_ratio"] = None
        row["target_met"] = None
    row.pop("abs_met", None)
    if t and t.get("abs_ns") is not None and row.get("median_ns") is not None:
        row["abs_met"] = row["median_ns"] <= t["abs_ns"]


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
        judge(row, targets.find(b.op, b.variant) if b.impl == "mmapio" else None)
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
            if r.get("decided"):
                tgt += " (re-run: %s)" % fmt_ratio(r["decided"]["estimate"])
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


def attach_decided(all_rows, spec):
    """Adds to each library row that missed its SPEC target on the medians
    and was re-run (OUT/spec.json, from gate.py spec on the same run) what
    the re-run decided; judge() then uses it."""
    by_name = {c["name"]: c for c in spec.get("checks", [])}
    for r in all_rows:
        c = by_name.get(r["name"])
        rr = (c or {}).get("rerun") or {}
        # The same run only: the check's medians are the row's.
        if (not rr.get("repetitions") or c.get("status") not in ("PASS", "FAIL") or
                c.get("library_ns") != r["median_ns"]):
            continue
        r["decided"] = {"status": c["status"], "bound": c.get("max"),
                        "estimate": rr.get("estimate"), "ci_low": rr.get("ci_low"),
                        "ci_high": rr.get("ci_high"), "repetitions": rr["repetitions"],
                        "outcome": rr.get("outcome")}


def fmt_decided(ratio, d):
    """A ratio, and what a re-run made of it when there was one."""
    if not d:
        return fmt_ratio(ratio)
    return "%s, re-run: %s [%s, %s] (%d reps)" % (
        fmt_ratio(ratio), fmt_ratio(d["estimate"]), fmt_ratio(d["ci_low"]).rstrip("×"),
        fmt_ratio(d["ci_high"]).rstrip("×"), d["repetitions"])


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
            fmt_decided(r["target_ratio"] if r["target_ratio"] is not None else r["vs_floor"],
                        r.get("decided")),
            spec, verdict))
    for rel in config.get("relative", []):
        a = next((x for x in all_rows if x["name"] == rel["bench"]), None)
        b = next((x for x in all_rows if x["name"] == rel["reference"]), None)
        if a is None or b is None or not a["median_ns"] or not b["median_ns"]:
            lines.append("| `%s` ÷ `%s` | not measured | | | %s | — |" % (
                rel["bench"], rel["reference"], rel["spec"]))
            continue
        ratio = a["median_ns"] / b["median_ns"]
        # max null: a reported ratio, judged by no target.
        ok = None if rel.get("max") is None else ratio <= rel["max"]
        if ok is not None:
            met += ok
            missed += not ok
        raw = ""
        fa = next((x for x in all_rows if x["name"] == rel.get("floor_bench")), None)
        fb = next((x for x in all_rows if x["name"] == rel.get("floor_reference")), None)
        if fa and fb and fa["median_ns"] and fb["median_ns"]:
            raw = " (the raw floors: %s)" % fmt_ratio(fa["median_ns"] / fb["median_ns"])
        lines.append("| `%s` ÷ `%s` | %s | %s | %s%s | %s | %s |" % (
            rel["bench"], rel["reference"], fmt_ns(a["median_ns"]), fmt_ns(b["median_ns"]),
            fmt_ratio(ratio), raw, rel["spec"],
            "—" if ok is None else "✅" if ok else "❌"))
    return "\n".join(lines), met, missed


TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates",
                        "PERFORMANCE.md.in")


def load_template(path=TEMPLATE):
    """{section name: text} from the template of PERFORMANCE.md (its own
    comment says how it is written)."""
    parts, name = {}, None
    with open(path) as f:
        for line in f.read().split("\n"):
            m = re.match(r"%% section (\w+)\s*$", line)
            if m:
                name = m.group(1)
                parts[name] = []
            elif not line.startswith("%%") and name is not None:
                parts[name].append(line)
    return {k: "\n".join(v).rstrip("\n") for k, v in parts.items()}


def fill(parts, name, **values):
    """Section name of the template with values put in. A line that is only
    a placeholder whose value is empty goes, with the blank line after it."""
    out, drop_blank = [], False
    for line in parts[name].split("\n"):
        if drop_blank and line == "":
            drop_blank = False
            continue
        drop_blank = False
        m = re.fullmatch(r"\$\{?(\w+)\}?", line)
        if m and values.get(m.group(1)) == "":
            drop_blank = True
            continue
        out.append(string.Template(line).substitute(values))
    return "\n".join(out)


def machines_table(machines, targets):
    """The SPEC-target table, one column per CPU kind kept under
    machines/ (their summary.json), each run judged by today's targets."""
    if not machines:
        return ""
    for _, summ in machines:
        for r in summ.get("benchmarks", []):
            if r.get("impl") == "mmapio":
                judge(r, targets.find(r["op"], r["variant"]))
    cols = []
    rows = {}
    for key, summ in machines:
        ident = summ.get("cpu") or machine_info.identity(summ.get("machine", {}))
        m = summ.get("machine", {})
        cols.append("%s<br>%s, commit %s" % (ident["label"], m.get("date", "?")[:10],
                                            m.get("commit", "?")))
        for r in summ.get("benchmarks", []):
            if r.get("impl") != "mmapio" or r.get("target") is None:
                continue
            rows.setdefault((r["group"], r["name"]), {"spec": r.get("spec") or ""})[key] = r
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    lines = ["| benchmark | SPEC target | " + " | ".join(cols) + " |",
             "|---|---|" + "---:|" * len(cols)]
    for (g, name), per in sorted(rows.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        cells = []
        for key, _ in machines:
            r = per.get(key)
            if r is None or r.get("target_ratio") is None:
                cells.append("—")
            else:
                d = r.get("decided")
                cells.append("%s %s" % (
                    fmt_ratio(r["target_ratio"]) + (
                        " → %s" % fmt_ratio(d["estimate"]) if d else ""),
                    "✅" if r.get("target_met") else "❌"))
        lines.append("| `%s` | %s | %s |" % (name, per["spec"], " | ".join(cells)))
    met = []
    for key, summ in machines:
        rs = [r for r in summ.get("benchmarks", []) if r.get("impl") == "mmapio"
              and r.get("target_met") is not None]
        met.append("%d of %d met" % (sum(bool(r["target_met"]) for r in rs), len(rs)))
    lines.append("| **all** | | " + " | ".join(met) + " |")
    return "\n".join(lines)


def power_text(parts, powers):
    """The gates' power, one row per gate and CPU kind measured."""
    rows = []
    for p in powers:
        ident = p.get("machine", {})
        g1 = p.get("gate1", {})
        ratios = "%s → %s" % (
            fmt_ratio(g1["ratio_unchanged"]) if g1.get("ratio_unchanged") else "?",
            fmt_ratio(g1["ratio_slowed"]) if g1.get("ratio_slowed") else "?")
        for name in ("gate1", "gate2"):
            g = p.get(name, {})
            detected = g.get("detected", "?")
            expected = g.get("slowed_verdict_expected")
            if expected == "pass":
                detected += " (the slowed walk keeps its target here: a pass is right)"
            elif expected == "either":
                detected += " (the slowed walk is within 5 % of its target)"
            rows.append("| %s | %s, %s | %s | %s (%s %s) | %s | %s | %s s | %s |" % (
                ident.get("label", "?"), p.get("commit", "?"), p.get("date", "?")[:10],
                p.get("load_end", "?"), name.replace("gate", "gate "), g.get("family_size", "?"),
                "checks" if name == "gate1" else "rows", detected,
                g.get("passed_unchanged", "?"), g.get("seconds", "?"),
                ratios if name == "gate1" else "—"))
    runs = sorted({str(p.get("runs", "?")) for p in powers})
    return fill(parts, "power", runs="/".join(runs), rows="\n".join(rows),
                slowdown="%.1f" % powers[0].get("slowdown", 1.3))


def load_powers(machines_dir):
    """test_gate.sh --power's records, one per CPU kind (machines_dir/KIND/
    gate_power.json)."""
    powers = []
    for path in sorted(glob.glob(os.path.join(machines_dir, "*", "gate_power.json"))):
        with open(path) as f:
            powers.append(json.load(f))
    return powers


def keep_machine(out, machines_dir, raw, machine, summary):
    """A full run replaces its CPU kind's entry under machines_dir: the
    run's files, not the gates' power measured there (test_gate.sh
    --power writes gate_power.json; a run of main.sh does not measure it)."""
    if not machine.get("mode", "").startswith("full"):
        return None
    key = machine_info.identity(machine)["key"]
    d = os.path.join(machines_dir, key)
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "*")):
        if os.path.basename(f) != "gate_power.json":
            os.remove(f)
    for name in ("benchmarks.md", "gate1.json", "gate1.junit.xml", "spec.json"):
        if os.path.exists(os.path.join(out, name)):
            shutil.copy(os.path.join(out, name), d)
    shutil.copy(os.path.join(raw, "machine.txt"), d)
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
        f.write("\n")
    return d


def load_machines(machines_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(machines_dir, "*", "summary.json"))):
        with open(path) as f:
            out.append((os.path.basename(os.path.dirname(path)), json.load(f)))
    return out


def gate1_text(parts, gate1):
    if "reruns" not in gate1:
        reruns = fill(parts, "gate1_old_rule")
    else:
        rr = gate1.get("reruns", [])
        reruns = fill(parts, "gate1_reruns", reruns=fill(
            parts, "gate1_reruns_none") if not rr else fill(
            parts, "gate1_reruns_some", count=len(rr),
            checks=sum(1 for c in gate1.get("checks", [])
                       if (c.get("rerun") or {}).get("repetitions")),
            seconds="%.0f" % gate1.get("rerun_seconds", 0),
            budget=gate1.get("rerun_budget")))
    checks = ["| check | verdict | detail |", "|---|---|---|"]
    for c in gate1.get("checks", []):
        checks.append("| `%s` | %s | %s |" % (c["name"], c["status"], c["message"].replace("|", "\\|")))
    notes = "".join("\n\n" + fill(parts, "gate1_note", note=n) for n in gate1.get("notes", []))
    return fill(parts, "gate1", status=gate1.get("status", "?").upper(), reruns=reruns,
                checks_table="\n".join(checks), notes=notes)


def performance_md(path, out_dir, all_rows, metas, machine, gate1, config, scal, groups_present,
                   machines=(), power=None):
    """Writes PERFORMANCE.md: the template's text with this run's figures."""
    parts = load_template()
    rel = os.path.relpath(out_dir, os.path.dirname(os.path.abspath(path)))
    ident = machine_info.identity(machine)
    mt = ["| | |", "|---|---|", "| CPU | %s |" % ident["label"]]
    for k, label in (("cores", "cores"), ("memory", "memory"),
                     ("kernel", "kernel"), ("os", "OS"), ("filesystem", "filesystem of the data files"),
                     ("data_dir", "data directory"), ("c_compiler", "C compiler"),
                     ("cxx_compiler", "C++ compiler"), ("build", "build"),
                     ("pkg_libbenchmark-dev", "Google Benchmark"), ("pkg_libboost-dev", "Boost"),
                     ("pkg_libglib2.0-dev", "GLib"), ("thp", "transparent huge pages"),
                     ("load_end", "load average at the end"), ("duration_run", "duration of the run")):
        if k in machine:
            mt.append("| %s | %s |" % (label, machine[k].replace("|", "\\|")))
    kinds = machines_table(machines, Target(config))
    tt, met, missed = targets_table(all_rows, config)
    found = {i for f in scal for i in f["slopes"]}
    impls = sorted(found, key=lambda i: (impl_rank(i), i))
    st = ["| family | sizes measured | " + " | ".join(impls) + " |",
          "|---|---|" + "---:|" * len(impls)]
    for f in scal:
        st.append("| `%s` | %s | %s |" % (
            f["family"], ", ".join(fmt_size(x) for x in f["sizes"]),
            " | ".join("%.2f" % f["slopes"][i] if i in f["slopes"] else "" for i in impls)))
    rss = ["| group | benchmarks | peak RSS | library sides missing |", "|---|---:|---:|---|"]
    for g in groups_present:
        m = metas.get(g, {})
        rss.append("| %s | %s | %s | %s |" % (
            GROUP_TITLE.get(g, g), m.get("benchmarks_run", "?"),
            "%.1f MiB" % (m["peak_rss_kib"] / 1024.0) if "peak_rss_kib" in m else "?",
            m.get("apis_missing") or "none"))
    groups = []
    for g in groups_present:
        rows = [r for r in all_rows if r["group"] == g]
        groups.append(fill(parts, "group", title=GROUP_TITLE.get(g, g), count=len(rows),
                           table=table(rows)))
    # Why the library does what it does: prose kept beside the harness
    # (perf/why.md), copied as it is.
    why = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "perf", "why.md")
    why_text = ""
    if os.path.exists(why):
        with open(why) as f:
            why_text = f.read().rstrip("\n")
    text = fill(
        parts, "document", rel=rel, why=why_text, date=machine.get("date", "?"),
        commit=machine.get("commit", "?"), mode=machine.get("mode", "?"),
        machine_table="\n".join(mt),
        gate1=gate1_text(parts, gate1) if gate1 else "",
        key_figures=key_figures(all_rows),
        kinds=fill(parts, "kinds", rel=rel, table=kinds) if kinds else "",
        power=power_text(parts, power) if power else "",
        met=met, missed=missed, targets_table=tt,
        scaling_table="\n".join(st), rss_table="\n".join(rss),
        notes="\n".join(honest_notes(parts, all_rows, metas, machine)),
        groups="\n\n".join(groups))
    with open(path, "w") as f:
        f.write(text + "\n")


def honest_notes(parts, all_rows, metas, machine):
    notes = [fill(parts, "note_durable")]
    cold = [r for r in all_rows if r["state"] == "cold" and not r["errors"]]
    if cold:
        worst = max(r["counters"].get("resident_pct_max", 0.0) for r in cold)
        notes.append(fill(parts, "note_cold", filesystem=machine.get("filesystem", "?"),
                          worst="%.2f" % worst))
    else:
        notes.append(fill(parts, "note_no_cold"))
    errs = [r for r in all_rows if r["errors"]]
    if errs:
        notes.append(fill(parts, "note_failed", list=", ".join(
            "`%s` (%s)" % (r["name"], r["errors"][0]) for r in errs[:12])))
    missing = sorted({a for m in metas.values() for a in (m.get("apis_missing") or "").split(",") if a})
    if missing:
        notes.append(fill(parts, "note_missing", list=", ".join(missing)))
    for name in ("note_peers", "note_no_equivalent", "note_atomics", "note_debug_benchmark"):
        notes.append(fill(parts, name))
    load = machine.get("load_end")
    if load:
        notes.append(fill(parts, "note_load", load=load, cores=machine.get("cores", "?")))
    return notes


def main(argv):
    ap = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", default=None)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--config", default=os.path.join(here, "..", "perf", "gates.json"))
    ap.add_argument("--performance")
    ap.add_argument("--machines", help="where full runs are kept per CPU kind "
                    "(default OUT/machines)")
    a = ap.parse_args(argv)
    out = a.out or os.path.dirname(os.path.abspath(a.raw))
    machines_dir = a.machines or os.path.join(out, "machines")
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
    # SPEC targets missed on the medians and re-run (gate.py spec).
    spath = os.path.join(out, "spec.json")
    if os.path.exists(spath):
        with open(spath) as f:
            attach_decided(all_rows, json.load(f))
        for r in all_rows:
            if r.get("decided"):
                judge(r, targets.find(r["op"], r["variant"]))
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
    summary = {"machine": machine, "cpu": machine_info.identity(machine), "groups": metas,
               "scaling": scal, "benchmarks": all_rows}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
        f.write("\n")
    kept = keep_machine(out, machines_dir, a.raw, machine, summary)
    if kept:
        print("report.py: this CPU kind's full run kept in %s" % kept)
    power = load_powers(machines_dir)
    if a.performance:
        performance_md(a.performance, out, all_rows, metas, machine, gate1, config, scal,
                       groups_present, load_machines(machines_dir), power)
    print("report.py: %d benchmarks in %d groups; %d library ratios; wrote %s/benchmarks.md, "
          "%s/summary.json, %s/data/%s" % (
              len(all_rows), len(groups_present), nbars, out, out, out,
              (" and " + a.performance) if a.performance else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
