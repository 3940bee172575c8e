"""`ProgbarLogger`: Keras-style progress output.

- `Epoch i/N` before every epoch.
- verbose=1 on a terminal or in a notebook (`utils/console.py`): a bar redrawn in place
  (`\\r`) with the running metrics, at most every 0.1 s on a terminal and every 0.5 s in a
  notebook (each redraw reads the device values once); in a file, pipe or CI log, one line
  per epoch (no flood of redraws).
- verbose=2: one line per epoch.
Numbers use Keras' format: `%.4f` when the value is greater than 1e-3, else `%.4e` (so a
negative value prints in e-notation: `cosine_proximity: -1.0000e+00`, as the seeds show).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from fitorch.callbacks.base import Callback
from fitorch.utils import console

__all__ = ["ProgbarLogger", "format_value", "format_logs", "format_duration", "format_per_step"]

_BAR = 20


def format_value(value) -> str:
    """Keras' number format for logs."""
    if isinstance(value, (list, tuple, np.ndarray)):  # a vector result shows its mean (Keras)
        value = float(np.mean(value)) if len(value) else 0.0
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4f}" if value > 1e-3 else f"{value:.4e}"


def format_logs(logs: dict) -> str:
    return " - ".join(
        f"{k}: {format_value(v)}" for k, v in logs.items() if k not in ("batch", "size")
    )


def format_duration(seconds: float) -> str:
    """`1:02:03`, `2:05` or `7s` (Keras' ETA / elapsed format)."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds: float, steps: int, unit: str = "step") -> str:
    """Time per `unit` over `steps` units: `2s/step`, `35ms/step` or `80us/step`."""
    per = seconds / max(steps, 1)
    if per >= 1 or per == 0:
        return f"{per:.0f}s/{unit}"
    if per >= 1e-3:
        return f"{per * 1e3:.0f}ms/{unit}"
    return f"{per * 1e6:.0f}us/{unit}"


class ProgbarLogger(Callback):
    """Prints progress for fit, evaluate and predict (see module docstring)."""

    accepts_lazy_logs = True

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.verbose = 1
        self.epochs = 1
        self._in_fit = False

    # Batch hooks matter only when a bar is redrawn in place.
    def implements(self, hook: str) -> bool:
        if hook.endswith("_batch_end") or hook.endswith("_batch_begin"):
            return hook.endswith("_batch_end") and self._dynamic()
        return super().implements(hook)

    def _out(self):
        return self.stream or sys.stdout

    def _dynamic(self) -> bool:
        return self.params.get("verbose", 1) == 1 and console.is_interactive(self._out())

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    def _write(self, text: str) -> None:
        console.emit(text, self._out())

    # -- fit ---------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            self._write(f"Epoch {epoch + 1}/{self.epochs}\n")
        self._start(self.params.get("steps"))

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose:
            self._finish(self._seen, logs or {})

    # -- evaluate / predict -------------------------------------------------------------
    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._start(self.params.get("steps"))

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch + 1, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit and self.verbose:
            self._finish(self._seen, logs or {})

    def on_predict_begin(self, logs=None):
        self._start(self.params.get("steps"))

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch + 1, None)

    def on_predict_end(self, logs=None):
        if self.verbose:
            self._finish(self._seen, {})

    # -- drawing -----------------------------------------------------------------------
    def _start(self, target):
        self._target = target
        self._t0 = time.perf_counter()
        self._last_draw = 0.0
        self._interval = console.redraw_interval(self._out())
        self._seen = 0
        self._drawn = 0  # width of the line on screen (a redraw pads over a longer one)

    def _update(self, step: int, logs) -> None:
        self._seen = step
        now = time.perf_counter()
        if now - self._last_draw < self._interval:
            return
        self._last_draw = now
        values = logs() if callable(logs) else (logs or {})
        line = self._line(step, values, final=False)
        self._write("\r" + line.ljust(self._drawn))
        self._drawn = len(line)

    def _finish(self, step: int, logs: dict) -> None:
        steps = step or self._target or 0
        line = self._line(steps, logs, final=True)
        self._write(("\r" + line.ljust(self._drawn) if self._drawn else line) + "\n")
        self._drawn = 0

    def _line(self, step: int, logs: dict, final: bool) -> str:
        elapsed = time.perf_counter() - self._t0
        target = self._target if self._target else None
        metrics = format_logs(logs)
        tail = f" - {metrics}" if metrics else ""
        if self.verbose == 2:
            timing = f"{format_duration(elapsed)} - {format_per_step(elapsed, step)}"
            return f"{step}/{target or step} - {timing}{tail}"
        if target:
            done = int(_BAR * min(step, target) / target)
            bar = "━" * done + "─" * (_BAR - done)
            width = len(str(target))
            if final:
                timing = f"{format_duration(elapsed)} {format_per_step(elapsed, step)}"
            else:
                eta = elapsed / max(step, 1) * (target - step)
                timing = f"{format_duration(eta)} {format_per_step(elapsed, step)}"
            return f"{step:>{width}}/{target} {bar} {timing}{tail}"
        return (
            f"{step:>7}/Unknown {format_duration(elapsed)} {format_per_step(elapsed, step)}{tail}"
        )
