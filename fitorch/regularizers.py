"""Weight regularizers: `penalty = l1 * sum(|w|) + l2 * sum(w^2)` added to the fit loss."""

from __future__ import annotations

import torch

from fitorch.registry import Registry
from fitorch.serialization import deserialize_with

__all__ = [
    "Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "deserialize", "get", "l1", "l2",
    "l1_l2",
]  # fmt: skip

REGULARIZERS = Registry("regularizer")


class Regularizer:
    """Base: `__call__(weight) -> scalar penalty`."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x^2)`."""

    def __init__(self, l1=0.0, l2=0.0):
        _check_factor("l1", l1)
        _check_factor("l2", l2)
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """`l1 * sum(|x|)`; Keras default 0.01."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """`l2 * sum(x^2)`; Keras default 0.01."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """`factor * mean(|offdiag(n n^T)|)` over l2-normalized rows (mode 'rows') or columns."""

    def __init__(self, factor=0.01, mode="rows"):
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"OrthogonalRegularizer: mode must be 'rows' or 'columns'; got {mode!r}."
            )
        self.factor, self.mode = factor, mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a 2-D weight; got shape {tuple(x.shape)}."
            )
        m = x if self.mode == "rows" else x.T
        n = m / m.norm(dim=1, keepdim=True).clamp_min(1e-12)
        prod = n @ n.T
        size = prod.shape[0]
        off = prod - torch.diag(torch.diagonal(prod))
        return self.factor * off.abs().sum() / (size * (size - 1))

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def _check_factor(name, value):
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"Regularizer argument {name} must be a number >= 0; got {value!r}.")


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


for _cls, *_aliases in [
    (L1, "l1"),
    (L2, "l2"),
    (L1L2, "l1_l2", "l1l2"),
    (OrthogonalRegularizer, "orthogonal_regularizer"),
]:
    REGULARIZERS.register(_cls, *_aliases)


orthogonal_regularizer = OrthogonalRegularizer  # Keras 3's lower-case spelling


def get(identifier):
    if identifier is None:
        return None
    obj = REGULARIZERS.get(identifier)
    if isinstance(obj, type):
        return obj()
    if callable(obj):
        return obj
    raise TypeError(f"regularizer must be a name, instance or callable; got {identifier!r}.")


def serialize(reg):
    if reg is None:
        return None
    return {"class_name": type(reg).__name__, "config": reg.get_config()}


def deserialize(config, custom_objects=None):
    """The regularizer a `serialize` output (or a name) describes."""
    return deserialize_with(get, config, custom_objects)
