#!/usr/bin/env bash
# The stages split across ranks (generate, eval), one process x 2 threads against 2 processes x
# 1 thread on one machine, in one run, on a run directory whose zoo and generators are trained
# (e.g. the benchmark task's: build/pdiff run --config configs/fmnist-convnet4.yaml). Each
# variant works on its own copy of the directory; prints the seconds of each stage, their
# ratio, and whether the two wrote the same generated.pt.
#   bench/dist_stages.sh RUN_DIR [KEY=VALUE ...]     e.g. generate.batch=25 (4 batches of 100)
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:?usage: bench/dist_stages.sh RUN_DIR [KEY=VALUE ...]}"
shift
for f in zoo.pt ae.pt ldm.pt base.pt config.yaml; do
  [ -f "$src/$f" ] || { echo "dist_stages.sh: $src/$f missing: train the run first (pdiff run)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/pdiff_dist_stages.XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=PASSIVE
ms() { date +%s%N; }

stage() {  # VARIANT STAGE [KEY=VALUE ...]: prints the stage's seconds
  local variant=$1 stage=$2 dir="$work/$1" start pids=() port
  shift 2
  start=$(ms)
  if [ "$variant" = one ]; then
    build/pdiff "$stage" -q --run "$dir" threads=2 "$@" >/dev/null
  else
    port=$(( 29700 + RANDOM % 200 ))
    for r in 0 1; do
      RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        build/pdiff "$stage" -q --run "$dir" threads=1 "$@" >/dev/null &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
  fi
  awk -v ms="$(( ($(ms) - start) / 1000000 ))" 'BEGIN { printf "%.1f", ms / 1000 }'
}

extra=("$@")
for v in one two; do
  mkdir -p "$work/$v"
  cp "$src"/{zoo,ae,ldm,base}.pt "$src/config.yaml" "$work/$v/"
  [ -f "$src/base.json" ] && cp "$src/base.json" "$work/$v/"
done
printf "%-10s %22s %22s %8s\n" stage "1 process x 2 threads" "2 processes x 1 thread" ratio
for s in generate eval; do
  a=$(stage one "$s" "${extra[@]}")
  b=$(stage two "$s" "${extra[@]}")
  printf "%-10s %20s s %20s s %7sx\n" "$s" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done
/usr/bin/python3 - "$work/one/generated.pt" "$work/two/generated.pt" <<'EOF'
import sys, torch
a, b = (torch.load(p, weights_only=True) for p in sys.argv[1:])
same = all(torch.equal(a[k], b[k]) for k in ("params", "accuracy", "predictions"))
print("generated.pt:", "the same parameters, accuracies and predictions" if same else
      "DIFFERENT (two threads against one change the denoiser's sums: compare at equal threads)")
EOF
