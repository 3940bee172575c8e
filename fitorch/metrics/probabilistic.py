"""Probabilistic metrics: crossentropies, KL divergence, Poisson (epoch means of the losses)."""

from __future__ import annotations

from fitorch import losses
from fitorch.metrics._utils import as_tensor, check_sparse_labels
from fitorch.metrics.base import register_metric
from fitorch.metrics.reduction import LossMetric, register_input_checks

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
]


class KLDivergence(LossMetric):
    """Mean of `sum(y_true * log(y_true / y_pred), -1)` (both clipped to [1e-7, 1])."""

    def __init__(self, name: str = "kl_divergence", dtype=None):
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(LossMetric):
    """Mean of `mean(y_pred - y_true * log(y_pred + 1e-7), -1)`."""

    def __init__(self, name: str = "poisson", dtype=None):
        super().__init__(losses.poisson, name=name, dtype=dtype)


class BinaryCrossentropy(LossMetric):
    """Mean binary crossentropy (`from_logits`, `label_smoothing` as the loss)."""

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype=None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
    ):
        super().__init__(
            losses.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )


class CategoricalCrossentropy(LossMetric):
    """Mean categorical crossentropy of one-hot (or soft) labels."""

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype=None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
    ):
        super().__init__(
            losses.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(LossMetric):
    """Mean crossentropy of integer labels; `ignore_class` entries are left out."""

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype=None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ):
        super().__init__(
            losses.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )


def _check_sparse_ce(y_true, y_pred, owner, ignore_class=None, **_):
    y_pred = as_tensor(y_pred)
    y_true = as_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    check_sparse_labels(y_true, y_pred, owner, ignore_class=ignore_class)


register_input_checks(losses.sparse_categorical_crossentropy, values=_check_sparse_ce)

register_metric(BinaryCrossentropy, "bce", "BCE")
register_metric(CategoricalCrossentropy)
register_metric(SparseCategoricalCrossentropy)
register_metric(KLDivergence, "kld", "KLD", "kullback_leibler_divergence")
register_metric(Poisson)
