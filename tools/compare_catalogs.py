#!/usr/bin/env python3
"""Checks that two mcdnn catalogs are the same build: every field of catalog.json equal except
timings, and every variant (and kept features) file byte-identical (its SHA-256, recomputed
from the file).

    tools/compare_catalogs.py CATALOG_A CATALOG_B

Timings are the fields that measure time or depend on the machine's speed: train_seconds,
build_seconds, eval_images_per_s, and `measured` (executor latencies, loads, energy) with the
Pareto flags and knees over latency and energy, and the top-level `executor`. Exit 0 when the
catalogs match, 1 when they differ (each difference listed), 2 on unreadable input.
Used to check that a build split into jobs (mcdnn-compile --plan/--job/--merge, tools/slurm/)
equals the single-machine build."""
import hashlib
import json
import os
import sys

TIMING = {"train_seconds", "build_seconds", "eval_images_per_s", "measured",
          "pareto_latency", "pareto_energy", "knee_latency", "knee_energy"}
TOP_TIMING = {"executor"}


def load(d):
    path = os.path.join(d, "catalog.json")
    try:
        with open(path, encoding="utf-8") as f:
            c = json.load(f)
    except (OSError, ValueError) as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        sys.exit(2)
    ok = isinstance(c, dict) and c.get("format") == "mcdnn-catalog" and isinstance(c.get("variants"), list)
    ok = ok and all(isinstance(v, dict) and isinstance(v.get("id"), str) and isinstance(v.get("file"), str)
                    and isinstance(v.get("sha256"), str) for v in c["variants"])
    if not ok:
        print(f"error: {path}: not an mcdnn catalog (format, variants with id, file and sha256)", file=sys.stderr)
        sys.exit(2)
    return c


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    a_dir, b_dir = sys.argv[1], sys.argv[2]
    a, b = load(a_dir), load(b_dir)
    diffs = []
    for k in sorted(set(a) | set(b)):
        if k in TOP_TIMING or k in ("variants", "features"):
            continue
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: {json.dumps(a.get(k))[:200]} != {json.dumps(b.get(k))[:200]}")
    av, bv = a.get("variants", []), b.get("variants", [])
    if [v["id"] for v in av] != [v["id"] for v in bv]:
        diffs.append("variant ids or their order differ: " + str([v["id"] for v in av]) + " != " + str([v["id"] for v in bv]))
    for x, y in zip(av, bv):
        for k in sorted(set(x) | set(y)):
            if k not in TIMING and x.get(k) != y.get(k):
                diffs.append(f"{x['id']}.{k}: {json.dumps(x.get(k))[:200]} != {json.dumps(y.get(k))[:200]}")
        for d, v in ((a_dir, x), (b_dir, y)):
            f = os.path.join(d, v["file"])
            if not os.path.isfile(f) or sha256(f) != v["sha256"]:
                diffs.append(f"{f}: missing, or its SHA-256 differs from catalog.json's")
    # Kept pre-forwarded features (format 6): every field but the time they took, and the files.
    af, bf = a.get("features", []), b.get("features", [])
    strip = lambda fs: [{k: v for k, v in f.items() if k != "seconds"} for f in fs if isinstance(f, dict)]
    if strip(af) != strip(bf):
        diffs.append(f"features: {json.dumps(strip(af))[:200]} != {json.dumps(strip(bf))[:200]}")
    for d, fs in ((a_dir, af), (b_dir, bf)):
        for f in fs:
            if isinstance(f, dict) and isinstance(f.get("file"), str):
                p = os.path.join(d, f["file"])
                if not os.path.isfile(p) or sha256(p) != f.get("sha256"):
                    diffs.append(f"{p}: missing, or its SHA-256 differs from catalog.json's")
    for line in diffs:
        print(line)
    n = len(av)
    print(f"{'same' if not diffs else 'DIFFERENT'}: {n} variants compared in every field but timings, "
          f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
