"""Regression losses: MSE, MAE, MAPE, MSLE, cosine similarity, Huber, log-cosh.

Each per-sample function reduces the last axis (`(B, T, C)` -> `(B, T)`), first matching
the ranks of y_true and y_pred when they differ by a trailing length-1 axis.
ε is `K.epsilon()` (1e-7) read at call time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fitorch import backend as K
from fitorch.losses.base import LossFunctionWrapper, prepare, register_loss, symbolic_loss

__all__ = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "huber",
    "log_cosh",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "Huber",
    "LogCosh",
]

_SOBS = "sum_over_batch_size"


def _last_axis_mean(x: torch.Tensor) -> torch.Tensor:
    """`mean(x, axis=-1)`. A length-1 last axis (a one-unit regression output) is dropped
    without a kernel: the mean of one value is that value, bit for bit."""
    return x.squeeze(-1) if x.ndim and x.shape[-1] == 1 else torch.mean(x, dim=-1)


@symbolic_loss
def mean_squared_error(y_true, y_pred) -> torch.Tensor:
    """Mean squared error per sample: mean((y_true - y_pred)**2, axis=-1).

    Example:
        >>> mean_squared_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
        tensor([2.5000])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    return _last_axis_mean(torch.square(y_true - y_pred))


@symbolic_loss
def mean_absolute_error(y_true, y_pred) -> torch.Tensor:
    """Mean absolute error per sample: mean(|y_true - y_pred|, axis=-1).

    Example:
        >>> mean_absolute_error(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
        tensor([1.5000])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    return _last_axis_mean(torch.abs(y_true - y_pred))


@symbolic_loss
def mean_absolute_percentage_error(y_true, y_pred) -> torch.Tensor:
    """Mean absolute percentage error: 100 * mean(|y_true - y_pred| / max(|y_true|, ε), -1).

    Example:
        >>> mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]), torch.tensor([[1.0, 5.0]]))
        tensor([37.5000])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    diff = torch.abs((y_true - y_pred) / torch.clamp(torch.abs(y_true), min=K.epsilon()))
    return 100.0 * _last_axis_mean(diff)


@symbolic_loss
def mean_squared_logarithmic_error(y_true, y_pred) -> torch.Tensor:
    """Mean squared log error: mean((log(max(y_pred, ε) + 1) - log(max(y_true, ε) + 1))**2, -1).

    Example:
        >>> mean_squared_logarithmic_error(torch.tensor([[0.0]]), torch.tensor([[math.e - 1]]))
        tensor([1.0000])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    eps = K.epsilon()
    # log(x + 1) rather than log1p(x): the same float32 rounding as Keras.
    first = torch.log(torch.clamp(y_pred, min=eps) + 1.0)
    second = torch.log(torch.clamp(y_true, min=eps) + 1.0)
    return _last_axis_mean(torch.square(first - second))


def l2_normalize(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """x * rsqrt(max(sum(x**2, axis), ε**2)), i.e. x / max(||x||, ε); zero vectors stay 0.

    The clamp sits inside the rsqrt, so the gradient at a zero vector is finite.
    """
    eps = K.epsilon()
    square_sum = torch.sum(torch.square(x), dim=axis, keepdim=True)
    return x * torch.rsqrt(torch.clamp(square_sum, min=eps * eps))


@symbolic_loss
def cosine_similarity(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """Negative cosine similarity: -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis).

    -1 is a perfect match, 0 orthogonal (or a zero vector). Keras 2's `cosine_proximity`.

    Args:
        axis: the axis along which the similarity is computed (default -1).

    Example:
        >>> cosine_similarity(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]))
        tensor([-1.])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    return -torch.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), dim=axis)


@symbolic_loss
def huber(y_true, y_pred, delta: float = 1.0) -> torch.Tensor:
    """Huber loss per sample: mean(½e² if |e| <= delta else delta·|e| - ½delta², axis=-1).

    e = y_pred - y_true.

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).

    Example:
        >>> huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
        tensor([1.3125])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    error = y_pred - y_true
    abs_error = torch.abs(error)
    quadratic = 0.5 * torch.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return _last_axis_mean(torch.where(abs_error <= delta, quadratic, linear))


_LOG2 = math.log(2.0)


@symbolic_loss
def log_cosh(y_true, y_pred) -> torch.Tensor:
    """Log-cosh per sample: mean(log(cosh(x)), axis=-1), x = y_pred - y_true.

    Computed as x + softplus(-2x) - log 2, finite for any |x| (≈ x²/2 small, |x| - log 2 large).

    Example:
        >>> log_cosh(torch.tensor([[0.0]]), torch.tensor([[100.0]]))
        tensor([99.3069])
    """
    y_true, y_pred = prepare(y_true, y_pred, squeeze=True)
    x = y_pred - y_true
    return _last_axis_mean(x + F.softplus(-2.0 * x) - _LOG2)


class MeanSquaredError(LossFunctionWrapper):
    """`mean_squared_error` as a Loss (weights and reduction applied).

    Example:
        >>> float(MeanSquaredError()([[0.0, 2.0]], [[1.0, 0.0]]))
        2.5
    """

    def __init__(self, reduction=_SOBS, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """`mean_absolute_error` as a Loss."""

    def __init__(self, reduction=_SOBS, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """`mean_absolute_percentage_error` as a Loss."""

    def __init__(self, reduction=_SOBS, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """`mean_squared_logarithmic_error` as a Loss."""

    def __init__(self, reduction=_SOBS, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class CosineSimilarity(LossFunctionWrapper):
    """`cosine_similarity` (negative cosine) as a Loss; `axis` as the function."""

    def __init__(self, axis=-1, reduction=_SOBS, name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(LossFunctionWrapper):
    """`huber` as a Loss (default name `"huber_loss"`); `delta` as the function."""

    def __init__(self, delta=1.0, reduction=_SOBS, name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """`log_cosh` as a Loss."""

    def __init__(self, reduction=_SOBS, name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


register_loss(mean_squared_error, "mse", "MSE")
register_loss(mean_absolute_error, "mae", "MAE")
register_loss(mean_absolute_percentage_error, "mape", "MAPE")
register_loss(mean_squared_logarithmic_error, "msle", "MSLE")
register_loss(cosine_similarity, "cosine_proximity", "cosine")
register_loss(huber, "huber_loss")
register_loss(log_cosh, "logcosh")
for _cls in (
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    Huber,
    LogCosh,
):
    register_loss(_cls)
