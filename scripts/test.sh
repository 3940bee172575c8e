#!/usr/bin/env bash
# Install what the tests need (once; see install.sh), then run the whole suite (pytest arguments
# pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$(bash scripts/install.sh dev | tail -n 1)"
export KERAS_BACKEND=torch
exec "$PY" -m pytest "$@"
