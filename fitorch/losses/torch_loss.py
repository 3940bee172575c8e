"""`TorchLoss`: any `torch.nn` loss module (`nn.CrossEntropyLoss()`, `nn.MSELoss()`, ...) as a
`Loss`, so `compile(loss=nn.CrossEntropyLoss())` works."""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from fitorch import backend as K
from fitorch.losses.base import (
    Loss,
    _as_tensor,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
)
from fitorch.utils.naming import to_snake_case

__all__ = ["TorchLoss"]

# Torch losses whose target is a class index (or class probabilities of y_pred's shape).
_CLASS_INDEX_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
# torch reduction -> the Keras reduction that gives the same number with unit weights.
_KERAS_REDUCTION = {"mean": "sum_over_batch_size", "sum": "sum", "none": "none"}


class TorchLoss(Loss):
    """A `torch.nn` loss module used as a Keras loss: `module(y_pred, y_true)` (torch order).

    Targets: for `nn.CrossEntropyLoss`/`nn.NLLLoss`, y_true holds class indices (cast to long,
    a trailing length-1 axis squeezed) unless it has y_pred's shape (class probabilities);
    for other modules y_true is cast to y_pred's dtype and a trailing length-1 axis is matched
    as Keras does ((B,) vs (B, 1)).

    sample_weight: when the module has a `reduction` attribute, a copy with
    `reduction="none"` gives per-element values that are weighted and reduced the Keras way
    (torch "mean" -> sum_over_batch_size, entries at `ignore_index` masked out, so unit
    weights reproduce torch's number). A module without `reduction` ignores sample_weight,
    with a one-time warning.

    Example:
        >>> loss = TorchLoss(nn.CrossEntropyLoss())
        >>> round(float(loss(torch.tensor([[1]]), torch.zeros(1, 2))), 4)
        0.6931
    """

    def __init__(self, module: nn.Module, name: str | None = None):
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"TorchLoss: `module` must be a torch.nn.Module; received {type(module).__name__}."
            )
        reduction = _KERAS_REDUCTION.get(
            getattr(module, "reduction", "mean"), "sum_over_batch_size"
        )
        super().__init__(name=name or to_snake_case(type(module).__name__), reduction=reduction)
        self.module = module
        self.targets = "sparse" if isinstance(module, _CLASS_INDEX_LOSSES) else "dense"
        # The per-sample copy is made here, not on the first weighted call, so a traced step
        # never sees this object change (that would recompile it).
        self._unreduced = _unreduced_copy(module)
        self._warned = False

    def prepare_targets(self, y_true, y_pred):
        """(y_true, y_pred) in the form the module expects (see the class docstring)."""
        y_pred = K._t(y_pred)
        if self.targets == "sparse":
            y_true = K._t(y_true).to(y_pred.device)
            if y_true.ndim == y_pred.ndim and y_true.shape == y_pred.shape and y_pred.shape[-1] > 1:
                return y_true.to(y_pred.dtype), y_pred  # class probabilities
            if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
                y_true = y_true.squeeze(-1)
            return y_true.long(), y_pred
        y_true = _as_tensor(y_true, y_pred.dtype, y_pred.device)
        return squeeze_or_expand_to_same_rank(y_true, y_pred)

    def call(self, y_true, y_pred):
        y_true, y_pred = self.prepare_targets(y_true, y_pred)
        return self.module(y_pred, y_true)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            return self.call(y_true, y_pred)
        if self._unreduced is None:
            if not self._warned:
                warnings.warn(
                    f"{type(self.module).__name__} has no `reduction` attribute, so fitorch "
                    "cannot weight its per-sample values: sample_weight/class_weight are "
                    "ignored for this loss.",
                    stacklevel=2,
                )
                self._warned = True
            return self.call(y_true, y_pred)
        y_true, y_pred = self.prepare_targets(y_true, y_pred)
        values = self._unreduced(y_pred, y_true)
        mask = None
        ignore = getattr(self.module, "ignore_index", None)
        if ignore is not None and y_true.dtype == torch.long:
            mask = y_true != ignore
        weights = _as_tensor(sample_weight, values.dtype, values.device)
        return reduce_weighted_values(values, weights, mask, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "module": type(self.module).__name__}

    def __repr__(self) -> str:
        return f"<TorchLoss({self.module!r}, name={self.name!r})>"


def _unreduced_copy(module: nn.Module) -> nn.Module | None:
    """A shallow copy of `module` with `reduction="none"` (sharing its parameters and
    buffers), or None for a module without a `reduction` attribute."""
    if not hasattr(module, "reduction"):
        return None
    unreduced = copy.copy(module)
    unreduced.reduction = "none"
    return unreduced
