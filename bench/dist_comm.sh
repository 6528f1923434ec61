#!/usr/bin/env bash
# The communication time of a data-parallel step (bench/bench_dist_sum.cpp): N ranks (default 2)
# on this machine over loopback, Gloo, as pdiff's training makes it.
#   bench/dist_comm.sh [N] [WEIGHTS ...]
set -euo pipefail
cd "$(dirname "$0")/.."
world="${1:-2}"
shift || true
[ -x build/bench_dist_sum ] || cmake --build build -j "$(nproc)" --target bench_dist_sum >/dev/null
port=$(( 29800 + RANDOM % 100 ))
pids=()
for (( r = 0; r < world; ++r )); do
  RANK=$r WORLD_SIZE=$world LOCAL_RANK=$r LOCAL_WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    OMP_WAIT_POLICY=PASSIVE build/bench_dist_sum "$@" 2>/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
