#!/usr/bin/env bash
# Builds TARGETS with clang, AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer
# coverage in the library, into DIR at optimization LEVEL. Run scripts/install.sh --tests
# --packages-only first.
#   scripts/sanitized_build.sh DIR LEVEL TARGET...
# scripts/fuzz.sh builds its fuzzers in build-fuzz/ at -O0: the test command builds them from
# scratch, and -O0 halves that build (1 min 13 s against 2 min 19 s at -O1 on the 2-core
# machine); the fuzzed parsers spend their time in LibTorch and zlib, built optimized anyway.
# scripts/sanitize.sh builds the unit tests in build-sanitize/ at -O1, as the sanitizers' docs
# advise for code that computes: reports keep their lines and the tests run at a useful speed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 2 ] || { echo "usage: scripts/sanitized_build.sh DIR LEVEL TARGET..." >&2; exit 2; }
dir="$1" level="$2"
shift 2
command -v clang++ >/dev/null || { echo "sanitized_build.sh: clang++ not found; run scripts/install.sh --tests" >&2; exit 1; }

scripts/configure.sh "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="$level -DNDEBUG" \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_UNITY_BUILD="${PDIFF_UNITY:-ON}" -DCMAKE_UNITY_BUILD_BATCH_SIZE=16 \
  -DPDIFF_SANITIZE=address,undefined -DPDIFF_BUILD_FUZZ=ON -DPDIFF_BUILD_TESTS=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "$@"
