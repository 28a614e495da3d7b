#!/usr/bin/env python3
"""Does a catalog's latency hold in a fresh process? For every variant of CATALOG, runs
`mcdnn-infer` RUNS times, each a new process, on IMAGES (batch-1 latency over the images, the
protocol docs/executor.md "Latency" states), and compares the median of those runs' medians (and
p95s) with catalog.json's `measured.latency_ms` (`latency_p95_ms`). Prints one row per variant,
then how many are within the tolerance (default 5%) and the largest deviation; exit 1 when a
variant's median is outside it.

    python3 tools/bench_latency.py CATALOG IMAGES [LABELS] [--runs 5] [--limit N] [--tolerance 0.05]
                                   [--infer build/mcdnn-infer] [--variants ID,...]

Timings mean something only on an idle machine (check `uptime`); the machine and its CPU go into
docs/benchmarks.md with the figures.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"latency batch 1: median ([0-9.]+) ms, p95 ([0-9.]+) ms")


def infer_once(infer, catalog, variant, images, labels, limit):
    cmd = [infer, catalog, variant, images] + ([labels] if labels else [])
    if limit:
        cmd += ["--limit", str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {out.returncode}: {out.stderr.strip() or out.stdout.strip()}")
    m = LINE.search(out.stdout)
    if not m:
        sys.exit(f"error: no latency line in the output of {' '.join(cmd)}:\n{out.stdout}")
    return float(m.group(1)), float(m.group(2))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("catalog")
    p.add_argument("images")
    p.add_argument("labels", nargs="?")
    p.add_argument("--runs", type=int, default=5, help="fresh mcdnn-infer processes per variant (default 5)")
    p.add_argument("--limit", type=int, default=0, help="images per process (default: all; the latency runs cycle through them)")
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed relative deviation of the median (default 0.05)")
    p.add_argument("--infer", default=os.path.join(HERE, "..", "build", "mcdnn-infer"))
    p.add_argument("--variants", help="comma-separated ids (default: every variant)")
    a = p.parse_args()
    try:
        with open(os.path.join(a.catalog, "catalog.json")) as f:
            catalog = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {a.catalog}/catalog.json: cannot read it ({e}); give a catalog directory")
    if not catalog.get("executor"):
        sys.exit(f"error: {a.catalog} was built with --measure-seconds 0: it has no latencies to check")
    variants = catalog["variants"]
    if a.variants:
        want = a.variants.split(",")
        unknown = sorted(set(want) - {v["id"] for v in variants})
        if unknown:
            sys.exit(f"error: --variants: {', '.join(unknown)} not in {a.catalog} (mcdnn-catalog show {a.catalog} lists them)")
        variants = [v for v in variants if v["id"] in want]
    # A fragment catalog: mcdnn-infer runs the trunk first; the catalog measures the trunk once
    # and each fragment alone, so the two medians add (the p95s do not: not compared).
    trunk = (catalog.get("trunk") or {}).get("measured")
    print(f"catalog {a.catalog}: measured on {catalog['executor'].get('cpu', '?')} ({catalog['executor'].get('isa', '?')}); "
          f"{a.runs} fresh mcdnn-infer processes per variant")
    print(f"{'variant':52s} {'catalog ms':>10s} {'infer ms':>9s} {'ratio':>6s} {'spread':>7s} "
          f"{'cat p95':>8s} {'inf p95':>8s} {'ratio':>6s}")
    ratios, p95_ratios, outside, t0 = [], [], [], time.perf_counter()
    for v in variants:
        meds, p95s = zip(*(infer_once(a.infer, a.catalog, v["id"], a.images, a.labels, a.limit) for _ in range(a.runs)))
        med, p95 = statistics.median(meds), statistics.median(p95s)
        cat, cat95 = v["measured"]["latency_ms"], v["measured"]["latency_p95_ms"]
        if trunk:
            cat, cat95 = cat + trunk["latency_ms"], float("nan")
        r, r95 = med / cat, p95 / cat95
        spread = (max(meds) - min(meds)) / med
        ratios.append(r)
        p95_ratios.append(r95)
        flag = "" if abs(r - 1) <= a.tolerance else "  <- outside"
        if flag:
            outside.append(v["id"])
        print(f"{v['id']:52s} {cat:10.4f} {med:9.4f} {r:6.3f} {100 * spread:6.1f}% {cat95:8.4f} {p95:8.4f} {r95:6.3f}{flag}",
              flush=True)
    dev = [abs(r - 1) for r in ratios]
    print(f"\n{len(ratios)} variants in {time.perf_counter() - t0:.0f} s: median/catalog ratio min {min(ratios):.3f}, "
          f"median {statistics.median(ratios):.3f}, max {max(ratios):.3f}; |deviation| median {100 * statistics.median(dev):.1f}%, "
          f"max {100 * max(dev):.1f}%" + ("" if trunk else f"; p95 ratio median {statistics.median(p95_ratios):.3f}"))
    print(f"within {100 * a.tolerance:.0f}%: {len(ratios) - len(outside)} of {len(ratios)}"
          + (f"; outside: {', '.join(outside)}" if outside else ""))
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
