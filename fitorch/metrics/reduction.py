"""Reduction metrics: `Sum`, `Mean`, and `MeanMetricWrapper` (any `f(y_true, y_pred)`)."""

from __future__ import annotations

import inspect

import torch

from fitorch import losses
from fitorch.losses import get_mask
from fitorch.metrics._utils import as_tensor
from fitorch.metrics.base import Metric
from fitorch.utils.naming import to_snake_case

__all__ = ["Sum", "Mean", "MeanMetricWrapper", "samplewise", "register_input_checks"]


def samplewise(values: torch.Tensor, sample_weight=None, dtype=torch.float32, reduce="mean"):
    """Keras' `reduce_to_samplewise_values`: weighted per-sample values and weights.

    Values of rank > rank(weight) are reduced (`reduce`: "mean" for Mean, "sum" for Sum) over
    the extra axes, then multiplied by the (broadcast) weight; a weight of rank >= 2 is reduced
    to one weight per sample; the values are finally reduced to one per sample.
    Returns `(values, weight_or_None)`.
    """

    def fold(x, start):
        dims = tuple(range(start, x.ndim))
        return x.sum(dim=dims) if reduce == "sum" else x.mean(dim=dims)

    values = values.to(dtype)
    if sample_weight is not None:
        w = torch.as_tensor(sample_weight, dtype=dtype, device=values.device)
        if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
            w = w.squeeze(-1)
        elif values.ndim == w.ndim + 1 and values.shape[-1] == 1:
            values = values.squeeze(-1)
        if values.ndim > w.ndim:
            values = fold(values, w.ndim)
        w = torch.broadcast_to(w, values.shape)
        values = values * w
        if w.ndim > 1:
            w = fold(w, 1)
        sample_weight = w
    if values.ndim > 1:
        values = fold(values, 1)
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of values: `total += sum(values * sample_weight)`."""

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.add_state("total", torch.zeros((), dtype=self.dtype))

    def update_state(self, values, sample_weight=None) -> None:
        values = torch.as_tensor(values, dtype=self.dtype, device=self.total.device)
        values, _ = samplewise(values, sample_weight, self.dtype, reduce="sum")
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
        self._accumulate(as_tensor(values, device=self.total.device), sample_weight)

    def _accumulate(self, values: torch.Tensor, sample_weight) -> None:
        if sample_weight is None:
            # Fast path (the common one): per-sample means summed = total sum / row size.
            # Three kernels: sum, add, add.
            if values.ndim == 0:
                self.total.add_(values.to(self.dtype))
                self.count.add_(1)
                return
            rows = values.shape[0]
            per_row = values.numel() // rows if rows else 1
            self.total.add_(values.sum(dtype=self.dtype), alpha=1.0 / per_row)
            self.count.add_(rows)
            return
        values, sample_weight = samplewise(values, sample_weight, self.dtype)
        self.total.add_(values.sum())
        self.count.add_(sample_weight.sum())

    def result(self) -> torch.Tensor:
        # divide_no_nan: an empty mean is 0, as Keras.
        return torch.where(self.count != 0, self.total / self.count.clamp_min(1e-30), 0.0)


# fn -> (check_shapes(y_true, y_pred, **fn_kwargs), check_values(...)) for wrapped functions
# that need their inputs checked once (sparse labels, k); filled by the family modules.
_INPUT_CHECKS: dict = {}


def register_input_checks(fn, shapes=None, values=None) -> None:
    """Declare the first-batch checks of a metric function (see `Metric.check_shapes`)."""
    _INPUT_CHECKS[fn] = (shapes, values)


def _combined_mask(y_pred, values):
    """The Keras-style masks on `y_pred` (Masking layer) and on `values` (e.g. ignore_class)."""
    pred_mask, value_mask = get_mask(y_pred), get_mask(values)
    if pred_mask is None or value_mask is None:
        return value_mask if pred_mask is None else pred_mask
    return pred_mask & value_mask


def _masked_weight(sample_weight, mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Masked entries get weight 0, so the mean runs over valid entries only.

    Keras does this only when a sample_weight is given; without one it averages the masked
    entries in as zeros. fitorch excludes them in both cases.
    """
    mask = mask.to(device=values.device, dtype=values.dtype)
    if sample_weight is None:
        return mask
    w = as_tensor(sample_weight, device=values.device, dtype=values.dtype)
    if w.ndim == mask.ndim + 1 and w.shape[-1] == 1:
        w = w.squeeze(-1)
    w = w.reshape(w.shape + (1,) * (mask.ndim - w.ndim)) if w.ndim < mask.ndim else w
    return w * mask


def _callable_name(fn) -> str:
    """A function's `__name__`; a callable object's `.name` (e.g. a Loss) or snake class name."""
    name = getattr(fn, "__name__", None) or getattr(fn, "name", None)
    return name if isinstance(name, str) else to_snake_case(type(fn).__name__)


def _is_loss_function(fn) -> bool:
    if isinstance(fn, (losses.Loss, torch.nn.modules.loss._Loss)):
        return True
    return bool(losses.LOSSES.aliases_of(fn))


class MeanMetricWrapper(Mean):
    """Mean over samples of `fn(y_true, y_pred, **kwargs)`.

    `fn` returns one value per sample (a scalar per batch counts as that value for every
    sample of the batch, so the epoch value is weighted by batch size). The epoch value is
    the sample-weighted mean over all samples seen. Wrapping a loss function sets
    `direction = "down"` (as Keras); a function may declare its own `direction` attribute.
    """

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper(fn=...) needs a callable; got {fn!r}.")
        fn_name = _callable_name(fn)
        super().__init__(name=name or fn_name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        direction = getattr(fn, "direction", None)
        if direction is None and type(self).direction is None and _is_loss_function(fn):
            direction = "down"
        if direction is not None:
            self.direction = direction

    @property
    def fn(self):
        return self._fn

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if isinstance(y_pred, torch.Tensor) and y_pred.requires_grad:
            y_pred = y_pred.detach()  # no autograd graph for a metric
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        mask = _combined_mask(y_pred, values)
        if not isinstance(values, torch.Tensor) or values.requires_grad:
            values = as_tensor(values, device=self.total.device)
        if values.ndim == 0 and getattr(y_pred, "ndim", 0) > 0:
            # One scalar per batch: it stands for every sample of the batch.
            values = values.expand(y_pred.shape[0])
        if mask is not None:
            sample_weight = _masked_weight(sample_weight, mask, values)
        self._accumulate(values, sample_weight)

    def check_shapes(self, y_true, y_pred) -> None:
        check = _INPUT_CHECKS.get(self._fn, (None, None))[0]
        if check is not None:
            check(y_true, y_pred, owner=self.name, **self._fn_kwargs)

    def check_values(self, y_true, y_pred) -> None:
        check = _INPUT_CHECKS.get(self._fn, (None, None))[1]
        if check is not None:
            check(y_true, y_pred, owner=self.name, **self._fn_kwargs)

    def get_config(self) -> dict:
        from fitorch.registry import get_registered_name

        return {**super().get_config(), "fn": get_registered_name(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> MeanMetricWrapper:
        from fitorch.registry import get_registered_object

        config = dict(config)
        if "fn" not in config:  # a subclass that fixes its function
            return cls(**config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            resolved = get_registered_object(fn) or _metric_function(fn)
            if resolved is None:
                raise ValueError(
                    f"MeanMetricWrapper.from_config: function {fn!r} is not registered; pass "
                    f"it with custom_objects={{{fn!r}: {fn}}} or "
                    f"@fitorch.saving.register_serializable()."
                )
            fn = resolved
        return cls(fn, **config)


class LossMetric(MeanMetricWrapper):
    """Base of the built-in metrics that average one loss function (direction "down").

    Its config is the name, dtype and the fixed function arguments (the function is implied).
    """

    direction = "down"

    def get_config(self) -> dict:
        return {**Metric.get_config(self), **self._fn_kwargs}


def _metric_function(name: str):
    """A built-in metric or loss function registered under `name`, else None."""
    from fitorch import metrics

    for registry in (metrics.METRICS, losses.LOSSES):
        obj = registry._by_name.get(name)
        if obj is not None and not isinstance(obj, type) and callable(obj):
            return obj
    obj = getattr(metrics, name, None) if name.isidentifier() else None
    return obj if inspect.isfunction(obj) else None  # e.g. metrics.binary_accuracy
