#!/usr/bin/env bash
# Builds one catalog twice and compares: locally in one process (the baseline), then through a
# local single-node Slurm (tools/slurm/local-cluster.sh) as the plan job, one job array per wave
# and the merge (tools/slurm/submit.sh). Prints both wall times, their ratio, the jobs and waves,
# and whether the catalogs are equal in every field but timings (tools/compare_catalogs.py).
#   tools/bench_slurm.sh [SCHEMA [mcdnn-compile flags...]]
#   default: schemas/fashion-mnist.yaml --limit 5000 --epochs 2 --threads 1 --measure-seconds 0
# Run it on an idle machine; the Slurm node offers every core, one job per core.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
compiler=$repo/build/mcdnn-compile
schema=$(realpath "${1:-$repo/schemas/fashion-mnist.yaml}")
(($#)) && shift
flags=("$@")
((${#flags[@]})) || flags=(--limit 5000 --epochs 2 --threads 1 --measure-seconds 0)

tmp=$(mktemp -d /tmp/mcdnn-bench-slurm.XXXXXX)
cleanup() {
  "$repo/tools/slurm/local-cluster.sh" stop "$tmp/cluster" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "bench_slurm: $schema ${flags[*]}; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
t=$(now)
"$compiler" "$schema" "${flags[@]}" -o "$tmp/local" >"$tmp/local.log" 2>&1 || { tail -20 "$tmp/local.log"; exit 1; }
local_s=$(elapsed "$t")
printf 'local build (one process):       %7.1f s\n' "$local_s"

eval "$("$repo/tools/slurm/local-cluster.sh" start "$tmp/cluster" 2>/dev/null)"
t=$(now)
"$repo/tools/slurm/submit.sh" --compiler "$compiler" "$schema" "$tmp/plan" "$tmp/slurm" -- "${flags[@]}" >/dev/null
sleep 1
while [[ -n $(squeue -h -o %i) ]]; do sleep 0.5; done
slurm_s=$(elapsed "$t")
[[ -f $tmp/slurm/catalog.json ]] || { echo "no merged catalog"; tail -n 20 "$tmp"/plan.slurm/*.out; exit 1; }
shape=$(python3 -c "import json,sys; p=json.load(open(sys.argv[1])); print(len(p['jobs']), 'jobs in', len(p['waves']), 'waves:', ', '.join(str(w['last']-w['first']+1) for w in p['waves']))" "$tmp/plan/plan.json")
busy=$(python3 -c "import json,glob,sys; print('%.1f' % sum(json.load(open(f))['seconds'] for f in glob.glob(sys.argv[1]+'/job-*.json')))" "$tmp/plan")
printf 'through Slurm (plan, arrays, merge): %7.1f s  (%s; the jobs themselves %s s)\n' "$slurm_s" "$shape" "$busy"
python3 -c "import sys; print('Slurm / local: %.2fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$slurm_s" "$local_s"
/usr/bin/python3 "$repo/tools/compare_catalogs.py" "$tmp/local" "$tmp/slurm"
