#!/usr/bin/env bash
# Builds TARGETS in build-sanitize/: clang, AddressSanitizer + UndefinedBehaviorSanitizer, and
# libFuzzer coverage in the library. Shared by scripts/fuzz.sh and scripts/sanitize.sh, so one
# sanitized library serves both. Run scripts/install.sh --tests --packages-only first.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: scripts/sanitized_build.sh TARGET..." >&2; exit 2; }
command -v clang++ >/dev/null || { echo "sanitized_build.sh: clang++ not found; run scripts/install.sh --tests" >&2; exit 1; }

# -O1, as the sanitizers' and libFuzzer's docs advise: reports keep their lines, and the build
# takes 2.4 min instead of 3.2 on the 2-core machine.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_UNITY_BUILD="${PDIFF_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  -DPDIFF_SANITIZE=address,undefined -DPDIFF_BUILD_FUZZ=ON -DPDIFF_BUILD_TESTS=ON >/dev/null
cmake --build build-sanitize -j "$(nproc)" --target "$@"
