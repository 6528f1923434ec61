#!/usr/bin/env bash
# Configures the build directory DIR with CMake's Ninja generator: ARGS go to cmake.
#   scripts/configure.sh DIR [CMAKE ARGS...]
# Ninja builds every target named in one graph, so the tests compile while the library's last
# files and pdiff's link run (make builds target after target and leaves a core idle). A
# directory configured before with make is configured again from scratch (CMake refuses to
# change the generator of a directory; its objects are rebuilt once).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:?usage: scripts/configure.sh DIR [CMAKE ARGS...]}"
shift
command -v ninja >/dev/null || { echo "configure.sh: ninja not found; run scripts/install.sh" >&2; exit 1; }
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
fi
cmake -G Ninja -S . -B "$dir" "$@"
