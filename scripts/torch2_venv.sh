#!/usr/bin/env bash
# Creates the PyPI PyTorch 2.x venv that pdiff is also built and tested against: the interop
# tests load pdiff's files with its Python (PDIFF_TORCH2_PYTHON, scripts/test.sh), and
# `scripts/install.sh --torch VENV/bin/python` builds pdiff against its LibTorch (build-torch2/).
# Idempotent: a venv that already holds the pinned versions is left as it is.
#
#   scripts/torch2_venv.sh            prints the venv's python when done
#
# The venv lives outside the repository: $PDIFF_TORCH2_VENV, default ~/.cache/pdiff/torch2-venv.
# On a fresh machine it downloads PyPI's torch 2.15.0 for Linux x86-64 with its CUDA 13
# libraries (nvidia-cublas, -cudnn-cu13, -nccl-cu13, ... and triton): about 3.5 GB of wheels,
# 5.4 GB installed. PDIFF_TORCH2_PIP_ARGS adds pip arguments, e.g.
# "--index-url https://download.pytorch.org/whl/cpu" for the CPU-only build of the same version
# (about 0.2 GB; pdiff then builds without CUDA).
set -euo pipefail

# The newest LibTorch pdiff is tested against (the oldest: Debian 12's 1.13, libtorch-dev).
TORCH_PIN=2.15.0
NUMPY_PIN=2.4.6
venv="${PDIFF_TORCH2_VENV:-$HOME/.cache/pdiff/torch2-venv}"
base_python="${PDIFF_TORCH2_BASE_PYTHON:-/usr/bin/python3}"

# Whether the venv holds the pinned torch (its local version, +cu132 or +cpu, may differ) and numpy.
current() {
  [ -x "$venv/bin/python" ] &&
    "$venv/bin/python" - "$TORCH_PIN" "$NUMPY_PIN" <<'EOF' 2>/dev/null
import sys
import numpy, torch
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] and numpy.__version__ == sys.argv[2] else 1)
EOF
}

if current; then
  echo "torch2_venv.sh: $venv holds torch $TORCH_PIN and numpy $NUMPY_PIN" >&2
  echo "$venv/bin/python"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  # Debian's python3 makes venvs only with python3-venv (ensurepip).
  if [ "$base_python" = /usr/bin/python3 ] && ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-venv
  fi
  echo "torch2_venv.sh: creating $venv" >&2
  mkdir -p "$(dirname "$venv")"
  "$base_python" -m venv "$venv"
fi
echo "torch2_venv.sh: installing torch==$TORCH_PIN numpy==$NUMPY_PIN into $venv (a few GB on a fresh machine)" >&2
# shellcheck disable=SC2086  # PDIFF_TORCH2_PIP_ARGS is a list of words
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ${PDIFF_TORCH2_PIP_ARGS:-} \
  "torch==$TORCH_PIN" "numpy==$NUMPY_PIN" >&2
current || { echo "torch2_venv.sh: $venv still lacks torch $TORCH_PIN / numpy $NUMPY_PIN" >&2; exit 1; }
echo "$venv/bin/python"
