#!/usr/bin/env python3
"""The performance gates of mmapio (SPEC section 14).

usage: scripts/gate.py gate1 [--config perf/gates.json] [--checks REGEX]
                             [--machine machine.txt] [RERUN OPTIONS] [--out PREFIX]
                             RUN.json...
       scripts/gate.py spec [--config perf/gates.json] [--machine machine.txt]
                            [RERUN OPTIONS] [--out PREFIX] RUN.json...
       scripts/gate.py gate2 [--threshold 0.15] [--exclude REGEX] [RERUN OPTIONS]
                             [--out PREFIX] --base B.json... --current C.json...
RERUN OPTIONS: [--rerun-bin BIN | --rerun-base-bin BIN --rerun-current-bin BIN]
               [--rerun-args 'ARGS'] [--rerun-reps 15,25,40] [--rerun-budget S]
               [--rerun-dir DIR] [--alpha 0.05] [--family-size M]

gate1  Within one run: each gated speedup of the library (slow path / fast
       path) is at least min_fraction of the same speedup between the raw
       floors, and each gated library path is within its target ratio of
       its floor (perf/gates.json, "gate1").
spec   Within one run: every library benchmark with a SPEC ratio target
       (perf/gates.json, "targets"), judged as gate 1 judges its targets
       (below), for the report: its exit status is 0 when targets are
       missed (they are listed), 2 on a harness error.
gate2  Same machine, two builds run interleaved: no library benchmark more
       than --threshold (15 %) slower than in the base build. Only the
       library's rows (BM_*_mmapio) are judged; the floors and peers run the
       same code in both builds and are controls: each library row is
       judged by its ratio to its floor in each build, so drift of the
       machine between the two builds' processes cancels, and the report
       shows how far the floors themselves moved.

The decision rule, both gates. A check is a contrast of log times that
holds when it is at most a bound: log(library / floor) <= log(max) for a
target; log((lib fast / lib slow) x (floor slow / floor fast)) <=
-log(min_fraction) for a speedup; log((lib / floor) current / (lib / floor)
base) <= log(1 + threshold) for gate 2.

 1. The check is evaluated on the medians of the run's repetitions. If it
    holds there, it passes: nothing to decide.
 2. If it misses on the medians, the repetitions decide only when they are
    unambiguous (below); otherwise -- and with 3 or 5 repetitions that is
    nearly always -- the check's own benchmarks are re-run alone: processes
    running just them (--benchmark_filter naming them), interleaved at
    random (--benchmark_enable_random_interleaving), 5 repetitions each,
    until each benchmark has 15, then 25, then 40 repetitions (a batch,
    --rerun-reps). Gate 2 runs the base and the current build's processes
    alternately, the order swapped every time.
 3. The re-run's repetitions are paired: repetition k of each benchmark of
    the check in one process (k-th of its kind in the same interleaved
    process, and in gate 2 the same k in the other build's process run
    beside it) give one value d_k of the contrast. Pairing removes what those
    repetitions share (a burst of load, a drifting clock). The estimate is
    the median of the d_k; the test is the sign test, which assumes only
    that the d_k are independent (no normality, no symmetry: a burst of
    load is an outlier it ignores).
 4. After each batch: if the sign test shows the check misses (the median
    of d is above the bound) at level alpha / m, the check fails -- a clear
    miss (m: the number of checks judged in this gate run, Bonferroni, so
    the chance that any check meeting its bound is failed this way is at
    most alpha = 0.05). If it shows the check holds (median below the
    bound) at one-sided level 0.025 -- the 95 % confidence interval of the
    median lies wholly below the bound -- it passes, within noise. Else the
    next batch runs.
 5. After the last batch (or when --rerun-budget seconds of re-running are
    spent: no process starts that would not fit, as long as the last one
    took, and one still running then is stopped) a check still undecided is within the measurement's resolution
    of its bound. Gate 1 then judges it on the re-run's estimate: it fails
    if the median of d misses. Gate 2 fails it only if that estimate is
    more than the threshold slower and, by the sign test, slower than no
    change at all with the Holm correction over every library row of the
    run (so that noisy rows of an unchanged build cannot add up to a false
    alarm).
 6. Without a re-runner (no --rerun-bin: saved JSON, the synthetic tests),
    a miss on the medians that the run's repetitions do not decide fails:
    a miss passes as noise only after a re-run.

The main run's repetitions are not pooled with the re-run's: they were
chosen because they missed, so pooling them would bias the re-run's verdict.
The output says which checks were re-run, with how many repetitions, their
estimate and 95 % interval, and how long re-running took.

RUN.json are Google Benchmark JSON files (--benchmark_out); repetitions of
one benchmark across files are pooled, and repetition k of file i is paired
with repetition k of file i of the other benchmarks (gate 2: of the other
build's file i: give both builds' files in the same order). The re-run
command is BIN --mmapio_group=G [--mmapio_quick] --mmapio_dir=D (from the
run's context) ARGS --benchmark_filter=... --benchmark_repetitions=N
--benchmark_enable_random_interleaving=true --benchmark_out=F.

Prints one verdict line per check; with --out PREFIX also writes
PREFIX.json and PREFIX.junit.xml.

Exit status: 0 pass, 1 regression (a check failed), 2 harness error (bad
input, a gated benchmark missing or errored, a re-run that failed,
nothing to compare).
"""

import argparse
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape, quoteattr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine as machine_info  # noqa: E402  (machine.txt and the CPU's identity)

NAME_RE = re.compile(
    r"^BM_(?P<op>.+?)_(?P<impl>floor(?:_[a-z0-9]+)?|mmapio|boost|glib)"
    r"(?P<variant>/.*)?$"
)
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
ALPHA = 0.05
ALPHA_PASS = 0.025  # one side of a 95 % interval
RERUN_REPS = (15, 25, 40)


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
        self.keyed = {}  # (file index, repetition index) -> ns
        self.errors = []
        self.label = ""
        self.bytes_per_second = []
        self.items_per_second = []
        self.counters = {}
        self.files = set()
        self.context = {}  # the context of the (last) file it came from

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
        self.slowdown = None
        self.quick = False
        if not paths:
            raise HarnessError("no benchmark JSON given")
        for i, p in enumerate(paths):
            self._load(p, i)
        if not self.benches:
            raise HarnessError("no benchmarks in %s" % ", ".join(paths))

    def _load(self, path, index):
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
        if str(ctx.get("mmapio_slowdown", "0")) not in ("0", ""):
            self.slowdown = str(ctx["mmapio_slowdown"])
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
            bench.context = ctx
            if b.get("error_occurred"):
                bench.errors.append(b.get("error_message", "error"))
                continue
            unit = UNIT_NS.get(b.get("time_unit", "ns"), 1.0)
            key = "real_time" if wall_clock(bench.variant) else "cpu_time"
            value = float(b[key]) * unit
            bench.samples.append(value)
            rep = b.get("repetition_index", len(bench.keyed))
            bench.keyed[(index, rep)] = value
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


# ---- statistics: paired contrasts, the sign test ----


def binom_upper(n, k):
    """P(X >= k) for X ~ Binomial(n, 1/2)."""
    if k <= 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0 ** n


def sign_test(d, bound):
    """One-sided sign-test p-values of the median of d against bound:
    (p that it is above, p that it is below). Values equal to the bound
    carry no sign and are dropped."""
    above = sum(x > bound for x in d)
    below = sum(x < bound for x in d)
    n = above + below
    return binom_upper(n, above), binom_upper(n, below)


def median_ci(d, conf=0.95):
    """Distribution-free interval of the median (order statistics of the
    sign test), and its real coverage; (min, max) when n is too small."""
    s = sorted(d)
    n = len(s)
    tail = (1.0 - conf) / 2.0
    j = 0  # values cut from each end: coverage 1 - 2 P(X <= j)
    while j + 1 <= (n - 1) // 2 and 1.0 - binom_upper(n, j + 2) <= tail:
        j += 1
    return s[j], s[n - 1 - j], 1.0 - 2.0 * (1.0 - binom_upper(n, j + 1))


def holm(pvalues, alpha):
    """Holm's step-down procedure: the indices rejected at family-wise
    error rate alpha."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    m = len(pvalues)
    out = set()
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (m - rank):
            break
        out.add(i)
    return out


class Contrast:
    """sum(coef x log time) over terms, each term one benchmark of a run:
    (coef, run label, [names]); several names are alternatives (the best
    floor), resolved to the one with the lowest median in the data judged.
    The check holds when the contrast is at most bound. show() turns a
    contrast value into what the messages print (a ratio or a fraction)."""

    def __init__(self, terms, bound, show, show_bound):
        self.terms = terms
        self.bound = bound
        self.show = show
        self.show_bound = show_bound

    def names(self):
        return sorted({n for _, _, names in self.terms for n in names})

    def resolve(self, runs):
        out = []
        for coef, label, names in self.terms:
            cands = [runs[label].benches.get(n) for n in names]
            cands = [b for b in cands if b is not None and b.samples]
            if not cands:
                raise HarnessError("re-run: none of %s measured" % ", ".join(names))
            out.append((coef, min(cands, key=lambda b: b.median)))
        return out

    def paired(self, runs):
        """The contrast's value for each repetition key every term has."""
        terms = self.resolve(runs)
        keys = set(terms[0][1].keyed)
        for _, b in terms[1:]:
            keys &= set(b.keyed)
        return [sum(c * math.log(b.keyed[k]) for c, b in terms) for k in sorted(keys)]


def verdict_from(d, bound, alpha_fail):
    """"fail" (a clear miss), "pass" (clearly within: noise) or None."""
    p_miss, p_meet = sign_test(d, bound)
    if p_miss <= alpha_fail:
        return "fail"
    if p_meet <= ALPHA_PASS:
        return "pass"
    return None


# ---- re-running a check's benchmarks ----


def filter_regex(names):
    """A --benchmark_filter matching exactly these benchmarks, with or
    without the /min_time:X a benchmark's registration adds to its name."""
    opt = "(/min_time:[0-9.]+)?"

    def one(n):
        parts = [re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", p) for p in n.split("/")]
        return (opt + "/").join(parts) + opt

    return "^(" + "|".join(one(n) for n in names) + ")$"


class BudgetSpent(Exception):
    """A re-run process was stopped when the re-run budget ran out."""


class Rerunner:
    """Runs a set of benchmarks alone, interleaved, with one build (gate 1)
    or two (gate 2), in processes of at most STEP repetitions (so that the
    budget is kept to within one short process, and a process stopped at
    the budget loses little), judged after each batch of the schedule."""

    STEP = 5

    def __init__(self, bins, args, schedule, budget, workdir):
        self.bins = bins  # {"run": BIN} or {"base": BIN, "current": BIN}
        self.args = shlex.split(args or "")
        self.schedule = schedule
        self.budget = budget
        self.workdir = workdir or tempfile.mkdtemp(prefix="mmapio-gate-rerun.")
        os.makedirs(self.workdir, exist_ok=True)
        self.spent = 0.0
        self.count = 0
        self.rerun_log = []

    def exhausted(self):
        return self.budget is not None and self.spent >= self.budget

    def _one(self, label, ctx, names, reps, tag):
        cmd = [self.bins[label], "--mmapio_group=%s" % ctx.get("mmapio_group", "")]
        if str(ctx.get("mmapio_quick", "0")) == "1":
            cmd.append("--mmapio_quick")
        if ctx.get("mmapio_data_dir"):
            cmd.append("--mmapio_dir=%s" % ctx["mmapio_data_dir"])
        out = os.path.join(self.workdir, "%s.%s.json" % (tag, label))
        if os.path.exists(out):
            os.remove(out)
        cmd += self.args + [
            "--benchmark_filter=%s" % filter_regex(names),
            "--benchmark_repetitions=%d" % reps,
            "--benchmark_enable_random_interleaving=true",
            "--benchmark_out=%s" % out, "--benchmark_out_format=json"]
        log = out[:-len(".json")] + ".log"
        left = None if self.budget is None else max(self.budget - self.spent, 0.0)
        start = time.monotonic()
        try:
            with open(log, "w") as f:
                rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                                    timeout=left).returncode
        except subprocess.TimeoutExpired:
            raise BudgetSpent()
        finally:
            self.spent += time.monotonic() - start
        if rc != 0 or not os.path.exists(out):
            raise HarnessError("re-run failed (exit %d): %s; see %s" % (
                rc, " ".join(shlex.quote(c) for c in cmd), log))
        return out

    def run(self, ctx, names, labels, on_batch):
        """Repetitions up to each total of the schedule, then on_batch(runs),
        until it says all is decided; returns (runs, repetitions, batches,
        outcome) where outcome is "decided", "cap" or "budget" (runs is
        None when not one process finished within the budget)."""
        self.count += 1
        files = {label: [] for label in labels}
        done = 0
        runs = None
        t0 = time.monotonic()
        outcome = "cap"
        batch = step = 0
        per_rep = None  # seconds per repetition in the last process
        try:
            for total in self.schedule:
                if total <= done:
                    continue
                while done < total:
                    reps = min(self.STEP, total - done)
                    # A process starts only if it fits in what is left of
                    # the budget (as long as the last one took per
                    # repetition); one that overruns it is stopped.
                    if self.exhausted() or (self.budget is not None and per_rep is not None and
                                            self.spent + per_rep * reps > self.budget):
                        raise BudgetSpent()
                    order = labels if step % 2 == 0 else list(reversed(labels))
                    start = time.monotonic()
                    got = {label: self._one(label, ctx, names, reps, "r%d.s%d" % (
                        self.count, step)) for label in order}
                    per_rep = (time.monotonic() - start) / reps
                    for label in labels:
                        files[label].append(got[label])
                    done += reps
                    step += 1
                batch += 1
                runs = {label: Run(files[label]) for label in labels}
                if on_batch(runs):
                    outcome = "decided"
                    break
        except BudgetSpent:
            outcome = "budget"
            if files[labels[0]]:
                runs = {label: Run(files[label]) for label in labels}
        self.rerun_log.append({"benchmarks": names, "repetitions": done, "batches": batch,
                               "seconds": round(time.monotonic() - t0, 1), "outcome": outcome})
        return runs, done, batch, outcome


# ---- verdicts ----


class Check:
    def __init__(self, suite, name, status, message, data=None):
        self.suite = suite  # e.g. "speedup", "target", "regression", "control"
        self.name = name
        self.status = status  # PASS FAIL SKIP ERROR (and NEW GONE IMPROVED)
        self.message = message
        self.data = data or {}
        self.contrast = None  # set while the check is undecided
        self.ctx = {}  # the run context its benchmarks came from


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


def describe(contrast, d):
    """estimate [95 % interval] of a contrast's paired values, as shown."""
    lo, hi, cov = median_ci(d)
    est = statistics.median(d)
    a, b = sorted((contrast.show(lo), contrast.show(hi)))
    return contrast.show(est), a, b, cov


def fmt_rerun(contrast, d, reps):
    est, lo, hi, cov = describe(contrast, d)
    return "re-run alone, %d repetitions: %.3f [%.3f, %.3f] (%.0f %% interval; bound %.3f)" % (
        reps, est, lo, hi, cov * 100, contrast.show_bound), {
        "estimate": est, "ci_low": lo, "ci_high": hi, "ci_coverage": cov}


def gate1(run, config, checks_re=None):
    """The first look: every check on the medians. Checks that miss get
    status None and a contrast; resolve() decides them."""
    g = config.get("gate1", {})
    checks = []
    want = re.compile(checks_re) if checks_re else None
    for sp in g.get("speedups", []):
        if want and not any(want.search(sp["id"] + " " + v) for v in
                            run.variants(sp["fast"], "mmapio") or [""]):
            continue
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
            if want and not want.search(name):
                continue
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
            lib = need["lib slow"].median / need["lib fast"].median
            flo = need["floor slow"].median / need["floor fast"].median
            ok = lib >= frac * flo
            msg = "library %.2fx, floors %.2fx: need >= %.2f x %.2fx = %.2fx" % (
                lib, flo, frac, flo, frac * flo)
            fast_floors = ([b.name for b in run.floors(sp["fast"], v)]
                           if sp.get("fast_floor") == "best" else [need["floor fast"].name])
            c = Check("speedup", name, "PASS" if ok else None, msg, {
                "library_speedup": lib, "floor_speedup": flo, "min_fraction": frac,
                "fraction": lib / flo, "fast_floor": need["floor fast"].name,
                "why": sp.get("why", ""),
            })
            if not ok:
                c.contrast = Contrast(
                    [(-1, "run", [need["lib slow"].name]), (1, "run", [need["lib fast"].name]),
                     (1, "run", [need["floor slow"].name]), (-1, "run", fast_floors)],
                    -math.log(frac), lambda x: math.exp(-x), frac)
                c.ctx = need["lib fast"].context
            checks.append(c)
    for t in g.get("targets", []):
        if want and not any(want.search(t["op"] + v) for v in
                            run.variants(t["op"], "mmapio") or [""]):
            continue
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
            if want and not want.search(name):
                continue
            checks.append(target_check(run, "target", name, t, v))
    return checks


def target_check(run, suite, name, t, v):
    """Library BM_<op>_mmapio<v> against its floor (t: a target of
    perf/gates.json), on the medians; a miss is left undecided (status
    None, with the contrast resolve() decides)."""
    lib = run.get(t["op"], "mmapio", v)
    flo = run.floor(t["op"], v, t.get("floor", "floor"))
    bad = [(k, usable(b)) for k, b in (("library", lib), ("floor", flo)) if usable(b)]
    if bad:
        st, msg = missing_status(run, t.get("api"), "; ".join("%s %s" % kb for kb in bad))
        if bad[0][1] != "missing" and st == "SKIP":
            st = "ERROR"
        return Check(suite, name, st, msg)
    ratio = lib.median / flo.median
    ok = ratio <= t["max"]
    msg = "library / %s = %.3f (target <= %.2f)" % (
        flo.name.split("/")[0].replace("BM_", ""), ratio, t["max"])
    floors = ([b.name for b in run.floors(t["op"], v)]
              if t.get("floor") == "best" else [flo.name])
    c = Check(suite, name, "PASS" if ok else None, msg, {
        "ratio": ratio, "max": t["max"], "floor": flo.name,
        "library_ns": lib.median, "floor_ns": flo.median,
    })
    if not ok:
        c.contrast = Contrast([(1, "run", [lib.name]), (-1, "run", floors)],
                              math.log(t["max"]), math.exp, t["max"])
        c.ctx = lib.context
    return c


def find_target(entries, op, variant):
    """The SPEC target (an entry of perf/gates.json "targets") that
    applies to BM_<op>_mmapio<variant>: the first whose op matches and
    whose variants ("*" or patterns matched whole) cover it; None if none."""
    for t in entries:
        if t["op"] != op:
            continue
        spec = t.get("variants", "*")
        if spec == "*" or any(re.fullmatch(p, variant) for p in spec):
            return t
    return None


def spec_checks(run, config):
    """Every library benchmark of the run with a SPEC ratio target, on the
    medians (the targets of perf/gates.json, which gate 1 gates only in
    part); what misses is left for resolve() to decide."""
    entries = config.get("targets", [])
    checks = []
    for b in sorted(run.benches.values(), key=lambda b: b.name):
        if b.impl != "mmapio" or b.op is None:
            continue
        t = find_target(entries, b.op, b.variant)
        if t is None or t.get("max") is None:
            continue
        checks.append(target_check(run, "spec", b.name, t, b.variant))
    return checks


def resolve(checks, runs, rerunner, family, at_cap):
    """Decides the checks left undecided (status None) by the first look:
    on the run's own repetitions when they are unambiguous, else by
    re-running. Checks that share a benchmark are re-run together.
    at_cap(check, d) gives the status of a check the re-runs left
    undecided."""
    alpha_fail = ALPHA / max(family, 1)
    todo = []
    for c in checks:
        if c.status is not None:
            continue
        d = c.contrast.paired(runs)
        v = verdict_from(d, c.contrast.bound, alpha_fail) if d else None
        if v == "fail":
            c.status = "FAIL"
            c.message += "; a clear miss in the run's %d repetitions" % len(d)
        else:
            todo.append(c)
    if not todo:
        return
    if rerunner is None:
        for c in todo:
            c.status = "FAIL"
            c.message += ("; missed on the medians, and the run's repetitions cannot tell "
                          "noise from a miss: not re-run (no --rerun-bin), so it fails")
        return
    # Checks that share a benchmark: one re-run (union of their names).
    sets = []
    for c in todo:
        names = set(c.contrast.names())
        merged = [s for s in sets if s[0] & names]
        for s in merged:
            sets.remove(s)
            names |= s[0]
        sets.append((names, [c] + [x for s in merged for x in s[1]]))
    # Closest misses first: they are the ones a re-run may pass as noise;
    # a check far off its bound is the one to leave if the budget runs out.
    miss = {c.name: statistics.median(c.contrast.paired(runs) or [math.inf]) - c.contrast.bound
            for c in todo}
    sets.sort(key=lambda s: min(miss[c.name] for c in s[1]))
    labels = sorted({label for c in todo for _, label, _ in c.contrast.terms})
    for names, group in sets:
        state = {}

        def on_batch(rruns, group=group, state=state):
            for c in group:
                if state.get(c.name) in ("fail", "pass"):
                    continue
                d = c.contrast.paired(rruns)
                state[c.name] = verdict_from(d, c.contrast.bound, alpha_fail)
            return all(state.get(c.name) for c in group)

        try:
            rruns, reps, batches, outcome = rerunner.run(group[0].ctx, sorted(names), labels,
                                                         on_batch)
        except HarnessError as e:
            for c in group:
                c.status = "ERROR"
                c.message += "; %s" % e
            continue
        for c in group:
            if rruns is None:  # the budget was spent before a process finished
                c.status = "FAIL"
                c.message += ("; missed on the medians and not re-run: the re-run budget "
                              "(%g s) was spent" % rerunner.budget)
                c.data["rerun"] = {"repetitions": 0, "outcome": "budget"}
                continue
            d = c.contrast.paired(rruns)
            if not d:
                c.status = "ERROR"
                c.message += "; the re-run measured none of the check's pairs"
                continue
            text, stats = fmt_rerun(c.contrast, d, reps)
            v = state.get(c.name)
            c.data["rerun"] = dict(stats, repetitions=reps, batches=batches,
                                   outcome=v or outcome)
            c.data["rerun_d"] = d
            if v == "fail":
                c.status = "FAIL"
                c.message += "; %s: a clear miss" % text
            elif v == "pass":
                c.status = "PASS"
                c.message += "; missed on the medians, %s: within noise" % text
            else:
                c.status, why = at_cap(c, d)
                c.message += "; %s: undecided after %s, %s" % (
                    text, "the last batch" if outcome == "cap" else "the re-run budget", why)


def gate1_at_cap(c, d):
    if statistics.median(d) > c.contrast.bound:
        return "FAIL", "judged on the re-run's median: missed"
    return "PASS", "judged on the re-run's median: holds"


# ---- gate 2: library rows against their floors, base vs current ----


def gate2(base, cur, threshold, exclude=None):
    """The first look of gate 2: library rows on the medians of their
    ratio to their floor in each build; floors and peers as controls."""
    checks = []
    runs = {"base": base, "current": cur}
    names = sorted(set(base.benches) | set(cur.benches))
    bound = math.log(1.0 + threshold)
    compared = 0
    for n in names:
        b, c = base.benches.get(n), cur.benches.get(n)
        parsed = parse_name(n)
        control = parsed is not None and parsed[1] != "mmapio"
        suite = "control" if control else "regression"
        if exclude and re.search(exclude, n):
            checks.append(Check(suite, n, "SKIP", "excluded (--exclude %s)" % exclude))
            continue
        if b is None:
            checks.append(Check(suite, n, "NEW", "only in the current runs"))
            continue
        if c is None:
            checks.append(Check(suite, n, "GONE", "only in the base runs"))
            continue
        if b.errors or c.errors:
            checks.append(Check(suite, n, "ERROR", "errored: %s" % (b.errors or c.errors)[0]))
            continue
        drift = c.median / b.median
        data = {"ratio": drift, "base_ns": b.median, "current_ns": c.median,
                "base_n": len(b.samples), "current_n": len(c.samples)}
        if control:
            checks.append(Check(suite, n, "CONTROL",
                                "current / base = %.3f (%.4g -> %.4g ns): same code in both builds" % (
                                    drift, b.median, c.median), data))
            continue
        compared += 1
        fb, fc = base.get(b.op, "floor", b.variant), cur.get(b.op, "floor", b.variant)
        if usable(fb) is None and usable(fc) is None:
            fdrift = fc.median / fb.median
            ratio = drift / fdrift
            terms = [(1, "current", [n]), (-1, "current", [fc.name]),
                     (-1, "base", [n]), (1, "base", [fb.name])]
            msg = "(lib / floor) current / base = %.3f (library %.3f, floor %.3f: %.4g -> %.4g ns)" % (
                ratio, drift, fdrift, b.median, c.median)
            data.update(floor=fb.name, floor_ratio=fdrift)
        else:
            ratio = drift
            terms = [(1, "current", [n]), (-1, "base", [n])]
            msg = "current / base = %.3f (%.4g -> %.4g ns; no floor to normalise by)" % (
                ratio, b.median, c.median)
        data["normalised_ratio"] = ratio
        chk = Check("regression", n, "PASS" if ratio <= 1.0 + threshold else None, msg, data)
        chk.contrast = Contrast(terms, bound, math.exp, 1.0 + threshold)
        chk.ctx = c.context
        d = chk.contrast.paired(runs)
        if d:
            _, p_faster = sign_test(d, -bound)
            chk.data["p_faster"] = p_faster
        if chk.status == "PASS" and ratio < 1.0 / (1.0 + threshold) and d and \
                sign_test(d, -bound)[1] <= ALPHA_PASS:
            chk.status = "IMPROVED"
        if chk.status is None:
            chk.message += ": more than %d %% slower on the medians" % round(threshold * 100)
        checks.append(chk)
    if compared == 0:
        raise HarnessError("no library benchmark in both runs to compare")
    return checks


def gate2_finish(checks, runs, threshold):
    """Gate 2's verdict for rows the re-runs left undecided: fail only if
    more than the threshold slower on the re-run's median and slower than
    no change at all by the sign test, Holm-corrected over every library
    row compared."""
    rows = [c for c in checks if c.suite == "regression" and c.contrast is not None]
    pvals = []
    for c in rows:
        d = c.data.get("rerun_d") or c.contrast.paired(runs)
        pvals.append(sign_test(d, 0.0)[0] if d else 1.0)
    rejected = holm(pvals, ALPHA)
    for i, c in enumerate(rows):
        c.data["p_slower"] = pvals[i]
        c.data["p_slower_holm_rejected"] = i in rejected
        if c.status != "UNDECIDED":
            continue
        d = c.data["rerun_d"]
        if statistics.median(d) > math.log(1.0 + threshold) and i in rejected:
            c.status = "FAIL"
            c.message += ("judged: more than %d %% slower, and slower than no change "
                          "(p = %.2g, Holm over %d rows)" % (round(threshold * 100), pvals[i], len(rows)))
        else:
            c.status = "PASS"
            c.message += ("judged: %s, so noise (p = %.2g, Holm over %d rows)" % (
                "within the threshold" if statistics.median(d) <= math.log(1.0 + threshold)
                else "not shown slower than no change", pvals[i], len(rows)))


def controls_note(checks, threshold):
    ctl = [c for c in checks if c.status == "CONTROL"]
    if not ctl:
        return None
    drifts = sorted(c.data["ratio"] for c in ctl)
    moved = [c for c in ctl if abs(math.log(c.data["ratio"])) > math.log(1.0 + threshold)]
    note = "controls (floors and peers, same code in both builds): %d, median current / base %.3f (%.3f to %.3f)" % (
        len(ctl), statistics.median(drifts), drifts[0], drifts[-1])
    if moved:
        note += "; %d moved more than %d %%, so the machine drifted between the builds' processes " \
                "and each library row is judged against its own floor: %s" % (
                    len(moved), round(threshold * 100),
                    ", ".join("%s %.2fx" % (c.name, c.data["ratio"]) for c in moved[:6]))
    return note


# ---- output ----


def exit_status(checks):
    if any(c.status == "ERROR" for c in checks):
        return 2
    if any(c.status == "FAIL" for c in checks):
        return 1
    return 0


SKIPPED = ("SKIP", "NEW", "GONE")
# What an exit status means: the gates fail on a miss; the SPEC report
# (spec) only says what was missed.
STATUS_TEXT = {"gate": {0: "pass", 1: "regression", 2: "harness error"},
               "spec": {0: "every target met", 1: "targets missed", 2: "harness error"}}


def write_outputs(prefix, gate, checks, status, notes, extra):
    d = os.path.dirname(prefix)
    if d:
        os.makedirs(d, exist_ok=True)
    doc = {
        "gate": gate,
        "status": STATUS_TEXT.get(gate, STATUS_TEXT["gate"])[status],
        "exit_status": status,
        **extra,
        "notes": notes,
        "checks": [
            {"suite": c.suite, "name": c.name, "status": c.status,
             "message": c.message, **{k: v for k, v in c.data.items() if k != "rerun_d"}}
            for c in checks
        ],
    }
    with open(prefix + ".json", "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    judged = [c for c in checks if c.status != "CONTROL"]
    fails = sum(c.status == "FAIL" for c in judged)
    errs = sum(c.status == "ERROR" for c in judged)
    skips = sum(c.status in SKIPPED for c in judged)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<testsuites name=%s tests="%d" failures="%d" errors="%d" skipped="%d">' % (
                 quoteattr("mmapio-" + gate), len(judged), fails, errs, skips),
             '  <testsuite name=%s tests="%d" failures="%d" errors="%d" skipped="%d">' % (
                 quoteattr(gate), len(judged), fails, errs, skips)]
    for c in judged:
        lines.append('    <testcase classname=%s name=%s>' % (
            quoteattr("%s.%s" % (gate, c.suite)), quoteattr(c.name)))
        rr = c.data.get("rerun")
        if rr:
            lines.append('      <properties><property name="rerun_repetitions" value="%d"/>'
                         '<property name="rerun_outcome" value=%s/></properties>' % (
                             rr.get("repetitions", 0), quoteattr(str(rr.get("outcome")))))
        if c.status == "FAIL":
            lines.append('      <failure message=%s/>' % quoteattr(c.message))
        elif c.status == "ERROR":
            lines.append('      <error message=%s/>' % quoteattr(c.message))
        elif c.status in SKIPPED:
            lines.append('      <skipped message=%s/>' % quoteattr(c.message))
        else:
            lines.append('      <system-out>%s</system-out>' % escape(c.message))
        lines.append('    </testcase>')
    lines.append('    <system-out>%s</system-out>' % escape("\n".join(notes)))
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
    if gate == "spec":
        verdict = {0: "every target met", 1: "targets missed (reported, not gated)",
                   2: "ERROR (harness)"}[status]
    print("%s: %s -- %s" % (gate, verdict, summary))
    failed = [c.name for c in checks if c.status == "FAIL"]
    if failed:
        print("%s: failing: %s" % (gate, ", ".join(failed)))
    if prefix:
        print("%s: wrote %s.json and %s.junit.xml" % (gate, prefix, prefix))


def add_rerun_args(p):
    p.add_argument("--rerun-args", default="",
                   help="extra arguments for every re-run (e.g. '--benchmark_min_time=0.05')")
    p.add_argument("--rerun-reps", default=",".join(map(str, RERUN_REPS)),
                   help="repetitions per benchmark after each batch (default 15,25,40)")
    p.add_argument("--rerun-budget", type=float, default=None, metavar="SECONDS",
                   help="re-run for at most this long: no batch starts that would not "
                   "fit, as long as the last batch took (default: no limit)")
    p.add_argument("--rerun-dir", help="where the re-runs' JSON and logs go")
    p.add_argument("--family-size", type=int, default=None, metavar="M",
                   help="judge as if M checks were made (default: those judged)")
    p.add_argument("--out", help="write OUT.json and OUT.junit.xml")


def rerun_summary(rerunner):
    if rerunner is None:
        return {"reruns": [], "rerun_seconds": 0.0}
    return {"reruns": rerunner.rerun_log, "rerun_seconds": round(rerunner.spent, 1),
            "rerun_budget": rerunner.budget}


def main(argv):
    ap = argparse.ArgumentParser(
        prog="gate.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    here = os.path.dirname(os.path.abspath(__file__))
    default_cfg = os.path.join(here, "..", "perf", "gates.json")
    g1 = sub.add_parser("gate1", help="speedups and targets within one run")
    g1.add_argument("--config", default=default_cfg)
    g1.add_argument("--checks", metavar="REGEX", help="judge only the checks matching REGEX")
    g1.add_argument("--machine", help="the run's machine.txt, recorded in the verdict")
    g1.add_argument("--rerun-bin", help="the harness binary that made the run")
    add_rerun_args(g1)
    g1.add_argument("runs", nargs="+")
    sp = sub.add_parser("spec", help="every SPEC target within one run, decided "
                        "like gate 1 (reported, not gated)")
    sp.add_argument("--config", default=default_cfg)
    sp.add_argument("--machine", help="the run's machine.txt, recorded in the verdict")
    sp.add_argument("--rerun-bin", help="the harness binary that made the run")
    add_rerun_args(sp)
    sp.add_argument("runs", nargs="+")
    g2 = sub.add_parser("gate2", help="current vs base, interleaved runs")
    g2.add_argument("--base", nargs="+", required=True)
    g2.add_argument("--current", nargs="+", required=True)
    g2.add_argument("--threshold", type=float, default=0.15)
    g2.add_argument("--exclude", metavar="REGEX",
                    help="benchmarks not to judge (reported as skipped)")
    g2.add_argument("--rerun-base-bin", help="the base build's harness")
    g2.add_argument("--rerun-current-bin", help="the current build's harness")
    add_rerun_args(g2)
    a = ap.parse_args(argv)
    gate = a.cmd
    notes = []
    extra = {}
    rerunner = None
    try:
        schedule = [int(x) for x in a.rerun_reps.split(",") if x]
    except ValueError:
        ap.error("--rerun-reps: a comma-separated list of repetitions")
    try:
        if gate in ("gate1", "spec"):
            if a.machine:
                extra["machine"] = machine_info.identity(machine_info.read(a.machine))
            try:
                with open(a.config) as f:
                    config = json.load(f)
            except (OSError, ValueError) as e:
                raise HarnessError("cannot read %s: %s" % (a.config, e))
            run = Run(a.runs)
            if run.slowed:
                notes.append("this run was built with the gated library paths "
                             "slowed on purpose (mmapio_perf_slowed)")
            if run.slowdown:
                notes.append("this run was built with a %s/1000 slowdown of the library's "
                             "chunk walk, on purpose (the gate's power test)" % run.slowdown)
            if run.apis_missing:
                notes.append("library APIs not in this build: %s" %
                             ", ".join(sorted(run.apis_missing)))
            if a.rerun_bin:
                rerunner = Rerunner({"run": a.rerun_bin}, a.rerun_args, schedule,
                                    a.rerun_budget, a.rerun_dir)
            checks = (gate1(run, config, a.checks) if gate == "gate1"
                      else spec_checks(run, config))
            family = a.family_size or sum(c.status not in ("SKIP", "ERROR") for c in checks)
            resolve(checks, {"run": run}, rerunner, family, gate1_at_cap)
            if checks and all(c.status == "SKIP" for c in checks):
                notes.append("every gated check was skipped: nothing was gated")
            if not checks:
                raise HarnessError("no gated check matches --checks %s" % a.checks
                                   if gate == "gate1" else "no SPEC target in the run")
        else:
            base, cur = Run(a.base), Run(a.current)
            if bool(a.rerun_base_bin) != bool(a.rerun_current_bin):
                ap.error("--rerun-base-bin and --rerun-current-bin go together")
            if a.rerun_base_bin:
                rerunner = Rerunner({"base": a.rerun_base_bin, "current": a.rerun_current_bin},
                                    a.rerun_args, schedule, a.rerun_budget, a.rerun_dir)
            checks = gate2(base, cur, a.threshold, a.exclude)
            rows = [c for c in checks if c.suite == "regression" and c.contrast is not None]
            family = a.family_size or len(rows)

            def at_cap(c, d):
                return "UNDECIDED", ""

            resolve(checks, {"base": base, "current": cur}, rerunner, family, at_cap)
            gate2_finish(checks, {"base": base, "current": cur}, a.threshold)
            n = controls_note(checks, a.threshold)
            if n:
                notes.append(n)
            notes.append("%d library rows judged (family of %d for the error rate), each by its "
                         "ratio to its floor in each build" % (len(rows), family))
        extra["family_size"] = family
    except HarnessError as e:
        print("%s: ERROR (harness): %s" % (gate, e), file=sys.stderr)
        checks = [Check("harness", "input", "ERROR", str(e))]
        status = 2
        if a.out:
            write_outputs(a.out, gate, checks, status, notes, extra)
        return status
    extra.update(rerun_summary(rerunner))
    rr = [c for c in checks if c.data.get("rerun", {}).get("repetitions")]
    if rr:
        notes.append("re-ran %d check%s alone (%s) in %.0f s" % (
            len(rr), "" if len(rr) == 1 else "s",
            ", ".join("%s: %d reps" % (c.name, c.data["rerun"]["repetitions"]) for c in rr),
            extra["rerun_seconds"]))
    late = [c.name for c in checks if c.data.get("rerun") and not c.data["rerun"].get("repetitions")]
    if late:
        notes.append("not re-run, the re-run budget being spent (so they fail): %s" % ", ".join(late))
    status = exit_status(checks)
    if a.out:
        write_outputs(a.out, gate, checks, status, notes, extra)
    report(gate, checks, status, notes, a.out)
    # A missed SPEC target is reported (spec.json), not a failure of the job.
    return 0 if gate == "spec" and status == 1 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
