#!/usr/bin/env python3
"""Plot an mcdnn catalog: validation accuracy against stored bytes, effective FLOPs and, when the
catalog was measured by the executor, batch-1 latency and execution energy.

    python3 tools/plot_catalog.py CATALOG_DIR [-o OUT_PREFIX]

Writes OUT_PREFIX.png and OUT_PREFIX.svg (default: CATALOG_DIR/catalog). Both axes of resource
are logarithmic; every variant is a point; the Pareto front is drawn as a line with its points
labelled, and its knee (marked by mcdnn-compile in catalog.json) as a star.
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def label(v):
    # The id is the transform chain, compacted (iterative prunes show their last level).
    return v["id"]


def panel(ax, variants, get, front_key, knee_key, xlabel):
    xs = [get(v) for v in variants]
    ys = [100 * v["accuracy"] for v in variants]
    ax.scatter(xs, ys, s=14, color="#7a8ca5", zorder=2, label="variant")
    front = sorted((v for v in variants if v[front_key]), key=get)
    ax.plot([get(v) for v in front], [100 * v["accuracy"] for v in front], "-o", color="#c0392b",
            markersize=4, zorder=3, label="Pareto front")
    for v in variants:
        if v[knee_key]:
            ax.scatter([get(v)], [100 * v["accuracy"]], marker="*", s=260, color="#f1c40f",
                       edgecolors="black", zorder=4, label="knee: " + label(v))
    for x, y, v in zip(xs, ys, variants):
        if v[front_key]:
            ax.annotate(label(v), (x, y), fontsize=5, xytext=(3, 1.5), textcoords="offset points", color="#333333")
    base = next(v for v in variants if v["id"] == "base")
    ax.axhline(100 * base["accuracy"] - 1, color="#999999", linestyle=":", linewidth=0.8, label="base - 1 point")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy (%)")
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalog")
    ap.add_argument("-o", "--out")
    a = ap.parse_args(argv)
    with open(f"{a.catalog}/catalog.json") as f:
        cat = json.load(f)
    if cat.get("format") != "mcdnn-catalog":
        sys.exit(f"{a.catalog}/catalog.json: not an mcdnn catalog")
    variants = cat["variants"]
    measured = cat.get("executor") is not None
    fig, axes = plt.subplots(2 if measured else 1, 2, figsize=(17, 15 if measured else 8), squeeze=False)
    panel(axes[0][0], variants, lambda v: max(v["bytes"], 1), "pareto_bytes", "knee_bytes", "stored weight bytes (log)")
    panel(axes[0][1], variants, lambda v: max(v["flops_effective"], 1), "pareto_flops", "knee_flops",
          "effective FLOPs per input (log)")
    if measured:
        ex = cat["executor"]
        panel(axes[1][0], variants, lambda v: v["measured"]["latency_ms"], "pareto_latency", "knee_latency",
              f"measured batch-1 latency, ms (log; executor, {ex['isa']}, {ex['threads']} thread)")
        panel(axes[1][1], variants, lambda v: v["measured"]["exec_mj"], "pareto_energy", "knee_energy",
              f"execution energy per input, mJ (log; model {ex['energy_model']}, {ex['device_profile']})")
    base = next(v for v in variants if v["id"] == "base")
    fig.suptitle(f"{cat['schema']}: base model ({100 * base['accuracy']:.2f}%, {base['bytes'] / 1e6:.2f} MB, "
                 f"{base['flops'] / 1e6:.1f} MFLOPs) and {len(variants) - 1} variants ({cat['compiler']})")
    fig.tight_layout()
    out = a.out or f"{a.catalog}/catalog"
    fig.savefig(out + ".png", dpi=130)
    fig.savefig(out + ".svg")
    print(f"wrote {out}.png and {out}.svg")


if __name__ == "__main__":
    main(sys.argv[1:])
