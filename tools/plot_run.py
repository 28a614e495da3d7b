#!/usr/bin/env python3
"""Plot an mcdnn-run report: the policies compared, and budgets and choices over time.

    python3 tools/plot_run.py RUN_DIR

RUN_DIR is mcdnn-run's output directory (report.json, timeline.csv). Writes into it:
  policies.png  served requests, accuracy over all requests (dropped = wrong; the oracle's upper
                bound as a dashed line) and device energy per request for every policy; against
                the swept parameter when the scenario has a sweep (means over its traces, error
                bars one standard deviation), else as bars
  skew.png      with mcdnn-specialize: every policy's accuracy over time (rolling, first trace)
                and the requests a specialized cascade served
  timeline.png  the first trace of the first point: energy left over the day for every policy,
                mcdnn's per-request energy budget, and the accuracy of the variant mcdnn chose
                for each request of each app (dropped requests at 0)
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"mcdnn": "#c0392b", "mcdnn-specialize": "#2980b9", "mcdnn-paper": "#e67e22", "original": "#2c3e50", "best": "#27ae60",
          "server-first": "#8e44ad", "oracle": "#7f8c8d"}


def fail(msg):
    sys.exit("plot_run: " + msg)


def load(run_dir):
    path = os.path.join(run_dir, "report.json")
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read an mcdnn-run report ({e}); run mcdnn-run -o {run_dir} first")
    if report.get("format") != "mcdnn-run-report/1":
        fail(f"{path}: not an mcdnn-run report (format {report.get('format')!r})")
    return report


def unit_of(parameter):
    return {"device.energy": "J", "device.cache": "bytes", "device.latency_limit": "s",
            "cloud.transmission_energy": "J", "cloud.budget": "$", "rate_scale": "x"}.get(parameter, "")


def plot_policies(report, out):
    points = sorted(report["points"], key=lambda p: p["value"])  # a sweep may list its values in any order
    sweep = len(points) > 1
    cloud = report.get("cloud") is not None
    fig, axes = plt.subplots(1, 4 if cloud else 3, figsize=(20 if cloud else 15, 4.2))
    names = [p["policy"] for p in points[0]["policies"]]
    if sweep:
        xs = [p["value"] for p in points]
        for name in names:
            rows = [next(q for q in p["policies"] if q["policy"] == name)["mean"] for p in points]
            c = COLORS.get(name, None)
            if name == "oracle":
                axes[1].plot(xs, [100 * r["expected_accuracy"] for r in rows], "--", color=c, label="oracle (upper bound)")
                continue
            axes[0].errorbar(xs, [100 * r["served_fraction"] for r in rows], [100 * r["served_fraction_sd"] for r in rows],
                             marker="o", ms=4, color=c, label=name, capsize=2)
            axes[1].errorbar(xs, [100 * r["accuracy"] for r in rows], [100 * r["accuracy_sd"] for r in rows],
                             marker="o", ms=4, color=c, label=name, capsize=2)
            axes[2].plot(xs, [1e3 * r["energy_per_request_j"] for r in rows], marker="o", ms=4, color=c, label=name)
            if cloud:
                axes[3].plot(xs, [100 * r.get("cloud_fraction", 0) for r in rows], marker="o", ms=4, color=c, label=name)
        xlabel = f"{points[0]['parameter']} ({unit_of(points[0]['parameter'])})"
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3, which="both")
    else:
        pol = points[0]["policies"]
        xs = list(range(len(pol)))
        panels = [(axes[0], "served_fraction", 100), (axes[1], "accuracy", 100), (axes[2], "energy_per_request_j", 1e3)]
        if cloud:
            panels.append((axes[3], "cloud_fraction", 100))
        for ax, key, scale in panels:
            vals = [scale * (p["mean"]["expected_accuracy"] if p["policy"] == "oracle" and key == "accuracy"
                             else p["mean"].get(key, 0) if p["policy"] != "oracle" else 0) for p in pol]
            ax.bar(xs, vals, color=[COLORS.get(p["policy"], "#95a5a6") for p in pol])
            ax.set_xticks(xs)
            ax.set_xticklabels([p["policy"] + (" (bound)" if p["policy"] == "oracle" else "") for p in pol], rotation=20, fontsize=8)
            for x, v in zip(xs, vals):
                if v:
                    ax.annotate(f"{v:.1f}" if scale == 100 else f"{v:.2f}", (x, v), ha="center", va="bottom", fontsize=8)
            ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("requests served (%)")
    axes[1].set_ylabel("accuracy over all requests (%)")
    axes[2].set_ylabel("device energy per request (mJ)")
    if cloud:
        axes[3].set_ylabel("requests served in the cloud (%)")
        axes[3].set_ylim(0, max(axes[3].get_ylim()[1], 1))  # a share: never below 0 (the margins of a line at 0 would go there)
    axes[0].set_ylim(0, 105)
    if sweep:
        axes[0].legend(fontsize=8)
        axes[1].legend(fontsize=8)
    s = report["scenario"]
    fig.suptitle(f"{s['name']}: {s['mode']}, {len(report['apps'])} apps, {s['traces']} trace(s) per point")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def save_first_point(fig, report, what, out):
    """Titles a figure of the first sweep point's first trace and writes it."""
    first = report["points"][0]
    where = f" at {first['parameter']} = {first['value']:g}" if first["parameter"] else ""
    fig.suptitle(f"{report['scenario']['name']}{where}: {what}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def plot_timeline(report, run_dir, out):
    path = os.path.join(run_dir, "timeline.csv")
    try:
        with open(path) as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail(f"{path}: {e}")
    if not rows:
        return False
    # Variant accuracies are not in the timeline: read them from each app's catalog when present.
    cat_acc = {}
    for a in report["apps"]:
        try:
            with open(os.path.join(a["catalog"], "catalog.json")) as f:
                cat_acc[a["name"]] = {v["id"]: v["accuracy"] for v in json.load(f)["variants"]}
        except (OSError, ValueError, KeyError):
            cat_acc[a["name"]] = {}
    fig, axes = plt.subplots(2, 1, figsize=(12, 7), sharex=True)
    policies = sorted({r["policy"] for r in rows}, key=lambda p: list(COLORS).index(p) if p in COLORS else 99)
    for p in policies:
        pr = [r for r in rows if r["policy"] == p]
        axes[0].plot([float(r["t_s"]) / 3600 for r in pr], [float(r["energy_left_j"]) for r in pr], color=COLORS.get(p), label=f"{p}: energy left")
    mc = [r for r in rows if r["policy"] == "mcdnn"]
    if mc:
        ax2 = axes[0].twinx()
        budgets = [1e3 * float(r["budget_j"]) for r in mc]
        ax2.plot([float(r["t_s"]) / 3600 for r in mc], budgets, ",", color="#c0392b", alpha=0.4)
        ax2.set_ylabel("mcdnn per-request budget (mJ, dots)")
        top = sorted(budgets)[int(0.99 * (len(budgets) - 1))]  # the first requests' budgets are outliers
        ax2.set_ylim(0, 1.2 * top if top > 0 else 1)
        apps = [a["name"] for a in report["apps"]]
        markers = "o^sDv"
        for i, name in enumerate(apps):
            ar = [r for r in mc if r["app"] == name]
            ys = [100 * cat_acc[name].get(r["variant"], 0) if r["variant"] else 0 for r in ar]
            axes[1].scatter([float(r["t_s"]) / 3600 for r in ar], ys, s=4, marker=markers[i % len(markers)], label=name, alpha=0.6)
        axes[1].set_ylabel("accuracy of mcdnn's choice (%; 0 = dropped)")
        axes[1].legend(fontsize=8, markerscale=3)
        axes[1].grid(alpha=0.3)
    axes[0].set_ylabel("energy left (J)")
    axes[0].legend(fontsize=8, loc="lower left")
    axes[0].grid(alpha=0.3)
    axes[1].set_xlabel("time (h)")
    return save_first_point(fig, report, "the first trace over time", out)


def plot_skew(report, run_dir, out):
    """With mcdnn-specialize in the run: the accuracy over time (a rolling mean over 300 requests
    of the first trace) of every policy, and which requests a specialized cascade served."""
    path = os.path.join(run_dir, "timeline.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not any(r["policy"] == "mcdnn-specialize" for r in rows):
        return False
    spec_ids = set()
    for a in report["apps"]:
        try:
            with open(os.path.join(a["catalog"], "catalog.json")) as f:
                spec_ids |= {v["id"] for v in json.load(f)["variants"] if v.get("specialized")}
        except (OSError, ValueError, KeyError):
            pass
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    win = 300
    for p in ["mcdnn", "mcdnn-specialize"]:
        pr = [r for r in rows if r["policy"] == p]
        if len(pr) <= win:
            continue
        ok = [1.0 if r["correct"] in ("1", "true") else 0.0 for r in pr]
        run, acc = sum(ok[:win]), []
        for i in range(win, len(ok)):
            acc.append(100 * run / win)
            run += ok[i] - ok[i - win]
        axes[0].plot([float(r["t_s"]) / 3600 for r in pr[win:]], acc, color=COLORS.get(p), label=p)
    sp = [r for r in rows if r["policy"] == "mcdnn-specialize"]
    axes[1].scatter([float(r["t_s"]) / 3600 for r in sp], [1 if r["variant"] in spec_ids else 0 for r in sp], s=2,
                    color=COLORS["mcdnn-specialize"])
    axes[1].set_yticks([0, 1])
    axes[1].set_yticklabels(["generic", "cascade"])
    axes[1].set_ylim(-0.5, 1.5)
    axes[1].set_xlabel("time (h)")
    axes[0].set_ylabel(f"accuracy, last {win} requests (%)")
    axes[0].legend(fontsize=9)
    axes[0].grid(alpha=0.3)
    return save_first_point(fig, report, "accuracy over time, and when mcdnn-specialize ran a specialized cascade", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    args = ap.parse_args()
    report = load(args.run_dir)
    plot_policies(report, os.path.join(args.run_dir, "policies.png"))
    wrote = ["policies.png"]
    if plot_timeline(report, args.run_dir, os.path.join(args.run_dir, "timeline.png")):
        wrote.append("timeline.png")
        if plot_skew(report, args.run_dir, os.path.join(args.run_dir, "skew.png")):
            wrote.append("skew.png")
    print(f"wrote {', '.join(os.path.join(args.run_dir, w) for w in wrote)}")


if __name__ == "__main__":
    main()
