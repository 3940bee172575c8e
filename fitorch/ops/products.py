"""Products and differences of `keras.ops` (part of `fitorch.ops.numpy`): `matmul`, `dot`,
`einsum`, `tensordot`, `kron`, `cross`, `correlate`, `diff`, `trapezoid`, ...

Operands are promoted to one dtype; `matmul`-like products of ints narrower than 32 bits
accumulate in int32, and of bools give bool (any product true), as Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fitorch.ops.core import convert_to_tensor
from fitorch.ops.dtypes import result_type, to_torch_dtype
from fitorch.ops.elementwise import promote, to_float

__all__ = [
    "matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "kron", "cross",
    "slogdet", "correlate", "corrcoef", "trapezoid", "diff", "vectorize",
]

_SMALL_INTS = (torch.int8, torch.uint8, torch.int16)


def _product(fn: Callable, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`fn(a, b)` for a bilinear product, in the dtype Keras gives it."""
    if a.dtype == torch.bool:
        return fn(a.to(torch.int32), b.to(torch.int32)) > 0
    if a.dtype in _SMALL_INTS:
        return fn(a.to(torch.int32), b.to(torch.int32)).to(torch.int32)
    return fn(a, b).to(a.dtype)  # torch.sum of ints widens to int64: keep the input dtype


def matmul(x1: Any, x2: Any) -> torch.Tensor:
    """Matrix product with NumPy's rules (1-D operands are vectors, batch axes broadcast)."""
    return _product(torch.matmul, *promote(x1, x2))


def dot(x1: Any, x2: Any) -> torch.Tensor:
    """NumPy `dot`: scalar times for 0-D, `matmul` up to 2-D, else a sum over the last axis
    of `x1` and the second-to-last of `x2`."""
    a, b = promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return _product(torch.matmul, a, b)
    return _product(lambda p, q: torch.tensordot(p, q, dims=([-1], [-2])), a, b)


def vdot(x1: Any, x2: Any) -> torch.Tensor:
    """The dot product of the flattened inputs."""
    a, b = promote(x1, x2)
    return _product(lambda p, q: torch.sum(p.reshape(-1) * q.reshape(-1)), a, b)


def inner(x1: Any, x2: Any) -> torch.Tensor:
    """The sum product over the last axes of both inputs (scalar times for 0-D)."""
    a, b = promote(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return _product(lambda p, q: torch.tensordot(p, q, dims=([-1], [-1])), a, b)


def outer(x1: Any, x2: Any) -> torch.Tensor:
    """`x1.ravel()[:, None] * x2.ravel()[None, :]`."""
    a, b = promote(x1, x2)
    return a.reshape(-1, 1) * b.reshape(1, -1)


def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    """The sum product over the last `axes` axes of `x1` and the first of `x2`, or over the
    axis lists `axes = (axes_of_x1, axes_of_x2)`."""
    a, b = promote(x1, x2)
    dims = axes if isinstance(axes, int) else [list(np.atleast_1d(d)) for d in axes]
    return _product(lambda p, q: torch.tensordot(p, q, dims=dims), a, b)


def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> torch.Tensor:
    """Einstein summation over `operands` as written in `subscripts` (`"ij,jk->ik"`)."""
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword arguments {sorted(kwargs)}.")
    tensors = [convert_to_tensor(o) for o in operands]
    d = to_torch_dtype(result_type(*tensors))
    device = next((o.device for o in operands if isinstance(o, torch.Tensor)), None)
    tensors = [t.to(device=device, dtype=d) for t in tensors]
    if d == torch.bool or d in _SMALL_INTS:
        out = torch.einsum(subscripts, *[t.to(torch.int32) for t in tensors])
        return out > 0 if d == torch.bool else out.to(torch.int32)
    return torch.einsum(subscripts, *tensors)


def kron(x1: Any, x2: Any) -> torch.Tensor:
    """The Kronecker product: blocks `x1[i, j] * x2`."""
    a, b = promote(x1, x2)
    if a.dtype == torch.bool:
        return torch.kron(a.to(torch.int32), b.to(torch.int32)) > 0
    return torch.kron(a, b)


def cross(x1: Any, x2: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> torch.Tensor:
    """The cross product of 3-vectors (2-vectors are padded with z = 0) along the given axes;
    `axis` sets all three."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = promote(x1, x2)
    a, b = torch.movedim(a, axisa, -1), torch.movedim(b, axisb, -1)
    two_d = a.shape[-1] == 2 and b.shape[-1] == 2
    a, b = _to3(a), _to3(b)
    a, b = torch.broadcast_tensors(a, b)
    out = torch.linalg.cross(a, b, dim=-1)
    if two_d:
        return out[..., 2]
    return torch.movedim(out, -1, axisc)


def _to3(v: torch.Tensor) -> torch.Tensor:
    if v.shape[-1] == 3:
        return v
    if v.shape[-1] != 2:
        raise ValueError(f"cross: vectors must have 2 or 3 components; received shape "
                         f"{tuple(v.shape)}.")
    return torch.nn.functional.pad(v, (0, 1))


def slogdet(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """`(sign, log|det|)` of the square matrices in the last two axes of `x`."""
    sign, logabs = torch.linalg.slogdet(to_float(x))
    return sign, logabs


def correlate(x1: Any, x2: Any, mode: str = "valid") -> torch.Tensor:
    """The cross-correlation `c[k] = sum_n x1[n + k] * x2[n]` of two 1-D inputs (NumPy);
    `mode` is `"valid"`, `"same"` or `"full"`."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"correlate: mode must be 'valid', 'same' or 'full'; received "
                         f"{mode!r}.")
    a, b = promote(to_float(x1), to_float(x2))
    n, m = a.shape[0], b.shape[0]
    if n < m:  # NumPy swaps so the longer input slides, then reverses the result
        return torch.flip(correlate(b, a, mode), (0,))
    pad = {"valid": 0, "same": m // 2, "full": m - 1}[mode]
    right = {"valid": 0, "same": m - 1 - m // 2, "full": m - 1}[mode]
    padded = torch.nn.functional.pad(a, (pad, right))
    return torch.nn.functional.conv1d(padded.reshape(1, 1, -1), b.reshape(1, 1, -1)).reshape(-1)


def corrcoef(x: Any) -> torch.Tensor:
    """The Pearson correlation matrix of the variables in the rows of `x`."""
    return torch.corrcoef(to_float(x))


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> torch.Tensor:
    """The integral of `y` along `axis` by the trapezoidal rule (samples at `x`, or spaced
    `dx`)."""
    y = to_float(y)
    if x is None:
        return torch.trapezoid(y, dx=dx, dim=axis)
    return torch.trapezoid(y, convert_to_tensor(x).to(y.device, y.dtype), dim=axis)


def diff(a: Any, n: int = 1, axis: int = -1) -> torch.Tensor:
    """The `n`-th discrete difference `a[i + 1] - a[i]` along `axis` (XOR for bools)."""
    return torch.diff(convert_to_tensor(a), n=n, dim=axis)


def vectorize(pyfunc: Callable, *, excluded: Any = None, signature: str | None = None) -> Callable:
    """`pyfunc` (written for single elements or, with `signature`, core shapes) mapped over
    the leading axes of its tensor arguments with `torch.vmap`.

    `signature` is NumPy's (`"(n),(n)->()"`); without it every argument is mapped elementwise.
    `excluded` names positional indices or keywords passed through unmapped.
    """
    excluded = set(excluded or ())
    core_ranks = _core_ranks(signature)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        fixed_kw = {k: v for k, v in kwargs.items() if k in excluded}
        mapped_kw = {k: convert_to_tensor(v) for k, v in kwargs.items() if k not in excluded}
        tensors = [a if i in excluded else convert_to_tensor(a) for i, a in enumerate(args)]
        ranks = core_ranks or [0] * len(tensors)
        mapped = [i for i in range(len(tensors)) if i not in excluded]
        batch = torch.broadcast_shapes(*[tensors[i].shape[:tensors[i].ndim - ranks[j]]
                                         for j, i in enumerate(mapped)])

        def call(*flat):
            full = list(tensors)
            for j, i in enumerate(mapped):
                full[i] = flat[j]
            return pyfunc(*full, **fixed_kw, **mapped_kw)

        fn = call
        for _ in batch:
            fn = torch.vmap(fn)
        inputs = [tensors[i].expand(*batch, *tensors[i].shape[tensors[i].ndim - ranks[j]:])
                  for j, i in enumerate(mapped)]
        return fn(*inputs)

    return wrapped


def _core_ranks(signature: str | None) -> list[int] | None:
    if signature is None:
        return None
    inputs = signature.split("->")[0]
    groups = inputs.replace(" ", "").split("),(")
    return [0 if g.strip("()") == "" else len(g.strip("()").split(",")) for g in groups]
