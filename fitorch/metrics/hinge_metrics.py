"""Hinge metrics: epoch means of the hinge losses (labels -1/1, or 0/1 converted as Keras 3)."""

from __future__ import annotations

from fitorch import losses
from fitorch.metrics.base import register_metric
from fitorch.metrics.reduction import LossMetric

__all__ = ["Hinge", "SquaredHinge", "CategoricalHinge"]


class Hinge(LossMetric):
    """Mean of `mean(max(1 - y_true * y_pred, 0), -1)`."""

    def __init__(self, name: str = "hinge", dtype=None):
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(LossMetric):
    """Mean of `mean(max(1 - y_true * y_pred, 0)**2, -1)`."""

    def __init__(self, name: str = "squared_hinge", dtype=None):
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(LossMetric):
    """Mean of `max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`."""

    def __init__(self, name: str = "categorical_hinge", dtype=None):
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)


register_metric(Hinge)
register_metric(SquaredHinge)
register_metric(CategoricalHinge)
