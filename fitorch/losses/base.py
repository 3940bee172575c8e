"""The `Loss` base class, `LossFunctionWrapper`, the reduction code and the loss registry.

A loss is a per-sample function `fn(y_true, y_pred) -> Tensor` (the last axis reduced, so
`(B, T, C)` gives `(B, T)`) plus a small class that applies `sample_weight`, masks and the
reduction. The reduction code exists once, in `Loss.__call__` (`reduce_weighted_values`).

Masks: a per-sample function may attach a boolean mask to its result with `set_mask`
(`ignore_class` does); a mask attached to `y_pred` (e.g. by a Masking layer) is honoured
too. Masked entries get weight 0 and, for the mean reductions, the valid entries are
re-weighted by total/valid, so the mean is over the valid entries only (Keras 3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fitorch import backend as K
from fitorch.layers.input import KerasTensor
from fitorch.layers.op_node import symbolic_op
from fitorch.registry import Registry, get_registered_name, get_registered_object
from fitorch.utils.naming import to_snake_case

__all__ = [
    "LOSSES",
    "REDUCTIONS",
    "Reduction",
    "Loss",
    "LossFunctionWrapper",
    "get_mask",
    "set_mask",
    "squeeze_or_expand_to_same_rank",
    "prepare",
    "reduce_weighted_values",
    "register_loss",
]

#: Every loss function, class and alias by name (`"mse"` -> `mean_squared_error`).
LOSSES = Registry("loss")

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


class Reduction:
    """tf.keras 2 reduction constants; `AUTO` ("auto") means `SUM_OVER_BATCH_SIZE`."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"
    MEAN = "mean"
    MEAN_WITH_SAMPLE_WEIGHT = "mean_with_sample_weight"


_MASK_ATTR = "_keras_mask"


def symbolic_loss(fn):
    """`fn` (a per-sample loss function) building a graph node on symbolic tensors, so
    Keras 2 code computes losses between layers (`mse(inputs, outputs)` then `add_loss`);
    saved graphs name it `"fitorch.losses.<name>"`."""
    op = symbolic_op(fn, f"fitorch.losses.{fn.__name__}")

    @functools.wraps(fn)
    def loss_function(*args, **kwargs):
        # The per-step call (tensors in) skips the symbolic check's walk over the arguments.
        if (
            len(args) == 2
            and isinstance(args[0], torch.Tensor)
            and isinstance(args[1], torch.Tensor)
            and not any(isinstance(v, KerasTensor) for v in kwargs.values())
        ):
            return fn(*args, **kwargs)
        return op(*args, **kwargs)

    return loss_function


def register_loss(obj, *aliases: str, targets: str | None = None):
    """Register a loss function or class under its name and `aliases`; mark functions.

    Functions get `direction = "down"` (metrics wrapping them read it) and `targets`:
    `"dense"` (y_true has y_pred's shape), `"sparse"` (integer class ids) or `"any"`.
    """
    if not isinstance(obj, type):
        obj.direction = "down"
        obj.targets = targets or getattr(obj, "targets", "dense")
    return LOSSES.register(obj, *aliases)


def set_mask(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Attach a boolean `mask` (True = valid) to `values`; returns `values`."""
    setattr(values, _MASK_ATTR, mask)
    return values


def get_mask(values: Any) -> torch.Tensor | None:
    """The boolean mask attached to `values` by `set_mask` (or a Masking layer), else None."""
    return getattr(values, _MASK_ATTR, None)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make the ranks of `x1` and `x2` equal when they differ by one trailing length-1 axis.

    The higher-rank tensor loses its trailing 1, except that a rank-1 partner is expanded
    instead (with `expand_rank_1`): (B,) vs (B, 1) -> (B, 1) and (B, 1); (B, T) vs (B, T, 1)
    -> (B, T) and (B, T). Other shapes are returned unchanged.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def _check_reduction(reduction):
    if reduction == Reduction.AUTO:  # tf.keras 2 spelling of the default
        return "sum_over_batch_size"
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: expected one of {list(REDUCTIONS)}; "
            f"received reduction={reduction!r}."
        )
    return reduction


def _divide_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den, and 0 where den == 0 (no host sync)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(den == 0, torch.zeros_like(num), num / safe)


def _align(values: torch.Tensor, weight: torch.Tensor):
    """Match `weight` to `values`: Keras' squeeze/expand, then batch-aligned broadcasting.

    A (B,) weight for (B, T) values becomes (B, 1), so it scales every timestep of its sample
    (Keras would broadcast it against T, an error or a silent mistake when B == T).
    """
    values, weight = squeeze_or_expand_to_same_rank(values, weight)
    if 0 < weight.ndim < values.ndim:
        weight = weight.reshape(*weight.shape, *([1] * (values.ndim - weight.ndim)))
    return values, weight


def reduce_weighted_values(
    values: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reduction: str | None = "sum_over_batch_size",
) -> torch.Tensor:
    """Apply `mask`, `sample_weight` and `reduction` to per-sample loss `values`.

    - mask: for `sum_over_batch_size`/`mean`, valid entries weigh total/valid and masked ones
      0 (the mean is over valid entries); for the other reductions masked entries weigh 0.
    - sample_weight: matched to `values` by `squeeze_or_expand_to_same_rank`, then broadcast
      from the batch axis ((B,) or (B, 1) weights scale every timestep of a (B, T) loss).
    - reduction: `none`/None unreduced; `sum`; `sum_over_batch_size` and `mean`:
      sum / number of elements of `values`; `mean_with_sample_weight`: sum / sum(weights
      broadcast to the values' shape).
    A scalar (or empty) `values` is returned as is.
    """
    reduction = _check_reduction(reduction)
    if mask is not None:
        mask = mask.to(values.device).bool()
        float_mask = mask.to(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # Valid entries weigh total/valid, so sum(l * w) / total = sum(valid l * w) / valid.
            valid = float_mask.sum()
            float_mask = float_mask * _divide_no_nan(torch.full_like(valid, mask.numel()), valid)
        if sample_weight is not None:
            float_mask, sample_weight = _align(float_mask, sample_weight)
            sample_weight = sample_weight * float_mask
        else:
            sample_weight = float_mask
    if sample_weight is not None:
        values, sample_weight = _align(values, sample_weight)
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0 or values.numel() == 0:
        return values
    total = torch.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        # The weights broadcast to the values' shape, so (B,), (B, 1) and (B, T) weights give
        # the same weighted mean (Keras divides by the sum of the (B, 1) weights, T times less).
        weight_sum = torch.broadcast_to(sample_weight, values.shape).sum()
        return _divide_no_nan(total, weight_sum.to(total.dtype))
    # A Python divisor: no host-to-device copy.
    return total / values.numel()


def _compute_dtype(dtype, y_pred) -> torch.dtype:
    """The loss's compute dtype: `dtype` if given, else floatx promoted with y_pred's float type.

    float16/bfloat16 outputs are computed in float32 (as Keras) and float64 outputs stay float64
    (Keras would cast them down to float32).
    """
    if dtype is not None:
        return K.to_torch_dtype(dtype)
    base = _FLOAT_DTYPES.get(K.floatx()) or K.to_torch_dtype(K.floatx())
    if isinstance(y_pred, torch.Tensor) and y_pred.is_floating_point():
        return base if y_pred.dtype == base else torch.promote_types(base, y_pred.dtype)
    return base


# floatx names -> dtypes, read per call without K.to_torch_dtype's parsing.
_FLOAT_DTYPES = {
    "float16": torch.float16, "bfloat16": torch.bfloat16,
    "float32": torch.float32, "float64": torch.float64,
}  # fmt: skip


def prepare(y_true, y_pred, squeeze: bool = False):
    """y_pred as a floating tensor and y_true cast to its dtype and device.

    With `squeeze`, their ranks are matched by `squeeze_or_expand_to_same_rank`.
    """
    if (
        isinstance(y_pred, torch.Tensor)
        and isinstance(y_true, torch.Tensor)
        and y_true.shape == y_pred.shape
        and y_true.dtype == y_pred.dtype
        and y_pred.is_floating_point()
        and y_true.device == y_pred.device
    ):
        return y_true, y_pred  # the per-step case: nothing to cast or align
    y_pred = K._floating(K._t(y_pred))
    y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
    if squeeze:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return y_true, y_pred


def _as_tensor(x, dtype: torch.dtype, device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if x.dtype == dtype and (device is None or x.device == device):
            return x  # the per-step case: `.to` would return x too, at a dispatcher call's cost
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


class Loss:
    """Base class of losses: `call` gives per-sample values, `__call__` weights and reduces.

    `loss(y_true, y_pred, sample_weight=None)`: casts both inputs to the compute dtype,
    `values = self.call(y_true, y_pred)`, then `reduce_weighted_values` with the mask attached
    to `values` or `y_pred` (see `set_mask`).

    Args:
        name: name of the instance; default: the class name in snake case.
        reduction: `"sum_over_batch_size"` (default: weighted sum / number of elements, not
            / sum of weights), `"sum"`, `"mean"` (same as sum_over_batch_size),
            `"mean_with_sample_weight"` (weighted sum / sum of weights), `"none"` or None.
        dtype: compute dtype; default: `K.floatx()` promoted with a floating y_pred's dtype.

    Example:
        >>> class MyMSE(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return torch.mean((y_pred - y_true) ** 2, dim=-1)
        >>> float(MyMSE()(torch.zeros(2, 2), torch.ones(2, 2)))
        1.0
    """

    #: Kind of y_true expected (checked once by `validate_targets`): "dense" = y_pred's shape,
    #: "sparse" = integer class ids, "any" = not checked.
    targets = "dense"
    direction = "down"

    def __init__(self, name: str | None = None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = _check_reduction(reduction)
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None) -> torch.Tensor:
        in_mask = get_mask(y_pred)
        dtype = _compute_dtype(self.dtype, y_pred)
        device = y_pred.device if isinstance(y_pred, torch.Tensor) else None
        y_pred = _as_tensor(y_pred, dtype, device)
        y_true = _as_tensor(y_true, dtype, y_pred.device)
        values = self.call(y_true, y_pred)
        if not isinstance(values, torch.Tensor):
            values = torch.as_tensor(values, dtype=dtype, device=y_pred.device)
        out_mask = get_mask(values)
        if in_mask is not None and out_mask is not None:
            mask = in_mask.to(out_mask.device).bool() & out_mask.bool()
        else:
            mask = out_mask if out_mask is not None else in_mask
        if mask is not None and mask.shape != values.shape:
            mask = None if mask.numel() != values.numel() else mask.reshape(values.shape)
        if sample_weight is not None:
            sample_weight = _as_tensor(sample_weight, values.dtype, values.device)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Per-sample loss values; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def get_config(self) -> dict:
        """`{"name", "reduction"}` (+ `"dtype"` when set); subclasses add their arguments."""
        config = {"name": self.name, "reduction": self.reduction}
        if self.dtype is not None:
            config["dtype"] = self.dtype if isinstance(self.dtype, str) else str(self.dtype)
        return config

    @classmethod
    def from_config(cls, config: dict):
        """Rebuild an instance from `get_config()`."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """A `Loss` around any per-sample function `fn(y_true, y_pred, **fn_kwargs)`.

    y_true and y_pred are first brought to the same rank when they differ by a trailing
    length-1 axis (`squeeze_or_expand_to_same_rank`). A function returning one scalar per
    batch also works: without sample_weight the scalar is returned as is, with it the scalar
    is multiplied by the weights and reduced (Keras does the same).

    Args:
        fn: the per-sample function.
        reduction, name, dtype: as `Loss` (name defaults to `fn.__name__`).
        **fn_kwargs: extra keyword arguments passed to `fn` (and kept in `get_config`).

    Example:
        >>> loss = LossFunctionWrapper(lambda t, p: ((p - t) ** 2).mean(-1), name="sq")
        >>> float(loss(torch.zeros(2, 1), torch.full((2, 1), 2.0)))
        4.0
    """

    def __init__(
        self, fn: Callable, reduction="sum_over_batch_size", name=None, dtype=None, **fn_kwargs
    ):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper: `fn` must be callable; received {fn!r}.")
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
        self.fn = fn
        self.fn_kwargs = fn_kwargs
        self.targets = getattr(fn, "targets", "dense")

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        if type(self) is LossFunctionWrapper:
            config["fn"] = get_registered_name(self.fn)
        config.update(self.fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if cls is LossFunctionWrapper:
            fn = config.pop("fn")
            if isinstance(fn, str):
                fn = get_registered_object(fn) or LOSSES.lookup(fn)
            return cls(fn, **config)
        return cls(**config)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"<{type(self).__name__}({name}, name={self.name!r}, kwargs={self.fn_kwargs})>"


register_loss(Loss)
register_loss(LossFunctionWrapper)
