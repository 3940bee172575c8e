"""Confusion-matrix metrics at thresholds: TP/FP/TN/FN counts, Precision, Recall, and the
sensitivity/specificity/precision/recall-at-a-constraint family. AUC lives in auc.py.

A prediction is positive at threshold t iff `y_pred > t` (strict); a label is positive iff it
is non-zero. Everything is flattened (micro over all labels) unless `class_id` picks a column.

How the update is vectorized (no loop over thresholds): with the thresholds sorted,
`searchsorted(thresholds, p)` is the number of thresholds strictly below p, i.e. p is a
positive prediction at exactly the first `searchsorted(...)` thresholds. The state is the
histogram of that index for positive and negative labels, added to with one `index_add_` per
batch; `result()` turns it into TP and FP at every threshold with a reverse cumulative sum, and
TN, FN follow from the label totals. This is Keras' bucketized AUC update, made exact for any
sorted thresholds, with the cumulative sums moved out of the per-step path. (`bincount` is
avoided: on CUDA it reads the maximum back to the host.)
"""

from __future__ import annotations

import torch

from fitorch.metrics._utils import (
    as_tensor,
    check_class_count,
    check_probability,
    same_rank,
    weights_like,
)
from fitorch.metrics.base import Metric, register_metric

__all__ = [
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "Precision",
    "Recall",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "accumulate_histogram",
    "counts_from_histogram",
]

NEG_INF = -1e10  # score given to entries outside the top k (Keras' value)
_EPSILON = 1e-7


def is_evenly_spaced(thresholds) -> bool:
    """True for `[0, 1/(n-1), ..., 1]` (n >= 3): Keras then clips y_pred to [0, 1]."""
    n = len(thresholds)
    return n >= 3 and all(abs(t - i / (n - 1)) <= _EPSILON for i, t in enumerate(thresholds))


class Thresholds:
    """Sorted thresholds as a device tensor, plus the permutation back to the user's order."""

    def __init__(self, values, clip: bool):
        values = [float(v) for v in values]
        order = sorted(range(len(values)), key=values.__getitem__)
        self.values = values  # the user's order
        self.sorted = torch.tensor([values[i] for i in order], dtype=torch.float64)
        self.clip = clip
        # position in the sorted states of each user threshold (None when already sorted)
        inverse = [0] * len(values)
        for pos, i in enumerate(order):
            inverse[i] = pos
        self.inverse = None if order == list(range(len(values))) else torch.tensor(inverse)

    def __len__(self) -> int:
        return len(self.values)

    def tensor(self, like: torch.Tensor) -> torch.Tensor:
        """The sorted thresholds in `like`'s dtype and device (cached per dtype/device)."""
        key = (like.dtype, like.device)
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = self.sorted.to(device=like.device, dtype=like.dtype)
        return cache[key]

    def user_order(self, x: torch.Tensor) -> torch.Tensor:
        """States (sorted order, first axis) back in the order the user gave."""
        if self.inverse is None:
            return x
        return x.index_select(0, self.inverse.to(x.device))


def prepare_inputs(y_true, y_pred, sample_weight, dtype, device, top_k=None, class_id=None):
    """`(labels as bool, scores, weights or None)` with Keras' rank fixing, top-k and class_id."""
    y_pred = as_tensor(y_pred, device, dtype)
    y_true, y_pred = same_rank(as_tensor(y_true, device), y_pred)
    weights = weights_like(sample_weight, y_pred)
    if top_k is not None:
        # keep the k best scores of each row, push the others below every threshold
        top = y_pred.topk(top_k, dim=-1).indices
        keep = torch.zeros_like(y_pred, dtype=torch.bool).scatter_(-1, top, True)
        y_pred = torch.where(keep, y_pred, torch.full_like(y_pred, NEG_INF))
    if class_id is not None:
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
        weights = None if weights is None else weights[..., class_id]
    return y_true != 0, y_pred, weights


def accumulate_histogram(hist, labels, scores, weights, thresholds: Thresholds) -> None:
    """Add one batch to `hist` (L, 2, T+1): weight by (label column, positive?, #thresholds < p).

    Args:
        hist: the state; L = 1 flattens everything (micro), L > 1 keeps the last axis apart.
        labels: bool tensor; scores: float tensor of the same shape; weights: same shape or None.
    """
    num_labels, _, n_bins = hist.shape
    t = thresholds.tensor(scores)
    if thresholds.clip:
        scores = scores.clamp(0.0, 1.0)
    labels = labels.reshape(-1, num_labels)
    scores = scores.reshape(-1, num_labels)
    if n_bins == 2:  # one threshold: a comparison is cheaper than a search
        below = (scores > t[0]).long()
    else:
        below = torch.searchsorted(t, scores.contiguous())
    bins = torch.add(below, labels, alpha=n_bins)  # fused `below + n_bins * labels`
    if num_labels > 1:
        bins = bins + 2 * n_bins * torch.arange(num_labels, device=bins.device)
    if weights is None:
        source = torch.ones((), dtype=hist.dtype, device=hist.device).expand(bins.numel())
    else:
        source = weights.reshape(-1).to(hist.dtype)
    hist.view(-1).index_add_(0, bins.reshape(-1), source)


def counts_from_histogram(hist: torch.Tensor):
    """`(tp, fp, tn, fn)` at every threshold: shape (T,) for L = 1, else (T, L) (Keras layout).

    A score with b thresholds below it is a positive prediction at thresholds 0..b-1, so the
    count of positive predictions at threshold j is the histogram summed over bins b > j.
    """
    above = hist.flip(-1).cumsum(-1).flip(-1)[..., 1:]  # (L, 2, T)
    totals = hist.sum(-1, keepdim=True)  # (L, 2, 1)
    tp, fp = above[:, 1], above[:, 0]
    fn, tn = totals[:, 1] - tp, totals[:, 0] - fp
    if hist.shape[0] == 1:
        return tp[0], fp[0], tn[0], fn[0]
    return tp.T, fp.T, tn.T, fn.T


def _safe_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Keras' divide_no_nan: 0 where the denominator is 0
    return torch.where(b != 0, a / torch.where(b != 0, b, torch.ones_like(b)), torch.zeros_like(a))


def check_same_shape(metric, y_true, y_pred) -> None:
    """Labels and scores must pair up entry by entry (after fixing a trailing 1-axis)."""
    y_true, y_pred = same_rank(as_tensor(y_true), as_tensor(y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{metric.name}: y_true of shape {tuple(y_true.shape)} does not match y_pred of "
            f"shape {tuple(y_pred.shape)}; {type(metric).__name__} needs one label per score "
            f"(one-hot or multi-label targets, not integer class ids)."
        )


def _check_class_id(metric, y_pred) -> None:
    if metric.class_id is not None:
        y_pred = as_tensor(y_pred)
        if y_pred.ndim < 2:
            raise ValueError(
                f"{metric.name}: `class_id` needs y_pred of shape (batch, classes); got "
                f"{tuple(y_pred.shape)}."
            )
        check_class_count("class_id", metric.class_id + 1, y_pred, metric.name)


class _ThresholdMetric(Metric):
    """Shared machinery: thresholds, optional top_k/class_id, the four counts per threshold."""

    _counts: tuple = ()  # the counts the result reads (documentation; all are kept)
    top_k = None
    class_id = None

    def _init_thresholds(self, thresholds, default, clip: bool | None = None) -> None:
        self.init_thresholds = thresholds
        values = default if thresholds is None else thresholds
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        if thresholds is not None:
            check_probability("thresholds", values, type(self).__name__)
        self.thresholds = values
        clip = is_evenly_spaced(values) if clip is None else clip
        self._thresholds = Thresholds(values, clip=clip)
        # one histogram holds every count (see counts_from_histogram): cheap update, exact merge
        shape = (1, 2, len(values) + 1)
        self.add_state("confusion_histogram", torch.zeros(shape, dtype=self.dtype))

    @property
    def true_positives(self) -> torch.Tensor:
        return counts_from_histogram(self.confusion_histogram)[0]

    @property
    def false_positives(self) -> torch.Tensor:
        return counts_from_histogram(self.confusion_histogram)[1]

    @property
    def true_negatives(self) -> torch.Tensor:
        return counts_from_histogram(self.confusion_histogram)[2]

    @property
    def false_negatives(self) -> torch.Tensor:
        return counts_from_histogram(self.confusion_histogram)[3]

    def check_shapes(self, y_true, y_pred) -> None:
        check_same_shape(self, y_true, y_pred)
        if self.top_k is not None:
            check_class_count("top_k", self.top_k, as_tensor(y_pred), self.name)
        _check_class_id(self, y_pred)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        labels, scores, weights = prepare_inputs(
            y_true,
            y_pred,
            sample_weight,
            self.dtype,
            self.confusion_histogram.device,
            self.top_k,
            self.class_id,
        )
        accumulate_histogram(self.confusion_histogram, labels, scores, weights, self._thresholds)

    def _scalar_or_vector(self, x: torch.Tensor) -> torch.Tensor:
        x = self._thresholds.user_order(x)
        return x[0] if len(self.thresholds) == 1 else x


class _ConfusionCount(_ThresholdMetric):
    """Weighted count of one confusion-matrix cell per threshold (scalar for one threshold)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._init_thresholds(thresholds, 0.5)

    def result(self) -> torch.Tensor:
        tp, fp, tn, fn = counts_from_histogram(self.confusion_histogram)
        return self._scalar_or_vector({"tp": tp, "fp": fp, "tn": tn, "fn": fn}[self._counts[0]])

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of positive labels predicted positive (`y_pred > threshold`)."""

    direction = "up"
    _counts = ("tp",)


class FalsePositives(_ConfusionCount):
    """Weighted count of negative labels predicted positive."""

    direction = "down"
    _counts = ("fp",)


class TrueNegatives(_ConfusionCount):
    """Weighted count of negative labels predicted negative."""

    direction = "up"
    _counts = ("tn",)


class FalseNegatives(_ConfusionCount):
    """Weighted count of positive labels predicted negative."""

    direction = "down"
    _counts = ("fn",)


class _PrecisionRecall(_ThresholdMetric):
    direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(
                f"{type(self).__name__}: `top_k` must be a positive int; got {top_k!r}."
            )
        self.top_k = top_k
        self.class_id = class_id
        self._init_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """`TP / (TP + FP)` per threshold (0 when nothing was predicted positive).

    `top_k`: only the k best scores of each row can be positive (default threshold then
    -1e10, i.e. "is in the top k"); `class_id`: only that column counts.

    >>> m = Precision(); m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(float(m.result()), 4)
    0.6667
    """

    _counts = ("tp", "fp")

    def result(self) -> torch.Tensor:
        tp, fp, _, _ = counts_from_histogram(self.confusion_histogram)
        return self._scalar_or_vector(_safe_div(tp, tp + fp))


class Recall(_PrecisionRecall):
    """`TP / (TP + FN)` per threshold (0 when there is no positive label)."""

    _counts = ("tp", "fn")

    def result(self) -> torch.Tensor:
        tp, _, _, fn = counts_from_histogram(self.confusion_histogram)
        return self._scalar_or_vector(_safe_div(tp, tp + fn))


class _AtConstraint(_ThresholdMetric):
    """Best `dependent` rate over the thresholds where `constrained` rate >= `value`.

    Thresholds are `[0, 1/(n-1), ..., 1]` (`[0.5]` when num_thresholds is 1); 0 if none qualifies.
    """

    direction = "up"
    _counts = ("tp", "fp", "tn", "fn")
    _value_arg = ""  # name of the constructor argument holding the constraint

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        check_probability(self._value_arg, value, type(self).__name__)
        if not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ValueError(
                f"{type(self).__name__}: `num_thresholds` must be an integer > 0; got "
                f"num_thresholds={num_thresholds!r}."
            )
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        setattr(self, self._value_arg, value)
        if num_thresholds == 1:
            values = [0.5]
        else:
            values = [i / (num_thresholds - 1) for i in range(num_thresholds)]
        self._init_thresholds(None, values, clip=num_thresholds > 1)

    def _rates(self):
        tp, fp, tn, fn = counts_from_histogram(self.confusion_histogram)
        return {
            "sensitivity": _safe_div(tp, tp + fn),
            "recall": _safe_div(tp, tp + fn),
            "specificity": _safe_div(tn, tn + fp),
            "precision": _safe_div(tp, tp + fp),
        }

    def result(self) -> torch.Tensor:
        rates = self._rates()
        constrained, dependent = rates[self._value_arg], rates[self._dependent]
        feasible = constrained >= self.value
        return torch.where(feasible, dependent, torch.zeros_like(dependent)).max().clamp_min(0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            self._value_arg: self.value,
            "num_thresholds": self.num_thresholds,
            "class_id": self.class_id,
        }


class SensitivityAtSpecificity(_AtConstraint):
    """Best sensitivity (recall) at a specificity of at least `specificity`."""

    _value_arg, _dependent = "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtConstraint):
    """Best specificity at a sensitivity of at least `sensitivity`."""

    _value_arg, _dependent = "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtConstraint):
    """Best precision at a recall of at least `recall`."""

    _value_arg, _dependent = "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtConstraint):
    """Best recall at a precision of at least `precision`."""

    _value_arg, _dependent = "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


for _cls in (
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    Precision,
    Recall,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    PrecisionAtRecall,
    RecallAtPrecision,
):
    register_metric(_cls)
