"""Metrics: stateful `Metric` objects and metric functions (see DESIGN.md)."""

from fitorch.metrics.base import Metric
from fitorch.metrics.reduction import Mean, MeanMetricWrapper, Sum

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Sum"]
