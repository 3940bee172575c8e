"""Correlation metrics: Pearson and concordance correlation along an axis, per sample.

As in Keras, each sample (a row along `axis`) gets its own coefficient and the metric is the
(weighted) mean of those; it is not one correlation over the whole data set.
"""

from __future__ import annotations

import torch

from fitorch.metrics._utils import as_tensor, same_rank
from fitorch.metrics.base import Metric, register_metric
from fitorch.metrics.reduction import MeanMetricWrapper

__all__ = [
    "PearsonCorrelation",
    "ConcordanceCorrelation",
    "pearson_correlation",
    "concordance_correlation",
]

_EPSILON = 1e-7


def _float_pair(y_true, y_pred):
    y_pred = as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.float()
    return same_rank(as_tensor(y_true, y_pred.device, y_pred.dtype), y_pred)


def pearson_correlation(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """`mean(z(y_true) * z(y_pred), axis)` with z-scores from the population std."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    t = y_true - y_true.mean(axis, keepdim=True)
    p = y_pred - y_pred.mean(axis, keepdim=True)
    t = t / t.std(axis, correction=0, keepdim=True)
    p = p / p.std(axis, correction=0, keepdim=True)
    return (t * p).mean(axis)


def concordance_correlation(y_true, y_pred, axis: int = -1) -> torch.Tensor:
    """Lin's `2 cov(t, p) / (var t + var p + (mean t - mean p)^2 + 1e-7)` along `axis`."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    mean_t = y_true.mean(axis, keepdim=True)
    mean_p = y_pred.mean(axis, keepdim=True)
    cov = ((y_true - mean_t) * (y_pred - mean_p)).mean(axis, keepdim=True)
    var_t = y_true.var(axis, correction=0, keepdim=True)
    var_p = y_pred.var(axis, correction=0, keepdim=True)
    ccc = 2 * cov / (var_t + var_p + torch.square(mean_t - mean_p) + _EPSILON)
    return ccc.squeeze(axis)


class _CorrelationMetric(MeanMetricWrapper):
    direction = "up"

    def __init__(self, fn, name, dtype, axis):
        super().__init__(fn, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict:
        return {**Metric.get_config(self), "axis": self.axis}


class PearsonCorrelation(_CorrelationMetric):
    """Mean Pearson correlation coefficient of the samples (along `axis`)."""

    def __init__(self, name: str = "pearson_correlation", dtype=None, axis: int = -1):
        super().__init__(pearson_correlation, name, dtype, axis)


class ConcordanceCorrelation(_CorrelationMetric):
    """Mean concordance correlation coefficient of the samples (along `axis`)."""

    def __init__(self, name: str = "concordance_correlation", dtype=None, axis: int = -1):
        super().__init__(concordance_correlation, name, dtype, axis)


register_metric(PearsonCorrelation)
register_metric(ConcordanceCorrelation)

pearson_correlation.direction = "up"
concordance_correlation.direction = "up"
