#!/usr/bin/env python3
"""The performance gates of mmapio (SPEC section 14).

usage: scripts/gate.py gate1 [--config perf/gates.json] [--out PREFIX] RUN.json...
       scripts/gate.py gate2 [--threshold 0.15] [--alpha 0.05] [--min-samples 5]
                             [--exclude REGEX] [--out PREFIX]
                             --base B.json... --current C.json...

gate1  within one run: each gated speedup of the library (slow path / fast
       path) is at least min_fraction of the same speedup between the raw
       floors, and each gated library path is within its target ratio of
       its floor (perf/gates.json, "gate1"). Judged on medians; a miss
       fails only when fewer than 5 % of bootstrap resamples of the
       repetitions would pass (else it is reported as within noise).
gate2  same machine, two builds run interleaved: a benchmark whose median
       is more than threshold slower in the current runs than in the base
       runs, with a one-sided Mann-Whitney test below alpha, fails.

RUN.json are Google Benchmark JSON files (--benchmark_format=json or
--benchmark_out); repetitions of one benchmark across files are pooled.
Prints one verdict line per check; with --out PREFIX also writes
PREFIX.json and PREFIX.junit.xml.

Exit status: 0 pass, 1 regression (a check failed), 2 harness error (bad
input, a gated benchmark missing or errored, nothing to compare).
"""

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
from xml.sax.saxutils import escape, quoteattr

NAME_RE = re.compile(
    r"^BM_(?P<op>.+?)_(?P<impl>floor(?:_[a-z0-9]+)?|mmapio|boost|glib)"
    r"(?P<variant>/.*)?$"
)
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class HarnessError(Exception):
    """Input the gate cannot judge: exit status 2."""


def parse_name(name):
    """BM_<op>_<impl><variant> -> (op, impl, variant) or None."""
    m = NAME_RE.match(name)
    if not m:
        return None
    return m.group("op"), m.group("impl"), m.group("variant") or ""


def wall_clock(variant):
    """Benchmarks that wait for I/O or span threads are judged on wall
    time; the rest on CPU time, which a busy machine disturbs less."""
    return "/real_time" in variant or "/manual_time" in variant


class Bench:
    def __init__(self, name):
        self.name = name
        parsed = parse_name(name)
        self.op, self.impl, self.variant = parsed if parsed else (None, None, "")
        self.samples = []  # ns per iteration, one per repetition
        self.errors = []
        self.label = ""
        self.bytes_per_second = []
        self.items_per_second = []
        self.counters = {}
        self.files = set()

    @property
    def median(self):
        return statistics.median(self.samples) if self.samples else None

    @property
    def best(self):
        """The fastest repetition: noise on a shared machine only adds
        time, so this is the least disturbed estimate."""
        return min(self.samples) if self.samples else None

    @property
    def spread(self):
        """(max - min) / median over the repetitions."""
        if len(self.samples) < 2 or not self.median:
            return 0.0
        return (max(self.samples) - min(self.samples)) / self.median


class Run:
    """Every benchmark of one or more Google Benchmark JSON files."""

    def __init__(self, paths):
        self.benches = {}
        self.contexts = []
        self.apis_missing = set()
        self.slowed = False
        self.quick = False
        if not paths:
            raise HarnessError("no benchmark JSON given")
        for p in paths:
            self._load(p)
        if not self.benches:
            raise HarnessError("no benchmarks in %s" % ", ".join(paths))

    def _load(self, path):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise HarnessError("cannot read %s: %s" % (path, e))
        if not isinstance(data, dict) or "benchmarks" not in data:
            raise HarnessError("%s is not Google Benchmark JSON" % path)
        ctx = data.get("context", {})
        self.contexts.append(ctx)
        for a in str(ctx.get("mmapio_apis_missing", "")).split(","):
            if a:
                self.apis_missing.add(a)
        if str(ctx.get("mmapio_slowed", "0")) == "1":
            self.slowed = True
        if str(ctx.get("mmapio_quick", "0")) == "1":
            self.quick = True
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration":
                continue
            # A per-benchmark minimum time is a run setting, not part of
            # what is measured: /min_time:X is dropped from the name.
            name = re.sub(r"/min_time:[0-9.]+", "", b.get("run_name") or b.get("name"))
            bench = self.benches.setdefault(name, Bench(name))
            bench.files.add(path)
            if b.get("error_occurred"):
                bench.errors.append(b.get("error_message", "error"))
                continue
            unit = UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
            key = "real_time" if wall_clock(bench.variant) else "cpu_time"
            bench.samples.append(float(b[key]) * unit)
            bench.label = b.get("label", bench.label)
            if "bytes_per_second" in b:
                bench.bytes_per_second.append(float(b["bytes_per_second"]))
            if "items_per_second" in b:
                bench.items_per_second.append(float(b["items_per_second"]))
            for k, v in b.items():
                if k.endswith("_pct_max"):
                    bench.counters[k] = max(bench.counters.get(k, 0.0), float(v))

    def get(self, op, impl, variant):
        return self.benches.get("BM_%s_%s%s" % (op, impl, variant))

    def variants(self, op, impl):
        """Variants measured for BM_<op>_<impl>; impl "floor*" means any
        floor of the op."""
        return sorted({
            b.variant
            for b in self.benches.values()
            if b.op == op and (b.impl == impl or (
                impl == "floor*" and b.impl.startswith("floor")))
        })

    def floors(self, op, variant):
        return [
            b
            for b in self.benches.values()
            if b.op == op and b.variant == variant and b.impl.startswith("floor")
        ]

    def floor(self, op, variant, which, stat="median"):
        """The floor to compare with: BM_<op>_floor, or the fastest of the
        op's floors ("best"), by median or by fastest repetition."""
        if which == "best":
            fl = [b for b in self.floors(op, variant) if b.samples]
            return min(fl, key=lambda b: getattr(b, stat)) if fl else None
        return self.get(op, "floor", variant)


REGEX_META = set("()[]{}|*+?\\^$.")


def select_variants(spec, measured):
    """The variants a check covers: all measured ("*"), or those matching
    one of the patterns. A literal pattern is always covered, measured or
    not, so a renamed or vanished benchmark cannot slip out of a gate."""
    if spec == "*":
        return sorted(measured)
    out = {v for v in measured if any(re.fullmatch(p, v) for p in spec)}
    out |= {p for p in spec if not set(p) & REGEX_META}
    return sorted(out)


# ---- verdicts ----


class Check:
    def __init__(self, suite, name, status, message, data=None):
        self.suite = suite  # e.g. "speedup", "target", "regression"
        self.name = name
        self.status = status  # PASS FAIL SKIP ERROR (and NEW GONE IMPROVED)
        self.message = message
        self.data = data or {}


def usable(b):
    if b is None:
        return "missing"
    if b.errors:
        return "errored: %s" % b.errors[0]
    if not b.samples:
        return "no samples"
    return None


def missing_status(run, api, what):
    """A gated benchmark is absent: skipped when this build's header lacks
    the API (the run says so), a harness error otherwise."""
    if api and api in run.apis_missing:
        return "SKIP", "%s (library API '%s' not in this build)" % (what, api)
    return "ERROR", what


BOOTSTRAP_ROUNDS = 2000
NOISE_SUPPORT = 0.05


def judge(ok, sets, holds, msg):
    """A check that holds on the medians passes. One that misses fails only
    when the data leave no doubt: resampling every benchmark's repetitions
    (bootstrap of the medians, fixed seed), fewer than 5 % of the
    resamples make it hold. Otherwise the miss is within the run's noise
    (load on a shared machine); it passes and says so."""
    if ok:
        return "PASS", msg, None
    rng = random.Random(20240601)
    good = 0
    for _ in range(BOOTSTRAP_ROUNDS):
        meds = [statistics.median(rng.choices(s, k=len(s))) for s in sets]
        if holds(*meds):
            good += 1
    support = good / BOOTSTRAP_ROUNDS
    if support >= NOISE_SUPPORT:
        return "PASS", msg + "; missed on the medians but holds in %.0f %% of resamples: within noise" % (
            support * 100), support
    return "FAIL", msg + " (holds in %.1f %% of resamples)" % (support * 100), support


def gate1(run, config):
    g = config.get("gate1", {})
    checks = []
    for sp in g.get("speedups", []):
        if sp.get("full_only") and run.quick:
            checks.append(Check("speedup", sp["id"], "SKIP", "quick run: %s" % sp["full_only"]))
            continue
        # Variants the library or a floor measured: a size the floors ran
        # and the library did not is reported missing, not skipped.
        lib_measured = run.variants(sp["fast"], "mmapio")
        variants = select_variants(sp["variants"], sorted(
            set(lib_measured) | set(run.variants(sp["fast"], "floor*")))
            if lib_measured else [])
        if not variants:
            # Nothing to check is never a pass.
            st, msg = missing_status(
                run, sp.get("api"), "no BM_%s_mmapio matching %s in the run" % (
                    sp["fast"], sp["variants"]))
            checks.append(Check("speedup", sp["id"], st, msg))
            continue
        for v in variants:
            name = "%s %s" % (sp["id"], v)
            need = {
                "lib slow": run.get(sp["slow"], "mmapio", v),
                "lib fast": run.get(sp["fast"], "mmapio", v),
                "floor slow": run.floor(sp["slow"], v, "floor"),
                "floor fast": run.floor(sp["fast"], v, sp.get("fast_floor", "floor")),
            }
            bad = [(k, usable(b)) for k, b in need.items() if usable(b)]
            if bad:
                what = "; ".join("%s %s" % kb for kb in bad)
                st, msg = missing_status(run, sp.get("api"), what)
                if bad[0][1] != "missing" and st == "SKIP":
                    st = "ERROR"
                checks.append(Check("speedup", name, st, msg))
                continue
            frac = sp["min_fraction"]

            def holds(ls, lf, fs, ff):
                return ls / lf >= frac * (fs / ff)

            sets = [need[k].samples for k in ("lib slow", "lib fast", "floor slow", "floor fast")]
            lib = need["lib slow"].median / need["lib fast"].median
            flo = need["floor slow"].median / need["floor fast"].median
            ok = lib >= frac * flo
            msg = "library %.2fx, floors %.2fx: need >= %.2f x %.2fx = %.2fx" % (
                lib, flo, frac, flo, frac * flo)
            status, msg, support = judge(ok, sets, holds, msg)
            checks.append(Check("speedup", name, status, msg, {
                "library_speedup": lib, "floor_speedup": flo, "min_fraction": frac,
                "resamples_passing": support, "fast_floor": need["floor fast"].name,
                "why": sp.get("why", ""),
            }))
    for t in g.get("targets", []):
        if t.get("full_only") and run.quick:
            checks.append(Check("target", t["op"], "SKIP", "quick run: %s" % t["full_only"]))
            continue
        measured = run.variants(t["op"], "mmapio")
        spec = t.get("variants", "*")
        variants = select_variants(spec, sorted(
            set(measured) | set(run.variants(t["op"], "floor*")))
            if measured else [])
        if not variants:
            st, msg = missing_status(run, t.get("api"), "no BM_%s_mmapio matching %s in the run" % (
                t["op"], spec))
            checks.append(Check("target", t["op"], st, msg))
            continue
        for v in variants:
            name = "%s%s" % (t["op"], v)
            lib = run.get(t["op"], "mmapio", v)
            flo = run.floor(t["op"], v, t.get("floor", "floor"))
            bad = [(k, usable(b)) for k, b in (("library", lib), ("floor", flo)) if usable(b)]
            if bad:
                st, msg = missing_status(run, t.get("api"), "; ".join("%s %s" % kb for kb in bad))
                if bad[0][1] != "missing" and st == "SKIP":
                    st = "ERROR"
                checks.append(Check("target", name, st, msg))
                continue
            ratio = lib.median / flo.median
            ok = ratio <= t["max"]
            msg = "library / %s = %.3f (target <= %.2f)" % (
                flo.name.split("/")[0].replace("BM_", ""), ratio, t["max"])
            status, msg, support = judge(
                ok, [lib.samples, flo.samples], lambda a, b: a / b <= t["max"], msg)
            checks.append(Check("target", name, status, msg, {
                "ratio": ratio, "max": t["max"], "resamples_passing": support,
                "floor": flo.name, "library_ns": lib.median, "floor_ns": flo.median,
            }))
    return checks


# ---- gate 2: one-sided Mann-Whitney U ----


def mann_whitney_greater(x, y):
    """P-value of H1 "x tends to be larger than y" (normal approximation
    with tie and continuity corrections)."""
    n1, n2 = len(x), len(y)
    allv = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * len(allv)
    i = 0
    ties = 0.0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, allv) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2.0
    mu = n1 * n2 / 2.0
    n = n1 + n2
    var = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (u1 - mu - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def gate2(base, cur, threshold, alpha, min_samples, exclude=None):
    checks = []
    names = sorted(set(base.benches) | set(cur.benches))
    compared = 0
    for n in names:
        if exclude and re.search(exclude, n):
            checks.append(Check("regression", n, "SKIP", "excluded (--exclude %s)" % exclude))
            continue
        b, c = base.benches.get(n), cur.benches.get(n)
        if b is None:
            checks.append(Check("regression", n, "NEW", "only in the current runs"))
            continue
        if c is None:
            checks.append(Check("regression", n, "GONE", "only in the base runs"))
            continue
        if b.errors or c.errors:
            checks.append(Check("regression", n, "ERROR",
                                "errored: %s" % (b.errors or c.errors)[0]))
            continue
        if len(b.samples) < min_samples or len(c.samples) < min_samples:
            checks.append(Check("regression", n, "SKIP",
                                "%d base / %d current samples, need %d" % (
                                    len(b.samples), len(c.samples), min_samples)))
            continue
        compared += 1
        ratio = c.median / b.median
        p_slower = mann_whitney_greater(c.samples, b.samples)
        p_faster = mann_whitney_greater(b.samples, c.samples)
        data = {"ratio": ratio, "p_slower": p_slower, "base_ns": b.median,
                "current_ns": c.median, "base_n": len(b.samples),
                "current_n": len(c.samples)}
        msg = "current / base = %.3f (%.4g -> %.4g ns), p(slower) = %.3g" % (
            ratio, b.median, c.median, p_slower)
        if ratio > 1.0 + threshold and p_slower < alpha:
            status = "FAIL"
            msg += ": more than %d %% slower" % round(threshold * 100)
        elif ratio < 1.0 / (1.0 + threshold) and p_faster < alpha:
            status = "IMPROVED"
        else:
            status = "PASS"
        checks.append(Check("regression", n, status, msg, data))
    if compared == 0:
        raise HarnessError("no benchmark had enough samples in both runs to compare")
    return checks


# ---- output ----


def exit_status(checks):
    if any(c.status == "ERROR" for c in checks):
        return 2
    if any(c.status == "FAIL" for c in checks):
        return 1
    return 0


def write_outputs(prefix, gate, checks, status, notes):
    d = os.path.dirname(prefix)
    if d:
        os.makedirs(d, exist_ok=True)
    doc = {
        "gate": gate,
        "status": {0: "pass", 1: "regression", 2: "harness error"}[status],
        "exit_status": status,
        "notes": notes,
        "checks": [
            {"suite": c.suite, "name": c.name, "status": c.status,
             "message": c.message, **c.data}
            for c in checks
        ],
    }
    with open(prefix + ".json", "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    fails = sum(c.status == "FAIL" for c in checks)
    errs = sum(c.status == "ERROR" for c in checks)
    skips = sum(c.status in ("SKIP", "NEW", "GONE") for c in checks)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites name=%s tests="%d" failures="%d" errors="%d" skipped="%d">' % (
                 quoteattr("mmapio-" + gate), len(checks), fails, errs, skips),
             '  <testsuite name=%s tests="%d" failures="%d" errors="%d" skipped="%d">' % (
                 quoteattr(gate), len(checks), fails, errs, skips)]
    for c in checks:
        lines.append('    <testcase classname=%s name=%s>' % (
            quoteattr("%s.%s" % (gate, c.suite)), quoteattr(c.name)))
        if c.status == "FAIL":
            lines.append('      <failure message=%s/>' % quoteattr(c.message))
        elif c.status == "ERROR":
            lines.append('      <error message=%s/>' % quoteattr(c.message))
        elif c.status in ("SKIP", "NEW", "GONE"):
            lines.append('      <skipped message=%s/>' % quoteattr(c.message))
        else:
            lines.append('      <system-out>%s</system-out>' % escape(c.message))
        lines.append('    </testcase>')
    lines += ['  </testsuite>', '</testsuites>']
    with open(prefix + ".junit.xml", "w") as f:
        f.write("\n".join(lines) + "\n")


def report(gate, checks, status, notes, prefix):
    for n in notes:
        print("%s: note: %s" % (gate, n))
    width = max([len(c.name) for c in checks] + [10])
    for c in checks:
        print("%-8s %-*s  %s" % (c.status, width, c.name, c.message))
    counts = {}
    for c in checks:
        counts[c.status] = counts.get(c.status, 0) + 1
    summary = ", ".join("%d %s" % (v, k.lower()) for k, v in sorted(counts.items()))
    verdict = {0: "PASS", 1: "FAIL (regression)", 2: "ERROR (harness)"}[status]
    print("%s: %s -- %s" % (gate, verdict, summary))
    failed = [c.name for c in checks if c.status == "FAIL"]
    if failed:
        print("%s: failing: %s" % (gate, ", ".join(failed)))
    if prefix:
        print("%s: wrote %s.json and %s.junit.xml" % (gate, prefix, prefix))


def main(argv):
    ap = argparse.ArgumentParser(
        prog="gate.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    default_cfg = os.path.join(here, "..", "perf", "gates.json")
    g1 = sub.add_parser("gate1", help="speedups and targets within one run")
    g1.add_argument("--config", default=default_cfg)
    g1.add_argument("--out", help="write OUT.json and OUT.junit.xml")
    g1.add_argument("runs", nargs="+")
    g2 = sub.add_parser("gate2", help="current vs base, interleaved runs")
    g2.add_argument("--base", nargs="+", required=True)
    g2.add_argument("--current", nargs="+", required=True)
    g2.add_argument("--threshold", type=float, default=0.15)
    g2.add_argument("--alpha", type=float, default=0.05)
    g2.add_argument("--min-samples", type=int, default=5)
    g2.add_argument("--exclude", metavar="REGEX",
                    help="benchmarks not to judge (reported as skipped)")
    g2.add_argument("--out", help="write OUT.json and OUT.junit.xml")
    a = ap.parse_args(argv)
    gate = a.cmd
    notes = []
    try:
        if gate == "gate1":
            try:
                with open(a.config) as f:
                    config = json.load(f)
            except (OSError, ValueError) as e:
                raise HarnessError("cannot read %s: %s" % (a.config, e))
            run = Run(a.runs)
            if run.slowed:
                notes.append("this run was built with the gated library paths "
                             "slowed on purpose (mmapio_perf_slowed)")
            if run.apis_missing:
                notes.append("library APIs not in this build: %s" %
                             ", ".join(sorted(run.apis_missing)))
            checks = gate1(run, config)
            if checks and all(c.status == "SKIP" for c in checks):
                notes.append("every gated check was skipped: nothing was gated")
        else:
            base, cur = Run(a.base), Run(a.current)
            checks = gate2(base, cur, a.threshold, a.alpha, a.min_samples, a.exclude)
    except HarnessError as e:
        print("%s: ERROR (harness): %s" % (gate, e), file=sys.stderr)
        checks = [Check("harness", "input", "ERROR", str(e))]
        status = 2
        if a.out:
            write_outputs(a.out, gate, checks, status, notes)
        return status
    status = exit_status(checks)
    if a.out:
        write_outputs(a.out, gate, checks, status, notes)
    report(gate, checks, status, notes, a.out)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
