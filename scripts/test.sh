#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: the GoogleTest suite under
# CTest, then a bounded run of every fuzz target (scripts/fuzz.sh). Idempotent.
#   scripts/test.sh [CTEST ARGS...]   e.g. scripts/test.sh -R Config
#   scripts/test.sh --sanitize        the unit tests built with AddressSanitizer and
#                                     UndefinedBehaviorSanitizer (clang, build-sanitize/)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--sanitize" ]; then
  shift
  scripts/install.sh --tests --packages-only
  scripts/sanitize.sh "$@"
  exit 0
fi

scripts/install.sh --tests
(cd build && ctest --output-on-failure --timeout 900 "$@")
# With a test filter the caller wants a part of the suite; the fuzz run belongs to the whole.
if [ $# -eq 0 ]; then
  scripts/fuzz.sh --seconds "${PDIFF_FUZZ_SECONDS:-10}"
fi
