#!/usr/bin/env bash
# Install fitorch, then train the seed examples and print Keras-style progress and History.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh demo
exec "${PYTHON:-python3}" -m fitorch.demo "$@"
