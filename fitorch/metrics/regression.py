"""Regression metrics: MSE, RMSE, MAE, MAPE, MSLE, cosine similarity, log-cosh, R².

The error metrics wrap the per-sample loss functions of `fitorch.losses` (one formula,
shared), so `MeanSquaredError()` gives the sample-weighted mean over the epoch of
`mean((y_true - y_pred)**2, axis=-1)`.
"""

from __future__ import annotations

import torch

from fitorch import losses
from fitorch.metrics._utils import as_tensor, same_rank
from fitorch.metrics.base import Metric, register_metric
from fitorch.metrics.reduction import LossMetric as _LossMetric
from fitorch.metrics.reduction import Mean, MeanMetricWrapper

__all__ = [
    "MeanSquaredError",
    "RootMeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "LogCoshError",
    "R2Score",
]

_EPSILON = 1e-7


class MeanSquaredError(_LossMetric):
    """Mean of `(y_true - y_pred)**2` (averaged over the last axis, then over samples)."""

    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_LossMetric):
    """Mean of `|y_true - y_pred|`."""

    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_LossMetric):
    """Mean of `100 * |y_true - y_pred| / max(|y_true|, 1e-7)`."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_LossMetric):
    """Mean of `(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2`."""

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_LossMetric):
    """Mean of `log(cosh(y_pred - y_true))` (Keras' default name is `logcosh`)."""

    def __init__(self, name: str = "logcosh", dtype=None):
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """`sqrt(sum(w * (y_true - y_pred)**2) / sum(w))` over every entry of the epoch (exact).

    >>> m = RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> round(float(m.result()), 4)
    0.5
    """

    direction = "down"

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = as_tensor(y_pred, self.total.device)
        y_true, y_pred = same_rank(as_tensor(y_true, y_pred.device), y_pred)
        super().update_state(torch.square(y_pred - y_true), sample_weight)

    def result(self) -> torch.Tensor:
        return torch.sqrt(super().result())


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    # x / ||x||, with the norm floored at epsilon (Keras: x * min(rsqrt(sum x^2), 1/eps))
    inv_norm = torch.rsqrt(torch.sum(x * x, dim=axis, keepdim=True)).clamp_max(1.0 / _EPSILON)
    return x * inv_norm


def cosine(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """+cos(y_true, y_pred) along `axis`, one value per sample (the CosineSimilarity metric).

    Not to be confused with the loss `fitorch.losses.cosine_similarity`, which is the negative.
    """
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.float()
    y_true, y_pred = same_rank(as_tensor(y_true, y_pred.device, y_pred.dtype), y_pred)
    return torch.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), dim=axis)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity `sum(l2n(y_true) * l2n(y_pred), axis)` (+1 for a perfect fit)."""

    direction = "up"

    def __init__(self, name: str = "cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(cosine, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict:
        return {**Metric.get_config(self), "axis": self.axis}


class R2Score(Metric):
    """Coefficient of determination per output column, streamed exactly.

    States per column: `sum w*y`, `sum w*y^2`, `sum w*(y - y_hat)^2`, `sum w`.
    `R2 = 1 - SSE / (sum w*y^2 - (sum w*y)^2 / sum w)`; an infinite column score counts as 0.
    `class_aggregation`: "uniform_average" (mean over columns), "variance_weighted_average"
    (weighted by each column's total sum of squares) or None (per-column vector).
    `num_regressors > 0` gives the adjusted R² `1 - (1 - R2)(n - 1)/(n - p - 1)`, where n counts
    every entry of y_true (as Keras); it falls back to R2 when `p >= n - 1`.
    Inputs are 2-D `(batch, outputs)`; `(batch,)` is read as one output.
    """

    direction = "up"
    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(
        self,
        class_aggregation: str | None = "uniform_average",
        num_regressors: int = 0,
        name: str = "r2_score",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in self._AGGREGATIONS:
            raise ValueError(
                f"R2Score: `class_aggregation` must be one of {self._AGGREGATIONS}; got "
                f"class_aggregation={class_aggregation!r}."
            )
        if num_regressors < 0:
            raise ValueError(f"R2Score: `num_regressors` must be >= 0; got {num_regressors}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.add_state("num_samples", torch.zeros((), dtype=self.dtype))

    @property
    def _built(self) -> bool:
        """The per-column states exist (they are created from the first batch's shape)."""
        return "residual" in self._state_specs

    def _build(self, columns: int, device) -> None:
        for name in ("sum", "squared_sum", "residual", "count"):
            self.add_state(name, torch.zeros(columns, dtype=self.dtype, device=device))

    def check_shapes(self, y_true, y_pred) -> None:
        if as_tensor(y_pred).ndim > 2:
            raise ValueError(
                f"R2Score expects 2-D inputs (batch, outputs); got y_pred of shape "
                f"{tuple(as_tensor(y_pred).shape)}."
            )

    def build_states(self, y_true, y_pred) -> None:
        """One sum, squared sum, residual and count per output column of `y_pred`."""
        if self._built:
            return
        self.check_shapes(y_true, y_pred)
        y_pred = as_tensor(y_pred)
        self._build(y_pred.shape[-1] if y_pred.ndim > 1 else 1, self.num_samples.device)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        device = self.num_samples.device
        y_pred = as_tensor(y_pred, device, self.dtype)
        y_true, y_pred = same_rank(as_tensor(y_true, device, self.dtype), y_pred)
        if y_pred.ndim == 1:
            y_true, y_pred = y_true.unsqueeze(-1), y_pred.unsqueeze(-1)
        if not self._built:
            self.build_states(y_true, y_pred)
        if sample_weight is None:
            w = torch.ones((), dtype=self.dtype, device=device).expand_as(y_true)
        else:
            w = as_tensor(sample_weight, device, self.dtype)
            w = torch.broadcast_to(w.reshape(-1, 1) if w.ndim == 1 else w, y_true.shape)
        weighted = y_true * w
        self.sum.add_(weighted.sum(0))
        self.squared_sum.add_((y_true * weighted).sum(0))
        self.residual.add_((torch.square(y_true - y_pred) * w).sum(0))
        self.count.add_(w.sum(0))
        self.num_samples.add_(y_true.numel())

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self.dtype, device=self.num_samples.device)
        total = self.squared_sum - self.sum * (self.sum / self.count)
        scores = 1 - self.residual / total
        scores = torch.where(torch.isinf(scores), torch.zeros_like(scores), scores)
        if self.class_aggregation == "uniform_average":
            r2 = scores.mean()
        elif self.class_aggregation == "variance_weighted_average":
            r2 = (total * scores).sum() / total.sum()
        else:
            r2 = scores
        if self.num_regressors:
            n, p = self.num_samples, float(self.num_regressors)
            adjusted = 1 - (1 - r2) * (n - 1) / (n - p - 1)
            r2 = torch.where(p < n - 1, adjusted, r2)
        return r2

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }


register_metric(MeanSquaredError, "mse", "MSE")
register_metric(MeanAbsoluteError, "mae", "MAE")
register_metric(MeanAbsolutePercentageError, "mape", "MAPE")
register_metric(MeanSquaredLogarithmicError, "msle", "MSLE")
register_metric(RootMeanSquaredError, "rmse", "RMSE")
register_metric(CosineSimilarity)
register_metric(LogCoshError, "logcosh")
register_metric(R2Score)

cosine.direction = "up"
