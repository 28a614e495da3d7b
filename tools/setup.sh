#!/usr/bin/env bash
# Installs whatever Debian packages mcdnn needs and are missing, then configures and builds
# into build/. Idempotent: with everything installed and built it only re-checks (seconds).
#   tools/setup.sh            # as root on Debian 12 (or with sudo available)
# Environment: MCDNN_BUILD_DIR (default build), MCDNN_JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make pkg-config          # toolchain
  libtorch-dev                       # LibTorch (CPU) 1.13
  libopenblas0-pthread               # without it LibTorch uses reference BLAS: 4.5x slower training
  libopenblas-dev                    # the executor's dense products (cblas)
  libeigen3-dev libcli11-dev libyaml-cpp-dev libhdf5-dev zlib1g-dev catch2 nlohmann-json3-dev
  dataset-fashion-mnist              # the default schema's data
  python3 python3-h5py python3-numpy # the catalog's Python reader (tools/mcdnn_run.py) and its test
  python3-matplotlib                 # tools/plot_catalog.py
  python3-onnx python3-opencv        # tools/mcdnn_export_onnx.py and its check in OpenCV DNN
  chromium fonts-dejavu-core         # the catalog report test (headless Chromium renders report.html)
  clang libclang-rt-14-dev           # tools/fuzz.sh (libFuzzer); tools/sanitize.sh uses g++'s ASan/UBSan
  slurmctld slurmd slurm-client munge  # tools/slurm/: the local single-node Slurm the cluster-build test runs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${MCDNN_BUILD_DIR:-build}
jobs=${MCDNN_JOBS:-$(nproc)}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j "$jobs"
