"""Differential-test harness: `fitorch.ops.<name>` against `keras.ops.<name>` (torch backend).

Keras 3 is the oracle. A test lists calls, the harness makes both libraries run them and
compares values (tolerance chosen by result dtype) and result dtypes (Keras's rules: Python
ints become int32, int inputs of float functions give `floatx()`, ...).

API (stable; the nn/math/linalg/image tests use it too):

    from tests.ops_oracle import call, check, check_grad, rand

    check("add", [call(rand((2, 3)), rand((3,))),          # broadcasting
                  call(rand((2, 3), "int32"), 2)])          # int tensor + Python int
    check("sum", [call(rand((2, 3)), axis=-1, keepdims=True)])
    check_grad("tanh", [call(rand((4,)))])                   # d/dx of sum(out * cotangent)

- `call(*args, **kwargs)` records one call. NumPy arrays in it are given to each library as
  they are (both convert them); a nested list/tuple argument is passed as the same structure.
- `rand(shape, dtype="float32", seed=0, low=-2.0, high=2.0)` draws a deterministic NumPy
  array: uniform floats in `[low, high)`, integers in `[low, high]` (rounded), bools half/half.
- `check(name, calls, *, rtol=None, atol=None, dtype=True, tensors=False, ours=None,
  theirs=None)` runs
  every call through `fitorch.ops.<name>` (or `ours`) and `keras.ops.<name>` (or `theirs`)
  and asserts equal structure, shapes, dtype names (unless `dtype=False`) and values
  (`numpy.testing.assert_allclose`; NaN equals NaN). Default tolerances by the result
  dtype: float16/bfloat16 1e-2, float32 1e-5 (atol 1e-6), float64 1e-12, ints and bools
  exact. `tensors=True` hands NumPy arguments (also inside lists/tuples) to both libraries
  as torch tensors, for the Keras ops that accept tensors only. The assertion message names
  the op and the call.
- `check_grad(name, calls, *, wrt=(0,), rtol=1e-5, atol=1e-6, ours=None, theirs=None)`
  makes the positional arguments in `wrt` torch float leaf tensors, backpropagates
  `sum(out * c)` with a fixed random cotangent `c` through each library and compares the
  gradients.
- `to_numpy(value)` turns a result (tensor, NumPy, Python number, nested list/tuple) into
  NumPy arrays of the same structure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import fitorch.ops  # noqa: E402

_TOLERANCES = {"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 2e-2), "float32": (1e-5, 1e-6),
               "float64": (1e-12, 1e-12)}


@dataclass
class Call:
    """One call of an op: positional and keyword arguments."""

    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        def short(v):
            if isinstance(v, np.ndarray):
                return f"array{v.shape}:{v.dtype}"
            if isinstance(v, (list, tuple)):
                return type(v)(short(e) for e in v)
            return v
        parts = [repr(short(a)) for a in self.args]
        parts += [f"{k}={short(v)!r}" for k, v in self.kwargs.items()]
        return f"({', '.join(parts)})"


def call(*args: Any, **kwargs: Any) -> Call:
    """Record one call of the op under test."""
    return Call(args, kwargs)


def rand(shape, dtype: str = "float32", seed: int = 0, low: float = -2.0,
         high: float = 2.0) -> np.ndarray:
    """A deterministic NumPy array of `shape` and `dtype` (see the module docstring)."""
    rng = np.random.default_rng(seed + 7919 * len(tuple(shape)))
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.issubdtype(np.dtype(dtype), np.integer):
        lo = 0 if np.dtype(dtype).kind == "u" else int(low)
        return rng.integers(lo, int(high) + 1, size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def to_numpy(value: Any) -> Any:
    """A result as NumPy: tensors are read back, structures keep their shape."""
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            return value.float().numpy()
        return value.numpy()
    return value


def _dtype_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.dtype).removeprefix("torch.")
    if isinstance(value, np.ndarray):
        return value.dtype.name
    return type(value).__name__


def _compare(name: str, c: Call, ours: Any, theirs: Any, rtol, atol, dtype: bool) -> None:
    where = f"ops.{name}{c!r}"
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), (
            f"{where}: structure differs: fitorch {type(ours).__name__} of "
            f"{len(ours) if isinstance(ours, (list, tuple)) else '-'}, keras "
            f"{type(theirs).__name__} of {len(theirs)}")
        for o, t in zip(ours, theirs):
            _compare(name, c, o, t, rtol, atol, dtype)
        return
    if dtype:
        assert _dtype_name(ours) == _dtype_name(theirs), (
            f"{where}: dtype fitorch {_dtype_name(ours)} != keras {_dtype_name(theirs)}")
    o, t = np.asarray(to_numpy(ours)), np.asarray(to_numpy(theirs))
    assert o.shape == t.shape, f"{where}: shape fitorch {o.shape} != keras {t.shape}"
    default = _TOLERANCES.get(_dtype_name(theirs), (0.0, 0.0))
    if o.dtype.kind in "biu" and t.dtype.kind in "biu":
        np.testing.assert_array_equal(o, t, err_msg=where)
        return
    np.testing.assert_allclose(o, t, rtol=default[0] if rtol is None else rtol,
                               atol=default[1] if atol is None else atol, equal_nan=True,
                               err_msg=where)


def _as_tensors(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value


def check(name: str, calls: list[Call], *, rtol: float | None = None,
          atol: float | None = None, dtype: bool = True, tensors: bool = False,
          ours: Callable | None = None, theirs: Callable | None = None) -> None:
    """Assert `fitorch.ops.<name>` equals `keras.ops.<name>` on every call."""
    ours = ours or getattr(fitorch.ops, name)
    theirs = theirs or getattr(keras.ops, name)
    for c in calls:
        if tensors:
            c = Call(_as_tensors(c.args), {k: _as_tensors(v) for k, v in c.kwargs.items()})
        _compare(name, c, ours(*c.args, **c.kwargs), theirs(*c.args, **c.kwargs),
                 rtol, atol, dtype)


def _grads(fn: Callable, c: Call, wrt: tuple[int, ...]) -> list[np.ndarray]:
    args = list(c.args)
    leaves = []
    for i in wrt:
        leaf = torch.tensor(np.asarray(args[i]), dtype=torch.float64, requires_grad=True)
        args[i] = leaf
        leaves.append(leaf)
    out = fn(*args, **c.kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    total = 0.0
    for k, o in enumerate(outs):
        cot = torch.as_tensor(rand(tuple(o.shape), "float64", seed=100 + k), dtype=o.dtype)
        total = total + (o * cot).sum()
    grads = torch.autograd.grad(total, leaves, allow_unused=True)
    return [np.zeros(leaf.shape) if g is None else g.numpy() for leaf, g in zip(leaves, grads)]


def check_grad(name: str, calls: list[Call], *, wrt: tuple[int, ...] = (0,),
               rtol: float = 1e-5, atol: float = 1e-6, ours: Callable | None = None,
               theirs: Callable | None = None) -> None:
    """Assert the gradients of `sum(out * c)` agree between fitorch and Keras (float64)."""
    ours = ours or getattr(fitorch.ops, name)
    theirs = theirs or getattr(keras.ops, name)
    for c in calls:
        for g_o, g_t in zip(_grads(ours, c, wrt), _grads(theirs, c, wrt)):
            np.testing.assert_allclose(g_o, g_t, rtol=rtol, atol=atol,
                                       err_msg=f"grad of ops.{name}{c!r}")
