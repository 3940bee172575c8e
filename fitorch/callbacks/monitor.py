"""`MonitorCallback`: the shared "watch one logged value" logic of EarlyStopping,
ModelCheckpoint and ReduceLROnPlateau.

Mode rules (Keras 3):
- `mode="min"` / `"max"`: smaller / bigger is better. An unknown mode warns and uses "auto".
- `mode="auto"`: a loss key (`loss`, `val_loss`, `<output>_loss`) is minimized; any other key
  is looked up among the compiled metrics (without `val_`, aliases such as `acc` for
  `accuracy` included) and its declared `direction` decides ("up" -> max, "down" -> min).
  When nothing tells, a ValueError names the monitor and the fix (pass mode="min"/"max").
- Improvement: `current` beats `best` by more than |min_delta| (min: `current + d < best`,
  max: `current - d > best`); `best=None` (nothing seen yet) always counts as an improvement.
A monitored key missing from the logs is resolved through metric aliases first (`val_acc`
finds `val_accuracy`); if still missing, a warning lists the available keys with the
closest one suggested, or a ValueError when `strict=True`. `check_monitor` does the same in
`on_train_begin`, against the keys predicted from the compile configuration (log_keys.py).
"""

from __future__ import annotations

import warnings

import numpy as np

from fitorch.callbacks.base import Callback
from fitorch.callbacks.log_keys import expected_log_keys, misspelled
from fitorch.registry import suggest

__all__ = ["MonitorCallback", "resolve_direction"]

_MODES = ("auto", "min", "max")


def _strip_val(key: str) -> str:
    return key[4:] if key.startswith("val_") else key


def _alias_table(model) -> dict[str, str]:
    """alias -> real log key, from the compiled metrics (History uses the same table)."""
    state = getattr(model, "trainer", None)
    table = {"lr": "learning_rate"}
    if state is not None and state.built:
        table.update(state.metrics.aliases)
    return table


def resolve_direction(model, monitor: str) -> str | None:
    """'min', 'max' or None (unknown) for a monitored key, from the compiled metrics."""
    key = _strip_val(monitor)
    if key == "loss" or key.endswith("_loss"):
        return "min"
    state = getattr(model, "trainer", None)
    if state is None:
        return None
    key = _alias_table(model).get(key, key)
    for name, _ in getattr(state, "output_trackers", []):
        if name == key:
            return "min"
    for entry_key, _, metric, _ in state.metrics.entries:
        if entry_key == key:
            direction = getattr(metric, "direction", None)
            return {"up": "max", "down": "min"}.get(direction)
    return None


class MonitorCallback(Callback):
    """Base of the callbacks that watch `logs[monitor]` (see the module docstring).

    Args:
        monitor: the log key to watch, e.g. "val_loss", "val_acc".
        mode: "auto", "min" or "max".
        min_delta: smallest change that counts as an improvement.
        strict: raise instead of warning when `monitor` is not in the logs (fitorch).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        strict: bool = False,
    ):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key string; got {monitor!r}.")
        if mode not in _MODES:
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.strict = strict
        self.best = None
        self._direction: str | None = None if mode == "auto" else mode

    # -- mode -----------------------------------------------------------------------------
    def _resolve_mode(self) -> str:
        """'min' or 'max', decided once (auto: from the compiled metrics, at first use)."""
        if self._direction is None:
            direction = resolve_direction(self.model, self.monitor)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} cannot tell whether {self.monitor!r} should go up "
                    "or down (mode='auto' knows losses and the compiled metrics that declare a "
                    "direction). Pass mode='min' or mode='max' explicitly, or give the metric a "
                    "`direction` attribute ('up' or 'down')."
                )
            self._direction = direction
        return self._direction

    def _is_improvement(self, current: float, reference) -> bool:
        if reference is None:
            return True
        if self._resolve_mode() == "min":
            return current + self.min_delta < reference
        return current - self.min_delta > reference

    # -- reading the value --------------------------------------------------------------------
    def get_monitor_value(self, logs: dict | None):
        """`logs[monitor]` (through metric aliases); None, with a warning, when absent."""
        logs = logs or {}
        if self.monitor in logs:
            return logs[self.monitor]
        prefix = "val_" if self.monitor.startswith("val_") else ""
        real = _alias_table(self.model).get(_strip_val(self.monitor))
        if real is not None and prefix + real in logs:
            return logs[prefix + real]
        self._missing(logs)
        return None

    def check_monitor(self) -> None:
        """In `on_train_begin`: warn (raise when strict) if `monitor` is a misspelling of a
        key `fit` will log, when those can be told from the compile configuration (log_keys)."""
        keys = expected_log_keys(self.model, bool(self.params.get("do_validation")))
        if keys is not None and misspelled(self.monitor, keys) is not None:
            self._missing(dict.fromkeys(sorted(keys)), when=" (checked before the first step)")

    def _missing(self, logs: dict, when: str = "") -> None:
        keys = [k for k in logs if k not in ("batch", "size")]
        close = suggest(self.monitor, keys, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        message = (
            f"{type(self).__name__} is conditioned on metric {self.monitor!r} which is not "
            f"available{when}.{hint} Available metrics are: {', '.join(keys)}."
        )
        if self.monitor.startswith("val_") and not any(k.startswith("val_") for k in keys):
            message += " (No validation metrics: pass validation_data or validation_split to fit.)"
        if self.strict:
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)

    @staticmethod
    def _scalar(value):
        """A float for a scalar log value, None for a missing or vector (list) value."""
        if value is None:
            return None
        if isinstance(value, (list, tuple, np.ndarray)):
            return float(np.reshape(value, -1)[0]) if np.size(value) == 1 else None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
