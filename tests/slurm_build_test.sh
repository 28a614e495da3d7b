#!/usr/bin/env bash
# CTest "slurm: ..." (label slurm): a catalog built through a real single-node Slurm
# (tools/slurm/local-cluster.sh: munged, slurmctld, slurmd on localhost) with
# tools/slurm/submit.sh - the plan job, one job array per wave, the merge - equals the catalog
# a single local build makes, in every field but timings and every variant file byte for byte
# (tools/compare_catalogs.py).
#   tests/slurm_build_test.sh BUILD_DIR
# Exit 0 pass, 1 fail. Needs slurm-wlm and munge (tools/setup.sh installs them).
set -euo pipefail
build=$(realpath "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
compiler=$build/mcdnn-compile
[[ -x $compiler ]] || { echo "no $compiler" >&2; exit 1; }

tmp=$(mktemp -d /tmp/mcdnn-slurm.XXXXXX)  # short: socket paths live under it
cleanup() {
  "$repo/tools/slurm/local-cluster.sh" stop "$tmp/cluster" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# A tiny data set the test writes itself: 4 classes of 12x12 images, class k a bright square
# in quadrant k over noise (fixed seed), as IDX files.
/usr/bin/python3 - "$tmp" <<'PY'
import random, struct, sys
d = sys.argv[1]
def write(prefix, n, seed):
    rnd = random.Random(seed)
    images, labels = bytearray(), bytearray()
    for i in range(n):
        k = i % 4
        img = [rnd.randrange(0, 96) for _ in range(144)]
        r0, c0 = (k // 2) * 6, (k % 2) * 6
        for r in range(r0 + 1, r0 + 5):
            for c in range(c0 + 1, c0 + 5):
                img[r * 12 + c] = 160 + rnd.randrange(0, 96)
        images += bytes(img)
        labels.append(k)
    with open(f"{d}/{prefix}-images.idx", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 12, 12) + images)
    with open(f"{d}/{prefix}-labels.idx", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + labels)
write("train", 300, 81)
write("val", 100, 82)
PY
cat > "$tmp/s.yaml" <<'EOF'
format: mcdnn-schema/1
name: slurm-tiny
input: {channels: 1, height: 12, width: 12}
classes: 4
data:
  train: {idx: {images: train-images.idx, labels: train-labels.idx}}
  validation: {idx: {images: val-images.idx, labels: val-labels.idx}}
network:
  - conv2d: {out: 8, kernel: 3, padding: 1}
  - relu
  - maxpool: {kernel: 2}
  - flatten
  - linear: {out: 32}
  - relu
  - linear: {out: 4}
training: {epochs: 2, batch_size: 32, optimizer: adam, lr: 0.003, seed: 3}
catalog:
  finetune: {examples: 200, epochs: 1, lr: 0.002}
  variants:
    - quantize: {formats: [int8, cb4]}
    - svd: {layers: [fc1], ranks: [1/2, energy=0.9], then: [{quantize: {formats: [int8]}}]}
    - prune: {layers: all, sparsity: [0.5, 0.8], iterative: true, then: [{quantize: {formats: [cb2], finetune: true}}]}
    - narrow: {layers: [conv1], keep: [1/2], then: [{svd: {layers: [fc1], ranks: [1/4]}}]}
EOF

flags=(--threads 1 --measure-seconds 0)
t0=$(date +%s)
eval "$("$repo/tools/slurm/local-cluster.sh" start "$tmp/cluster")"
echo "slurm: cluster up in $(($(date +%s) - t0)) s"
t1=$(date +%s)
"$repo/tools/slurm/submit.sh" --compiler "$compiler" "$tmp/s.yaml" "$tmp/plan" "$tmp/merged" -- "${flags[@]}"
# Wait for the plan job, the waves it submits and the merge: the queue empties.
deadline=$(($(date +%s) + 600))
sleep 2
while [[ -n $(squeue -h -o %i) ]]; do
  (($(date +%s) < deadline)) || { echo "FAIL: jobs still queued after 600 s"; squeue; exit 1; }
  sleep 1
done
echo "slurm: plan, waves and merge finished in $(($(date +%s) - t1)) s"
if [[ ! -f $tmp/merged/catalog.json ]]; then
  echo "FAIL: no merged catalog; the Slurm job logs:"
  tail -n 20 "$tmp"/plan.slurm/*.out
  exit 1
fi
waves=$(/usr/bin/python3 -c "import json,sys; p=json.load(open(sys.argv[1])); print(len(p['jobs']), 'jobs in', len(p['waves']), 'waves')" "$tmp/plan/plan.json")
echo "slurm: $waves, $(ls "$tmp"/plan.slurm | wc -l) Slurm job logs"
"$compiler" "$tmp/s.yaml" "${flags[@]}" -o "$tmp/whole" >"$tmp/whole.log" 2>&1 || { cat "$tmp/whole.log"; exit 1; }
/usr/bin/python3 "$repo/tools/compare_catalogs.py" "$tmp/whole" "$tmp/merged"
