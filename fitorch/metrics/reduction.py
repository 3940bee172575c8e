"""Reduction metrics: `Sum`, `Mean`, and `MeanMetricWrapper` (any `f(y_true, y_pred)`)."""

from __future__ import annotations

import torch

from fitorch.metrics.base import Metric
from fitorch.utils.naming import to_snake_case

__all__ = ["Sum", "Mean", "MeanMetricWrapper", "samplewise"]


def samplewise(values: torch.Tensor, sample_weight=None, dtype=torch.float32):
    """Keras' `reduce_to_samplewise_values`: weighted per-sample values and weights.

    Values of rank > rank(weight) are averaged over the extra axes, then multiplied by the
    (broadcast) weight; a weight of rank >= 2 is averaged to one weight per sample; the
    values are finally averaged to one per sample. Returns `(values, weight_or_None)`.
    """
    values = values.to(dtype)
    if sample_weight is not None:
        w = torch.as_tensor(sample_weight, dtype=dtype, device=values.device)
        if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
            w = w.squeeze(-1)
        elif values.ndim == w.ndim + 1 and values.shape[-1] == 1:
            values = values.squeeze(-1)
        if values.ndim > w.ndim:
            values = values.mean(dim=tuple(range(w.ndim, values.ndim)))
        w = torch.broadcast_to(w, values.shape)
        values = values * w
        if w.ndim > 1:
            w = w.mean(dim=tuple(range(1, w.ndim)))
        sample_weight = w
    if values.ndim > 1:
        values = values.mean(dim=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of values: `total += sum(values * sample_weight)`."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.add_state("total", torch.zeros((), dtype=self.dtype))

    def update_state(self, values, sample_weight=None) -> None:
        values = torch.as_tensor(values, dtype=self.dtype, device=self.total.device)
        values, _ = samplewise(values, sample_weight, self.dtype)
        self.total.add_(values.sum())

    def result(self) -> torch.Tensor:
        return self.total.clone()


class Mean(Metric):
    """Weighted mean of values: `total / count`.

    `total += sum(v_i * w_i)`, `count += sum(w_i)` (or the batch size without weights; a
    scalar value counts once). Values of rank > 1 are first averaged per sample.
    """

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.add_state("total", torch.zeros((), dtype=self.dtype))
        self.add_state("count", torch.zeros((), dtype=self.dtype))

    def update_state(self, values, sample_weight=None) -> None:
        values = torch.as_tensor(values, dtype=self.dtype, device=self.total.device)
        values, sample_weight = samplewise(values, sample_weight, self.dtype)
        self.total.add_(values.sum())
        if sample_weight is not None:
            self.count.add_(sample_weight.sum())
        else:
            self.count.add_(values.shape[0] if values.ndim else 1)

    def result(self) -> torch.Tensor:
        # divide_no_nan: an empty mean is 0, as Keras.
        return torch.where(self.count != 0, self.total / self.count.clamp_min(1e-30), 0.0)


class MeanMetricWrapper(Mean):
    """Mean over samples of `fn(y_true, y_pred, **kwargs)`.

    `fn` returns one value per sample (a scalar per batch counts as that value for every
    sample of the batch, so the epoch value is weighted by batch size). The epoch value is
    the sample-weighted mean over all samples seen.
    """

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        super().__init__(name=name or to_snake_case(fn.__name__), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        self.direction = getattr(fn, "direction", type(self).direction)

    @property
    def fn(self):
        return self._fn

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        values = torch.as_tensor(values, device=self.total.device)
        if values.ndim == 0 and y_pred.ndim > 0:
            values = values.expand(y_pred.shape[0])
        super().update_state(values, sample_weight)

    def get_config(self) -> dict:
        from fitorch.registry import get_registered_name

        return {**super().get_config(), "fn": get_registered_name(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> "MeanMetricWrapper":
        from fitorch.registry import get_registered_object

        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            resolved = get_registered_object(fn)
            if resolved is None:
                raise ValueError(
                    f"MeanMetricWrapper.from_config: function {fn!r} is not registered; pass it "
                    f"with custom_objects={{{fn!r}: {fn}}} or @fitorch.saving.register_serializable()."
                )
            fn = resolved
        return cls(fn, **config)
