#!/usr/bin/env python3
"""Checks that every public function is documented and each error it lists
has its test.

usage: scripts/check_error_tests.py HEADER TEST_DIR

A public function is one the header declares with MMAPIO_API or static
inline whose name does not end in "_" (those are private machinery). Each
needs a doc block (/** ... */) right before one of its declarations, with
a one-line summary; one that returns int (an error code) also needs an
"Errors:" list of "- MMAPIO_E_<CODE>: ..." lines or an explicit "Never
fails". Each listed code needs a conformance test named
"<function>: <CODE> when ..." in a .cpp file under TEST_DIR. Prints every
gap and exits 1 if there is one.
"""
import glob
import re
import sys

DECL = re.compile(
    r"(?:(/\*\*(?:(?!\*/).)*?\*/)\s*)?"  # the doc block right before, if any
    r"^(?:MMAPIO_API\s+|static\s+inline\s+)([^;{(]*?)\b(mmapio_\w+)\s*\(",
    re.S | re.M)
NEVER_FAILS = re.compile(r"never\s+fails|cannot\s+fail", re.I)


def plain(doc):
    """The doc block's text without the comment markers."""
    return re.sub(r"^[ \t]*\*(?!/)", "", doc[3:-2], flags=re.M)


def summary(doc):
    """The doc block's first sentence."""
    return " ".join(doc.split()).split(". ")[0].strip()


def error_codes(doc):
    """The codes of the doc block's Errors list, or None without one."""
    if "Errors:" not in doc:
        return None
    errs = doc.split("Errors:", 1)[1]
    errs = re.split(r"\n\s*(?:Undefined|Aborts|Returns|Ownership)", errs)[0]
    codes = set()
    for line in re.findall(r"-\s*((?:MMAPIO_E_\w+(?:,\s*)?)+)\s*:", errs):
        codes.update(re.findall(r"MMAPIO_E_(\w+)", line))
    return codes


def public_functions(header):
    """{name: (return type, doc or None)}; a function declared twice (a
    prototype and a definition) counts once, documented if either is."""
    out = {}
    for m in DECL.finditer(open(header).read()):
        doc, ret, fn = m.group(1), " ".join(m.group(2).split()), m.group(3)
        doc = plain(doc) if doc else None
        if fn.endswith("_"):
            continue
        if fn not in out or (doc and not out[fn][1]):
            out[fn] = (ret, doc)
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
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    funcs = public_functions(sys.argv[1])
    names = test_names(sys.argv[2])
    gaps, pairs, tested = [], 0, 0
    for fn, (ret, doc) in sorted(funcs.items()):
        if not doc:
            gaps.append(f"undocumented: {fn} has no /** */ block")
            continue
        if not summary(doc):
            gaps.append(f"no summary: {fn}")
        codes = error_codes(doc)
        if ret == "int" and codes is None and not NEVER_FAILS.search(doc):
            gaps.append(f"no Errors list: {fn} returns int but lists no "
                        f"error and does not say \"Never fails\"")
        elif codes is not None and not codes:
            gaps.append(f"empty Errors list: {fn}")
        for code in sorted(codes or ()):
            pairs += 1
            prefix = f"{fn}: {code} when "
            if any(n.startswith(prefix) for n in names):
                tested += 1
            else:
                gaps.append(f"missing test: {prefix}...")
    for g in gaps:
        print(g)
    print(f"{len(funcs)} public functions document {pairs} errors; "
          f"{tested} have their test; {len(gaps)} gaps")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
