#!/usr/bin/env bash
# Install what the tests need, then run the whole suite (pass pytest arguments through).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
export KERAS_BACKEND=torch
exec "${PYTHON:-python3}" -m pytest "$@"
