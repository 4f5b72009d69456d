#!/usr/bin/env python3
"""Turns criterion's console output into Markdown tables with ratios.

Usage: bench-table.py LOG [LOG...]   (one column of estimates per log, e.g. two repeats)

Each row is one benchmark (group/function) with criterion's point estimate per run; the
ratio columns compare against the floor (`fetch_add`) for `counter_inc` and against the
fastest anchor (not promenade, not fetch_add) for every other group, per run.
"""
import re
import sys
from collections import OrderedDict

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
NAME = re.compile(r"^([A-Za-z0-9_]+)/(\S+)\s*(time:.*)?$")
TIME = re.compile(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]")


def parse(path):
    results = OrderedDict()
    current = None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = NAME.match(line)
        if m and not line.startswith("Benchmarking"):
            current = (m.group(1), m.group(2))
        t = TIME.search(line)
        if t and current:
            results[current] = float(t.group(1)) * UNITS[t.group(2)]
            current = None
    return results


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.2f} ns"


def main():
    runs = [parse(p) for p in sys.argv[1:]]
    groups = OrderedDict()
    for run in runs:
        for (g, f) in run:
            groups.setdefault(g, [])
            if f not in groups[g]:
                groups[g].append(f)
    for g, funcs in groups.items():
        refs = []
        for run in runs:
            if g == "counter_inc":
                refs.append(("fetch_add", run.get((g, "fetch_add"))))
            else:
                anchors = [(run[(g, f)], f) for f in funcs
                           if (g, f) in run and f != "promenade" and f != "fetch_add"]
                best = min(anchors) if anchors else (None, None)
                refs.append((best[1], best[0]))
        ref_name = "fetch_add" if g == "counter_inc" else "fastest anchor"
        print(f"\n### `{g}`\n")
        head = "| library | " + " | ".join(f"run {i + 1}" for i in range(len(runs)))
        head += " | " + " | ".join(f"÷ {ref_name} (run {i + 1})" for i in range(len(runs))) + " |"
        print(head)
        print("|" + "---|" * (1 + 2 * len(runs)))
        for f in funcs:
            vals = [run.get((g, f)) for run in runs]
            cells = [fmt(v) if v is not None else "–" for v in vals]
            ratios = []
            for v, (rn, rv) in zip(vals, refs):
                ratios.append(f"{v / rv:.2f}×" if v is not None and rv else "–")
            print(f"| {f} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
        print("\nfastest anchor per run: " + ", ".join(str(r[0]) for r in refs))


if __name__ == "__main__":
    main()
