#!/usr/bin/env bash
# Every stage, one process x 2 threads against 2 processes x 1 thread on one machine, in one
# run, on a run directory whose zoo and generators are trained (e.g. the benchmark task's:
# build/pdiff run --config configs/fmnist-convnet4.yaml). Each variant works on its own copies
# of the directory: the base trained anew for BASE_EPOCHS (default 1) and an iteration-mode
# trajectory of ITER_K checkpoints (default 50), both data-parallel with two ranks; a seeds-mode
# zoo of SEEDS_K runs (default 20) from the run's base, the
# generators trained anew from the run's zoo (data-parallel with two ranks), then generate and
# eval with the run's own generators. Prints the seconds of each stage, their ratio, whether the
# two wrote the same zoo.pt and generated.pt, and how close their training losses came.
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
  if [ "${variant%%-*}" = one ]; then
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
seeds_k="${SEEDS_K:-20}"
for v in one two; do
  mkdir -p "$work/$v" "$work/$v-seeds" "$work/$v-train" "$work/$v-iter"
  cp "$src/config.yaml" "$work/$v-iter/"
  cp "$src"/{zoo,ae,ldm,base}.pt "$src/config.yaml" "$work/$v/"
  cp "$src"/{zoo,base}.pt "$src/config.yaml" "$work/$v-train/"
  cp "$src/base.pt" "$src/config.yaml" "$work/$v-seeds/"
  [ -f "$src/base.json" ] && cp "$src/base.json" "$work/$v/" && cp "$src/base.json" "$work/$v-train/" && cp "$src/base.json" "$work/$v-seeds/"
done
row() {  # NAME A B
  printf "%-22s %20s s %20s s %7sx\n" "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')"
}
printf "%-22s %22s %22s %8s\n" stage "1 process x 2 threads" "2 processes x 1 thread" ratio
iter=(zoo.mode=iteration "zoo.k=${ITER_K:-50}" "base.epochs=${BASE_EPOCHS:-1}")
row "collect (base, iteration)" "$(stage one-iter collect "${iter[@]}" "${extra[@]}")" \
  "$(stage two-iter collect "${iter[@]}" "${extra[@]}")"
seeds=(zoo.mode=seeds "zoo.k=$seeds_k")
row "collect (seeds, K=$seeds_k)" "$(stage one-seeds collect "${seeds[@]}" "${extra[@]}")" \
  "$(stage two-seeds collect "${seeds[@]}" "${extra[@]}")"
row train "$(stage one-train train "${extra[@]}")" "$(stage two-train train "${extra[@]}")"
for s in generate eval; do
  row "$s" "$(stage one "$s" "${extra[@]}")" "$(stage two "$s" "${extra[@]}")"
done
/usr/bin/python3 - "$work" <<'EOF2'
import sys, torch
w = sys.argv[1]
a, b = (torch.load(f"{w}/{v}-seeds/zoo.pt", weights_only=True) for v in ("one", "two"))
print("seeds-mode zoo.pt:", "the same checkpoints" if torch.equal(a["params"], b["params"]) else
      "DIFFERENT checkpoints (two threads against one change the sums: compare at equal threads)",
      "and accuracies" if torch.equal(a["accuracy"], b["accuracy"]) else "(accuracies differ)")
for f in ("ae_loss.csv", "ldm_loss.csv"):
    x, y = ([float(l.split(",")[1]) for l in open(f"{w}/{v}-train/{f}").read().split()[1:]] for v in ("one", "two"))
    print(f"{f}: largest relative difference of a step's loss, 2 ranks data-parallel against one process: "
          f"{max(abs(p - q) / abs(p) for p, q in zip(x, y)):.2e} (at 1 and 2 threads: the thread count changes "
          "the sums too; DistributedCli compares at equal threads)")
EOF2
/usr/bin/python3 - "$work/one/generated.pt" "$work/two/generated.pt" <<'EOF'
import sys, torch
a, b = (torch.load(p, weights_only=True) for p in sys.argv[1:])
same = all(torch.equal(a[k], b[k]) for k in ("params", "accuracy", "predictions"))
print("generated.pt:", "the same parameters, accuracies and predictions" if same else
      "DIFFERENT (two threads against one change the denoiser's sums: compare at equal threads)")
EOF
