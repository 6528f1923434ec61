#!/usr/bin/env bash
# The own-model flows' quality, reported instead of asserted: tests/python/own_model_flow.py
# (a LeNet-5 with BatchNorm, imported and collected; a CNN with GroupNorm and LayerNorm,
# imported) for several seeds and thread counts, with the benchmark task's targets (generated
# mean and median >= the originals' - 0.1, best >= best - 0.2, min >= min - 1) printed, never
# failed on. The table's spread is what the test suite's margins cover
# (tests/models/own_model_flow_cli_test.cpp; docs/benchmarks.md, "Own-model flows").
#   bench/own_model_quality.sh [--seeds "0 1 2"] [--threads "1 2"] [--test M] [--n N] [--out DIR]
# Defaults: the suite's sizes (2 000 test images, 30 generated models). Needs build/pdiff
# (scripts/install.sh) and Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="0 1 2" threads="1 2" test=2000 n=30 out=/tmp/pdiff_own_model_quality
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --test) test="$2"; shift 2 ;;
    --n) n="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "own_model_quality.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
for t in $threads; do
  for s in $seeds; do
    for m in lenet_bn lenet_gn; do
      if [ "$m" = lenet_gn ]; then sizes="--modes import --train 5000 --epochs 15"
      else sizes="--modes import,collect --train 10000 --epochs 2"; fi
      work="$out/${m}_seed${s}_threads${t}"
      echo "own_model_quality: $m seed $s, $t thread(s)" >&2
      PDIFF_THREADS=$t PDIFF_PYTHON_THREADS=$t /usr/bin/python3 tests/python/own_model_flow.py \
        --pdiff build/pdiff --work "$work" --model $m $sizes --test "$test" --k 30 --export 2 \
        --check-originals 10 --seed "$s" --report-only threads=2 generate.n="$n" eval.baseline_n=10 \
        eval.tsne=false > "$work.log" 2>&1 || { tail -20 "$work.log" >&2; exit 1; }
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
rows = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(sys.argv[1], "*", "*", "own_model_flow.json")))]
print("| model | mode | seed | threads | originals best/mean/median/min | generated best/mean/median/min | "
      "generated - originals: mean, median, best, min | targets met |")
print("|---|---|---|---|---|---|---|---|")
worst = {}
for r in rows:
    o, g = r["original"], r["generated"]
    d = {k: g[k] - o[k] for k in ("mean", "median", "best", "min")}
    key = (r["model"], r["mode"])
    worst[key] = {k: min(worst.get(key, d)[k], d[k]) for k in d}
    met = all(v["ok"] for v in r["gates"].values())  # the default margins: the targets
    print(f"| {r['model']} | {r['mode']} | {r['seed']} | {r['python_threads']} | "
          + "/".join(f"{o[k]:.2f}" for k in ("best", "mean", "median", "min")) + " | "
          + "/".join(f"{g[k]:.2f}" for k in ("best", "mean", "median", "min")) + " | "
          + ", ".join(f"{d[k]:+.2f}" for k in ("mean", "median", "best", "min")) + f" | {'yes' if met else 'no'} |")
print()
for (m, mode), w in sorted(worst.items()):
    print(f"{m} ({mode}): lowest generated - originals over the runs: "
          + ", ".join(f"{k} {v:+.2f}" for k, v in w.items()))
PY
