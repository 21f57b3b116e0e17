#!/usr/bin/env python3
"""Conformance reports of scripts/port.sh.

usage: conformance_report.py target --name T --build DIR [--emulator CMD]
                                    [--out DIR] [--check]
       conformance_report.py matrix [--out DIR]

target: reads one run from its build directory (ctest's JUnit file
junit.xml, capabilities.tsv, skips.tsv if the suite wrote one,
ctest.seconds) and writes OUT/T.json, OUT/T.md and OUT/T.junit.xml.
matrix: writes OUT/README.md from every OUT/*.json: capabilities and
counts per area side by side, and each test whose outcome differs.
OUT defaults to reports/conformance. With --check, target exits 1 when a
test failed (the report is written first).
"""

import argparse
import glob
import json
import os
import re
import shutil
import string
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, "scripts", "templates")

# A Catch2 test case: TEST_CASE("name", "[tags]") or
# TEST_CASE_METHOD(Fixture, "name", "[tags]"), literals possibly split.
STR = r'(?:"(?:[^"\\]|\\.)*"\s*)+'
CASE_RE = re.compile(r'\bTEST_CASE(?:_METHOD)?\s*\(\s*(?:[\w:]+\s*,\s*)?'
                     r'(' + STR + r')(?:,\s*(' + STR + r'))?\)')
# Catch2's console reporter wraps a WARN at 80 columns: the reason goes
# on over the following lines of the same indentation, up to a blank one.
SKIP_RE = re.compile(r"^( *)SKIPPED: ?(.*(?:\n\1\S.*)*)", re.M)
PREFIX_RE = re.compile(r"^(seam|footprint): ?")


def literal(text):
    """The value of adjacent C string literals."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return "".join(p.encode().decode("unicode_escape") for p in parts)


def catch_areas():
    """{Catch2 test name: (area, tags)}: the area is the source file
    (test_open.cpp -> open), the tags those of the TEST_CASE."""
    areas = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "conformance", "*.cpp"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        area = stem[len("test_"):] if stem.startswith("test_") else stem
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in CASE_RE.finditer(text):
            tags = literal(m.group(2)) if m.group(2) else ""
            areas[literal(m.group(1))] = (area, tags)
    return areas


def area_of(name, areas):
    """The area of a ctest test: its Catch2 source file, else the part of
    the ctest name before the first '.' (header.c11.gcc -> header)."""
    for candidate in (name, PREFIX_RE.sub("", name)):
        if candidate in areas:
            return areas[candidate][0]
    return name.split(".", 1)[0] if "." in name else "other"


def normalise_reason(reason):
    """A skip reason without the run's temporary paths, so that one
    reason from many tests groups as one."""
    reason = re.sub(r"\S*/testtmp/\S*", "<test dir>", reason.strip())
    return reason


def first_failure(output):
    """A few lines that say why a test failed, from its output."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"FAILED|failed|SegFault|signal|Exception|Timeout|"
                     r"Error|error:", line):
            chunk = [l.strip() for l in lines[i:i + 6] if l.strip()
                     and not set(l.strip()) <= set("-=.")]
            return " | ".join(chunk)[:400]
    tail = [l.strip() for l in lines if l.strip()][-3:]
    return " | ".join(tail)[:400]


def read_skip_log(path):
    """{test name: reason} from the suite's MMAPIO_SKIP_LOG file."""
    skips = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                test, _, reason = line.rstrip("\n").partition("\t")
                if test:
                    skips.setdefault(test, reason)
    return skips


def read_capabilities(path):
    """[{capability, supported, value, reason}] from capabilities.tsv."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    head = rows[0]
    return [dict(zip(head, r + [""] * (len(head) - len(r)))) for r in rows[1:]]


def cache_value(build, key):
    """A CMake variable of the build: from CMakeCache.txt, else from the
    files CMake writes of the system and the C compiler it found."""
    try:
        with open(os.path.join(build, "CMakeCache.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    pattern = re.compile(r'^set\(%s "([^"]*)"\)' % re.escape(key), re.M)
    for name in ("CMakeSystem.cmake", "CMakeCCompiler.cmake"):
        for path in glob.glob(os.path.join(build, "CMakeFiles", "*", name)):
            with open(path, encoding="utf-8") as f:
                m = pattern.search(f.read())
            if m:
                return m.group(1)
    return ""


def read_run(name, build, emulator):
    """The run of target name as a dict (what T.json holds)."""
    areas = catch_areas()
    skip_log = read_skip_log(os.path.join(build, "skips.tsv"))
    tree = ET.parse(os.path.join(build, "junit.xml"))
    tests = []
    for case in tree.iter("testcase"):
        test = case.get("name")
        out = "".join(e.text or "" for e in case.iter("system-out"))
        status = case.get("status", "run")
        if case.find("failure") is not None or status == "fail":
            outcome, detail = "failed", first_failure(out)
        elif case.find("skipped") is not None or status in ("notrun",
                                                              "disabled"):
            outcome = "skipped"
            detail = normalise_reason(
                (case.find("skipped").get("message", "")
                 if case.find("skipped") is not None else "") or
                "not run by ctest")
        else:
            reason = skip_log.get(test) or skip_log.get(
                PREFIX_RE.sub("", test))
            m = SKIP_RE.search(out)
            if reason is None and m:
                reason = re.sub(r"/\n\s*", "/", m.group(2))
                reason = " ".join(reason.split())
            outcome = "skipped" if reason is not None else "passed"
            detail = normalise_reason(reason) if reason is not None else ""
        tests.append({"name": test, "area": area_of(test, areas),
                      "outcome": outcome, "detail": detail,
                      "seconds": float(case.get("time", 0) or 0)})
    seconds = None
    try:
        with open(os.path.join(build, "ctest.seconds")) as f:
            seconds = int(f.read().strip())
    except (OSError, ValueError):
        pass
    target = cache_value(build, "MMAPIO_CROSS_TRIPLE")
    try:
        with open(os.path.join(build, "source.txt"), encoding="utf-8") as f:
            source = f.read().strip()
    except OSError:
        source = "unknown"
    return {
        "target": name,
        "processor": cache_value(build, "CMAKE_SYSTEM_PROCESSOR") or
        os.uname().machine,
        "compiler": " ".join(filter(None, [
            os.path.basename(cache_value(build, "CMAKE_C_COMPILER")),
            cache_value(build, "CMAKE_C_COMPILER_VERSION"),
            target and "--target=" + target,
            cache_value(build, "CMAKE_C_FLAGS")])),
        "posix_only": cache_value(build, "MMAPIO_POSIX_ONLY") == "ON",
        "source": source,
        "emulator": emulator or cache_value(build, "MMAPIO_CROSS_EMULATOR")
        or "none (native)",
        "wall_seconds": seconds,
        "capabilities": read_capabilities(
            os.path.join(build, "capabilities.tsv")),
        "tests": tests,
    }


def counts(tests):
    c = {"run": len(tests), "passed": 0, "failed": 0, "skipped": 0}
    for t in tests:
        c[t["outcome"]] += 1
    return c


def per_area(tests):
    """{area: counts} sorted by area."""
    by = {}
    for t in tests:
        by.setdefault(t["area"], []).append(t)
    return {a: counts(ts) for a, ts in sorted(by.items())}


def grouped(tests, outcome):
    """[(detail, [test names])] of the tests with outcome, most first."""
    by = {}
    for t in tests:
        if t["outcome"] == outcome:
            by.setdefault(t["detail"] or "(no reason given)", []).append(
                t["name"])
    return sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def md_escape(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def template(name):
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as f:
        return string.Template(f.read())


def capability_table(run):
    return table(["capability", "supported", "value", "reason"],
                 [[c.get("capability", ""), c.get("supported", ""),
                   c.get("value", ""), c.get("reason", "")]
                  for c in run["capabilities"]]) if run["capabilities"] \
        else "(capabilities.tsv missing: capabilities.table did not run)"


def write_target(run, out):
    c = counts(run["tests"])
    areas = per_area(run["tests"])
    skips = grouped(run["tests"], "skipped")
    fails = [t for t in run["tests"] if t["outcome"] == "failed"]
    text = template("conformance_target.md.in").substitute(
        target=run["target"], processor=run["processor"],
        compiler=run["compiler"], emulator=run["emulator"],
        posix_only="yes" if run["posix_only"] else "no",
        source=run.get("source", "unknown"),
        wall="%s s" % run["wall_seconds"] if run["wall_seconds"] is not None
        else "unknown",
        run=c["run"], passed=c["passed"], failed=c["failed"],
        skipped=c["skipped"],
        capabilities=capability_table(run),
        areas=table(["area", "run", "passed", "failed", "skipped"],
                    [[a, v["run"], v["passed"], v["failed"], v["skipped"]]
                     for a, v in areas.items()]),
        skips=table(["tests", "reason", "which"],
                    [[len(n), r, ", ".join(n[:6]) +
                      (" and %d more" % (len(n) - 6) if len(n) > 6 else "")]
                     for r, n in skips]) if skips else "None.",
        failures=table(["test", "area", "first lines of the failure"],
                       [[t["name"], t["area"], t["detail"]] for t in fails])
        if fails else "None.")
    with open(os.path.join(out, run["target"] + ".md"), "w",
              encoding="utf-8") as f:
        f.write(text)
    with open(os.path.join(out, run["target"] + ".json"), "w",
              encoding="utf-8") as f:
        json.dump(run, f, indent=1)
        f.write("\n")


# Matrix column order: the native builds first, then the cross targets.
ORDER = ["native", "m32", "posix", "aarch64", "aarch64-16k", "aarch64-64k",
         "armhf", "ppc64le", "s390x", "riscv64"]


def write_matrix(out):
    runs = []
    for path in glob.glob(os.path.join(out, "*.json")):
        with open(path, encoding="utf-8") as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: (ORDER.index(r["target"])
                             if r["target"] in ORDER else len(ORDER),
                             r["target"]))
    names = [r["target"] for r in runs]

    summary = [[r["target"], r["processor"], r.get("source", "unknown"),
                r["emulator"],
                *(counts(r["tests"])[k] for k in
                  ("run", "passed", "failed", "skipped")),
                r["wall_seconds"] if r["wall_seconds"] is not None else "?"]
               for r in runs]

    caps = []
    for r in runs:
        for c in r["capabilities"]:
            if c["capability"] not in caps:
                caps.append(c["capability"])
    cap_rows = []
    for cap in caps:
        row = [cap]
        for r in runs:
            c = next((c for c in r["capabilities"]
                      if c["capability"] == cap), None)
            row.append("—" if c is None else
                       ("yes" if c["supported"] == "yes" else "no") +
                       (" (%s)" % c["value"] if c["value"] not in ("", "0")
                        else ""))
        cap_rows.append(row)
    cap_why = sorted({(c["capability"], c["reason"], r["target"])
                      for r in runs for c in r["capabilities"]
                      if c["supported"] != "yes"})
    why_rows = {}
    for cap, reason, target in cap_why:
        why_rows.setdefault((cap, reason), []).append(target)

    areas = sorted({t["area"] for r in runs for t in r["tests"]})
    area_rows = []
    for a in areas:
        row = [a]
        for r in runs:
            c = counts([t for t in r["tests"] if t["area"] == a])
            row.append("%d/%d/%d" % (c["passed"], c["failed"], c["skipped"])
                       if c["run"] else "—")
        area_rows.append(row)

    outcomes = {}
    for r in runs:
        for t in r["tests"]:
            outcomes.setdefault(t["name"], {})[r["target"]] = t
    diff_rows = []
    for name in sorted(outcomes):
        per = outcomes[name]
        if len({t["outcome"] for t in per.values()}) > 1 or \
                len(per) != len(runs):
            cells = [name]
            for r in runs:
                t = per.get(r["target"])
                cells.append("—" if t is None else
                             t["outcome"] if t["outcome"] == "passed" else
                             "%s: %s" % (t["outcome"], t["detail"][:160]))
            diff_rows.append(cells)

    text = template("conformance_matrix.md.in").substitute(
        summary=table(["target", "processor", "source", "emulator", "run",
                       "passed",
                       "failed", "skipped", "wall s"], summary),
        capabilities=table(["capability"] + names, cap_rows),
        unsupported=table(["capability", "reason", "targets"],
                          [[c, why, ", ".join(t)]
                           for (c, why), t in sorted(why_rows.items())])
        if why_rows else "Every capability is supported everywhere.",
        areas=table(["area"] + names, area_rows),
        differences=table(["test"] + names, diff_rows)
        if diff_rows else "None: every test has the same outcome everywhere.")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("target", "matrix"))
    p.add_argument("--name")
    p.add_argument("--build")
    p.add_argument("--emulator", default="")
    p.add_argument("--out", default=os.path.join(ROOT, "reports",
                                                 "conformance"))
    p.add_argument("--check", action="store_true",
                   help="target: exit 1 when a test failed")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.mode == "target":
        if not a.name or not a.build:
            p.error("target needs --name and --build")
        run = read_run(a.name, a.build, a.emulator)
        write_target(run, a.out)
        shutil.copyfile(os.path.join(a.build, "junit.xml"),
                        os.path.join(a.out, a.name + ".junit.xml"))
        c = counts(run["tests"])
        print("%s: %d run, %d passed, %d failed, %d skipped" %
              (a.name, c["run"], c["passed"], c["failed"], c["skipped"]))
        if a.check and c["failed"]:
            for t in run["tests"]:
                if t["outcome"] == "failed":
                    print("  FAILED: %s: %s" % (t["name"], t["detail"][:300]))
            return 1
    else:
        write_matrix(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
