#!/usr/bin/env python3
"""Print the public API surface of mmapio: every exported symbol with its
prototype from the header, plus the public macros, enums and structs.

usage: scripts/api_surface.py HEADER LIBRARY.so

Fails (exit 1) when the library exports a symbol the header does not
declare, or the header declares a function the library does not export.
"""
import re
import subprocess
import sys


def squash(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", text).strip()


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    header, lib = sys.argv[1], sys.argv[2]
    src = open(header).read()
    body = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    protos = {}
    for m in re.finditer(r"MMAPIO_API\s+([^;{]*?\b(mmapio_\w+)\s*\([^;]*?\))\s*;", body, re.S):
        protos[m.group(2)] = squash(m.group(1))
    out = subprocess.run(["nm", "-D", "--defined-only", lib],
                         capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1].split("@")[0] for line in out.splitlines()
                if line.split() and line.split()[-2] in ("T", "D", "B", "R")}
    bad = False
    for name in sorted(exported - protos.keys()):
        print(f"error: {name} is exported but not declared in the header", file=sys.stderr)
        bad = True
    inline = set(re.findall(r"static\s+inline\b[^;{]*?\b(mmapio_\w+)\s*\(", body))
    for name in sorted(protos.keys() - exported - inline):
        print(f"error: {name} is declared but not exported", file=sys.stderr)
        bad = True
    print("# Exported functions")
    for name in sorted(protos):
        print(protos[name] + ";")
    print("\n# Inline functions")
    for m in re.finditer(r"static\s+inline\s+([^{;]*?\b(mmapio_\w+)\s*\([^)]*\))", body, re.S):
        print(squash(m.group(1)) + ";")
    print("\n# Macros")
    for m in re.finditer(r"^#define\s+(MMAPIO_\w+)(\([^)]*\))?[ \t]*((?:.*\\\n)*.*)$", src, re.M):
        name = m.group(1)
        if name.endswith("_H") or name.endswith("_"):
            continue
        print(f"#define {name}{m.group(2) or ''} {squash(m.group(3).replace(chr(92) + chr(10), ' '))}")
    print("\n# Types")
    for m in re.finditer(r"typedef\s+(enum|struct)\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", body, re.S):
        print(f"typedef {m.group(1)} {m.group(2)} {{ {squash(m.group(3))} }} {m.group(4)};")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
