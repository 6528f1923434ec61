#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp) with ASan + UBSan and runs each for a bounded
# time from its corpus in fuzz/corpus/<name>/. Exits non-zero on any crash, sanitizer report,
# leak, hang (> 10 s per input) or out-of-memory (> 2 GB); the input is saved under
# build-fuzz/findings/. New interesting inputs go to build-fuzz/corpus/<name>/ (the
# corpus in the repo is read, never written).
#   scripts/fuzz.sh [--seconds N] [NAME...]     NAME: idx cifar config pt (default: all)
#   scripts/fuzz.sh --repeatable [NAME...]      the test suite's run: a fixed seed and a fixed
#       number of inputs per target, from the repo's corpus alone, so that what it tries does not
#       depend on the host's speed or on earlier runs (libFuzzer's coverage feedback still varies
#       a little from run to run, e.g. with heap addresses). Exploring for new findings is the
#       timed, randomly seeded run above; what it finds goes into fuzz/corpus/ as finding_*.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
repeatable=0
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --repeatable) repeatable=1; shift ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(idx cifar config pt)

scripts/install.sh --tests --packages-only
scripts/sanitized_build.sh build-fuzz -O0 "${names[@]/#/fuzz_}"
source scripts/sanitizer_env.sh

mkdir -p build-fuzz/findings
# Inputs per target in the repeatable run: a few seconds each on a 2-core host.
declare -A repeatable_runs=([idx]=3000 [cifar]=20000 [config]=6000 [pt]=1500)
for name in "${names[@]}"; do
  if [ "$repeatable" -eq 1 ]; then
    work="build-fuzz/corpus-repeatable/$name"
    rm -rf "$work"
    bound=(-seed=1 -runs="${repeatable_runs[$name]}")
    echo "fuzz.sh: $name, ${repeatable_runs[$name]} inputs from seed 1"
  else
    work="build-fuzz/corpus/$name"
    bound=(-max_total_time="$seconds")
    echo "fuzz.sh: $name for ${seconds}s"
  fi
  mkdir -p "$work"
  if ! build-fuzz/fuzz_"$name" "$work" "fuzz/corpus/$name" "${bound[@]}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/findings/$name-" 2>"build-fuzz/fuzz_$name.log"; then
    tail -n 60 "build-fuzz/fuzz_$name.log" >&2
    echo "fuzz.sh: $name FAILED; the input is in build-fuzz/findings/, the log in build-fuzz/fuzz_$name.log" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)" "build-fuzz/fuzz_$name.log" | tr '\n' ' '
  echo
done
echo "fuzz.sh: ${names[*]}: no findings"
