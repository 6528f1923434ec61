#!/usr/bin/env bash
# Installs what is missing (Debian packages) and builds the `pdiff` program into build/.
# Idempotent. Options:
#   --tests          also the test suite's packages and targets (tests, benchmarks)
#   --packages-only  install packages, build nothing (with --tests: the test packages too)
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
build=1
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    --packages-only) build=0 ;;
    *) echo "install.sh: unknown option '$arg' (use --tests, --packages-only)" >&2; exit 2 ;;
  esac
done

PACKAGES=(build-essential cmake libtorch-dev libopenblas0-pthread dataset-fashion-mnist
          nlohmann-json3-dev libyaml-cpp-dev libcli11-dev zlib1g-dev gnuplot-nox)
# The test suite: GoogleTest, benchmarks, PyTorch for the interop checks, clang and its
# runtimes for the fuzz targets and the sanitizer build.
TEST_PACKAGES=(libgtest-dev libbenchmark-dev python3-torch clang libclang-rt-14-dev libomp-dev)
[ "$tests" -eq 1 ] && PACKAGES+=("${TEST_PACKAGES[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ "$build" -eq 1 ] || exit 0

# A unity build (16 files a compiler run) halves the build from scratch (5 min instead of 10 on
# the 2-core machine); PDIFF_UNITY=OFF builds file by file, quicker to rebuild after one edit.
unity="-DCMAKE_UNITY_BUILD=${PDIFF_UNITY:-ON} -DCMAKE_UNITY_BUILD_BATCH_SIZE=16"
if [ "$tests" -eq 1 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $unity -DPDIFF_BUILD_TESTS=ON -DPDIFF_BUILD_BENCH=ON >/dev/null
  cmake --build build -j "$(nproc)"
else
  # Only what the experiment runs: the library and the `pdiff` program.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $unity >/dev/null
  cmake --build build -j "$(nproc)" --target pdiff
fi
