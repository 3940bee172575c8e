"""Weight constraints, applied to a weight in place after each optimizer step."""

from __future__ import annotations

import torch

from fitorch.registry import Registry
from fitorch.serialization import deserialize_with

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get"]

CONSTRAINTS = Registry("constraint")


class Constraint:
    """Base: `__call__(w) -> projected w`."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return w.square().sum(dim=axis, keepdim=True).sqrt()


class MaxNorm(Constraint):
    """Rescale so the norm along `axis` is at most `max_value`."""

    def __init__(self, max_value=2.0, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = norms.clamp(0, self.max_value)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Norm along `axis` moved into [min_value, max_value] at `rate`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """`max(w, 0)`."""

    def __call__(self, w):
        return w.clamp_min(0.0)


class UnitNorm(Constraint):
    """`w / norm(w, axis)`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (1e-7 + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


for _cls, *_aliases in [
    (MaxNorm, "max_norm", "maxnorm"),
    (MinMaxNorm, "min_max_norm"),
    (NonNeg, "non_neg", "nonneg"),
    (UnitNorm, "unit_norm", "unitnorm"),
]:
    CONSTRAINTS.register(_cls, *_aliases)


# Keras 3's lower-case spellings name the same classes (`constraints.max_norm(2)`).
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


def get(identifier):
    if identifier is None:
        return None
    obj = CONSTRAINTS.get(identifier)
    if isinstance(obj, type):
        return obj()
    if callable(obj):
        return obj
    raise TypeError(f"constraint must be a name, instance or callable; got {identifier!r}.")


def serialize(c):
    if c is None:
        return None
    return {"class_name": type(c).__name__, "config": c.get_config()}


def deserialize(config, custom_objects=None):
    """The constraint a `serialize` output (or a name) describes."""
    return deserialize_with(get, config, custom_objects)
