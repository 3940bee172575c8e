"""Keras 3 dtype rules on torch: names, conversion of inputs, and type promotion.

Keras's rules, which every op in `fitorch.ops` follows:
- Python ints (and lists of them) become `int32`, Python floats `floatx()`; NumPy arrays and
  tensors keep their dtype.
- Binary ops promote like JAX/NumPy on tensors (`int8 + uint8 -> int16`, `int + float ->
  float`), and a Python number is weak: it takes the other operand's dtype if it is of the
  same kind (`float16 + 1.5 -> float16`, `int8 + 1 -> int8`), an int tensor with a Python
  float gives `floatx()`, a bool tensor with a Python int gives `int32`.
- Functions defined on floats (`sqrt`, `mean`, `sin`, ...) compute int and bool inputs in
  `floatx()`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fitorch import backend

__all__ = ["standardize_dtype", "to_torch_dtype", "is_float_dtype", "is_int_dtype",
           "result_type", "floatx"]

_NAMES = {"float": "float32", "int": "int32", "double": "float64", "uint": "uint32"}


def floatx() -> str:
    """The default float dtype name (`fitorch.backend.floatx()`, `"float32"` by default)."""
    return backend.floatx()


def standardize_dtype(dtype: Any) -> str:
    """A dtype name as Keras spells it (`"float32"`, `"int64"`, `"bool"`).

    Accepts a string, a torch dtype, a NumPy dtype or a Python type (`float` -> floatx,
    `int` -> `"int32"`, `bool` -> `"bool"`); `None` gives `floatx()`.
    """
    if dtype is None:
        return floatx()
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    if dtype is float:
        return floatx()
    if dtype is int:
        return "int32"
    if dtype is bool:
        return "bool"
    if isinstance(dtype, str):
        name = _NAMES.get(dtype, dtype)
        if name == "bfloat16" or isinstance(getattr(torch, name, None), torch.dtype):
            return name
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(
            f"dtype: expected a dtype name such as 'float32', 'int32' or 'bool', a torch "
            f"dtype or a NumPy dtype; received {dtype!r}.") from None


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """The torch dtype for `dtype` (see `standardize_dtype`)."""
    name = standardize_dtype(dtype)
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"dtype: {name!r} has no torch equivalent (received {dtype!r}).")
    return found


def is_float_dtype(dtype: Any) -> bool:
    """True for float16, bfloat16, float32 and float64."""
    return standardize_dtype(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype: Any) -> bool:
    """True for the signed and unsigned integer dtypes (not bool)."""
    return standardize_dtype(dtype).startswith(("int", "uint"))


def _kind(x: Any) -> str:
    """'b', 'i' or 'f' for a Python number."""
    if isinstance(x, (bool, np.bool_)):
        return "b"
    if isinstance(x, (int, np.integer)):
        return "i"
    return "f"


def _strong_dtype(value: Any) -> torch.dtype:
    """The dtype a tensor, array or nested list takes (lists by Keras's defaults)."""
    if isinstance(value, torch.Tensor):
        return value.dtype
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and not isinstance(value, np.ndarray):
        return to_torch_dtype(floatx())
    if arr.dtype.kind in "iu" and not isinstance(value, np.ndarray):
        return torch.int32
    return torch.from_numpy(np.empty(0, dtype=arr.dtype)).dtype


def result_type(*values: Any) -> str:
    """The dtype name Keras gives an elementwise op of `values` (tensors, arrays, numbers).

    Tensors and arrays promote with `torch.promote_types`; Python numbers are weak (module
    docstring). With no typed operand, ints give `int32`, floats `floatx()`, bools `bool`.
    """
    numbers = (bool, int, float, np.generic)
    strong = [_strong_dtype(v) for v in values if not isinstance(v, numbers)]
    weak = {_kind(v) for v in values if isinstance(v, numbers)}
    if not strong:
        return floatx() if "f" in weak else ("int32" if "i" in weak else "bool")
    out = strong[0]
    for d in strong[1:]:
        out = torch.promote_types(out, d)
    if "f" in weak and not out.is_floating_point:
        return floatx()
    if "i" in weak and out == torch.bool:
        return "int32"
    return standardize_dtype(out)
