#!/usr/bin/env bash
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs
# the whole test suite under them (any report fails the run). CI runs it after the normal suite.
#   tools/sanitize.sh            # after tools/setup.sh has installed the dependencies
# Environment: MCDNN_JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
jobs=${MCDNN_JOBS:-$(nproc)}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCDNN_SANITIZE=ON -DMCDNN_BUILD_TOOLS=OFF
fi
cmake --build "$build" -j "$jobs"
# Leaks: LibTorch keeps process-lifetime singletons; leak checking covers our code through the
# suppressions file (only LibTorch/OpenMP/HDF5 globals are listed there).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:suppressions=$PWD/tools/asan.supp}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tools/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" -j "$jobs" --output-on-failure
