"""Small tensor helpers shared by the metric families (shapes, weights, input checks)."""

from __future__ import annotations

import torch

__all__ = [
    "as_tensor",
    "same_rank",
    "weights_like",
    "check_probability",
    "check_class_count",
    "check_sparse_labels",
]


def as_tensor(x, device=None, dtype=None) -> torch.Tensor:
    """`x` as a tensor on `device` (no copy when it already is one of that dtype/device).

    Detached: metrics never need gradients, and tracking them would cost every step.
    """
    if isinstance(x, torch.Tensor):
        if x.requires_grad:
            x = x.detach()
        if (dtype is None or x.dtype == dtype) and (device is None or x.device == device):
            return x
        return x.to(device=device, dtype=dtype)
    return torch.as_tensor(x, dtype=dtype, device=device)


def same_rank(a: torch.Tensor, b: torch.Tensor):
    """Keras' `squeeze_or_expand_to_same_rank`: fix a rank difference of one trailing 1-axis.

    `(B,)` vs `(B, 1)` -> both `(B, 1)`; `(B, T, 1)` vs `(B, T)` -> both `(B, T)`.
    """
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        a = a.squeeze(-1) if b.ndim != 1 else a
        b = b.unsqueeze(-1) if b.ndim == 1 else b
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        b = b.squeeze(-1) if a.ndim != 1 else b
        a = a.unsqueeze(-1) if a.ndim == 1 else a
    return a, b


def weights_like(sample_weight, like: torch.Tensor) -> torch.Tensor | None:
    """`sample_weight` broadcast to the shape of `like` (trailing axes added), or None.

    `(B,)` and `(B, 1)` weights scale every entry of their sample; a weight of the full shape
    is used as is.
    """
    if sample_weight is None:
        return None
    w = as_tensor(sample_weight, device=like.device, dtype=like.dtype)
    if w.ndim == like.ndim + 1 and w.shape[-1] == 1:
        w = w.squeeze(-1)
    if 0 < w.ndim < like.ndim:
        w = w.reshape(w.shape + (1,) * (like.ndim - w.ndim))
    return torch.broadcast_to(w, like.shape)


# -- argument and input checks (clear errors instead of wrong numbers or opaque torch errors) ----


def check_probability(arg: str, values, owner: str, low_open: bool = False) -> None:
    """Raise ValueError unless every value of `values` lies in [0, 1] (or (0, 1])."""
    items = values if isinstance(values, (list, tuple)) else [values]
    bad = [v for v in items if v is None or not (0.0 < v <= 1.0 if low_open else 0.0 <= v <= 1.0)]
    if bad:
        span = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{owner}: `{arg}` must be in {span}; got {arg}={values!r}.")


def check_class_count(arg: str, value: int, y_pred: torch.Tensor, owner: str) -> None:
    """`value` (a k or a class index) must not exceed the class axis of `y_pred`."""
    num_classes = y_pred.shape[-1] if y_pred.ndim else 1
    if value > num_classes:
        raise ValueError(
            f"{owner}: `{arg}`={value} is larger than the number of classes in y_pred "
            f"(last axis of shape {tuple(y_pred.shape)} = {num_classes})."
        )


def check_sparse_labels(
    y_true: torch.Tensor, y_pred: torch.Tensor, owner: str, ignore_class=None
) -> None:
    """Integer labels in [0, num_classes) (reads values: call once, not per step)."""
    y_true = as_tensor(y_true)
    if y_true.is_floating_point() and bool(torch.any(y_true != torch.round(y_true))):
        sample = y_true[y_true != torch.round(y_true)].flatten()[:3].tolist()
        raise ValueError(
            f"{owner} expects integer class labels in y_true (sparse labels); got non-integer "
            f"values such as {sample}. Pass one-hot targets to the categorical metric instead."
        )
    if y_true.is_complex() or y_true.dtype == torch.bool or y_true.numel() == 0:
        return
    valid = y_true if ignore_class is None else y_true[y_true != ignore_class]
    if valid.numel() == 0:
        return
    num_classes = y_pred.shape[-1]
    low, high = valid.min().item(), valid.max().item()
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"{owner}: labels in y_true must lie in [0, {num_classes}) (y_pred has "
            f"{num_classes} classes); got values from {low:g} to {high:g}."
        )
