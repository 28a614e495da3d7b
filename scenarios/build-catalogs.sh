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
