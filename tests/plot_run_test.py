#!/usr/bin/env python3
"""tools/plot_run.py: the cloud share's axis starts at 0.

plot_policies() on a swept report whose cloud share is 0 throughout: matplotlib's margins around
a line at 0 would take the axis below 0, which a share never is. Exits 0 when the axis runs from 0
to above it and policies.png is written, 1 otherwise.
    python3 tests/plot_run_test.py
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import plot_run  # noqa: E402

figs = []
plot_run.plt.close = lambda fig=None: figs.append(fig)  # keep the figure open to look at it


def policy(name, cloud):
    return {"policy": name, "mean": {"served_fraction": 1, "served_fraction_sd": 0, "accuracy": 0.9, "accuracy_sd": 0,
                                     "energy_per_request_j": 0.01, "cloud_fraction": cloud, "expected_accuracy": 0.9}}


report = {"cloud": {}, "apps": [], "scenario": {"name": "s", "mode": "simulated", "traces": 1},
          "points": [{"parameter": "cloud.budget", "value": v, "policies": [policy("mcdnn", 0.0), policy("original", 0.0)]}
                     for v in (1, 10, 100)]}
with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "policies.png")
    plot_run.plot_policies(report, out)
    written = os.path.getsize(out) > 0
figs = [f for f in figs if hasattr(f, "axes")]  # (not the backend's close("all"))
lo, hi = figs[0].axes[3].get_ylim()
ok = lo == 0 and hi > 0 and written
print(f"{'ok' if ok else 'FAIL'}: cloud share axis from {lo} to {hi}; policies.png {'written' if written else 'missing'}")
sys.exit(0 if ok else 1)
