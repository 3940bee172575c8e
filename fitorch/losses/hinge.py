"""Hinge losses: hinge, squared hinge, categorical hinge (maximum-margin classification)."""

from __future__ import annotations

import torch

from fitorch.losses.base import LossFunctionWrapper, prepare, register_loss, symbolic_loss

__all__ = [
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "convert_binary_labels_to_hinge",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
]

_SOBS = "sum_over_batch_size"


def convert_binary_labels_to_hinge(y_true: torch.Tensor) -> torch.Tensor:
    """2·y_true - 1 when every label is 0 or 1, else y_true unchanged (Keras 3 and tf.keras).

    The test runs on the device (`torch.where` on an all-reduction), never on the host.
    """
    is_binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


@symbolic_loss
def hinge(y_true, y_pred) -> torch.Tensor:
    """Hinge loss per sample: mean(max(1 - y_true * y_pred, 0), axis=-1).

    y_true is -1/1; 0/1 labels are converted to -1/1 (`convert_binary_labels_to_hinge`).

    Example:
        >>> hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([1.])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    y_true = convert_binary_labels_to_hinge(y_true)
    return torch.mean(torch.clamp(1.0 - y_true * y_pred, min=0.0), dim=-1)


@symbolic_loss
def squared_hinge(y_true, y_pred) -> torch.Tensor:
    """Squared hinge per sample: mean(max(1 - y_true * y_pred, 0)**2, axis=-1) (0/1 -> -1/1).

    Example:
        >>> squared_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([1.2500])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    y_true = convert_binary_labels_to_hinge(y_true)
    return torch.mean(torch.square(torch.clamp(1.0 - y_true * y_pred, min=0.0)), dim=-1)


@symbolic_loss
def categorical_hinge(y_true, y_pred) -> torch.Tensor:
    """Categorical hinge: max(max((1 - y_true) * y_pred, -1) - sum(y_true * y_pred, -1) + 1, 0).

    y_true is one-hot (or -1/+1).

    Example:
        >>> categorical_hinge(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.7, 0.3]]))
        tensor([1.4000])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


class Hinge(LossFunctionWrapper):
    """`hinge` as a Loss."""

    def __init__(self, reduction=_SOBS, name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """`squared_hinge` as a Loss."""

    def __init__(self, reduction=_SOBS, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """`categorical_hinge` as a Loss."""

    def __init__(self, reduction=_SOBS, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


for _obj in (hinge, squared_hinge, categorical_hinge, Hinge, SquaredHinge, CategoricalHinge):
    register_loss(_obj)
