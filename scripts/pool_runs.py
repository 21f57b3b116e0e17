#!/usr/bin/env python3
"""Pools the runs of one harness group made in several processes.

usage: scripts/pool_runs.py OUT.json IN.json... [--meta OUT.meta.json IN.meta.json...]

scripts/main.sh runs a group whose checks gate the run in more than one
process: what a process is dealt once (where the kernel put its mappings'
page tables, which physical pages back its buffers) stays with it for all
its repetitions and can move a ratio by a tenth or more, so the medians
of one process's repetitions judge that process, not the code. Pooling
the processes' repetitions gives medians over several such deals.

OUT.json is Google Benchmark JSON with every iteration entry of the
inputs, in order; the repetition indices of input k follow those of input
k-1, so that the repetitions one process made side by side keep their own
indices (scripts/gate.py pairs repetition k of each benchmark). The
per-process aggregates are dropped: a median of medians is not the
median of the pool, and nothing here reads them. The context is the first
input's, with mmapio_processes and mmapio_dates (each input's date) added.
The meta file pooled: the first input's, with peak_rss_kib the largest and
processes the count.

Exit status: 0, or 2 on unreadable input.
"""

import json
import sys


def fail(msg):
    print("pool_runs.py: %s" % msg, file=sys.stderr)
    sys.exit(2)


def read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        fail("cannot read %s: %s" % (path, e))


def pool_results(out, inputs):
    pooled = None
    dates = []
    offset = 0
    for path in inputs:
        data = read(path)
        if not isinstance(data, dict) or "benchmarks" not in data:
            fail("%s is not Google Benchmark JSON" % path)
        ctx = data.get("context", {})
        dates.append(ctx.get("date", ""))
        if pooled is None:
            pooled = {"context": dict(ctx), "benchmarks": []}
        top = -1
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration":
                continue
            rep = int(b.get("repetition_index", 0))
            top = max(top, rep)
            pooled["benchmarks"].append(dict(b, repetition_index=offset + rep))
        offset += top + 1
    for b in pooled["benchmarks"]:
        if "repetitions" in b:
            b["repetitions"] = offset
    pooled["context"]["mmapio_processes"] = len(inputs)
    pooled["context"]["mmapio_dates"] = ",".join(dates)
    with open(out, "w") as f:
        json.dump(pooled, f, indent=1)


def pool_meta(out, inputs):
    metas = [read(p) for p in inputs]
    meta = dict(metas[0])
    rss = [m.get("peak_rss_kib") for m in metas if isinstance(m.get("peak_rss_kib"), int)]
    if rss:
        meta["peak_rss_kib"] = max(rss)
    meta["processes"] = len(metas)
    with open(out, "w") as f:
        json.dump(meta, f)


def main(argv):
    if "--meta" in argv:
        i = argv.index("--meta")
        runs, metas = argv[:i], argv[i + 1:]
    else:
        runs, metas = argv, []
    if len(runs) < 2 or len(metas) == 1:
        fail("usage: pool_runs.py OUT.json IN.json... [--meta OUT.meta.json IN.meta.json...]")
    pool_results(runs[0], runs[1:])
    if metas:
        pool_meta(metas[0], metas[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
