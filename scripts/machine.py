#!/usr/bin/env python3
"""The machine a perf run came from: machine.txt and the CPU's identity.

usage: scripts/machine.py [--key | --label | --json] machine.txt
       scripts/machine.py --here

scripts/main.sh writes machine.txt (one "key: value" a line). A CPU's
model name alone does not tell processors apart: on these VMs lscpu says
"AMD EPYC" for a Zen 4 and a Zen 5 alike. The identity adds the family,
model and stepping of /proc/cpuinfo: the key (a directory name under
reports/machines/) is the model name's slug with the family and model, the
label is what a reader sees. Prints the key by default. --here prints
this machine's CPU lines for machine.txt (cpu, cpu_vendor, cpu_family,
cpu_model, cpu_stepping), from /proc/cpuinfo.
"""

import json
import re
import sys

# AMD's families and model ranges to core generations, as AMD documents
# them; anything else is shown by its numbers alone.
AMD_CORES = {
    23: [(0x00, 0x2F, "Zen / Zen+"), (0x30, 0xFF, "Zen 2")],
    25: [(0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"),
         (0x60, 0x7F, "Zen 4"), (0xA0, 0xAF, "Zen 4")],
    26: [(0x00, 0xFF, "Zen 5")],
}


def read(path):
    """machine.txt as a dict (empty when the file is missing)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def core_name(vendor, family, model):
    if vendor != "AuthenticAMD" and not (vendor is None and family in AMD_CORES):
        return None
    for lo, hi, name in AMD_CORES.get(family, []):
        if model is None:
            names = {n for _, _, n in AMD_CORES[family]}
            return names.pop() if len(names) == 1 else None
        if lo <= model <= hi:
            return name
    return None


def identity(m):
    """{cpu, vendor, family, model, stepping, core, key, label} of a
    machine.txt dict."""
    name = m.get("cpu") or "unknown CPU"
    vendor = m.get("cpu_vendor") or None
    family, model = _int(m.get("cpu_family")), _int(m.get("cpu_model"))
    stepping = _int(m.get("cpu_stepping"))
    core = m.get("cpu_core") or core_name(vendor, family, model)
    key = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"
    parts = []
    if family is not None:
        key += "-f%d" % family
        parts.append("family %d" % family)
        if model is not None:
            key += "-m%d" % model
            parts.append("model %d" % model)
        if stepping is not None:
            parts.append("stepping %d" % stepping)
    if core:
        parts.append(core)
    label = name + (" (%s)" % ", ".join(parts) if parts else "")
    return {"cpu": name, "vendor": vendor, "family": family, "model": model,
            "stepping": stepping, "core": core, "key": key, "label": label}


def here(path="/proc/cpuinfo"):
    """This machine's CPU lines for machine.txt (the first processor's)."""
    fields = {"model name": "cpu", "vendor_id": "cpu_vendor", "cpu family": "cpu_family",
              "model": "cpu_model", "stepping": "cpu_stepping"}
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    break
                k, _, v = line.partition(":")
                if k.strip() in fields:
                    out[fields[k.strip()]] = v.strip()
    except OSError:
        pass
    return out


def main(argv):
    if argv == ["--here"]:
        cpu = here()
        for k in ("cpu", "cpu_vendor", "cpu_family", "cpu_model", "cpu_stepping"):
            if k in cpu:
                print("%s: %s" % (k, cpu[k]))
        return 0
    what = "--key"
    if argv and argv[0].startswith("--"):
        what = argv.pop(0)
    if len(argv) != 1 or what not in ("--key", "--label", "--json"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    ident = identity(read(argv[0]))
    if what == "--json":
        print(json.dumps(ident, indent=1))
    else:
        print(ident[what[2:]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
