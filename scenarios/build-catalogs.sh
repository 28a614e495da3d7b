#!/bin/sh
# Builds the catalogs the shipped scenarios use, from the repository's schemas, into out/
# (incremental: an up-to-date catalog is skipped; a killed build resumes). Run from anywhere.
#   scenarios/build-catalogs.sh [extra mcdnn-compile flags, e.g. --limit 2000 --epochs 1]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
compile="$root/build/mcdnn-compile"
if [ ! -x "$compile" ]; then
  echo "build-catalogs: $compile is missing; run tools/setup.sh first" >&2
  exit 1
fi
for name in fashion-mnist fashion-mnist-3class fashion-mnist-body; do
  echo "== $name"
  "$compile" "$root/schemas/$name.yaml" -o "$root/out/$name" "$@"
done
# Fragments on the default catalog's conv trunk for scenarios/shared.yaml (sharing): each trains
# only its head on the trunk's outputs (about a minute each).
for name in fashion-mnist-clothes-head fashion-mnist-3class-head fashion-mnist-body-head; do
  echo "== $name"
  "$compile" "$root/schemas/$name.yaml" -o "$root/out/$name" "$@"
done
# Specialized variants for scenarios/skew.yaml (its two class sets), for four variants along the
# energy front; skipped when the catalog has them already (about 80 s each otherwise).
variants=base,prune-fc1-50+quant-int8,prune-fc1-97+quant-int8,narrow-conv1-16+svd-fc1-k64+prune-fc1-90
for set in "t-shirt,pullover,sneaker specialize-0_2_7" "trouser,dress,bag,ankle-boot specialize-1_3_8_9"; do
  classes=${set% *} id=${set#* }
  if ! grep -q "\"id\": \"$id\"" "$root/out/fashion-mnist/catalog.json"; then
    echo "== fashion-mnist: specialized to $classes"
    "$compile" "$root/schemas/fashion-mnist.yaml" --specialize "$root/out/fashion-mnist" --classes "$classes" --variants "$variants" "$@"
  fi
done
