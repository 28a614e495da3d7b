#!/usr/bin/env bash
# bench_large: a catalog of a VGG-16-sized model on this machine. Random data (N training and N
# validation images at 3x224x224, 1000 classes: accuracy is meaningless, time is the point), the
# VGG-16 network of schemas/vgg16.yaml, and a catalog section with the passes whose cost grows
# with layer size: quantize all 138 M weights (int8, 4-bit codebook), SVD of fc6 (25088x4096)
# at four ranks and fc7 at one, prune fc6 then a codebook. Prints the catalog's per-variant build
# times grouped by pass.
#   tools/bench_large.sh [N] [WORKDIR]     (default N=16, WORKDIR=out/bench-large)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-16}
work=${2:-out/bench-large}
mkdir -p "$work"
/usr/bin/python3 - "$work" "$n" <<'PY'
import sys, h5py, numpy as np
work, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for split in ("train", "val"):
    with h5py.File(f"{work}/{split}.h5", "w") as f:
        f["images"] = rng.integers(0, 256, (n, 3, 224, 224), dtype=np.uint8)
        f["labels"] = rng.integers(0, 1000, n, dtype=np.int64)
PY
{
  sed -n '/^format:/,/^network:/p' schemas/vgg16.yaml | grep -v '^network:'
  cat <<YAML
data:
  train: {hdf5: {file: train.h5, images: images, labels: labels}}
  validation: {hdf5: {file: val.h5, images: images, labels: labels}}
  normalize: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
YAML
  sed -n '/^network:/,$p' schemas/vgg16.yaml
  cat <<YAML
training: {epochs: 1, batch_size: 8, optimizer: sgd, lr: 0.001, momentum: 0.9, seed: 1}
catalog:
  finetune: {examples: $n, epochs: 1, batch_size: 8}
  variants:
    - quantize: {formats: [int8, cb4]}
    - svd: {layers: [fc6], ranks: [1/2, 1/4, 1/8, 1/16]}
    - svd: {layers: [fc7], ranks: [1/4]}
    - prune: {layers: [fc6], sparsity: [0.9], then: [{quantize: {formats: [cb4]}}]}
YAML
} > "$work/vgg16-bench.yaml"
start=$(date +%s)
./build/mcdnn-compile "$work/vgg16-bench.yaml" -o "$work/catalog" --force --measure-seconds 0 | tee "$work/log.txt"
echo "bench_large: $(( $(date +%s) - start )) s in all on $(nproc) cores"
/usr/bin/python3 - "$work/catalog/catalog.json" <<'PY'
import json, sys, collections
c = json.load(open(sys.argv[1]))
by = collections.OrderedDict()
for v in c["variants"]:
    last = v["transforms"][-1].split()[0] if v["transforms"] else "base (training)"
    by.setdefault(last, []).append(v["train_seconds"] if not v["transforms"] else v["build_seconds"])
total = sum(sum(t) for t in by.values())
for k, t in by.items():
    print(f"  {k:16s} {len(t):2d} variant(s) {sum(t):8.1f} s  {100 * sum(t) / total:5.1f}%")
print(f"  {'all':16s} {sum(len(t) for t in by.values()):2d}            {total:8.1f} s")
PY
