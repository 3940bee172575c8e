#!/usr/bin/env bash
# Install fitorch and what it needs, once; print the Python to run it with (last stdout line).
#
# Which Python: the active virtual environment ($VIRTUAL_ENV), else $PYTHON when set, else the
# project's own `.venv` (created on first use, so a distribution's system Python, which refuses
# `pip install` under PEP 668, is never written to). `.venv` sees the system's site-packages:
# what is already installed there (torch, keras, ...) is reused instead of downloaded again.
#
# Which torch, when none is importable: with CUDA (nvidia-smi) the index's default build;
# without, a CPU build only: PyTorch's CPU index when it answers within a few seconds, else a
# CPU-only build the configured index offers (a wheel that does not require the nvidia-*
# packages); never the multi-GB CUDA wheels.
#
# Skipping: a stamp in the environment records the hash of pyproject.toml, this script, the
# extra and the checkout's path; when it matches and fitorch imports from this checkout,
# nothing is installed (the install is editable, so code changes need no reinstall).
#
# Usage: bash scripts/install.sh [extra]   (dev: the test suite, demo: the demo)
#        FITORCH_REINSTALL=1 forces a reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
EXTRA="${1:-dev}"
CPU_INDEX="https://download.pytorch.org/whl/cpu"
log() { echo "install.sh: $*" >&2; }

if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
else
  PY="$ROOT/.venv/bin/python"
  if [ ! -x "$PY" ]; then
    log "creating $ROOT/.venv"
    python3 -m venv --system-site-packages "$ROOT/.venv" >&2 || {
      log "python3 -m venv failed; on Debian/Ubuntu: apt-get install python3-venv"
      exit 1
    }
  fi
fi
pip_install() { "$PY" -m pip install --quiet --disable-pip-version-check "$@" >&2; }

case "$EXTRA" in
  dev) SPEC=".[dev]" ;;
  demo) SPEC=".[plot]" ;;
  *) SPEC=".[$EXTRA]" ;;
esac
PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
STAMP="$PREFIX/.fitorch-install-$EXTRA"
WANT="$(cat pyproject.toml scripts/install.sh | "$PY" -c \
  "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())") $ROOT"
# find_spec locates fitorch without importing it (and torch with it): a second, not ten.
HERE="$("$PY" -c 'import importlib.util as u, os; s = u.find_spec("fitorch")
print(os.path.dirname(os.path.dirname(s.origin)) if s else "")' 2>/dev/null || true)"
# The dev extra holds the demo's (plot), so its stamp answers for the demo too.
STAMPS=("$STAMP")
[ "$EXTRA" != demo ] || STAMPS+=("$PREFIX/.fitorch-install-dev")
for done in "${STAMPS[@]}"; do
  if [ "${FITORCH_REINSTALL:-0}" != 1 ] && [ "$HERE" = "$ROOT" ] && [ -f "$done" ] \
    && [ "$(cat "$done")" = "$WANT" ]; then
    echo "$PY"
    exit 0
  fi
done

# The torch version a dry run of `pip install torch ARGS` would pick, if it is a CPU-only build.
cpu_candidate() {
  "$PY" -m pip install --quiet --dry-run --ignore-installed --no-deps --report - "$@" torch \
    2>/dev/null | "$PY" -c '
import json, sys
for item in json.load(sys.stdin)["install"]:
    needs = item["metadata"].get("requires_dist") or []
    if not any(r.startswith(("nvidia-", "triton")) for r in needs):
        print(item["metadata"]["version"])' || true
}

if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    log "installing torch (CUDA machine)"
    pip_install torch
  elif "$PY" -c "import urllib.request as u; u.urlopen('$CPU_INDEX/torch/', timeout=5)" \
    >/dev/null 2>&1; then
    log "installing torch from PyTorch's CPU index"
    pip_install torch --index-url "$CPU_INDEX" --extra-index-url https://pypi.org/simple
  else
    VERSION="$(cpu_candidate)"
    [ -n "$VERSION" ] || VERSION="$(cpu_candidate --no-index)"  # a local wheelhouse
    if [ -z "$VERSION" ]; then
      log "no CPU-only torch reachable and no GPU here; install one first, e.g."
      log "  $PY -m pip install torch --index-url $CPU_INDEX"
      exit 1
    fi
    log "installing torch==$VERSION (CPU-only build)"
    pip_install "torch==$VERSION"
  fi
fi

log "installing fitorch $SPEC (editable) into $PREFIX"
pip_install -e "$SPEC"
echo "$WANT" >"$STAMP" 2>/dev/null || log "cannot write $STAMP: will reinstall next time"
echo "$PY"
