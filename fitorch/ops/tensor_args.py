"""Argument standardisation shared by the `fitorch.ops` groups (nn, math, linalg, image).

Conversion itself is `fitorch.ops.core.convert_to_tensor` (Keras's rule); this module adds the
float promotion, `data_format` and tuple-argument checks the nn, math, linalg and image groups
share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fitorch import backend
from fitorch.ops.core import convert_to_tensor

__all__ = ["as_float", "data_format", "int_tuple", "result_float"]


def as_float(x: Any) -> torch.Tensor:
    """`x` as a floating tensor: float and complex inputs keep their dtype, others become floatx."""
    out = convert_to_tensor(x)
    if out.is_floating_point() or out.is_complex():
        return out
    return out.to(backend.to_torch_dtype(backend.floatx()))


def result_float(*tensors: torch.Tensor) -> torch.dtype:
    """The promoted dtype of `tensors`, at least float32 (Keras's `result_type(..., "float32")`)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        return torch.float32
    return torch.promote_types(dtype, torch.float32) if dtype.itemsize < 4 else dtype


def data_format(value: str | None) -> str:
    """`value` or `image_data_format()` when None; anything but the two formats raises."""
    if value is None:
        return backend.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            "`data_format` must be 'channels_last' or 'channels_first'; "
            f"received data_format={value!r}."
        )
    return value


def int_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of `n` ints as an `n`-tuple; anything else raises naming `name`."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    items = tuple(value)
    if len(items) != n or not all(isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(
            f"`{name}` must be an int or a tuple of {n} ints; received {name}={value!r}."
        )
    return tuple(int(v) for v in items)
