#!/usr/bin/env python3
"""Print the public API surface of mmapio: every exported symbol with its
prototype from the header, plus the public macros, enums and structs, each
section in name order.

usage: scripts/api_surface.py [--check] [--nm NM] HEADER LIBRARY.so

Fails (exit 1) when the library exports a symbol the header does not
declare, or the header declares a function the library does not export.
--check makes that comparison only (ctest's abi.public_api, through
scripts/check_abi.sh) and prints the count instead of the surface. --nm
names the nm to read the library's dynamic symbols with (default nm).
"""
import re
import subprocess
import sys


def squash(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", text).strip()


def without_directives(text):
    """text with every preprocessor line (and its continuation lines)
    blanked, so that a declaration is never read across a #define."""
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def main():
    args, check, nm = sys.argv[1:], False, "nm"
    while args and args[0].startswith("--"):
        if args[0] == "--check":
            check, args = True, args[1:]
        elif args[0] == "--nm" and len(args) > 1:
            nm, args = args[1], args[2:]
        else:
            break
    if len(args) != 2:
        print(next(l for l in __doc__.splitlines() if l.startswith("usage:")),
              file=sys.stderr)
        return 2
    header, lib = args
    src = open(header).read()
    body = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    decls = without_directives(body)
    protos = {}
    for m in re.finditer(r"MMAPIO_API\s+([^;{]*?\b(mmapio_\w+)\s*\([^;]*?\))\s*;", decls, re.S):
        protos[m.group(2)] = squash(m.group(1))
    out = subprocess.run([nm, "-D", "--defined-only", lib],
                         capture_output=True, text=True, check=True).stdout
    # "ADDR TYPE NAME@@NODE"; the version nodes themselves are A symbols.
    exported = {line.split()[-1].split("@")[0] for line in out.splitlines()
                if len(line.split()) >= 2 and line.split()[-2] != "A"}
    bad = False
    for name in sorted(exported - protos.keys()):
        print(f"error: {name} is exported but not declared in the header", file=sys.stderr)
        bad = True
    inline = set(re.findall(r"static\s+inline\b[^;{]*?\b(mmapio_\w+)\s*\(", decls))
    for name in sorted(protos.keys() - exported - inline):
        print(f"error: {name} is declared but not exported", file=sys.stderr)
        bad = True
    if not protos:
        print(f"error: no MMAPIO_API function found in {header}", file=sys.stderr)
        bad = True
    if check:
        print(f"{len(protos)} functions declared, {len(exported)} exported")
        return 1 if bad else 0
    print("# Exported functions")
    for name in sorted(protos):
        print(protos[name] + ";")
    # Each section is in name order, so that moving a declaration inside
    # the header (or declaring an inline function before defining it)
    # leaves the snapshot as it is.
    print("\n# Inline functions")
    inlines = {}
    for m in re.finditer(r"static\s+inline\s+([^{;]*?\b(mmapio_\w+)\s*\([^)]*\))", decls, re.S):
        inlines.setdefault(m.group(2), squash(m.group(1)))
    for name in sorted(inlines):
        print(inlines[name] + ";")
    print("\n# Macros")
    macros = []
    for m in re.finditer(r"^#define\s+(MMAPIO_\w+)(\([^)]*\))?[ \t]*((?:.*\\\n)*.*)$", src, re.M):
        name = m.group(1)
        if name.endswith("_H") or name.endswith("_"):
            continue
        macros.append((name, f"#define {name}{m.group(2) or ''} {squash(m.group(3).replace(chr(92) + chr(10), ' '))}"))
    for _, line in sorted(macros, key=lambda nm: nm[0]):
        print(line)
    print("\n# Types")
    types = []
    for m in re.finditer(r"typedef\s+(enum|struct)\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", body, re.S):
        types.append((m.group(4), f"typedef {m.group(1)} {m.group(2)} {{ {squash(m.group(3))} }} {m.group(4)};"))
    for _, line in sorted(types, key=lambda nt: nt[0]):
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
