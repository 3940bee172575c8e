"""Metric-learning losses: Circle loss on embeddings and integer labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import backend as K
from fitorch.losses.base import LossFunctionWrapper, register_loss, set_mask, symbolic_loss

__all__ = ["circle", "Circle"]

_SOBS = "sum_over_batch_size"


def _pos_neg_masks(labels: torch.Tensor, ref_labels: torch.Tensor, remove_diagonal: bool):
    """(positive, negative) pair masks: same label (minus the diagonal), different label."""
    same = labels.reshape(-1, 1) == ref_labels.reshape(1, -1)
    negative = ~same
    if remove_diagonal:
        same = same & ~torch.eye(*same.shape, dtype=torch.bool, device=same.device)
    return same, negative


@symbolic_loss
def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal: bool = True,
    gamma: float = 80.0,
    margin: float = 0.4,
) -> torch.Tensor:
    """Circle loss per sample: softplus(logsumexp(pos terms) + logsumexp(neg terms)).

    With d = max(1 - y_pred @ ref_embeddings.T, 0) the pairwise cosine distances (embeddings
    L2-normalized), positive pairs (same label) contribute -gamma·max(margin + d, 0)·(margin - d)
    and negative pairs gamma·max(1 + margin - d, 0)·(1 - margin - d). Rows with loss 0 are
    masked out, so the `Loss` mean is over rows with a positive loss.

    Args:
        y_true: (B,) integer labels; y_pred: (B, D) embeddings.
        ref_labels, ref_embeddings: the reference set (default: the batch itself).
        remove_diagonal: drop self-pairs from the positives (default True).
        gamma: scale (default 80); margin: relaxation (default 0.4).

    Example:
        >>> circle(torch.tensor([0, 1]), torch.eye(2)).shape
        torch.Size([2])
    """
    y_pred = K._floating(K._t(y_pred))
    labels = K._t(y_true, like=y_pred).long()
    ref = y_pred if ref_embeddings is None else K._t(ref_embeddings, like=y_pred)
    ref_labels = labels if ref_labels is None else K._t(ref_labels, like=y_pred).long()
    distances = torch.clamp(1.0 - y_pred @ ref.transpose(0, 1), min=0.0)
    positive, negative = _pos_neg_masks(labels, ref_labels, remove_diagonal)
    pos_weights = torch.clamp((margin + distances) * positive, min=0.0)
    neg_weights = torch.clamp((1.0 + margin - distances) * negative, min=0.0)
    pos_terms = -gamma * pos_weights * (margin - distances)
    neg_terms = gamma * neg_weights * ((1.0 - margin) - distances)
    # A very negative finite fill (not -inf) keeps logsumexp's gradient finite on rows
    # without any pair; its exp underflows to 0, so the values equal the -inf version.
    fill = torch.finfo(distances.dtype).min / 4
    p_loss = torch.logsumexp(torch.where(positive, pos_terms, fill), dim=1)
    n_loss = torch.logsumexp(torch.where(negative, neg_terms, fill), dim=1)
    loss = F.softplus(p_loss + n_loss)
    return set_mask(loss, loss > 0)


class Circle(LossFunctionWrapper):
    """`circle` as a Loss; arguments as the function."""

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction=_SOBS,
        name="circle",
        dtype=None,
    ):
        super().__init__(
            circle,
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )


register_loss(circle, targets="any")
register_loss(Circle)
