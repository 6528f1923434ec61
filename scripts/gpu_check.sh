#!/usr/bin/env bash
# The GPU check (issue 21): one prepared command for a machine with an NVIDIA GPU and a PyTorch
# with CUDA but none of pdiff's Debian packages (the device tool's machines). It builds pdiff
# against that PyTorch's LibTorch, runs the CUDA tests (the same weights give the same
# predictions on the GPU as on the CPU; training on either gives the same figures up to
# rounding), evaluation in passes of many models (bench_passes), the benchmark task on the GPU
# stage by stage in fp32 and bf16, and a whole ResNet-18,
# and writes every figure to OUT/gpu_check.md (logs beside it).
#
#   scripts/gpu_check.sh --prepare        here, on Debian: downloads the packages that machine
#                                         lacks into .gpu/ (git-excluded); carry .gpu there
#   scripts/gpu_check.sh [OUT] [STEPS]    there: unpacks .gpu/*.deb under /tmp/pdiff-deps (never
#                                         into /), builds into build-gpu/, runs STEPS
#   PDIFF_GPU_CHECK_DEVICE=cpu scripts/gpu_check.sh ...   the same steps on a CPU (tests the script)
#
# STEPS, comma-separated (default: all but resnet, which alone takes minutes):
#   build, version, tests, passes, bench, official (needs bench's zoo), bench_bf16, resnet
# One device call: scripts/gpu_check.sh "$OUT" (carry .gpu); a second, on the warm machine,
# reuses build-gpu/: scripts/gpu_check.sh "$OUT" resnet.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(libyaml-cpp-dev libyaml-cpp0.7 nlohmann-json3-dev libcli11-dev libgtest-dev zlib1g-dev
          dataset-fashion-mnist)

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p .gpu
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  (cd .gpu && apt-get download "${PACKAGES[@]}")
  # The official p-diff code, for the side-by-side step (bench/official_generator.py): from
  # PDIFF_OFFICIAL_GIT, a git directory or a checkout of NUS-HPC-AI-Lab/Neural-Network-Parameter-Diffusion.
  # Carried in .gpu/, never committed.
  if [ -n "${PDIFF_OFFICIAL_GIT:-}" ]; then
    rm -rf .gpu/official && mkdir -p .gpu/official
    if [ -d "$PDIFF_OFFICIAL_GIT/core/module/modules" ]; then
      cp -r "$PDIFF_OFFICIAL_GIT/core" .gpu/official/
    else
      # (a snapshot may lack large files elsewhere in the tree: git names them on stderr)
      git --git-dir="$PDIFF_OFFICIAL_GIT" archive HEAD core/module/modules core/utils 2>/dev/null | tar -x -C .gpu/official
    fi
    [ -f .gpu/official/core/module/modules/encoder.py ] ||
      { echo "no core/module/modules/encoder.py in $PDIFF_OFFICIAL_GIT: not the official p-diff code" >&2; exit 1; }
  else
    echo "PDIFF_OFFICIAL_GIT not set: the 'official' step will have no official code to run" >&2
  fi
  du -sh .gpu
  exit 0
fi

OUT=${1:-gpu_check_out}
STEPS=${2:-build,version,tests,passes,bench,official,bench_bf16}
DEVICE=${PDIFF_GPU_CHECK_DEVICE:-cuda}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
REPORT="$OUT/gpu_check.md"
BUILD=${PDIFF_GPU_CHECK_BUILD:-build-gpu}
DEPS=/tmp/pdiff-deps
want() { [[ ",$STEPS," == *",$1,"* ]]; }
say() { echo "$*" | tee -a "$REPORT"; }
# Seconds since the step began, for the report.
timed() {
  local label=$1; shift
  local t0; t0=$(date +%s.%N)
  "$@"
  say "- $label: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

say "# pdiff GPU check, $(date -u +%Y-%m-%dT%H:%MZ), steps $STEPS, device=$DEVICE"
command -v nvidia-smi >/dev/null && say "$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"

# The Debian packages: unpacked where nothing of the system is touched; the dataset is linked
# where pdiff looks for it by default.
if ls .gpu/*.deb >/dev/null 2>&1; then
  mkdir -p "$DEPS"
  for f in .gpu/*.deb; do dpkg -x "$f" "$DEPS"; done
  if [ ! -e /usr/share/datasets/fashion-mnist ]; then
    mkdir -p /usr/share/datasets
    ln -s "$DEPS/usr/share/datasets/fashion-mnist" /usr/share/datasets/fashion-mnist
  fi
  export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  PREFIX_EXTRA=";$DEPS/usr"
  CXX_EXTRA="-I$DEPS/usr/include"
else
  PREFIX_EXTRA=""
  CXX_EXTRA=""
fi

PYTHON=${PDIFF_TORCH_PYTHON:-python3}
if want build; then
  TORCH_PREFIX=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  say "- PyTorch: $("$PYTHON" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  timed "configure + build (pdiff, pdiff_tests, bench_passes)" bash -c "
    cmake -S . -B $BUILD ${generator[*]} -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
      -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 -DPDIFF_BUILD_TESTS=ON -DPDIFF_BUILD_BENCH=ON '-DCMAKE_PREFIX_PATH=$TORCH_PREFIX$PREFIX_EXTRA' \
      '-DCMAKE_CXX_FLAGS=$CXX_EXTRA' > '$OUT/build.log' 2>&1 &&
    cmake --build $BUILD -j \"\$(nproc)\" --target pdiff pdiff_tests bench_passes >> '$OUT/build.log' 2>&1" ||
    { tail -40 "$OUT/build.log"; exit 1; }
fi
PDIFF=$BUILD/pdiff
export OMP_WAIT_POLICY=PASSIVE

if want version; then
  say '```'
  "$PDIFF" --version | tee -a "$REPORT"
  say '```'
fi

if want tests; then
  # CUDA against the CPU, the dispatch point and the stage options (unit), the generic path end
  # to end on this machine's CPU.
  filter='CudaCli.*:KernelDispatch.*:StageOptions.*:GenericKernelsCli.*'
  if timed "tests ($filter)" "$BUILD/pdiff_tests" --gtest_filter="$filter" > "$OUT/tests.log" 2>&1; then
    say "- tests: $(grep -E '^\[  PASSED  \]' "$OUT/tests.log")"
  else
    say "- tests FAILED:"; grep -E '^\[  FAILED  \]|Failure' "$OUT/tests.log" | head -20 | tee -a "$REPORT"
  fi
  grep -E 'SKIPPED' "$OUT/tests.log" | head -5 | tee -a "$REPORT" || true
fi

# Evaluation in passes of several models against one model a pass (zoo/tail_evaluator.h).
if want passes; then
  timed "bench_passes" "$BUILD/bench_passes" "device=$DEVICE" N=10000 M=64 per_pass=32 > "$OUT/passes.md" 2>&1 ||
    tail -20 "$OUT/passes.md"
  cat "$OUT/passes.md" >> "$REPORT"
fi

# The benchmark task (configs/fmnist-convnet4.yaml) in a fresh run directory; the stage times
# and accuracies from its report.json.
bench() {
  local name=$1; shift
  local dir=/tmp/pdiff-gpu-check/$name
  rm -rf "$dir"
  timed "benchmark task, $name, wall" "$PDIFF" run --config configs/fmnist-convnet4.yaml "run_dir=$dir" \
    "device=$DEVICE" "$@" > "$OUT/$name.log" 2>&1 || { tail -30 "$OUT/$name.log"; return 1; }
  "$PYTHON" - "$dir/report.json" <<'PY' | tee -a "$REPORT"
import json, sys
r = json.load(open(sys.argv[1]))
t = r["timings_s"]
print("  - stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
for g in ("original", "generated", "ensemble"):
    a = r["groups"][g]["acc"]
    print(f"  - {g}: best {a['best']:.2f} mean {a['mean']:.2f} median {a['median']:.2f} min {a['min']:.2f}")
print(f"  - training {r['training_precision']}, evaluation on {r['eval_device']}")
PY
}
want bench && bench bench_fp32

# The official code's generator stages on the same zoo and device, against pdiff's train_ae +
# train_ldm + generate of the run above (pdiff's generate also evaluates its 100 models; the
# official sampling figure does not: the ratio is on the side that favours the official code).
if want official; then
  if [ -d .gpu/official/core ]; then
    timed "official p-diff generator" "$PYTHON" bench/official_generator.py --official .gpu/official \
      --zoo /tmp/pdiff-gpu-check/bench_fp32/zoo.pt --device "$DEVICE" --measure "${PDIFF_OFFICIAL_MEASURE:-300}" \
      --out "$OUT/official.json" | tee -a "$REPORT"
    "$PYTHON" - /tmp/pdiff-gpu-check/bench_fp32/report.json "$OUT/official.json" <<'PY' | tee -a "$REPORT"
import json, sys
t = json.load(open(sys.argv[1]))["timings_s"]
o = json.load(open(sys.argv[2]))
ours = t["train_ae"] + t["train_ldm"] + t["generate"]
print(f"  - pdiff train_ae + train_ldm + generate (with evaluation): {ours:.1f} s; official: {o['total_s']:.1f} s; "
      f"ratio {o['total_s'] / ours:.0f}x")
PY
  else
    say "- official: skipped, no .gpu/official (run --prepare with PDIFF_OFFICIAL_GIT set)"
  fi
fi
want bench_bf16 && bench bench_bf16 precision=bf16

if want resnet; then
  # Whole ResNet-18 (D = 11.2 M, K = 200) at a real budget: all 60 000 training and 10 000 test
  # images, two base epochs. The GPU's memory is sampled every second for the peak.
  dir=/tmp/pdiff-gpu-check/resnet18_whole
  rm -rf "$dir"
  peak_file="$OUT/gpu_memory.csv"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -l 1 > "$peak_file" &
    sampler=$!
  fi
  timed "whole ResNet-18, wall" "$PDIFF" run --config configs/fmnist-resnet18-whole.yaml "run_dir=$dir" \
    "device=$DEVICE" data.train_limit=0 data.test_limit=0 base.epochs=2 eval.baseline_n=10 \
    > "$OUT/resnet18_whole.log" 2>&1 || tail -30 "$OUT/resnet18_whole.log"
  [ -n "${sampler:-}" ] && kill "$sampler" && say "- peak GPU memory: $(sort -n "$peak_file" | tail -1) MiB"
  grep -E "peak memory|Total" "$OUT/resnet18_whole.log" | tail -2 | tee -a "$REPORT" || true
  [ -f "$dir/report.json" ] && "$PYTHON" -c "
import json; r = json.load(open('$dir/report.json'))
print('  - stages (s): ' + ', '.join(f'{k} {v:.1f}' for k, v in r['timings_s'].items()))
for g in ('original', 'generated'):
    a = r['groups'][g]['acc']; print(f'  - {g}: best {a[\"best\"]:.2f} mean {a[\"mean\"]:.2f} min {a[\"min\"]:.2f}')
" | tee -a "$REPORT"
fi
say "done: $REPORT"
