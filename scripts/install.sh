#!/usr/bin/env bash
# Installs what is missing (Debian packages) and builds pdiff into build/. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake libtorch-dev libopenblas0-pthread dataset-fashion-mnist libgtest-dev
          libbenchmark-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev zlib1g-dev gnuplot-nox python3-torch)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPDIFF_BUILD_TESTS=ON -DPDIFF_BUILD_BENCH=ON >/dev/null
cmake --build build -j "$(nproc)"
