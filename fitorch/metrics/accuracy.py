"""Accuracy metrics: exact, binary, categorical, sparse and top-k (Keras 3 semantics).

Each function returns one 0/1 value per prediction (float32); the classes are
`MeanMetricWrapper`s of them, so the epoch value is the (weighted) fraction of hits.
"""

from __future__ import annotations

import torch

from fitorch.metrics._utils import as_tensor, check_class_count, check_sparse_labels, same_rank
from fitorch.metrics.base import Metric, register_metric
from fitorch.metrics.reduction import MeanMetricWrapper, register_input_checks

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
]


def accuracy(y_true, y_pred) -> torch.Tensor:
    """Exact equality `y_true == y_pred`, elementwise (no thresholding, as Keras)."""
    y_pred = as_tensor(y_pred)
    y_true, y_pred = same_rank(as_tensor(y_true, y_pred.device), y_pred)
    return (y_true == y_pred).to(torch.float32)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> torch.Tensor:
    """`y_true == (y_pred > threshold)` elementwise (strict `>`, as Keras 3)."""
    y_pred = as_tensor(y_pred)
    y_true, y_pred = same_rank(as_tensor(y_true, y_pred.device), y_pred)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(torch.float32)


def _one_hot_labels(y_true, y_pred: torch.Tensor) -> torch.Tensor:
    """`argmax(y_true, -1)` for one-hot targets of any dtype (bool and integer ones are
    cast first, as Keras casts them: torch's argmax refuses bool)."""
    y_true = as_tensor(y_true, y_pred.device)
    if not y_true.is_floating_point():
        y_true = y_true.to(y_pred.dtype if y_pred.is_floating_point() else torch.float32)
    return y_true.argmax(-1)


def categorical_accuracy(y_true, y_pred) -> torch.Tensor:
    """`argmax(y_true) == argmax(y_pred)` over the last axis: one value per sample."""
    y_pred = as_tensor(y_pred)
    return (_one_hot_labels(y_true, y_pred) == y_pred.argmax(-1)).to(torch.float32)


def _sparse_labels(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    # (B, 1) labels for (B, C) scores -> (B,)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


def sparse_categorical_accuracy(y_true, y_pred) -> torch.Tensor:
    """`y_true == argmax(y_pred)` with integer labels `(B,)` or `(B, 1)`."""
    y_pred = as_tensor(y_pred)
    y_true = _sparse_labels(as_tensor(y_true, y_pred.device), y_pred)
    matches = (y_true == y_pred.argmax(-1)).to(torch.float32)
    return matches.squeeze(-1) if matches.ndim > 1 and matches.shape[-1] == 1 else matches


def _in_top_k(labels: torch.Tensor, y_pred: torch.Tensor, k: int) -> torch.Tensor:
    """1.0 where the label's score is among the `k` largest (ties count as inside, as Keras).

    Counting the scores strictly above the label's score avoids a sort: the label is in the
    top k exactly when fewer than k scores beat it.
    """
    score = y_pred.gather(-1, labels.long().unsqueeze(-1))  # (..., 1)
    return ((y_pred > score).sum(-1) < k).to(torch.float32)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> torch.Tensor:
    """1.0 where `argmax(y_true)` is among the top-`k` scores of `y_pred`."""
    y_pred = as_tensor(y_pred)
    return _in_top_k(_one_hot_labels(y_true, y_pred), y_pred, k)


def sparse_top_k_categorical_accuracy(
    y_true, y_pred, k: int = 5, from_sorted_ids: bool = False
) -> torch.Tensor:
    """1.0 where the integer label is among the top-`k` scores.

    With `from_sorted_ids=True`, `y_pred` already holds class ids sorted by score (best first),
    and the label is looked up in its first `k` columns.
    """
    y_pred = as_tensor(y_pred)
    labels = _sparse_labels(as_tensor(y_true, y_pred.device), y_pred)
    if from_sorted_ids:
        return (y_pred[..., :k] == labels.unsqueeze(-1)).any(-1).to(torch.float32)
    return _in_top_k(labels, y_pred, k)


# -- first-batch checks -----------------------------------------------------------------------


def _check_k(y_true, y_pred, owner, k=5, from_sorted_ids=False):
    check_class_count("k", k, as_tensor(y_pred), owner)


def _check_sparse(y_true, y_pred, owner, k=None, from_sorted_ids=False):
    y_pred = as_tensor(y_pred)
    if from_sorted_ids:
        return
    check_sparse_labels(_sparse_labels(as_tensor(y_true), y_pred), y_pred, owner)


register_input_checks(sparse_categorical_accuracy, values=_check_sparse)
register_input_checks(top_k_categorical_accuracy, shapes=_check_k)
register_input_checks(sparse_top_k_categorical_accuracy, shapes=_check_k, values=_check_sparse)


# -- classes ----------------------------------------------------------------------------------


class _AccuracyMetric(MeanMetricWrapper):
    """A MeanMetricWrapper of a fixed accuracy function; config = name, dtype + its arguments."""

    direction = "up"
    _fn_impl = staticmethod(accuracy)

    def __init__(self, name=None, dtype=None, **fn_kwargs):
        super().__init__(type(self)._fn_impl, name=name, dtype=dtype, **fn_kwargs)

    def get_config(self) -> dict:
        return {**Metric.get_config(self), **self._fn_kwargs}


class Accuracy(_AccuracyMetric):
    """Fraction of predictions exactly equal to the labels (`y_true == y_pred`)."""

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class BinaryAccuracy(_AccuracyMetric):
    """Fraction of entries where `(y_pred > threshold) == y_true`.

    >>> m = BinaryAccuracy(); m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    >>> float(m.result())
    0.75
    """

    _fn_impl = staticmethod(binary_accuracy)

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_AccuracyMetric):
    """Fraction of samples where `argmax(y_pred) == argmax(y_true)` (one-hot labels)."""

    _fn_impl = staticmethod(categorical_accuracy)

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class SparseCategoricalAccuracy(_AccuracyMetric):
    """Fraction of samples where `argmax(y_pred) == y_true` (integer labels)."""

    _fn_impl = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)


class TopKCategoricalAccuracy(_AccuracyMetric):
    """Fraction of samples whose one-hot label is among the `k` highest scores."""

    _fn_impl = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        _check_k_arg(k, type(self).__name__)
        super().__init__(name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_AccuracyMetric):
    """Fraction of samples whose integer label is among the `k` highest scores."""

    _fn_impl = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids: bool = False,
    ):
        _check_k_arg(k, type(self).__name__)
        super().__init__(name=name, dtype=dtype, k=k, from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids


def _check_k_arg(k, owner: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{owner}: `k` must be a positive integer; got k={k!r}.")


register_metric(Accuracy)
register_metric(BinaryAccuracy)
register_metric(CategoricalAccuracy)
register_metric(SparseCategoricalAccuracy)
register_metric(TopKCategoricalAccuracy)
register_metric(SparseTopKCategoricalAccuracy)

# Function metrics declare their direction too (MeanMetricWrapper reads it).
for _fn in (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
):
    _fn.direction = "up"
