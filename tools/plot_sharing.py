#!/usr/bin/env python3
"""Sharing against independent models on one stream: two mcdnn-run reports side by side.

    python3 tools/plot_sharing.py SHARED_RUN INDEPENDENT_RUN [-o OUT.png]

SHARED_RUN and INDEPENDENT_RUN are mcdnn-run output directories of scenarios/shared.yaml and
scenarios/independent.yaml (the same stream and apps in the same order; each frame is one request
of every app). For every sweep point and policy (not the oracle) it takes the means over traces:
accuracy over all requests (dropped = wrong) against the device energy spent per frame (energy
over requests, times the number of apps), and prints them as a table; OUT.png (default
SHARED_RUN/sharing.png) draws accuracy against energy per frame, one line per run and policy.
"""
import argparse
import os
import sys

from sharing_table import read_json  # tools/ is the script's directory


def load(run):
    path = os.path.join(run, "report.json")
    r = read_json(path, "plot_sharing", "run mcdnn-run on the scenario first")
    if r.get("format") != "mcdnn-run-report/1":
        sys.exit(f"plot_sharing: {path}: not an mcdnn-run report")
    return r


def series(r):
    """policy -> [(budget J, energy per frame mJ, accuracy, accuracy sd, trunk runs per frame)]"""
    apps = len(r["apps"])
    out = {}
    for p in r["points"]:
        for pol in p["policies"]:
            if pol.get("upper_bound"):
                continue
            m, tr = pol["mean"], pol["traces"]
            frames = sum(t["requests"] for t in tr) / len(tr) / apps
            energy = sum(t["energy_j"] for t in tr) / len(tr)
            runs = sum(t.get("trunk_runs", 0) for t in tr) / len(tr)
            out.setdefault(pol["policy"], []).append((p["value"], 1e3 * energy / max(frames, 1), m["accuracy"],
                                                      m.get("accuracy_sd", 0), runs / max(frames, 1)))
    for v in out.values():
        v.sort(key=lambda x: x[1])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shared")
    ap.add_argument("independent")
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    runs = [("shared", series(load(a.shared))), ("independent", series(load(a.independent)))]
    print("| run | policy | energy budget | energy/frame | accuracy | trunk runs/frame |")
    print("|---|---|---|---|---|---|")
    for name, s in runs:
        for pol, pts in s.items():
            for b, e, acc, sd, tr in sorted(pts):
                print(f"| {name} | {pol} | {b:g} J | {e:.3f} mJ | {100 * acc:.2f}% ± {100 * sd:.2f} | {tr:.2f} |")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {"shared": "#c0392b", "independent": "#2c3e50"}
    for name, s in runs:
        for pol, pts in s.items():
            ax.errorbar([p[1] for p in pts], [100 * p[2] for p in pts], yerr=[100 * p[3] for p in pts], color=colors[name],
                        marker="o" if pol == "mcdnn" else "s", linestyle="-" if pol == "mcdnn" else "none", capsize=2,
                        label=f"{name}, {pol}")
    ax.set_xscale("log")
    ax.set_xlabel("device energy per frame (mJ, three tasks)")
    ax.set_ylabel("accuracy over all requests (%)")
    ax.set_title("Three tasks on one stream: a shared trunk vs independent models")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = a.out or os.path.join(a.shared, "sharing.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
