#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: the GoogleTest suite under
# CTest, then a bounded run of every fuzz target (scripts/fuzz.sh). Idempotent.
#   scripts/test.sh [--threads N] [CTEST ARGS...]   e.g. scripts/test.sh -R PipelineCli, -L unit
#   scripts/test.sh --sanitize        the unit tests built with AddressSanitizer and
#                                     UndefinedBehaviorSanitizer (clang, build-sanitize/)
#   scripts/test.sh --torch PYTHON [--threads N] [CTEST ARGS...]
#                                     the suite built against PYTHON's LibTorch (e.g. PyTorch 2.x:
#                                     scripts/torch2_venv.sh) in build-torch2/, no fuzz run;
#                                     PDIFF_TORCH_PYTHON=PYTHON does the same
#
# Every pdiff the tests start, and the Python side of the interop tests, runs at N threads
# (default 1: PDIFF_THREADS, PDIFF_PYTHON_THREADS), and CTest runs cores / N tests at a time, so
# the cores are used without oversubscription. Tests whose results depend on training noise
# have margins that cover the spread over seeds and thread counts: `--threads 2` passes too.
# Where a PyPI PyTorch 2.x venv exists ($PDIFF_TORCH2_VENV, default ~/.cache/pdiff/torch2-venv),
# the interop tests also load pdiff's files with it (PDIFF_TORCH2_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
  shift
  scripts/install.sh --tests --packages-only
  scripts/sanitize.sh "$@"
  exit 0
fi

torch_python="${PDIFF_TORCH_PYTHON:-}"  # as scripts/install.sh
if [ "${1:-}" = "--torch" ]; then
  torch_python="${2:?--torch needs a python, e.g. ~/.cache/pdiff/torch2-venv/bin/python}"
  shift 2
fi

threads=1
if [ "${1:-}" = "--threads" ]; then
  threads="${2:?--threads needs a number}"
  shift 2
fi
case "$threads" in ''|*[!0-9]*|0) echo "test.sh: --threads $threads: use a positive number" >&2; exit 2 ;; esac
export PDIFF_THREADS="$threads" PDIFF_PYTHON_THREADS="$threads"
# The Python side's BLAS too: OpenBLAS starts one polling thread per core, whatever
# torch.set_num_threads says, and would take the core of the test beside it (pdiff sets its own).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$threads}"
# The policy pdiff sets for itself (core/runtime.cpp) by starting itself again when it is unset:
# set here, the ~1000 pdiff and test processes of the suite skip that second start (0.7 s each).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
jobs=$(( $(nproc) / threads ))
[ "$jobs" -ge 1 ] || jobs=1

venv="${PDIFF_TORCH2_VENV:-$HOME/.cache/pdiff/torch2-venv}"
if [ -z "${PDIFF_TORCH2_PYTHON:-}" ] && [ -n "$torch_python" ]; then
  export PDIFF_TORCH2_PYTHON="$torch_python"  # pdiff's files also load in the torch it was built with
elif [ -z "${PDIFF_TORCH2_PYTHON:-}" ] && [ -x "$venv/bin/python" ]; then
  export PDIFF_TORCH2_PYTHON="$venv/bin/python"
fi

dir=build
whole=0  # the whole suite, fuzzing included: no test filter, Debian's LibTorch
[ $# -eq 0 ] && [ -z "$torch_python" ] && whole=1
if [ -n "$torch_python" ]; then
  dir="${PDIFF_TORCH_BUILD_DIR:-build-torch2}"
  scripts/install.sh --tests --torch "$torch_python"
else
  scripts/install.sh --tests
fi
start=$(date +%s)
(cd "$dir" && ctest --output-on-failure --timeout 900 -j "$jobs" "$@")
echo "test.sh: CTest took $(( $(date +%s) - start )) s ($jobs at a time, $threads thread(s) each, in $dir/)"
# With a test filter the caller wants a part of the suite; the fuzz run belongs to the whole
# (and to Debian's LibTorch: scripts/fuzz.sh builds build-fuzz/ with it).
if [ "$whole" -eq 1 ]; then
  scripts/fuzz.sh --repeatable
fi
