#!/usr/bin/env python3
"""Plot an mcdnn catalog: validation accuracy against stored bytes and against effective FLOPs.

    python3 tools/plot_catalog.py CATALOG_DIR [-o OUT_PREFIX]

Writes OUT_PREFIX.png and OUT_PREFIX.svg (default: CATALOG_DIR/catalog). Both axes of resource
are logarithmic; every variant is a point labelled by its transforms; the Pareto front is drawn
as a line and its knee (marked by mcdnn-compile in catalog.json) as a star.
"""
import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def label(v):
    return "base" if not v["transforms"] else " + ".join(v["transforms"])


def panel(ax, variants, key, front_key, knee_key, xlabel):
    xs = [max(v[key], 1) for v in variants]
    ys = [100 * v["accuracy"] for v in variants]
    ax.scatter(xs, ys, s=14, color="#7a8ca5", zorder=2, label="variant")
    front = sorted((v for v in variants if v[front_key]), key=lambda v: v[key])
    ax.plot([max(v[key], 1) for v in front], [100 * v["accuracy"] for v in front], "-o", color="#c0392b",
            markersize=4, zorder=3, label="Pareto front")
    for v in variants:
        if v[knee_key]:
            ax.scatter([max(v[key], 1)], [100 * v["accuracy"]], marker="*", s=260, color="#f1c40f",
                       edgecolors="black", zorder=4, label="knee: " + label(v))
    for x, y, v in zip(xs, ys, variants):
        ax.annotate(label(v), (x, y), fontsize=4.5, xytext=(3, 2), textcoords="offset points", color="#333333")
    base = next(v for v in variants if v["id"] == "base")
    ax.axhline(100 * base["accuracy"] - 1, color="#999999", linestyle=":", linewidth=0.8, label="base - 1 point")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("validation accuracy (%)")
    accs = sorted(ys)
    lo = accs[max(0, len(accs) // 5 - 1)]  # keep the interesting top of the range readable
    ax.set_ylim(max(min(ys), lo - 5), max(ys) + 0.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


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
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    panel(axes[0], variants, "bytes", "pareto_bytes", "knee_bytes", "stored weight bytes (log)")
    panel(axes[1], variants, "flops_effective", "pareto_flops", "knee_flops", "effective FLOPs per input (log)")
    fig.suptitle(f"{cat['schema']}: {len(variants)} variants ({cat['compiler']})")
    fig.tight_layout()
    out = a.out or f"{a.catalog}/catalog"
    fig.savefig(out + ".png", dpi=130)
    fig.savefig(out + ".svg")
    print(f"wrote {out}.png and {out}.svg")


if __name__ == "__main__":
    main(sys.argv[1:])
