#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp) with ASan + UBSan and runs each for a bounded
# time from its corpus in fuzz/corpus/<name>/. Exits non-zero on any crash, sanitizer report,
# leak, hang (> 10 s per input) or out-of-memory (> 2 GB); the input is saved under
# build-fuzz/findings/. New interesting inputs go to build-fuzz/corpus/<name>/ (the
# corpus in the repo is read, never written).
#   scripts/fuzz.sh [--seconds N] [NAME...]     NAME: idx cifar config pt (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(idx cifar config pt)

scripts/install.sh --tests --packages-only
scripts/sanitized_build.sh build-fuzz -O0 "${names[@]/#/fuzz_}"
source scripts/sanitizer_env.sh

mkdir -p build-fuzz/findings
for name in "${names[@]}"; do
  work="build-fuzz/corpus/$name"
  mkdir -p "$work"
  echo "fuzz.sh: $name for ${seconds}s"
  if ! build-fuzz/fuzz_"$name" "$work" "fuzz/corpus/$name" -max_total_time="$seconds" \
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
