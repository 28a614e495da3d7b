#!/usr/bin/env bash
# submit.sh - build an mcdnn catalog on a Slurm cluster: the plan, then one job array per wave
# of the plan, then the merge, each a Slurm job depending on the ones before it.
#
#   tools/slurm/submit.sh [options] SCHEMA PLAN_DIR CATALOG [-- mcdnn-compile flags]
#
#   1. plan   (one job):   mcdnn-compile SCHEMA --plan PLAN_DIR FLAGS
#                          trains the base model, writes PLAN_DIR/plan.json, and as its last
#                          step runs this script again with --jobs-only to submit 2 and 3
#                          (the number of jobs is known only once the plan exists);
#   2. wave w (an array):  mcdnn-compile SCHEMA --plan PLAN_DIR --job $SLURM_ARRAY_TASK_ID FLAGS
#                          over the plan's job range of wave w, --dependency=afterok on wave w-1
#                          (every parent of a wave-w variant is built by an earlier wave);
#   3. merge  (one job):   mcdnn-compile SCHEMA --merge PLAN_DIR -o CATALOG FLAGS, afterok on
#                          every wave; it checks that every job finished, measures the variants
#                          and renames the catalog into place.
#
# Options:
#   --compiler PATH   the mcdnn-compile every job runs (default: mcdnn-compile on PATH, else the
#                     one in this checkout's build/). Every node must see it at this path.
#   --sbatch ARGS     extra sbatch arguments for every job, e.g. "--partition=gpu --time=4:00:00"
#   --cpus N          --cpus-per-task (default: the plan's thread count; 1 for the plan job
#                     unless FLAGS has --threads N)
#   --gpus N          GPUs per plan/variant job (default: 1 when FLAGS has --device cuda, else 0)
#   --logs DIR        Slurm output files (default: PLAN_DIR.slurm)
#   --jobs-only       PLAN_DIR/plan.json exists: submit only the waves and the merge. Jobs that
#                     already finished are kept (each prints "already built"), so after a
#                     failure, rerunning with --jobs-only builds only what is missing.
#   --print           print the sbatch commands instead of running them
#
# Prints one line per submitted job (its Slurm id and what it runs) and, last, the id of the
# merge job (the plan job's id when the waves are submitted from inside it).
# Paths must be on a file system every node shares. Needs: bash, sbatch, python3 (reads
# plan.json). docs/cluster.md has the whole procedure and what a real cluster needs.
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 2; }
usage() { sed -n '5p' "$0" | sed 's/^# */usage: /' >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
compiler="" sbatch_extra="" cpus="" gpus="" logs="" jobs_only=0 print=0
while (($#)); do
  case $1 in
    --compiler) compiler=${2:?--compiler needs a path}; shift 2 ;;
    --sbatch) sbatch_extra=${2?--sbatch needs arguments}; shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a number}; shift 2 ;;
    --gpus) gpus=${2:?--gpus needs a number}; shift 2 ;;
    --logs) logs=${2:?--logs needs a directory}; shift 2 ;;
    --jobs-only) jobs_only=1; shift ;;
    --print) print=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($# >= 3)) || usage
schema=$1 plan_dir=$2 catalog=$3
shift 3
if (($#)); then
  [[ $1 == -- ]] || die "unexpected argument '$1'; mcdnn-compile flags go after --"
  shift
fi
flags=("$@")
for f in ${flags[@]+"${flags[@]}"}; do
  case $f in
    --plan|--plan=*|--job|--job=*|--merge|--merge=*|-o|--output|--output=*)
      die "$f: submit.sh sets --plan, --job, --merge and -o itself" ;;
    --force|--restart)
      die "$f: would make every job start the plan over; remove PLAN_DIR yourself to start over" ;;
  esac
done
[[ $cpus == "" || $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus $cpus: expected a positive integer"
[[ $gpus == "" || $gpus =~ ^[0-9]+$ ]] || die "--gpus $gpus: expected a non-negative integer"
[[ -f $schema ]] || die "$schema: no such schema file"

if [[ -z $compiler ]]; then
  compiler=$(command -v mcdnn-compile || true)
  [[ -n $compiler ]] || compiler="$here/../../build/mcdnn-compile"
fi
[[ -x $compiler ]] || die "$compiler: not an executable mcdnn-compile; give --compiler PATH"
abs() { realpath -m -- "$1"; }
compiler=$(abs "$compiler") schema=$(abs "$schema") plan_dir=$(abs "$plan_dir") catalog=$(abs "$catalog")
logs=$(abs "${logs:-$plan_dir.slurm}")
command -v sbatch >/dev/null || ((print)) || die "sbatch not found: run this on a Slurm submit host (tools/slurm/local-cluster.sh starts a local one)"

# What a flag in FLAGS says: "--threads 4" or "--threads=4".
flag_value() {
  local want=$1 i
  for ((i = 0; i < ${#flags[@]}; i++)); do
    [[ ${flags[i]} == "$want" ]] && { echo "${flags[i + 1]:-}"; return; }
    [[ ${flags[i]} == "$want="* ]] && { echo "${flags[i]#*=}"; return; }
  done
  return 0
}
device=$(flag_value --device)
[[ -n $gpus ]] || { [[ $device == cuda ]] && gpus=1 || gpus=0; }

q() { if (($#)); then printf '%q ' "$@"; fi; }
# sbatch NAME [sbatch args...] -- COMMAND...: submits, prints the id.
submit() {
  local name=$1; shift
  local args=()
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  local cmd=(sbatch --parsable --job-name="$name" --output="$logs/$name-%A_%a.out" ${args[@]+"${args[@]}"})
  # shellcheck disable=SC2206
  [[ -n $sbatch_extra ]] && cmd+=($sbatch_extra)
  cmd+=(--wrap "$(q "$@")")
  if ((print)); then
    echo "$(q "${cmd[@]}")" >&2
    echo "PRINTED-$name"
  else
    "${cmd[@]}" | cut -d';' -f1
  fi
}
gres=()
((gpus > 0)) && gres=(--gres="gpu:$gpus")
mkdir -p "$logs"

if ((!jobs_only)); then
  plan_cpus=${cpus:-$(flag_value --threads)}
  plan_cpus=${plan_cpus:-1}
  # The plan job submits the rest once the plan exists.
  rest=("$here/$prog" --jobs-only --compiler "$compiler" --logs "$logs")
  [[ -n $sbatch_extra ]] && rest+=(--sbatch "$sbatch_extra")
  [[ -n $cpus ]] && rest+=(--cpus "$cpus")
  rest+=(--gpus "$gpus" "$schema" "$plan_dir" "$catalog" -- ${flags[@]+"${flags[@]}"})
  id=$(submit mcdnn-plan --cpus-per-task="$plan_cpus" ${gres[@]+"${gres[@]}"} -- \
    bash -c "$(q "$compiler" "$schema" --plan "$plan_dir" ${flags[@]+"${flags[@]}"}) && $(q "${rest[@]}")")
  echo "$id plan: $compiler $schema --plan $plan_dir (then submits the waves and the merge)"
  echo "$id"
  exit 0
fi

[[ -f $plan_dir/plan.json ]] || die "$plan_dir/plan.json: no plan; run without --jobs-only to make it first"
read -r threads waves < <(python3 - "$plan_dir/plan.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
print(p["threads"], " ".join(f"{w['wave']}:{w['first']}-{w['last']}" for w in p["waves"]))
PY
)
job_cpus=${cpus:-$threads}
deps=()
for w in $waves; do
  range=${w#*:}
  dep=()
  ((${#deps[@]})) && dep=(--dependency="afterok:$(IFS=:; echo "${deps[*]}")")
  id=$(submit "mcdnn-wave${w%%:*}" --array="$range" --cpus-per-task="$job_cpus" ${gres[@]+"${gres[@]}"} ${dep[@]+"${dep[@]}"} -- \
    bash -c "$(q "$compiler" "$schema" --plan "$plan_dir") --job \$SLURM_ARRAY_TASK_ID $(q ${flags[@]+"${flags[@]}"})")
  echo "$id wave ${w%%:*}: jobs $range"
  deps+=("$id")
done
dep=()
((${#deps[@]})) && dep=(--dependency="afterok:$(IFS=:; echo "${deps[*]}")")
id=$(submit mcdnn-merge --cpus-per-task=1 ${dep[@]+"${dep[@]}"} -- "$compiler" "$schema" --merge "$plan_dir" -o "$catalog" ${flags[@]+"${flags[@]}"})
echo "$id merge: $catalog"
echo "$id"
