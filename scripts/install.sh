#!/usr/bin/env bash
# Installs what is missing (Debian packages) and builds the `pdiff` program into build/.
# Idempotent. Options:
#   --tests          also the test suite's packages and targets (benchmarks with --torch)
#   --packages-only  install packages, build nothing (with --tests: the test packages too)
#   --torch PYTHON   build against the LibTorch of PYTHON's torch (e.g. a PyPI PyTorch 2.x, with
#                    CUDA where that torch has it; scripts/torch2_venv.sh makes one) instead of
#                    Debian's LibTorch 1.13, into build-torch2/ (PDIFF_TORCH_BUILD_DIR); the
#                    environment variable PDIFF_TORCH_PYTHON does the same.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
build=1
torch_python="${PDIFF_TORCH_PYTHON:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests=1 ;;
    --packages-only) build=0 ;;
    --torch) torch_python="${2:?install.sh: --torch needs a python, e.g. ~/.cache/pdiff/torch2-venv/bin/python}"; shift ;;
    --torch=*) torch_python="${1#--torch=}" ;;
    *) echo "install.sh: unknown option '$1' (use --tests, --packages-only, --torch PYTHON)" >&2; exit 2 ;;
  esac
  shift
done

PACKAGES=(build-essential cmake libtorch-dev libopenblas0-pthread dataset-fashion-mnist
          nlohmann-json3-dev libyaml-cpp-dev libcli11-dev zlib1g-dev gnuplot-nox libgloo-dev ninja-build)
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
# the 2-core machine: each compiler run spends ~6 s loading the precompiled LibTorch header);
# PDIFF_UNITY=OFF builds file by file, quicker to rebuild after one edit.
unity="-DCMAKE_UNITY_BUILD=${PDIFF_UNITY:-ON} -DCMAKE_UNITY_BUILD_BATCH_SIZE=16"
dir=build
torch=()
if [ -n "$torch_python" ]; then
  # Another LibTorch: its own build directory, so that build/ (Debian's 1.13) stays as it is.
  dir="${PDIFF_TORCH_BUILD_DIR:-build-torch2}"
  prefix=$("$torch_python" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
    { echo "install.sh: --torch $torch_python: no torch there (scripts/torch2_venv.sh makes a venv with one)" >&2; exit 2; }
  # Torch_DIR too: a build directory configured before with another python's torch follows the new one.
  torch=(-DCMAKE_PREFIX_PATH="$prefix" -DTorch_DIR="$prefix/Torch")
  echo "install.sh: LibTorch $("$torch_python" -c 'import torch; print(torch.__version__)') of $torch_python, into $dir/" >&2
fi
configure() {
  # A wheel's LibTorch warns at length (CUDA architectures, its own libgomp): kept in a log,
  # shown when the configuration fails.
  mkdir -p "$dir"
  scripts/configure.sh "$dir" -DCMAKE_BUILD_TYPE=Release $unity "${torch[@]}" "$@" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log" >&2; exit 1; }
}
if [ "$tests" -eq 1 ] && [ -n "$torch_python" ]; then
  configure -DPDIFF_BUILD_TESTS=ON -DPDIFF_BUILD_BENCH=ON
  cmake --build "$dir" -j "$(nproc)"
elif [ "$tests" -eq 1 ]; then
  # The suite's targets; the benchmarks are configured too and build on demand
  # (`cmake --build build --target bench_collect`, or all: `cmake --build build`). CI builds
  # them against the other LibTorch (.ci/run), so a benchmark that stops compiling is caught.
  configure -DPDIFF_BUILD_TESTS=ON -DPDIFF_BUILD_BENCH=ON
  # pdiff and its tests (pdiff_suite): one Ninja graph, the tests compile beside the library.
  cmake --build "$dir" -j "$(nproc)" --target pdiff_suite
else
  # Only what the experiment runs: the library and the `pdiff` program.
  configure
  cmake --build "$dir" -j "$(nproc)" --target pdiff
fi
if [ -n "$torch_python" ]; then
  # Debian's LibTorch headers (/usr/include/torch, ATen, c10) sit in a default include directory:
  # a header the other LibTorch lacks would silently come from 1.13. No file may include one.
  mixed=$(grep -rlE --include='*.d' '/usr/include/(torch|ATen|c10|caffe2)/' "$dir/CMakeFiles" || true)
  if [ -n "$mixed" ]; then
    echo "install.sh: these objects include Debian's LibTorch headers, not $torch_python's:" >&2
    echo "$mixed" >&2
    exit 1
  fi
fi
