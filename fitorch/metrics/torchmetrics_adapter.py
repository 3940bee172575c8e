"""Use a torchmetrics `Metric` wherever fitorch takes a metric.

`TorchMetric(tm)` maps `update_state(y_true, y_pred)` to `tm.update(y_pred, y_true)` (note the
argument order), `result()` to `tm.compute()` and `reset_state()` to `tm.reset()`. The first
update runs with torchmetrics' own argument validation; later updates switch it off
(`validate_args=False`), because those checks read tensor values back to the host every step.
torchmetrics takes no sample weights: a `sample_weight` is ignored with a warning (once).
"""

from __future__ import annotations

import warnings

import torch

from fitorch.metrics.base import Metric
from fitorch.utils.naming import to_snake_case

__all__ = ["TorchMetric", "is_torchmetric"]

_REDUCE_NAMES = {"dim_zero_sum": "sum", "dim_zero_max": "max", "dim_zero_min": "min",
                 "dim_zero_cat": "cat"}  # fmt: skip


def is_torchmetric(obj) -> bool:
    """True for a torchmetrics `Metric` instance (without importing torchmetrics needlessly)."""
    return any(
        c.__module__.startswith("torchmetrics") and c.__name__ == "Metric"
        for c in type(obj).__mro__
    )


class TorchMetric(Metric):
    """Adapter of a torchmetrics metric instance (the states stay inside it)."""

    def __init__(self, metric, name: str | None = None):
        super().__init__(name=name or to_snake_case(type(metric).__name__))
        self.metric = metric
        # fitorch.distributed reduces the declared states (one collective per read); a
        # torchmetrics sync in compute() on top of that would count every rank twice.
        metric.sync_on_compute = False
        metric._to_sync = False
        better = getattr(metric, "higher_is_better", None)
        self.direction = None if better is None else ("up" if better else "down")
        self._updates = 0
        self._warned_weight = False

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is not None and not self._warned_weight:
            warnings.warn(
                f"{self.name}: torchmetrics metrics take no sample_weight; it is ignored.",
                stacklevel=2,
            )
            self._warned_weight = True
        self.metric.update(y_pred, y_true)
        self._updates += 1
        if self._updates == 1 and getattr(self.metric, "validate_args", False):
            self.metric.validate_args = False

    def result(self) -> torch.Tensor:
        return self.metric.compute()

    def reset_state(self) -> None:
        self.metric.reset()
        self._updates = 0

    def states(self) -> dict:
        # tensor states only (torchmetrics keeps "cat" states as Python lists)
        values = {k: getattr(self.metric, k) for k in self.metric._defaults}
        return {k: v for k, v in values.items() if isinstance(v, torch.Tensor)}

    def state_reductions(self) -> dict:
        reductions = getattr(self.metric, "_reductions", {})
        return {
            k: _REDUCE_NAMES.get(getattr(fn, "__name__", ""), "sum") for k, fn in reductions.items()
        }

    def set_state(self, name: str, value) -> None:
        setattr(self.metric, name, value)

    def merge_state(self, others) -> None:
        for other in others:
            self.metric.merge_state(other.metric if isinstance(other, TorchMetric) else other)

    def to(self, device) -> TorchMetric:
        self.metric.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return self.metric.device

    def get_config(self) -> dict:
        return {"name": self.name, "metric": type(self.metric).__name__}

    @classmethod
    def from_config(cls, config: dict):
        raise TypeError(
            "A torchmetrics metric cannot be rebuilt from a config; pass the instance again."
        )
