#!/usr/bin/env python3
"""Counts the public functions the fuzz targets call.

usage: scripts/fuzz_reach.py [--summary FILE] [--min PERCENT]
                             [--executed FILE] HEADER FUZZ_DIR

A public function is one the header declares with MMAPIO_API or static
inline whose name does not end in "_" (the rule of check_error_tests.py).
A fuzz source (FUZZ_DIR/*.c, comments stripped) calls it when its name is
followed by "(" or is the callee of "(name)(". Prints "N of M public
functions called by the fuzz targets", then, per target, how many it
calls, then the ones none calls. --summary FILE also writes the first
line there; --min PERCENT fails (exit 1) below that share. --executed
FILE counts instead the names FILE lists, one a line (the functions a
coverage run executed, scripts/fuzz_coverage.sh).
"""
import glob
import os
import re
import sys

DECL = re.compile(
    r"^(?:MMAPIO_API\s+|static\s+inline\s+)[^;{(]*?\b(mmapio_\w+)\s*\(", re.M)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def public_functions(header):
    names = DECL.findall(strip_comments(open(header).read()))
    return sorted({n for n in names if not n.endswith("_")})


CALL = re.compile(r"\b(mmapio_\w+)\s*\(|\(\s*(mmapio_\w+)\s*\)\s*\(")


def called(source, names):
    text = strip_comments(open(source).read())
    found = {a or b for a, b in CALL.findall(text)}
    return found & set(names)


def main(argv):
    summary, minimum, executed = None, None, None
    args = argv[1:]
    while args and args[0].startswith("--"):
        if args[0] == "--summary" and len(args) > 1:
            summary, args = args[1], args[2:]
        elif args[0] == "--min" and len(args) > 1:
            minimum, args = float(args[1]), args[2:]
        elif args[0] == "--executed" and len(args) > 1:
            executed, args = args[1], args[2:]
        else:
            args = []
    if len(args) != 2:
        print("\n".join(__doc__.strip().splitlines()[2:4]), file=sys.stderr)
        return 2
    header, fuzz_dir = args
    names = public_functions(header)
    sources = sorted(glob.glob(os.path.join(fuzz_dir, "*.c")))
    if executed:
        ran = set(open(executed).read().split())
        per_file = {}
        reached = ran & set(names)
        how = "executed by the replayed fuzz corpora"
    else:
        per_file = {os.path.basename(s): called(s, names) for s in sources}
        reached = set().union(*per_file.values()) if per_file else set()
        how = "called by the fuzz targets"
    line = (f"{len(reached)} of {len(names)} public functions {how} "
            f"({100 * len(reached) // max(len(names), 1)}%)")
    print(line)
    for name, funcs in per_file.items():
        print(f"  {name}: {len(funcs)}")
    missing = [n for n in names if n not in reached]
    if missing:
        print(("not executed: " if executed else "not called: ")
              + ", ".join(missing))
    if summary:
        os.makedirs(os.path.dirname(os.path.abspath(summary)), exist_ok=True)
        with open(summary, "w") as f:
            f.write(f"fuzz reach: {line}\n")
    if minimum is not None and 100 * len(reached) < minimum * len(names):
        print(f"fuzz_reach: below {minimum}%", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
