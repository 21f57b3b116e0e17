#!/usr/bin/env python3
"""Checks that every error a public function documents has its test.

usage: scripts/check_error_tests.py HEADER TEST_DIR

For each doc block in HEADER that lists "Errors:" followed by lines
"- MMAPIO_E_<CODE>: ...", the function it documents must have a
conformance test named "<function>: <CODE> when ..." in a .cpp file under
TEST_DIR. Prints every missing pair and exits 1 if there is one.
"""
import glob
import re
import sys


def documented_errors(header):
    text = open(header).read()
    out = {}
    for m in re.finditer(r"/\*\*(.*?)\*/\s*(?:MMAPIO_API\s+|static\s+inline\s+)"
                         r"[^;{(]*?\b(mmapio_\w+)\s*\(", text, re.S):
        doc, fn = m.group(1), m.group(2)
        if "Errors:" not in doc:
            continue
        errs = doc.split("Errors:", 1)[1]
        errs = re.split(r"\n\s*\*\s*(?:Undefined|Aborts|Returns|Ownership)", errs)[0]
        codes = set()
        for line in re.findall(r"-\s*((?:MMAPIO_E_\w+(?:,\s*)?)+)\s*:", errs):
            codes.update(re.findall(r"MMAPIO_E_(\w+)", line))
        out[fn] = codes
    return out


def test_names(test_dir):
    names = set()
    for f in glob.glob(f"{test_dir}/*.cpp"):
        s = open(f).read()
        for m in re.finditer(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', s):
            names.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))))
    return names


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    docs = documented_errors(sys.argv[1])
    names = test_names(sys.argv[2])
    missing = []
    for fn, codes in sorted(docs.items()):
        for code in sorted(codes):
            prefix = f"{fn}: {code} when "
            if not any(n.startswith(prefix) for n in names):
                missing.append(prefix + "...")
    pairs = sum(len(c) for c in docs.values())
    for m in missing:
        print("missing test:", m)
    print(f"{len(docs)} functions document {pairs} errors; "
          f"{pairs - len(missing)} have their test, {len(missing)} do not")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
