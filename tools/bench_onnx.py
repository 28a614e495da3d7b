#!/usr/bin/env python3
"""Exports every variant of a catalog to ONNX (tools/mcdnn_export_onnx.py, compressed form), checks
each with the ONNX checker, runs it in OpenCV's DNN module on a labelled image set and compares with
the numpy reader; prints one row per variant and the worst case.

    python3 tools/bench_onnx.py CATALOG IMAGES LABELS [--limit N] [--form compressed|float]
"""
import argparse
import io
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcdnn_export_onnx as ex  # noqa: E402

reader, np = ex.reader, ex.np


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("catalog")
    p.add_argument("images")
    p.add_argument("labels")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--form", choices=("compressed", "float"), default="compressed")
    a = p.parse_args()
    catalog = reader.load_catalog(a.catalog)
    shape = catalog["input"]["shape"]
    x, total = reader.read_idx_images(a.images, shape, a.limit)
    y = reader.read_idx_labels(a.labels, a.images, total, len(x))
    reader.preprocess(x, catalog["input"]["mean"], catalog["input"]["std"])
    print(f"{'variant':58s} {'onnx bytes':>10s} {'stored':>9s} {'max|diff|/max|logit|':>21s} {'agree':>11s} "
          f"{'OpenCV acc':>10s} {'catalog':>8s}")
    worst, mismatched, t0 = 0.0, 0, time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        for v in catalog["variants"]:
            cat, entry, layers, f, groups = ex.load(a.catalog, v["id"])
            model = ex.build(cat, entry, layers, groups, a.form)
            path = os.path.join(d, "m.onnx")
            ex.onnx.save(model, path)
            buf = io.StringIO()
            with redirect_stdout(buf):
                ok, st = ex.verify(path, model, layers, x, y, entry, a.form)
            f.close()
            rel, agree, acc = st["relative_diff"], f"{st['agree']}/{st['n']}", f"{100 * st['accuracy']:.2f}"
            worst = max(worst, rel)
            mismatched += not ok
            print(f"{v['id']:58s} {os.path.getsize(path):10d} {v['bytes']:9d} {rel:21.2g} {agree:>11s} {acc:>9s}% "
                  f"{100 * v['accuracy']:7.2f}%", flush=True)
    print(f"{len(catalog['variants'])} variants, {len(x)} images each, {time.perf_counter() - t0:.0f} s; worst relative "
          f"logit difference {worst:.2g}; {mismatched} failed the check")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
