#!/usr/bin/env bash
# Runs the whole test suite (GoogleTest under CTest). Run scripts/install.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
cd build
ctest --output-on-failure --timeout 900 "$@"
