#!/usr/bin/env bash
# Every bench_* tool answers --help (its usage, exit 0), refuses an unknown flag (a message and
# the usage, exit 2) and reports a missing input in one "error:" line with an error exit code,
# never an uncaught exception (exit 134) or a crash. Quick: nothing is measured.
#   tests/bench_tools_test.sh BENCH_EXECUTABLE...
set -u
fail=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # no schemas/ here: a default schema path is missing too

# expect NAME WANT_RC TEXT ARGS...: runs NAME ARGS, checks the exit status and that TEXT appears.
expect() {
  local exe=$1 want=$2 text=$3
  shift 3
  local out rc
  out=$("$exe" "$@" 2>&1)
  rc=$?
  local name
  name=$(basename "$exe")
  if [[ $want == error ]]; then
    if ((rc == 0 || rc > 125)); then
      echo "FAIL: $name $*: exit $rc, expected an error exit code (1-125)"; echo "$out" | tail -3; fail=1; return
    fi
  elif ((rc != want)); then
    echo "FAIL: $name $*: exit $rc, expected $want"; echo "$out" | tail -3; fail=1; return
  fi
  if [[ $out != *"$text"* ]]; then
    echo "FAIL: $name $*: output lacks '$text':"; echo "$out" | tail -3; fail=1; return
  fi
  if [[ $out == *"terminate called"* || $out == *"Aborted"* ]]; then
    echo "FAIL: $name $*: an uncaught exception"; fail=1; return
  fi
  echo "ok: $name $* (exit $rc)"
}

for exe in "$@"; do
  name=$(basename "$exe")
  expect "$exe" 0 "usage: $name" --help
  expect "$exe" 0 "usage: $name" -h
  expect "$exe" 2 "unknown option '--frobnicate'" --frobnicate
  case $name in
    bench_executor | bench_codebook | bench_specialize | bench_measure) expect "$exe" error "$name: error: " "$work/no-such-catalog" ;;
    bench_catalog | bench_eval | bench_contention | bench_runtime) expect "$exe" error "$name: error: " "$work/no-such.yaml" ;;
    bench_family) expect "$exe" error "$name: error: " --catalog "$work/no-such-catalog" ;;
    bench_svd) expect "$exe" 2 "--m: expected a positive integer" --m 0 ;;
    bench_memory) expect "$exe" 2 "takes no arguments" extra ;;
  esac
done
exit $fail
