"""Argument handling shared by the optimizers: validation with messages that name the
argument, the expected range and the value given, and the Keras 2 / torch calling forms
(`Adam(model.parameters(), lr=...)`, `epsilon=None`, the `optimizer.lr` handle)."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Iterable

import numpy as np
import torch

from fitorch.optimizers import schedules

__all__ = [
    "LearningRateHandle",
    "LearningRateValue",
    "TorchStyleCall",
    "is_params",
    "check_range",
    "check_beta",
    "check_nonnegative",
    "check_clip_threshold",
    "check_learning_rate",
    "default_epsilon",
    "valid_arguments",
]


def is_params(obj) -> bool:
    """True for what torch optimizers take first: an iterable of tensors or param-group dicts."""
    if isinstance(obj, (str, bytes, numbers.Number, torch.Tensor, dict)) or callable(obj):
        return False
    return isinstance(obj, Iterable)


class TorchStyleCall(type):
    """Metaclass: `Adam(model.parameters(), lr=...)` binds at once, `Adam(1e-3)` stays lazy.

    A first positional argument that is an iterable of parameters moves to `params=`; the
    following positional arguments shift to `learning_rate`, ... as in `torch.optim.Adam`.
    """

    def __call__(cls, *args, **kwargs):
        if args and is_params(args[0]):
            kwargs["params"] = args[0]
            args = args[1:]
        return super().__call__(*args, **kwargs)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_range(name: str, value, low: float, high: float) -> float:
    """`float(value)` when `low <= value <= high`, else a ValueError naming the argument."""
    if not _is_real(value) or not low <= value <= high:
        raise ValueError(f"`{name}` must be a float in [{low}, {high}]. Received: {name}={value!r}")
    return float(value)


def check_beta(name: str, value) -> float:
    """`float(value)` for a decay rate in [0, 1): at 1 the bias correction `1 - beta**t` is 0."""
    if not _is_real(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_nonnegative(name: str, value, allow_none: bool = True) -> float | None:
    """None (when allowed) or `float(value)` for a finite number >= 0, else a ValueError."""
    if value is None and allow_none:
        return None
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        expected = "None or a finite float >= 0" if allow_none else "a finite float >= 0"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")
    return float(value)


def check_clip_threshold(name: str, value) -> float | None:
    """None or `float(value)` for a finite number, else ValueError. A clipping threshold
    <= 0 is accepted and disables the clipping, as in Keras 3."""
    if value is None:
        return None
    if not _is_real(value) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be None or a finite float. Received: {name}={value!r}")
    return float(value)


def check_learning_rate(value):
    """A float (ints and 1-element tensors converted), a schedule, or a zero-arg callable."""
    if isinstance(value, schedules.LearningRateSchedule) or (
        callable(value) and not isinstance(value, torch.Tensor)
    ):
        return value
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()  # constructor time, not inside step()
    if not _is_real(value):
        raise TypeError(
            "`learning_rate` must be a float, a LearningRateSchedule or a callable. "
            f"Received: learning_rate={value!r}"
        )
    if value < 0 or not math.isfinite(value):
        raise ValueError(
            f"`learning_rate` must be a finite float >= 0. Received: learning_rate={value}"
        )
    return float(value)


def default_epsilon(epsilon) -> float:
    """Keras 2's `epsilon=None` means the backend default, 1e-7."""
    if epsilon is None:
        return 1e-7
    return check_nonnegative("epsilon", epsilon, allow_none=False)


def valid_arguments(cls) -> list[str]:
    """Every keyword the constructors of `cls` and its fitorch bases accept, in order."""
    names = []
    for klass in cls.__mro__:
        if klass is torch.optim.Optimizer:
            break
        if "__init__" in vars(klass):
            sig = inspect.signature(klass.__init__)
            names += [p for p in sig.parameters if p not in ("self", "kwargs")]
    return list(dict.fromkeys(names))


class LearningRateValue(float):
    """The float `optimizer.learning_rate` gives: Keras 3 code treats it as a variable.

    `opt.learning_rate.assign(1e-4)` sets the optimizer's rate (as `opt.learning_rate = 1e-4`)
    and `.numpy()` gives it as `np.float32`; otherwise it is a plain float, and copies or
    pickles of it are plain floats.
    """

    def __new__(cls, value, optimizer):
        obj = super().__new__(cls, value)
        obj._optimizer = optimizer
        return obj

    def assign(self, value) -> None:
        self._optimizer.learning_rate = float(value)

    def numpy(self) -> np.float32:
        return np.float32(self)

    def __reduce__(self):
        return float, (float(self),)


class LearningRateHandle:
    """Live view of an optimizer's current learning rate, for Keras 2 code using `opt.lr`."""

    def __init__(self, optimizer):
        self._optimizer = optimizer

    @property
    def value(self) -> float:
        opt = self._optimizer
        return opt.current_learning_rate() if opt.built else float(opt.learning_rate)

    def numpy(self) -> np.float32:
        return np.float32(self.value)

    def assign(self, value) -> None:
        self._optimizer.learning_rate = float(value)

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"<learning rate {self.value!r}>"

    def __eq__(self, other) -> bool:
        return self.value == float(other)

    def __lt__(self, other) -> bool:
        return self.value < float(other)

    def __gt__(self, other) -> bool:
        return self.value > float(other)

    def __mul__(self, other) -> float:
        return self.value * float(other)

    __rmul__ = __mul__
    __hash__ = None

    def __truediv__(self, other) -> float:
        return self.value / float(other)
