#!/usr/bin/env bash
# Install fitorch and what it needs into the current Python, idempotently.
# Takes the CPU build of torch when no torch is installed and no GPU is present, so a
# machine without CUDA never downloads the multi-GB CUDA wheels.
# Usage: bash scripts/install.sh [extra]   (extra: dev for the test suite, demo for the demo)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
EXTRA="${1:-dev}"

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install --quiet torch
  else
    # A local CPU wheel of 2.13.0 exists on these machines; elsewhere take PyTorch's CPU index.
    "$PY" -m pip install --quiet torch==2.13.0 \
      || "$PY" -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
  fi
fi

case "$EXTRA" in
  dev) SPEC=".[dev]" ;;
  demo) SPEC=".[plot]" ;;
  *) SPEC=".[$EXTRA]" ;;
esac
if ! "$PY" -c "import fitorch" >/dev/null 2>&1 || [ "${FITORCH_REINSTALL:-1}" = 1 ]; then
  "$PY" -m pip install --quiet -e "$SPEC"
fi
