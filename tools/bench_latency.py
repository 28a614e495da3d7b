#!/usr/bin/env python3
"""Does a catalog's latency hold in a fresh process? For every variant of CATALOG, runs
`mcdnn-infer` RUNS times, each a new process, on IMAGES (batch-1 latency over the images, the
protocol docs/executor.md "Measuring" states), and compares the median of those runs' medians
(and p95s) with catalog.json's `measured.latency_ms` (`latency_p95_ms`). The runs go round the
variants in turn (run 1 of every variant, then run 2, ...), so that the machine's drift over
minutes weighs on every variant alike, as the catalog's rounds do.

With --remeasure, each round also measures every variant again by the catalog's own protocol
(build/tools/bench_measure: what mcdnn-compile does, in a LibTorch-free process) just before its
mcdnn-infer runs. That separates the two things a difference can come from: the protocol
(catalog protocol now vs fresh processes now: the agreement the catalog can promise) and the
machine's drift since the catalog was built (protocol now vs the catalog's figures: a shared
VM's speed moves by 5-10% over minutes, for every variant at once).

Prints one row per variant, then how many are within the tolerance (default 5%), split into
pruned variants (a layer run as sparse rows) and the rest; exit 1 when a variant is outside it
(with --remeasure: against the protocol run now, else against the catalog's figures).

    python3 tools/bench_latency.py CATALOG IMAGES [LABELS] [--runs 5] [--limit N] [--tolerance 0.05]
                                   [--remeasure [--measure-seconds S]] [--infer build/mcdnn-infer] [--variants ID,...]

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


def run_checked(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {out.returncode}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def infer_once(infer, catalog, variant, images, labels, limit):
    cmd = [infer, catalog, variant, images] + ([labels] if labels else [])
    if limit:
        cmd += ["--limit", str(limit)]
    stdout = run_checked(cmd)
    m = LINE.search(stdout)
    if not m:
        sys.exit(f"error: no latency line in the output of {' '.join(cmd)}:\n{stdout}")
    return float(m.group(1)), float(m.group(2))


def measure_all(tool, catalog, ids, seconds):
    """The catalog's protocol now: {id: (median ms, p95 ms)}."""
    got = {}
    for line in run_checked([tool, catalog, "--seconds", str(seconds), "--variants", ",".join(ids)]).splitlines():
        f = line.split()
        got[f[0]] = (float(f[1]), float(f[2]))
    missing = set(ids) - set(got)
    if missing:
        sys.exit(f"error: {tool} printed no figures for {', '.join(sorted(missing))}")
    return got


def is_pruned(v):
    return any("sparse" in (layer.get("kernel") or "") for layer in v["measured"].get("layers", []))


def summary(name, ratios, variants, tolerance):
    for group, keep in (("pruned (a layer run as sparse rows)", True), ("the rest", False)):
        rs = [r for v, r in zip(variants, ratios) if is_pruned(v) == keep]
        if rs:
            inside = sum(abs(r - 1) <= tolerance for r in rs)
            print(f"  {name}, {group}: {inside} of {len(rs)} within {100 * tolerance:.0f}%, ratio median "
                  f"{statistics.median(rs):.3f}, range {min(rs):.3f} - {max(rs):.3f}")
    dev = [abs(r - 1) for r in ratios]
    outside = [v["id"] for v, r in zip(variants, ratios) if abs(r - 1) > tolerance]
    print(f"  {name}, all: {len(ratios) - len(outside)} of {len(ratios)} within {100 * tolerance:.0f}%, ratio median "
          f"{statistics.median(ratios):.3f}, range {min(ratios):.3f} - {max(ratios):.3f}, |deviation| median "
          f"{100 * statistics.median(dev):.1f}%" + (f"; outside: {', '.join(outside)}" if outside else ""))
    return outside


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("catalog")
    p.add_argument("images")
    p.add_argument("labels", nargs="?")
    p.add_argument("--runs", type=int, default=5, help="fresh mcdnn-infer processes per variant (default 5)")
    p.add_argument("--limit", type=int, default=0, help="images per process (default: all; the latency runs cycle through them)")
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed relative deviation of the median (default 0.05)")
    p.add_argument("--remeasure", action="store_true", help="also measure every variant by the catalog's protocol in each round")
    p.add_argument("--measure-seconds", type=float, default=0.25, help="with --remeasure: the build's --measure-seconds (default 0.25)")
    p.add_argument("--infer", default=os.path.join(HERE, "..", "build", "mcdnn-infer"))
    p.add_argument("--measure", default=os.path.join(HERE, "..", "build", "tools", "bench_measure"))
    p.add_argument("--variants", help="comma-separated ids (default: every variant)")
    a = p.parse_args()
    if a.runs < 1:
        sys.exit("error: --runs: expected a positive number of runs")
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
    if trunk and a.remeasure:
        sys.exit("error: --remeasure does not measure a fragment catalog's trunk; leave it out for this catalog")
    print(f"catalog {a.catalog}: measured on {catalog['executor'].get('cpu', '?')} ({catalog['executor'].get('isa', '?')}); "
          f"{a.runs} fresh mcdnn-infer processes per variant, round by round" + (", the protocol rerun in each round" if a.remeasure else ""))
    ids = [v["id"] for v in variants]
    runs = {i: [] for i in ids}
    now = {i: [] for i in ids}
    t0 = time.perf_counter()
    for k in range(a.runs):
        tk = time.perf_counter()
        if a.remeasure:
            for i, fig in measure_all(a.measure, a.catalog, ids, a.measure_seconds).items():
                now[i].append(fig)
        for i in ids:
            runs[i].append(infer_once(a.infer, a.catalog, i, a.images, a.labels, a.limit))
        print(f"  round {k + 1} of {a.runs}: {len(ids)} variants in {time.perf_counter() - tk:.0f} s", file=sys.stderr, flush=True)

    print(f"{'variant':52s} {'catalog':>8s} {'infer':>8s} {'ratio':>6s} {'spread':>7s} {'cat p95':>8s} {'inf p95':>8s} {'ratio':>6s}"
          + (f" {'now':>8s} {'inf/now':>7s} {'now p95':>8s} {'ratio':>6s}" if a.remeasure else ""))
    ratios, p95_ratios, now_ratios, now_p95, drift = [], [], [], [], []
    for v in variants:
        meds, p95s = zip(*runs[v["id"]])
        med, p95 = statistics.median(meds), statistics.median(p95s)
        cat, cat95 = v["measured"]["latency_ms"], v["measured"]["latency_p95_ms"]
        if trunk:
            cat, cat95 = cat + trunk["latency_ms"], float("nan")
        r, r95 = med / cat, p95 / cat95
        ratios.append(r)
        p95_ratios.append(r95)
        row = (f"{v['id']:52s} {cat:8.4f} {med:8.4f} {r:6.3f} {100 * (max(meds) - min(meds)) / med:6.1f}% "
               f"{cat95:8.4f} {p95:8.4f} {r95:6.3f}")
        if a.remeasure:
            n_med = statistics.median(x[0] for x in now[v["id"]])
            n_95 = statistics.median(x[1] for x in now[v["id"]])
            now_ratios.append(med / n_med)
            now_p95.append(p95 / n_95)
            drift.append(n_med / cat)
            row += f" {n_med:8.4f} {med / n_med:7.3f} {n_95:8.4f} {p95 / n_95:6.3f}"
        print(row, flush=True)
    print(f"\n{len(ids)} variants in {time.perf_counter() - t0:.0f} s; mcdnn-infer's median (of {a.runs} processes) over:")
    if a.runs >= 2:
        # How reproducible the reference itself is: the median of the odd-numbered runs against
        # the even-numbered ones', per variant (half as many processes each).
        halves = [statistics.median(m for m, _ in runs[i][0::2]) / statistics.median(m for m, _ in runs[i][1::2]) for i in ids]
        summary("(mcdnn-infer's odd runs over its even runs: the reference's own reproducibility)", halves, variants, a.tolerance)
    outside = summary("the catalog's figure", ratios, variants, a.tolerance)
    if not trunk:
        print(f"  p95 ratio (infer / catalog) median {statistics.median(p95_ratios):.3f}")
    if a.remeasure:
        outside = summary("the catalog's protocol now", now_ratios, variants, a.tolerance)
        print(f"  p95 ratio (infer / protocol now) median {statistics.median(now_p95):.3f}")
        d = statistics.median(drift)
        print(f"  the machine since the build: the protocol now / the catalog's figure, median {d:.3f} "
              f"(range {min(drift):.3f} - {max(drift):.3f})")
        scaled = [r / d for r in ratios]
        summary(f"the catalog's figure times {d:.3f} (the drift)", scaled, variants, a.tolerance)
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
