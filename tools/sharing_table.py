#!/usr/bin/env python3
"""Sharing against independent models (issue 9): energy per frame of several tasks on one stream.

    python3 tools/sharing_table.py --shared A,B,C --independent X,Y,Z

A, B, C are fragment catalogs on one trunk (schemas with `trunk:`), X, Y, Z catalogs of whole
networks for the same tasks, in the same order. Only catalog.json is read (the executor's
measured costs). For each operating point every task gets an accuracy target taken from its
independent catalog; each side then runs, for each task, its cheapest variant (by measured
execution energy) at least that accurate:

    shared       trunk once + each fragment       (the trunk's costs are catalog.json's `trunk`)
    independent  each task's whole network

and the table gives energy, latency and resident weight bytes per frame (all tasks classify the
frame) and the ratio shared / independent. A point where some fragment reaches no target is
n/a. Stored bytes: the trunk's prefix once plus each fragment's file payload.
"""
import argparse
import json
import os
import sys


def read_json(path, tool, missing_hint):
    """A JSON file another mcdnn tool wrote; a clear one-line exit when it is missing or damaged."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except OSError as e:
        sys.exit(f"{tool}: {path}: {e.strerror}; {missing_hint}")
    except json.JSONDecodeError as e:
        sys.exit(f"{tool}: {path}: not JSON ({e})")


def load(path):
    f = os.path.join(path, "catalog.json")
    c = read_json(f, "sharing_table", "build the catalog first (scenarios/build-catalogs.sh)")
    if c.get("format") != "mcdnn-catalog" or c.get("executor") is None:
        sys.exit(f"sharing_table: {f}: not a measured mcdnn catalog (build it with --measure-seconds > 0)")
    c["generic"] = [v for v in c["variants"] if not v.get("specialized")]
    return c


def cheapest(c, target):
    ok = [v for v in c["generic"] if v["accuracy"] >= target - 1e-12]
    return min(ok, key=lambda v: (v["measured"]["exec_mj"], -v["accuracy"])) if ok else None


def targets(ind):
    """Operating points: name -> accuracy target per independent catalog."""
    best = [max(v["accuracy"] for v in c["generic"]) for c in ind]
    base = [c["variants"][0]["accuracy"] for c in ind]
    knee = []
    for c in ind:
        k = [v for v in c["generic"] if v.get("knee_energy")]
        knee.append(k[0]["accuracy"] if k else c["variants"][0]["accuracy"])
    return [("each task's independent base model", base),
            ("the independent catalogs' energy knees", knee),
            ("0.5 points below the independent best", [b - 0.005 for b in best]),
            ("1 point below the independent best", [b - 0.01 for b in best]),
            ("the independent best", best)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", required=True, help="fragment catalogs, comma-separated")
    ap.add_argument("--independent", required=True, help="whole-network catalogs for the same tasks, same order")
    a = ap.parse_args()
    sh = [load(p) for p in a.shared.split(",")]
    ind = [load(p) for p in a.independent.split(",")]
    if len(sh) != len(ind):
        sys.exit("sharing_table: --shared and --independent must list the same number of tasks")
    trunks = set()
    for p, c in zip(a.shared.split(","), sh):
        t = c.get("trunk")
        if not t:
            sys.exit(f"sharing_table: {p} has no trunk: --shared takes fragment catalogs")
        trunks.add((t["variant"], t["layer"], t["sha256"]))
    if len(trunks) != 1:
        sys.exit("sharing_table: the --shared catalogs are built on different trunks; list fragments of one trunk")
    trunk = sh[0]["trunk"]
    tm = trunk["measured"]
    if tm is None:
        sys.exit(f"sharing_table: {a.shared.split(',')[0]}: the trunk is not measured; rebuild with --measure-seconds > 0")
    print(f"trunk: {trunk['catalog']} variant {trunk['variant']} up to {trunk['layer']}: {tm['exec_mj']:.3f} mJ, "
          f"{tm['latency_ms']:.3f} ms, {tm['resident_bytes']} B resident, {trunk['bytes']} B stored; "
          f"executor on {sh[0]['executor']['cpu']} ({sh[0]['executor']['isa']}, 1 thread), energy {sh[0]['executor']['device_profile']}\n")
    print("| operating point | task | shared: fragment | acc | mJ | independent | acc | mJ |")
    print("|---|---|---|---|---|---|---|---|")
    summary = []
    for name, tgt in targets(ind):
        picks = [(cheapest(s, t), cheapest(i, t)) for s, i, t in zip(sh, ind, tgt)]
        for k, ((f, g), s) in enumerate(zip(picks, sh)):
            fs = f"{f['id']} | {100 * f['accuracy']:.2f}% | {f['measured']['exec_mj']:.3f}" if f else "none this accurate | - | -"
            gs = f"{g['id']} | {100 * g['accuracy']:.2f}% | {g['measured']['exec_mj']:.3f}" if g else "- | - | -"
            print(f"| {name if k == 0 else ''} | {s['schema']} | {fs} | {gs} |")
        if any(f is None or g is None for f, g in picks):
            summary.append((name, None))
            continue
        e_sh = tm["exec_mj"] + sum(f["measured"]["exec_mj"] for f, _ in picks)
        e_in = sum(g["measured"]["exec_mj"] for _, g in picks)
        l_sh = tm["latency_ms"] + sum(f["measured"]["latency_ms"] for f, _ in picks)
        l_in = sum(g["measured"]["latency_ms"] for _, g in picks)
        m_sh = tm["resident_bytes"] + sum(f["measured"]["resident_bytes"] for f, _ in picks)
        m_in = sum(g["measured"]["resident_bytes"] for _, g in picks)
        b_sh = trunk["bytes"] + sum(f["bytes"] for f, _ in picks)
        b_in = sum(g["bytes"] for _, g in picks)
        frag_bytes = [f["bytes"] for f, _ in picks]
        summary.append((name, (e_sh, e_in, l_sh, l_in, m_sh, m_in, b_sh, b_in, frag_bytes)))
    print("\n| operating point | energy/frame shared | independent | ratio | latency/frame shared | independent | "
          "resident shared | independent | stored shared (fragments) | independent |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in summary:
        if r is None:
            print(f"| {name} | n/a: a fragment reaches no target | | | | | | | | |")
            continue
        e_sh, e_in, l_sh, l_in, m_sh, m_in, b_sh, b_in, fb = r
        frags = " + ".join(f"{b / 1e3:.1f}" for b in fb)
        print(f"| {name} | {e_sh:.3f} mJ | {e_in:.3f} mJ | {e_sh / e_in:.2f} | {l_sh:.3f} ms | {l_in:.3f} ms | "
              f"{m_sh / 1e3:.0f} KB | {m_in / 1e3:.0f} KB | {b_sh / 1e3:.1f} KB ({frags}) | {b_in / 1e3:.0f} KB |")


if __name__ == "__main__":
    main()
