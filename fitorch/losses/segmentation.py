"""Overlap losses for segmentation: Dice and Tversky (1 - a soft overlap score)."""

from __future__ import annotations

import torch

from fitorch import backend as K
from fitorch.losses.base import LossFunctionWrapper, prepare, register_loss, symbolic_loss

__all__ = ["dice", "tversky", "Dice", "Tversky"]

_SOBS = "sum_over_batch_size"


def _sum(x: torch.Tensor, axis) -> torch.Tensor:
    return torch.sum(x) if axis is None else torch.sum(x, dim=axis)


@symbolic_loss
def dice(y_true, y_pred, axis=None) -> torch.Tensor:
    """Dice loss: 1 - 2·sum(y_true·y_pred) / (sum(y_true) + sum(y_pred) + ε) over `axis`.

    Args:
        axis: the axis (or tuple of axes) summed over; None (default) sums the whole batch and
            returns a scalar.

    Example:
        >>> dice(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor(0.5000)
    """
    y_true, y_pred = prepare(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    return 1.0 - 2.0 * intersection / (_sum(y_true, axis) + _sum(y_pred, axis) + K.epsilon())


@symbolic_loss
def tversky(y_true, y_pred, alpha: float = 0.5, beta: float = 0.5, axis=None) -> torch.Tensor:
    """Tversky loss: 1 - I / (I + alpha·A + beta·B + ε) over `axis`.

    I = sum(y_true·y_pred), A = sum(y_true·(1 - y_pred)), B = sum(y_pred·(1 - y_true)) (Keras'
    order of alpha and beta); alpha = beta = 0.5 gives the Dice loss.

    Args:
        alpha, beta: the weights of the two kinds of error (default 0.5 each).
        axis: as `dice` (None: the whole batch, a scalar).

    Example:
        >>> tversky(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
        tensor(1.)
    """
    y_true, y_pred = prepare(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    missed = _sum((1.0 - y_pred) * y_true, axis)
    extra = _sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - intersection / (intersection + alpha * missed + beta * extra + K.epsilon())


class Dice(LossFunctionWrapper):
    """`dice` as a Loss (axis None: one scalar for the batch, returned as is)."""

    def __init__(self, reduction=_SOBS, name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(LossFunctionWrapper):
    """`tversky` as a Loss; arguments as the function."""

    def __init__(self, alpha=0.5, beta=0.5, reduction=_SOBS, name="tversky", axis=None, dtype=None):
        super().__init__(
            tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )


for _obj in (dice, tversky, Dice, Tversky):
    register_loss(_obj)
