"""Argument checks and shape arithmetic shared by the layer families (conv, pooling, ...)."""

from __future__ import annotations

import re

__all__ = [
    "keras_name", "normalize_tuple", "check_choice", "conv_output_length", "same_padding",
    "shape_str", "default_format",
]  # fmt: skip


def keras_name(cls_name: str) -> str:
    """Keras' default layer name: `Conv2D` -> `conv2d`, `ReLU` -> `re_lu`, `LSTM` -> `lstm`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def normalize_tuple(value, n: int, arg: str, layer: str, allow_zero: bool = False) -> tuple:
    """An int or a length-`n` sequence of ints -> a tuple of `n` positive (or >= 0) ints."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(int(v) for v in values)
    except TypeError:
        raise ValueError(
            f"{layer}: {arg} must be an int or a tuple of {n} ints; got {value!r}."
        ) from None
    low = 0 if allow_zero else 1
    if len(values) != n or any(v < low for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{layer}: {arg} must be an int or a tuple of {n} {kind} ints; got {value!r}."
        )
    return values


def check_choice(value, choices, arg: str, layer: str):
    """`value` (lower-cased) if it is one of `choices`, else a ValueError listing them."""
    low = value.lower() if isinstance(value, str) else value
    if low not in choices:
        raise ValueError(f"{layer}: {arg} must be one of {sorted(choices)}; got {value!r}.")
    return low


def conv_output_length(length, kernel: int, padding: str, stride: int, dilation: int = 1):
    """Output length of a convolution/pooling window along one axis (None stays None)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (length - span) // stride + 1 if length >= span else 0
    return (length + stride - 1) // stride  # same / causal


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) zero padding that `padding='same'` adds (the extra cell goes after)."""
    span = (kernel - 1) * dilation + 1
    out = (length + stride - 1) // stride
    total = max((out - 1) * stride + span - length, 0)
    return total // 2, total - total // 2


def shape_str(shape) -> str:
    return str(tuple(shape)) if shape is not None else "None"


def default_format(data_format):
    """`data_format`, or the global `backend.image_data_format()` (Keras) when None."""
    if data_format is not None:
        return data_format
    from fitorch import backend

    return backend.image_data_format()
