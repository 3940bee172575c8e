"""Turning what users pass as `loss=` into a `Loss`, and the one-time target checks.

`get` resolves an identifier to the registered object (Keras `losses.get`); `resolve` is what
compile uses at the first batch: it always returns a `Loss` (or None).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fitorch import backend as K
from fitorch.losses.base import LOSSES, Loss, LossFunctionWrapper
from fitorch.losses.probabilistic import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    crossentropy_for,
)
from fitorch.losses.torch_loss import TorchLoss
from fitorch.registry import get_registered_name

__all__ = [
    "get",
    "resolve",
    "serialize",
    "deserialize",
    "crossentropy_for",
    "binary_like",
    "validate_targets",
]

_CROSSENTROPY_ALIASES = ("crossentropy", "ce")


def get(identifier: Any):
    """Resolve a Keras loss identifier.

    None -> None; a name (`"mse"`, `"MeanSquaredError"`) -> the registered function or class
    (unknown names raise ValueError with the closest names); a `{"class_name", "config"}`
    dict -> an instance; a callable or `Loss` instance -> unchanged.

    Example:
        >>> get("mse").__name__
        'mean_squared_error'
    """
    if identifier is None or isinstance(identifier, (str, dict)):
        return LOSSES.get(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        "Could not interpret loss identifier: expected a name, a dict config, a Loss or a "
        f"function f(y_true, y_pred); received {identifier!r} ({type(identifier).__name__})."
    )


def _to_loss(obj, name: str | None = None) -> Loss:
    if isinstance(obj, Loss):
        return obj
    if isinstance(obj, type):
        if issubclass(obj, Loss):
            return obj()
        if issubclass(obj, nn.Module):
            return TorchLoss(obj())
    elif isinstance(obj, nn.Module):
        return TorchLoss(obj)
    elif callable(obj):
        name = name or getattr(obj, "__name__", None) or type(obj).__name__
        return LossFunctionWrapper(obj, name=name)
    raise TypeError(
        "Could not interpret loss: expected a loss name, a Loss class or instance, a function "
        f"f(y_true, y_pred) or a torch.nn loss module; received {obj!r} ({type(obj).__name__})."
    )


def resolve(identifier: Any, y_true=None, y_pred=None) -> Loss | None:
    """The `Loss` object for a compile `loss=` entry (None stays None).

    A function name becomes `LossFunctionWrapper(fn, name=<that string>)`, a class name or
    class an instance with defaults, `"crossentropy"`/`"ce"` the crossentropy matching the
    shapes of y_true/y_pred (`crossentropy_for`), a plain function a wrapper named after it,
    a `torch.nn` module (or module class) a `TorchLoss`; a `Loss` instance is returned as is.

    Example:
        >>> resolve("mse").name
        'mse'
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier.lower() in _CROSSENTROPY_ALIASES:
            fn = crossentropy_for(y_true, y_pred)
            return LossFunctionWrapper(fn, name=identifier)
        return _to_loss(LOSSES.lookup(identifier), name=identifier)
    if isinstance(identifier, dict):
        return _to_loss(LOSSES.get(identifier))
    return _to_loss(identifier)


def serialize(loss) -> str | dict:
    """A Keras-style record: a function's registered name, or `{"class_name", "config"}`."""
    if isinstance(loss, Loss):
        return {"class_name": get_registered_name(type(loss)), "config": loss.get_config()}
    return get_registered_name(loss)


def deserialize(config):
    """Inverse of `serialize` (a name or a `{"class_name", "config"}` dict)."""
    return get(config)


def binary_like(loss) -> bool:
    """True for a binary crossentropy (or binary focal) loss: name, function, class or instance.

    Metrics use it to make `'acc'` binary accuracy under a BCE loss (Keras 2 rule). Torch's
    `nn.BCELoss`/`nn.BCEWithLogitsLoss` count too.
    """
    if isinstance(loss, str):
        if loss.lower() in _CROSSENTROPY_ALIASES or loss not in LOSSES:
            return False
        loss = LOSSES.lookup(loss)
    if isinstance(loss, TorchLoss):
        loss = loss.module
    if isinstance(loss, (nn.BCELoss, nn.BCEWithLogitsLoss)):
        return True
    if isinstance(loss, type):
        return issubclass(
            loss, (BinaryCrossentropy, BinaryFocalCrossentropy, nn.BCELoss, nn.BCEWithLogitsLoss)
        )
    fn = getattr(loss, "fn", loss)
    return fn is binary_crossentropy or fn is binary_focal_crossentropy


def _shapes_match(t_shape: tuple, p_shape: tuple) -> bool:
    """Equal, or equal but for one trailing length-1 axis (Keras' squeeze_or_expand rule)."""
    return (
        t_shape == p_shape
        or (t_shape[-1:] == (1,) and t_shape[:-1] == p_shape)
        or (p_shape[-1:] == (1,) and p_shape[:-1] == t_shape)
    )


def validate_targets(loss: Loss, y_true, y_pred) -> None:
    """Check y_true against y_pred for `loss` once, before the first step (it may sync).

    - dense losses: the shapes must be equal or differ by a trailing length-1 axis;
    - sparse losses (sparse crossentropy, generalized CE, torch CrossEntropyLoss/NLLLoss):
      y_true has y_pred's shape without the class axis (a trailing 1 allowed) and holds
      integers in [0, num_classes) (`ignore_class`/`ignore_index` entries excepted);
    - losses with `targets = "any"` (CTC, Circle) are not checked.
    A custom function with other shapes can opt out with `fn.targets = "any"`.
    Raises ValueError naming both shapes (or the bad labels).
    """
    kind = getattr(loss, "targets", "dense")
    if kind == "any" or y_true is None or y_pred is None:
        return
    y_pred = K._t(y_pred)
    y_true = K._t(y_true)
    t_shape, p_shape = tuple(y_true.shape), tuple(y_pred.shape)
    name = getattr(loss, "name", type(loss).__name__)
    if kind == "dense":
        if not _shapes_match(t_shape, p_shape):
            raise ValueError(
                f"Loss {name!r}: y_true and y_pred shapes do not match: y_true.shape={t_shape}, "
                f"y_pred.shape={p_shape}. They must be equal (or differ by a trailing axis of "
                "size 1). For integer class labels use 'sparse_categorical_crossentropy'. "
                "A custom loss expecting other shapes can set `fn.targets = 'any'`."
            )
        return
    _validate_sparse(loss, name, y_true, y_pred)


def _validate_sparse(loss, name: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    t_shape, p_shape = tuple(y_true.shape), tuple(y_pred.shape)
    ignore = None
    if isinstance(loss, TorchLoss):
        if t_shape == p_shape and p_shape[-1] > 1:
            return  # class probabilities
        axis = 1 if y_pred.ndim > 1 else 0
        ignore = getattr(loss.module, "ignore_index", None)
    else:
        kwargs = getattr(loss, "fn_kwargs", {})
        axis = kwargs.get("axis", -1)
        ignore = kwargs.get("ignore_class")
    axis %= max(y_pred.ndim, 1)
    expected = p_shape[:axis] + p_shape[axis + 1 :]
    if t_shape not in (expected, expected + (1,)):
        raise ValueError(
            f"Loss {name!r} expects integer class labels of shape {expected} (or "
            f"{expected + (1,)}) for y_pred.shape={p_shape}; received y_true.shape={t_shape}. "
            "For one-hot targets use 'categorical_crossentropy'."
        )
    labels = y_true.reshape(-1)
    if ignore is not None:
        labels = labels[labels != ignore]
    if labels.numel() == 0:
        return
    num_classes = p_shape[axis]
    if labels.is_floating_point() and not bool(torch.all(labels == torch.round(labels))):
        raise ValueError(
            f"Loss {name!r} expects integer class labels; y_true holds non-integer values "
            f"(e.g. {labels[labels != torch.round(labels)][0].item()!r})."
        )
    low, high = labels.min().item(), labels.max().item()
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"Loss {name!r}: class labels must be in [0, {num_classes}) for y_pred.shape="
            f"{p_shape}; y_true holds values in [{low:g}, {high:g}]."
        )
