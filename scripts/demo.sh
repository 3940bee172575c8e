#!/usr/bin/env bash
# Install fitorch (once; see install.sh), then train the seed examples: Keras-style progress,
# a short History, a plot, a save/load round trip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$(bash scripts/install.sh demo | tail -n 1)"
exec "$PY" -m fitorch.demo "$@"
