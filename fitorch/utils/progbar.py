"""`Progbar`: the stand-alone progress bar of Keras 3 (`keras.utils.Progbar`).

`update(current, values)` moves the bar to step `current`; each `(name, value)` in `values`
is averaged over the steps, weighted by how many steps the update advanced
(`current - previous current`, at least 1), except names in `stateful_metrics`, shown as
given. A final update (`finalize=True`, or `current >= target` by default) shows the values
it is given as they are, as Keras does (Keras' metrics are already running means then).

- verbose=1: the bar, `current/target ━━━━━━─────── ETA time/step - name: value ...`,
  redrawn in place (`\\r`) on a terminal or in a notebook at most every `interval`
  seconds, one line per drawn update elsewhere; the last update ends the line.
- verbose=2: one line when the bar is finalized, `current/target - 3s - 12ms/step - ...`.
- verbose=0: nothing is printed; values are still averaged.

Numbers, durations and per-step times use `ProgbarLogger`'s formatters (Keras' formats).
The bar is drawn without Keras' colour escapes: `━` for the done part, `─` for the rest.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from fitorch.utils import console

__all__ = ["Progbar"]


def _formatters():
    # Imported when used: fitorch.callbacks imports fitorch.utils.
    from fitorch.callbacks import progbar

    return progbar


class Progbar:
    """A progress bar with running averages (see the module docstring).

    Args:
        target: total number of steps, or `None` when unknown.
        width: characters of the bar.
        verbose: 0 (silent), 1 (bar) or 2 (one line at the end).
        interval: minimum seconds between two redraws (verbose=1).
        stateful_metrics: names whose values are shown as given, not averaged.
        unit_name: what a step is called in the time per step (`"step"`, `"sample"`).
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        unit_name="step",
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self._dynamic_display = console.is_interactive(sys.stdout)
        self._seen_so_far = 0
        self._values: dict[str, list] = {}  # name -> [weighted sum, weight]; insertion order
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Move the bar to step `current`.

        Args:
            current: index of the current step.
            values: list of `(name, value_for_last_step)` pairs.
            finalize: whether this is the last update; default `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        weight = max(current - self._seen_so_far, 1)
        for name, value in values or []:
            if name in self.stateful_metrics or finalize:
                self._values[name] = [value, 1]
            elif name in self._values:
                self._values[name][0] += value * weight
                self._values[name][1] += weight
            else:
                self._values[name] = [value * weight, weight]
        self._seen_so_far = current

        now = time.time()
        per_unit = self._step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            self._write(self._summary_line(current, now, per_unit) + "\n")
        self._last_update = now

    def add(self, n, values=None):
        """Advance the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # -- averages ----------------------------------------------------------------------
    def _mean(self, name):
        total, weight = self._values[name]
        try:
            total = float(total)
        except (TypeError, ValueError):  # an array of values: their mean, as Keras
            total = float(np.mean(np.asarray(total)))
        return total / max(1, weight)

    def _metrics_text(self, magnitude: bool) -> str:
        format_value = _formatters().format_value
        parts = []
        for name in self._values:
            mean = self._mean(name)
            # verbose=1 compares |mean| with 1e-3, verbose=2 the signed mean (as Keras).
            text = format_value(abs(mean)) if magnitude else format_value(mean)
            if magnitude and mean < 0:
                text = "-" + text
            parts.append(f" - {name}: {text}")
        return "".join(parts)

    # -- lines ---------------------------------------------------------------------------
    def _counter(self, current) -> str:
        digits = int(math.log10(self.target)) + 1
        return f"{current:>{digits}}/{self.target}"

    def _summary_line(self, current, now, per_unit) -> str:
        fmt = _formatters()
        per_step = fmt.format_per_step(per_unit, 1, self.unit_name)
        head = f"{self._counter(current)} - {now - self._start:.0f}s - {per_step}"
        return head + self._metrics_text(magnitude=False)

    def _bar_line(self, current, now, per_unit, finalize) -> str:
        fmt = _formatters()
        if self.target:
            done = min(int(self.width * current / self.target), self.width)
            line = f"{self._counter(current)} " + "━" * done + "─" * (self.width - done)
        else:
            line = f"{current:>7}/Unknown"
        if self.target and not finalize:
            line += " " + fmt.format_duration(per_unit * (self.target - current))
        else:
            line += f" {now - self._start:.0f}s"
        line += " " + fmt.format_per_step(per_unit, 1, self.unit_name)
        return line + self._metrics_text(magnitude=True)

    def _draw(self, current, now, per_unit, finalize) -> None:
        line = self._bar_line(current, now, per_unit, finalize)
        if self._dynamic_display:
            text = "\r" + line.ljust(self._prev_total_width)
            if finalize:
                text += "\n"
        else:
            text = line + "\n"
        self._write(text)
        self._prev_total_width = len(line)

    def _step_duration(self, current, now) -> float:
        # The first step (compilation, warm-up) is left out once a later step is known.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit

    @staticmethod
    def _write(text: str) -> None:
        console.emit(text)
