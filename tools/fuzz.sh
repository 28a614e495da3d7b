#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/README.md) into build-fuzz/ with clang and runs each for
# a while, one at a time, on a scratch copy of its seed corpus (fuzz/corpus/ is never written).
#   tools/fuzz.sh                      # every harness, 30 s each (the CI pass)
#   tools/fuzz.sh 600 fuzz_idx         # one harness, 10 minutes
#   tools/fuzz.sh 60 schema hdf5_source   # the fuzz_ prefix may be left out
# Prints per harness: executions, final coverage (cov/ft), corpus size, result. Exits 1 when any
# harness found something (crash, leak, sanitizer report, timeout, out-of-memory); its input
# is saved under build-fuzz/findings/<harness>/ and the log beside it. Exit 2: no toolchain,
# build failure, or a named harness that is not built.
# Environment: MCDNN_JOBS (build jobs, default 2), MCDNN_FUZZ_BUILD_DIR (default build-fuzz),
# MCDNN_FUZZ_ARGS (extra libFuzzer flags, e.g. "-seed=1"), MCDNN_FUZZ_HDF5_RAW=1 (raw-bytes
# mode of fuzz_hdf5_source, see its header), MCDNN_FUZZ_KEEP_GOING=1 (go on past findings:
# libFuzzer's -fork=1 mode, one worker; every distinct crash input is saved).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || {
  echo "usage: tools/fuzz.sh [SECONDS_PER_HARNESS] [harness...]" >&2
  exit 2
}
shift $(($# > 0 ? 1 : 0))

build=${MCDNN_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${MCDNN_JOBS:-2}

# --- toolchain -------------------------------------------------------------------------------
if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  echo "fuzz: clang not found. Install it with: apt-get install clang libclang-rt-14-dev" >&2
  exit 2
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  echo "fuzz: clang cannot link -fsanitize=fuzzer (libFuzzer runtime missing):" >&2
  sed 's/^/  /' "$probe/err" | head -5 >&2
  echo "Install it with: apt-get install libclang-rt-${major:-14}-dev" >&2
  exit 2
fi

# --- build -----------------------------------------------------------------------------------
if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DMCDNN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
fi
cmake --build "$build" -j"$jobs" >"$build/build.log" 2>&1 || {
  tail -30 "$build/build.log" >&2
  echo "fuzz: build failed (log: $build/build.log)" >&2
  exit 2
}

# --- which harnesses -------------------------------------------------------------------------
harnesses=()
if (($#)); then
  for h in "$@"; do harnesses+=("fuzz_${h#fuzz_}"); done
else
  for src in fuzz/fuzz_*.cpp; do
    grep -q LLVMFuzzerTestOneInput "$src" && harnesses+=("$(basename "$src" .cpp)")
  done
fi

# libFuzzer input size per harness: a schema is text, the others small binary descriptions.
max_len() {
  case $1 in
    fuzz_schema) echo 8192 ;;
    fuzz_idx) echo 4096 ;;
    fuzz_hdf5_source) [[ ${MCDNN_FUZZ_HDF5_RAW:-0} == 1 ]] && echo 65536 || echo 1024 ;;
    *) echo 65536 ;;
  esac
}

scratch=$build/fuzz-runs
findings=$build/findings
mkdir -p "$scratch" "$findings"
status=0 missing=0
printf '%-18s %10s %8s %8s %8s  %s\n' harness execs cov ft corpus result
for h in "${harnesses[@]}"; do
  exe=$build/fuzz/$h
  if [[ ! -x $exe ]]; then
    printf '%-18s %s\n' "$h" "not built (no fuzz/$h.cpp, or a placeholder)"
    missing=1
    continue
  fi
  name=${h#fuzz_}
  work=$scratch/$name
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  [[ -d fuzz/corpus/$name ]] && cp -r "fuzz/corpus/$name/." "$work/corpus/"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$h")" -timeout=10 -rss_limit_mb=2048
        -artifact_prefix="$work/artifacts/" -print_final_stats=1)
  [[ -f fuzz/$h.dict ]] && args+=(-dict="fuzz/$h.dict")
  [[ ${MCDNN_FUZZ_KEEP_GOING:-0} == 1 ]] && args+=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  # shellcheck disable=SC2206
  args+=(${MCDNN_FUZZ_ARGS:-})
  lsan=${LSAN_OPTIONS:-}
  # Raw HDF5 bytes reach libhdf5's own leaks: fuzz_catalog's whole-file mode always, the HDF5
  # source in raw mode.
  if [[ $h == fuzz_catalog || ( $h == fuzz_hdf5_source && ${MCDNN_FUZZ_HDF5_RAW:-0} == 1 ) ]]; then
    lsan="suppressions=$PWD/fuzz/hdf5_raw.lsan.supp${lsan:+:$lsan}"  # libhdf5's own leaks
  fi
  rc=0
  # The scratch corpus comes first: libFuzzer writes new inputs into the first directory only,
  # so directories added through MCDNN_FUZZ_ARGS are read, never written.
  LSAN_OPTIONS=$lsan "$exe" "$work/corpus" "${args[@]}" >"$work/log" 2>&1 || rc=$?

  # Last stats line: "#123456 DONE cov: 1234 ft: 5678 corp: 90/12Kb ..." (or the last pulse).
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  [[ -n $execs ]] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$work/corpus" -type f | wc -l)
  artifacts=$(find "$work/artifacts" -type f | wc -l)
  if ((rc == 0 && artifacts == 0)); then
    result=ok
  else
    status=1
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-zA-Z-]+|runtime error: .*|fuzz_[a-z0-9_]+: .*' "$work/log" | head -1 || true)
    mkdir -p "$findings/$h"
    saved=""
    for a in "$work/artifacts"/*; do
      [[ -e $a ]] || continue
      cp "$a" "$findings/$h/"
      saved="$findings/$h/$(basename "$a")"
    done
    cp "$work/log" "$findings/$h/log"
    result="FOUND (exit $rc, $artifacts input(s)): ${kind:-see log}; log $findings/$h/log"
    [[ -n $saved ]] && result+="; reproduce: $exe $saved"
  fi
  printf '%-18s %10s %8s %8s %8s  %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$result"
done
((status == 0 && missing)) && exit 2
exit $status
