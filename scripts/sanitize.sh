#!/usr/bin/env bash
# The unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize/).
# The end-to-end CLI tests are left out: they run the same code through the pdiff program and
# take hours under the sanitizers. Extra arguments go to the test binary (e.g. --gtest_filter).
# Called by `scripts/test.sh --sanitize`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sanitized_build.sh build-sanitize -O1 pdiff_tests
source scripts/sanitizer_env.sh
build-sanitize/pdiff_tests \
  --gtest_filter='-*Cli*:*EveryMode*:*EveryArchEveryFormat*:*ShippedConfig*:*PythonReaders*:*OwnModelFlow*' "$@"
echo "sanitize.sh: unit tests clean under ASan + UBSan"
