"""F-scores: FBetaScore and F1Score over (batch, classes) inputs, streamed exactly."""

from __future__ import annotations

import torch

from fitorch.metrics._utils import as_tensor
from fitorch.metrics.base import Metric, register_metric

__all__ = ["FBetaScore", "F1Score"]

_EPSILON = 1e-7
_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """`(1 + beta^2) * P * R / (beta^2 * P + R)` per class, from streamed TP/FP/FN.

    A prediction is positive where `y_pred > threshold`, or with `threshold=None` where it is
    the row maximum (and non-zero). `average`: None (per-class vector), "micro" (global
    counts), "macro" (mean over classes), "weighted" (mean weighted by each class' support).
    Denominators get +1e-7 as in Keras. Inputs must be 2-D `(batch, classes)`.
    """

    direction = "up"

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if average not in _AVERAGES:
            raise ValueError(f"{owner}: `average` must be one of {_AVERAGES}; got {average!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"{owner}: `beta` must be a float > 0; got beta={beta!r}.")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{owner}: `threshold` must be a float in (0, 1] or None; got {threshold!r}."
            )
        self.average = average
        self.beta = float(beta)
        self.threshold = threshold

    @property
    def _built(self) -> bool:
        """The per-column states exist (they are created from the first batch's shape)."""
        return "true_positives" in self._state_specs

    def _build(self, num_classes: int, device) -> None:
        shape = () if self.average == "micro" else (num_classes,)
        for name in (
            "true_positives",
            "false_positives",
            "false_negatives",
            "intermediate_weights",
        ):
            self.add_state(name, torch.zeros(shape, dtype=self.dtype, device=device))

    def check_shapes(self, y_true, y_pred) -> None:
        y_true, y_pred = as_tensor(y_true), as_tensor(y_pred)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(
                f"{self.name} expects 2-D inputs (batch, classes); got y_true of shape "
                f"{tuple(y_true.shape)} and y_pred of shape {tuple(y_pred.shape)}."
            )

    def build_states(self, y_true, y_pred) -> None:
        """The counts: one per class of `y_pred` (a scalar each for `average="micro"`)."""
        if self._built:
            return
        self.check_shapes(y_true, y_pred)
        device = getattr(self, "_device", None) or as_tensor(y_pred).device
        self._build(as_tensor(y_pred).shape[-1], device)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            self.build_states(y_true, y_pred)
        device = self.true_positives.device
        y_pred = as_tensor(y_pred, device, self.dtype)
        y_true = as_tensor(y_true, device, self.dtype)
        if self.threshold is None:
            top = y_pred.amax(-1, keepdim=True)
            pred = (y_pred >= top) & (y_pred.abs() > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.to(self.dtype)
        hits = pred * y_true
        if sample_weight is not None:
            w = as_tensor(sample_weight, device, self.dtype).reshape(-1, 1)
            hits, pred, y_true = hits * w, pred * w, y_true * w
        dims = None if self.average == "micro" else 0
        tp = hits.sum() if dims is None else hits.sum(dims)
        predicted = pred.sum() if dims is None else pred.sum(dims)
        actual = y_true.sum() if dims is None else y_true.sum(dims)
        self.true_positives.add_(tp)
        self.false_positives.add_(predicted - tp)
        self.false_negatives.add_(actual - tp)
        self.intermediate_weights.add_(actual)

    def to(self, device):
        self._device = torch.device(device)
        return super().to(device)

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self.dtype)
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + _EPSILON)
        recall = tp / (tp + self.false_negatives + _EPSILON)
        b2 = self.beta**2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + _EPSILON)
        if self.average == "weighted":
            weights = self.intermediate_weights / (self.intermediate_weights.sum() + _EPSILON)
            return (score * weights).sum()
        if self.average is not None:
            return score.mean()
        return score

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: `2 * P * R / (P + R)`."""

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype=None,
    ):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config


register_metric(FBetaScore)
register_metric(F1Score)
