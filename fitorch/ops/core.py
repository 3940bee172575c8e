"""`keras.ops` core group on torch: tensors, dtypes, control flow, slicing and scattering.

Control flow runs eagerly as Python (torch has no graph mode to stage it into), as Keras's
torch backend does: `cond` and `while_loop` read their predicate on the host.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fitorch import tree
from fitorch.ops.dtypes import floatx, standardize_dtype, to_torch_dtype

__all__ = [
    "associative_scan",
    "cast",
    "cond",
    "convert_to_numpy",
    "convert_to_tensor",
    "custom_gradient",
    "dtype",
    "fori_loop",
    "is_tensor",
    "map",
    "saturate_cast",
    "scan",
    "scatter",
    "scatter_update",
    "shape",
    "slice",
    "slice_update",
    "stop_gradient",
    "switch",
    "unstack",
    "vectorized_map",
    "while_loop",
]


# ---------------------------------------------------------------------- tensors and dtypes
def convert_to_tensor(
    x: Any, dtype: Any = None, sparse: bool | None = None, ragged: bool | None = None
) -> torch.Tensor:
    """`x` as a torch tensor, with Keras's default dtypes.

    Tensors and NumPy arrays keep their dtype; Python ints (and nested lists of them) become
    int32, Python floats `floatx()`, bools bool; a list of tensors is stacked. `dtype`
    casts. `sparse`/`ragged` must not be True (torch has neither here).
    """
    if sparse or ragged:
        raise ValueError(
            f"convert_to_tensor: sparse and ragged tensors are not supported; "
            f"received sparse={sparse!r}, ragged={ragged!r}."
        )
    target = None if dtype is None else to_torch_dtype(dtype)
    if isinstance(x, torch.Tensor):
        return x if target is None or x.dtype == target else x.to(target)
    if isinstance(x, (np.ndarray, np.generic)):
        arr = np.asarray(x)
        out = torch.from_numpy(arr if arr.flags.c_contiguous else arr.copy())
        return out if target is None else out.to(target)
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(e, torch.Tensor) for e in x):
        return torch.stack([convert_to_tensor(e, dtype) for e in x])  # a list of tensors
    if target is None:
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            target = to_torch_dtype(floatx())
        elif arr.dtype.kind in "iu":
            target = torch.int32
        elif arr.dtype.kind == "b":
            target = torch.bool
        else:
            raise TypeError(
                f"convert_to_tensor: expected a tensor, an array, a number or a "
                f"nested list of numbers; received {type(x).__name__}: {x!r}."
            )
        return torch.as_tensor(arr).to(target)
    return torch.as_tensor(np.asarray(x), dtype=target)


def convert_to_numpy(x: Any) -> np.ndarray:
    """`x` as a NumPy array (a tensor is detached and read back to the host)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.float().numpy() if x.dtype == torch.bfloat16 else x.numpy()
    return np.asarray(x)


def is_tensor(x: Any) -> bool:
    """True for a torch tensor (NumPy arrays and Python numbers are not)."""
    return isinstance(x, torch.Tensor)


def cast(x: Any, dtype: Any) -> torch.Tensor:
    """`x` converted to `dtype` (floats to ints truncate toward zero, as torch and NumPy)."""
    return convert_to_tensor(x).to(to_torch_dtype(dtype))


def saturate_cast(x: Any, dtype: Any) -> torch.Tensor:
    """`cast` that first clips `x` to the range of `dtype`, so values do not wrap around.

    `saturate_cast([-1., 256.], "uint8") == [0, 255]`, where `cast` gives `[255, 0]`.
    """
    x = convert_to_tensor(x)
    target = to_torch_dtype(dtype)
    if target != torch.bool and not (x.dtype == torch.bool):
        info = torch.finfo(target) if target.is_floating_point else torch.iinfo(target)
        src = torch.finfo(x.dtype) if x.dtype.is_floating_point else torch.iinfo(x.dtype)
        lo, hi = builtins.max(info.min, src.min), builtins.min(info.max, src.max)
        if lo > src.min or hi < src.max:
            x = torch.clamp(x, lo, hi)
    return x.to(target)


def dtype(x: Any) -> str:
    """The dtype name of `x` as Keras spells it (`"float32"`, `"int32"`, ...)."""
    return standardize_dtype(convert_to_tensor(x).dtype)


def shape(x: Any) -> tuple[int, ...]:
    """The shape of `x` as a tuple of Python ints."""
    return tuple(convert_to_tensor(x).shape)


def stop_gradient(variable: Any) -> torch.Tensor:
    """The value of `variable` with no gradient flowing back through it."""
    return convert_to_tensor(variable).detach()


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    """The slices of `x` along `axis`, as a list (`num`, when given, must equal their count)."""
    x = convert_to_tensor(x)
    if num is not None and num != x.shape[axis]:
        raise ValueError(
            f"unstack: num={num} does not match dimension {x.shape[axis]} of "
            f"axis {axis} of the input of shape {tuple(x.shape)}."
        )
    return list(torch.unbind(x, dim=axis))


# --------------------------------------------------------------------------- control flow
def cond(pred: Any, true_fn: Callable, false_fn: Callable) -> Any:
    """`true_fn()` if `pred` else `false_fn()` (`pred` is read on the host)."""
    return true_fn() if bool(pred) else false_fn()


def switch(index: Any, branches: list[Callable], *operands: Any) -> Any:
    """`branches[index](*operands)`, with `index` clamped to `[0, len(branches) - 1]`."""
    i = builtins.min(builtins.max(int(convert_to_tensor(index)), 0), len(branches) - 1)
    return branches[i](*operands)


def while_loop(
    cond: Callable, body: Callable, loop_vars: Any, maximum_iterations: int | None = None
) -> Any:
    """Repeat `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (at most
    `maximum_iterations` times). A tuple/list `loop_vars` returns a tuple; a single value
    is passed as the one argument and returned as it is.
    """
    is_seq = isinstance(loop_vars, (list, tuple))
    state = tuple(loop_vars) if is_seq else (loop_vars,)
    state = tuple(convert_to_tensor(v) if _is_array(v) else v for v in state)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and bool(cond(*state)):
        state = body(*state)
        state = tuple(state) if isinstance(state, (list, tuple)) else (state,)
        steps += 1
    return state if is_seq else state[0]


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any) -> Any:
    """`val = body_fun(i, val)` for `i` in `range(lower, upper)`, from `val = init_val`."""
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
) -> tuple[Any, Any]:
    """`carry, y = f(carry, x)` over the leading axis of `xs`; returns `(carry, stacked ys)`.

    With `xs=None`, `f` gets `None` `length` times. `reverse` walks from the end (the ys
    keep the input order). `unroll` is accepted for compatibility (the loop is eager).
    """
    if xs is None and length is None:
        raise ValueError("scan: give xs or length; received xs=None and length=None.")
    if xs is not None:
        xs = tree.map_structure(convert_to_tensor, xs)
        n = _leading(xs)
        if length is not None and length != n:
            raise ValueError(
                f"scan: length={length} does not match the leading dimension {n} of xs."
            )
    else:
        n = int(length)
    carry, ys = init, []
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        x = None if xs is None else tree.map_structure(lambda t, i=i: t[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, _stack_structures(ys)


def map(f: Callable, xs: Any) -> Any:  # noqa: A001 (Keras name)
    """`f` applied to each slice of `xs` along its leading axis, results stacked."""
    xs = tree.map_structure(convert_to_tensor, xs)
    return _stack_structures(
        [f(tree.map_structure(lambda t, i=i: t[i], xs)) for i in range(_leading(xs))]
    )


def vectorized_map(function: Callable, elements: Any) -> Any:
    """`map(function, elements)`, vectorized with `torch.vmap` where `function` allows it."""
    elements = tree.map_structure(convert_to_tensor, elements)
    try:
        return torch.vmap(function)(elements)
    except (RuntimeError, ValueError, TypeError):
        # Functions that vmap cannot trace (data-dependent Python, .item()) run per slice.
        return map(function, elements)


def associative_scan(f: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Inclusive scan of the associative `f` over `axis` of `elems` (a tensor or structure).

    Output `i` is `f(...f(f(e0, e1), e2)..., ei)`, computed by Hillis-Steele doubling:
    log2(n) vectorized calls of `f` on shifted slices.
    """
    if not callable(f):
        raise TypeError(f"associative_scan: f must be callable; received {f!r}.")
    elems = tree.map_structure(convert_to_tensor, elems)
    flip = (lambda t: torch.flip(t, (axis,))) if reverse else (lambda t: t)
    out = tree.map_structure(flip, elems)
    n = tree.flatten(out)[0].shape[axis]
    shift = 1
    while shift < n:
        head = tree.map_structure(lambda t, s=shift: t.narrow(axis, 0, s), out)
        prev = tree.map_structure(lambda t, s=shift: t.narrow(axis, 0, n - s), out)
        cur = tree.map_structure(lambda t, s=shift: t.narrow(axis, s, n - s), out)
        combined = f(prev, cur)
        # up_to: `f` may return a list where `elems` is a tuple.
        out = tree.map_structure_up_to(
            head, lambda h, c: torch.cat([h, c], dim=axis), head, combined
        )
        shift *= 2
    return tree.map_structure(flip, out)


# ------------------------------------------------------------------- slicing, scattering
def slice(inputs: Any, start_indices: Any, shape: Any) -> torch.Tensor:  # noqa: A001
    """The block of `inputs` of size `shape` starting at `start_indices` (one per axis)."""
    x = convert_to_tensor(inputs)
    index = tuple(
        builtins.slice(int(s), int(s) + int(n)) for s, n in zip(_ints(start_indices), _ints(shape))
    )
    return x[index]


def slice_update(inputs: Any, start_indices: Any, updates: Any) -> torch.Tensor:
    """A copy of `inputs` with the block at `start_indices` replaced by `updates`."""
    x = convert_to_tensor(inputs).clone()
    updates = convert_to_tensor(updates, dtype=x.dtype).to(x.device)
    index = tuple(
        builtins.slice(int(s), int(s) + n) for s, n in zip(_ints(start_indices), updates.shape)
    )
    x[index] = updates
    return x


def scatter(indices: Any, values: Any, shape: Any) -> torch.Tensor:
    """A zero tensor of `shape` with `values` added at `indices` (duplicates sum).

    `indices` is `(..., k)`: each row addresses the first `k` axes; `values` is
    `indices.shape[:-1] + shape[k:]`.
    """
    values = convert_to_tensor(values)
    out = torch.zeros(tuple(_ints(shape)), dtype=values.dtype, device=values.device)
    return _index_put(out, indices, values, accumulate=True)


_REDUCTIONS = {"max": torch.maximum, "min": torch.minimum, "mul": torch.mul}


def scatter_update(
    inputs: Any, indices: Any, updates: Any, reduction: str | None = None
) -> torch.Tensor:
    """A copy of `inputs` with `updates` written at `indices` (rows of `k` leading indices).

    `reduction=None` replaces, `"add"` accumulates; `"max"`, `"min"` and `"mul"` combine the
    current value with each update in turn.
    """
    x = convert_to_tensor(inputs).clone()
    updates = convert_to_tensor(updates, dtype=x.dtype).to(x.device)
    if reduction is None or reduction == "add":
        return _index_put(x, indices, updates, accumulate=reduction == "add")
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"scatter_update: reduction must be None, 'add', 'max', 'min' or "
            f"'mul'; received {reduction!r}."
        )
    idx = convert_to_tensor(indices).long()
    rows, upd = idx.reshape(-1, idx.shape[-1]), updates.reshape(-1, *x.shape[idx.shape[-1] :])
    for row, u in zip(rows, upd):  # sequential, so duplicate indices combine in order
        at = tuple(row.tolist())
        x[at] = _REDUCTIONS[reduction](x[at], u)
    return x


# ----------------------------------------------------------------------------- gradients
def custom_gradient(f: Callable) -> Callable:
    """Decorator: `f(*args)` returns `(output, grad_fn)`; the wrapped function returns
    `output` and backpropagates `grad_fn`'s result (one gradient per positional argument).

    `grad_fn` may be written for any Keras backend: `grad_fn(upstream)` or
    `grad_fn(*args, upstream=None)` (what Keras's torch backend calls).
    """

    class _Function(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            output, ctx.grad_fn = f(*args)
            ctx.inputs = args
            return output

        @staticmethod
        def backward(ctx, *upstream):
            up = upstream[0] if len(upstream) == 1 else upstream
            params = inspect.signature(ctx.grad_fn).parameters.values()
            if builtins.any(p.kind == p.VAR_POSITIONAL for p in params):
                grads = ctx.grad_fn(*ctx.inputs, upstream=up)
            else:
                grads = ctx.grad_fn(up)
            return tuple(grads) if isinstance(grads, (list, tuple)) else (grads,)

    def wrapped(*args):
        return _Function.apply(*[convert_to_tensor(a) if _is_array(a) else a for a in args])

    wrapped.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapped.__doc__ = f.__doc__
    return wrapped


# ------------------------------------------------------------------------------- helpers
def _is_array(x: Any) -> bool:
    return isinstance(x, (torch.Tensor, np.ndarray, list, int, float, bool))


def _ints(values: Any) -> list[int]:
    if isinstance(values, torch.Tensor):
        return [int(v) for v in values.reshape(-1).tolist()]
    return [int(v) for v in values]


def _index_put(
    out: torch.Tensor, indices: Any, values: torch.Tensor, accumulate: bool
) -> torch.Tensor:
    idx = convert_to_tensor(indices).long().to(out.device)
    k = idx.shape[-1]
    rows = idx.reshape(-1, k)
    vals = values.reshape(-1, *out.shape[k:])
    return out.index_put_(tuple(rows.t()), vals, accumulate=accumulate)


def _leading(structure: Any) -> int:
    return int(tree.flatten(structure)[0].shape[0])


def _stack_structures(items: list) -> Any:
    """The per-step results `items` (one structure each) stacked leaf by leaf; a `None`
    leaf stays `None`."""
    if not items:
        return torch.zeros((0,))

    def stack(*leaves):
        if leaves[0] is None:
            return None
        return torch.stack([convert_to_tensor(leaf) for leaf in leaves])

    return tree.map_structure(stack, *items)
