"""AUC: area under the ROC, PR or PR-gain curve from streamed per-threshold counts.

The counts come from `confusion.confusion_counts` (one histogram per batch, no loop over the
thresholds). The area is a Riemann sum over the thresholds, or for PR with interpolation the
Davis & Goadrich interpolation between thresholds (precision is not linear in recall).
"""

from __future__ import annotations

import torch

from fitorch.metrics._utils import as_tensor, check_probability
from fitorch.metrics.base import Metric, register_metric
from fitorch.metrics.confusion import (
    Thresholds,
    _safe_div,
    accumulate_histogram,
    check_same_shape,
    counts_from_histogram,
    is_evenly_spaced,
    prepare_inputs,
)

__all__ = ["AUC"]

_EPSILON = 1e-7
_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the curve, approximated over `num_thresholds` thresholds.

    Thresholds are `[-eps, 1/(n-1), ..., (n-2)/(n-1), 1+eps]`, or the given `thresholds`
    with `-eps` and `1+eps` added. Scores are probabilities (clipped to [0, 1] with evenly
    spaced thresholds) or logits with `from_logits=True` (a sigmoid is applied).

    Args:
        curve: "ROC" (TPR vs FPR), "PR" (precision vs recall) or "PRGAIN".
        summation_method: "interpolation" (trapezoids; Davis-Goadrich for PR), "minoring"
            or "majoring" (lower/upper Riemann sums).
        multi_label: one curve per label column (2-D inputs), averaged at the end (weighted by
            `label_weights` if given); otherwise every entry is one binary decision and
            `label_weights` weights the columns.

    >>> m = AUC(num_thresholds=3); m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> round(float(m.result()), 4)
    0.75
    """

    direction = "up"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights=None,
        from_logits: bool = False,
    ):
        super().__init__(name=name, dtype=dtype)
        if str(curve).lower() not in _CURVES:
            raise ValueError(f"AUC: `curve` must be one of 'ROC', 'PR', 'PRGAIN'; got {curve!r}.")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(
                f"AUC: `summation_method` must be one of {_SUMMATIONS}; got {summation_method!r}."
            )
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            check_probability("thresholds", inner, "AUC")
            evenly = is_evenly_spaced([0.0] + inner + [1.0])
            self.num_thresholds = len(inner) + 2
        else:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(
                    f"AUC: `num_thresholds` must be an integer > 1; got {num_thresholds!r}."
                )
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            evenly = True
        self._thresholds = Thresholds([-_EPSILON] + inner + [1.0 + _EPSILON], clip=evenly)
        if num_labels is not None and not multi_label:
            raise ValueError("AUC: `num_labels` is needed only when `multi_label=True`.")
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = (
            None if label_weights is None else torch.as_tensor(label_weights, dtype=self.dtype)
        )
        self.from_logits = from_logits
        if not multi_label or num_labels:
            self._build(num_labels if multi_label else None, None)

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds.values)

    @property
    def _built(self) -> bool:
        """The per-column states exist (they are created from the first batch's shape)."""
        return "confusion_histogram" in self._state_specs

    def _build(self, num_labels, device) -> None:
        # (labels, negative/positive, bins): see confusion.counts_from_histogram
        shape = (num_labels if self.multi_label else 1, 2, self.num_thresholds + 1)
        self.add_state("confusion_histogram", torch.zeros(shape, dtype=self.dtype, device=device))

    def _counts(self):
        return counts_from_histogram(self.confusion_histogram)

    @property
    def true_positives(self) -> torch.Tensor:
        return self._counts()[0]

    @property
    def false_positives(self) -> torch.Tensor:
        return self._counts()[1]

    @property
    def true_negatives(self) -> torch.Tensor:
        return self._counts()[2]

    @property
    def false_negatives(self) -> torch.Tensor:
        return self._counts()[3]

    def check_shapes(self, y_true, y_pred) -> None:
        check_same_shape(self, y_true, y_pred)
        y_pred = as_tensor(y_pred)
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError(
                f"{self.name}: multi_label=True needs y_pred of rank 2 (batch, labels); got "
                f"shape {tuple(y_pred.shape)}."
            )
        built_labels = self.confusion_histogram.shape[0] if self._built else None
        if self.multi_label and self._built and y_pred.shape[-1] != built_labels:
            raise ValueError(
                f"{self.name}: built for {built_labels} labels; got y_pred of "
                f"shape {tuple(y_pred.shape)}."
            )

    def build_states(self, y_true, y_pred) -> None:
        """A multi-label AUC made without `num_labels`: one histogram per label of y_pred."""
        if self._built:
            return
        self.check_shapes(y_true, y_pred)
        self._build(as_tensor(y_pred).shape[-1], self._state_device(y_pred))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            self.build_states(y_true, y_pred)
        device = self.confusion_histogram.device
        labels, scores, weights = prepare_inputs(y_true, y_pred, sample_weight, self.dtype, device)
        if self.from_logits:
            scores = torch.sigmoid(scores)
        if self.label_weights is not None and not self.multi_label:
            lw = torch.broadcast_to(self.label_weights.to(device), scores.shape)
            weights = lw if weights is None else weights * lw
        accumulate_histogram(self.confusion_histogram, labels, scores, weights, self._thresholds)

    def _state_device(self, y_pred):
        return getattr(self, "_device", None) or as_tensor(y_pred).device

    def to(self, device) -> AUC:
        self._device = torch.device(device)
        return super().to(device)

    # -- the area -----------------------------------------------------------------------------
    def _interpolated_pr_auc(self, tp, fp, fn) -> torch.Tensor:
        """Davis & Goadrich: precision interpolated between thresholds i and i+1.

        Between two thresholds TP grows linearly with P = TP + FP (slope s, intercept b), so
        the area under precision over recall on that segment is
        `s * (dTP + b * log(P_i / P_{i+1})) / (TP + FN)`.
        """
        d_tp = tp[:-1] - tp[1:]
        p = tp + fp
        d_p = p[:-1] - p[1:]
        slope = _safe_div(d_tp, d_p.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both, _safe_div(p[:-1], p[1:].clamp_min(0)), torch.ones_like(p[1:]))
        increments = _safe_div(
            slope * (d_tp + intercept * torch.log(ratio)), (tp[1:] + fn[1:]).clamp_min(0)
        )
        return increments.sum(0)

    def _curve_points(self, tp, fp, tn, fn):
        recall = _safe_div(tp, tp + fn)
        if self.curve == "ROC":
            return _safe_div(fp, fp + tn), recall
        if self.curve == "PR":
            return recall, _safe_div(tp, tp + fp)
        # PR gain (Flach & Kull): gains relative to the always-positive classifier
        scale = _safe_div(tp + fn, tn + fp)
        recall_gain = 1.0 - scale * _safe_div(fn, tp)
        precision_gain = 1.0 - scale * _safe_div(fp, tp)
        no_tp = tp == 0
        recall_gain = torch.where(no_tp, torch.zeros_like(tp), recall_gain).clamp_min(0)
        precision_gain = torch.where(no_tp, torch.ones_like(tp), precision_gain)
        return recall_gain, precision_gain

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self.dtype)
        tp, fp, tn, fn = self._counts()
        if self.curve == "PR" and self.summation_method == "interpolation":
            by_label = self._interpolated_pr_auc(tp, fp, fn)
        else:
            x, y = self._curve_points(tp, fp, tn, fn)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = torch.minimum(y[:-1], y[1:])
            else:
                heights = torch.maximum(y[:-1], y[1:])
            by_label = ((x[:-1] - x[1:]) * heights).sum(0)
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return by_label.mean()
        lw = self.label_weights.to(by_label.device)
        return _safe_div((by_label * lw).sum(), lw.sum())

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


register_metric(AUC)
