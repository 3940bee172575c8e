"""Shape manipulation and indexing of `keras.ops` (part of `fitorch.ops.numpy`).

Joining ops (`concatenate`, `stack`, `append`, `where`, `select`) promote their inputs to one
dtype; indices returned (`nonzero`, `unravel_index`) are int32; negative axes count from the
end.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import torch

from fitorch.ops.core import convert_to_tensor
from fitorch.ops.dtypes import result_type, to_torch_dtype

__all__ = [
    "append",
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "flip",
    "fliplr",
    "flipud",
    "moveaxis",
    "ravel",
    "reshape",
    "roll",
    "rot90",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "transpose",
    "repeat",
    "split",
    "array_split",
    "hsplit",
    "vsplit",
    "dsplit",
    "hstack",
    "vstack",
    "dstack",
    "pad",
    "ndim",
    "size",
    "view",
    "take",
    "take_along_axis",
    "where",
    "select",
    "nonzero",
    "get_item",
    "diag",
    "diagflat",
    "diagonal",
    "tril",
    "triu",
    "trace",
    "unravel_index",
    "isin",
]


def _joined(xs: Any) -> list[torch.Tensor]:
    """The tensors of `xs`, promoted to their common Keras dtype, on the first tensor's device."""
    xs = list(xs)
    if not xs:
        return []
    d = to_torch_dtype(result_type(*xs))
    device = next((x.device for x in xs if isinstance(x, torch.Tensor)), None)
    return [convert_to_tensor(x).to(device=device, dtype=d) for x in xs]


def _axes_tuple(axis: Any) -> tuple[int, ...]:
    return tuple(axis) if isinstance(axis, (list, tuple)) else (int(axis),)


# ------------------------------------------------------------------------------- shape
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    """`x` with shape `newshape` (one entry may be -1)."""
    shape = (newshape,) if isinstance(newshape, int) else tuple(int(s) for s in newshape)
    return torch.reshape(convert_to_tensor(x), shape)


def ravel(x: Any) -> torch.Tensor:
    """`x` flattened to 1-D (row-major)."""
    return torch.reshape(convert_to_tensor(x), (-1,))


def expand_dims(x: Any, axis: Any) -> torch.Tensor:
    """`x` with a new axis of size 1 at each position in `axis` (of the result)."""
    x = convert_to_tensor(x)
    axes = _axes_tuple(axis)
    out_ndim = x.ndim + len(axes)
    for a in sorted(a % out_ndim for a in axes):
        x = torch.unsqueeze(x, a)
    return x


def squeeze(x: Any, axis: Any = None) -> torch.Tensor:
    """`x` without its size-1 axes (only those in `axis` when given; they must be size 1)."""
    x = convert_to_tensor(x)
    if axis is None:
        return torch.squeeze(x)
    axes = tuple(a % x.ndim for a in _axes_tuple(axis))
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(
                f"squeeze: axis {a} has size {x.shape[a]}, expected 1 (input "
                f"shape {tuple(x.shape)})."
            )
    return torch.squeeze(x, dim=axes)


def transpose(x: Any, axes: Any = None) -> torch.Tensor:
    """`x` with its axes permuted by `axes` (reversed when None)."""
    x = convert_to_tensor(x)
    perm = tuple(reversed(range(x.ndim))) if axes is None else tuple(axes)
    return torch.permute(x, perm)


def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    """`x` with `axis1` and `axis2` exchanged."""
    return torch.swapaxes(convert_to_tensor(x), axis1, axis2)


def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    """`x` with the axes `source` moved to positions `destination`."""
    return torch.movedim(convert_to_tensor(x), source, destination)


def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    """`x` broadcast to `shape` (NumPy broadcasting rules)."""
    return torch.broadcast_to(convert_to_tensor(x), tuple(shape))


def ndim(x: Any) -> int:
    """The number of axes of `x`."""
    return convert_to_tensor(x).ndim


def size(x: Any) -> int:
    """The number of elements of `x`."""
    return convert_to_tensor(x).numel()


def view(x: Any, dtype: Any = None) -> torch.Tensor:
    """The bytes of `x` reinterpreted as `dtype` (the last axis rescales with the item size)."""
    x = convert_to_tensor(x)
    return x if dtype is None else x.view(to_torch_dtype(dtype))


# ------------------------------------------------------------------ reordering, tiling
def flip(x: Any, axis: Any = None) -> torch.Tensor:
    """`x` reversed along `axis` (all axes when None)."""
    x = convert_to_tensor(x)
    dims = tuple(range(x.ndim)) if axis is None else _axes_tuple(axis)
    return torch.flip(x, dims)


def fliplr(x: Any) -> torch.Tensor:
    """`x` reversed along axis 1."""
    return flip(x, 1)


def flipud(x: Any) -> torch.Tensor:
    """`x` reversed along axis 0."""
    return flip(x, 0)


def roll(x: Any, shift: Any, axis: Any = None) -> torch.Tensor:
    """`x` rotated by `shift` places along `axis` (the flattened input when None)."""
    x = convert_to_tensor(x)
    if axis is None:
        return torch.roll(x.reshape(-1), shift).reshape(x.shape)
    return torch.roll(x, shift, dims=axis)


def rot90(array: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """`array` rotated by 90 degrees `k` times in the plane of `axes`."""
    return torch.rot90(convert_to_tensor(array), k, tuple(axes))


def tile(x: Any, repeats: Any) -> torch.Tensor:
    """`x` repeated `repeats[i]` times along each axis (NumPy `tile`)."""
    reps = (repeats,) if isinstance(repeats, int) else tuple(int(r) for r in repeats)
    return torch.tile(convert_to_tensor(x), reps)


def repeat(x: Any, repeats: Any, axis: int | None = None) -> torch.Tensor:
    """Each element of `x` repeated `repeats` times along `axis` (flattened when None)."""
    x = convert_to_tensor(x)
    reps = repeats if isinstance(repeats, int) else convert_to_tensor(repeats).long()
    if axis is None:
        x, axis = x.reshape(-1), 0
    return torch.repeat_interleave(x, reps, dim=axis)


# --------------------------------------------------------------------- joining, splitting
def concatenate(xs: Any, axis: int | None = 0) -> torch.Tensor:
    """The tensors of `xs` joined along the existing `axis` (flattened first when None)."""
    tensors = _joined(xs)
    if axis is None:
        return torch.cat([t.reshape(-1) for t in tensors])
    return torch.cat(tensors, dim=axis)


def append(x1: Any, x2: Any, axis: int | None = None) -> torch.Tensor:
    """`x2` appended to `x1` along `axis` (both flattened when None)."""
    return concatenate([x1, x2], axis)


def stack(x: Any, axis: int = 0) -> torch.Tensor:
    """The tensors of `x` joined along a new axis `axis`."""
    return torch.stack(_joined(x), dim=axis)


def hstack(xs: Any) -> torch.Tensor:
    """Join along axis 1 (axis 0 for 1-D inputs)."""
    return torch.hstack(_joined(xs))


def vstack(xs: Any) -> torch.Tensor:
    """Join along axis 0, 1-D inputs becoming rows."""
    return torch.vstack(_joined(xs))


def dstack(xs: Any) -> torch.Tensor:
    """Join along axis 2, inputs first made at least 3-D."""
    return torch.dstack(_joined(xs))


def _split_points(indices_or_sections: Any) -> Any:
    if isinstance(indices_or_sections, (int, np.integer)):
        return int(indices_or_sections)
    return [int(i) for i in indices_or_sections]


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """`x` cut along `axis` into N equal parts (an int, which must divide the axis) or at the
    given indices."""
    x = convert_to_tensor(x)
    points = _split_points(indices_or_sections)
    if isinstance(points, int) and x.shape[axis] % points:
        raise ValueError(
            f"split: {points} sections do not divide axis {axis} of size "
            f"{x.shape[axis]}; use array_split for unequal parts."
        )
    return list(torch.tensor_split(x, points, dim=axis))


def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """`split` allowing unequal parts (the first ones one longer)."""
    return list(
        torch.tensor_split(convert_to_tensor(x), _split_points(indices_or_sections), dim=axis)
    )


def hsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 1 (axis 0 for 1-D inputs)."""
    x = convert_to_tensor(x)
    return split(x, indices_or_sections, axis=1 if x.ndim > 1 else 0)


def vsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 0."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x: Any, indices_or_sections: Any) -> list[torch.Tensor]:
    """`split` along axis 2."""
    return split(x, indices_or_sections, axis=2)


_PAD_MODES = {
    "constant": "constant",
    "reflect": "reflect",
    "symmetric": None,
    "edge": "replicate",
    "wrap": "circular",
}


def pad(
    x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None
) -> torch.Tensor:
    """`x` padded by `pad_width` (an int, a `(before, after)` pair, or one pair per axis).

    `mode` is `"constant"` (with `constant_values`, default 0), `"reflect"`, `"symmetric"`,
    `"edge"` or `"wrap"`, as NumPy.
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_PAD_MODES)}; received {mode!r}.")
    if constant_values is not None and mode != "constant":
        raise ValueError(
            f"pad: constant_values is only used with mode='constant'; received mode={mode!r}."
        )
    x = convert_to_tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2)).tolist()
    if mode == "constant":
        flat = [w for pair in reversed(widths) for w in pair]
        return torch.nn.functional.pad(
            x, flat, value=0 if constant_values is None else constant_values
        )
    return _pad_by_index(x, widths, mode)


def _pad_by_index(x: torch.Tensor, widths: list, mode: str) -> torch.Tensor:
    """Non-constant padding as one gather per axis (works for every rank and dtype)."""
    for axis, (before, after) in enumerate(widths):
        n = x.shape[axis]
        idx = torch.arange(-before, n + after, device=x.device)
        if mode == "edge":
            idx = idx.clamp(0, n - 1)
        elif mode == "wrap":
            idx = idx % n
        else:  # reflect (edge not repeated) or symmetric (edge repeated)
            period = 2 * n - 2 if mode == "reflect" else 2 * n
            shifted = idx % builtins.max(period, 1) if mode == "reflect" else idx % period
            idx = torch.where(
                shifted < n, shifted, period - shifted - (0 if mode == "reflect" else 1)
            )
        x = torch.index_select(x, axis, idx)
    return x


# ----------------------------------------------------------------------------- indexing
def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """Elements of `x` at `indices` along `axis` (of the flattened input when None);
    negative indices count from the end."""
    x = convert_to_tensor(x)
    idx = convert_to_tensor(indices).long().to(x.device)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.ndim
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    flat = torch.index_select(x, axis, idx.reshape(-1))
    return flat.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :]))


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    """`x` gathered with `indices` of the same rank along `axis` (broadcasting the others)."""
    x = convert_to_tensor(x)
    idx = convert_to_tensor(indices).long().to(x.device)
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.ndim
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    shape = list(
        torch.broadcast_shapes(
            tuple(builtins.max(a, 1) if i != axis else 1 for i, a in enumerate(x.shape)),
            tuple(1 if i == axis else s for i, s in enumerate(idx.shape)),
        )
    )
    x = x.expand(*[s if i != axis else x.shape[axis] for i, s in enumerate(shape)])
    idx = idx.expand(*[s if i != axis else idx.shape[axis] for i, s in enumerate(shape)])
    return torch.gather(x, axis, idx)


def where(condition: Any, x1: Any = None, x2: Any = None) -> Any:
    """`x1` where `condition`, else `x2` (promoted, broadcast); with only `condition`, the
    tuple of int32 index arrays of its true elements (`nonzero`)."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither.")
    a, b = _joined([x1, x2])
    return torch.where(convert_to_tensor(condition).bool().to(a.device), a, b)


def select(condlist: Any, choicelist: Any, default: Any = 0) -> torch.Tensor:
    """The element of the first `choicelist[i]` whose `condlist[i]` holds, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: condlist and choicelist must have the same length; "
            f"received {len(condlist)} and {len(choicelist)}."
        )
    choices = _joined(list(choicelist))
    out = torch.broadcast_to(
        convert_to_tensor(default).to(choices[0].device, choices[0].dtype),
        torch.broadcast_shapes(*[c.shape for c in choices]),
    )
    for cond, choice in zip(reversed(condlist), reversed(choices)):
        out = torch.where(convert_to_tensor(cond).bool().to(choice.device), choice, out)
    return out


def nonzero(x: Any) -> tuple[torch.Tensor, ...]:
    """The indices of the non-zero elements of `x`, one int32 array per axis."""
    return tuple(i.to(torch.int32) for i in torch.nonzero(convert_to_tensor(x), as_tuple=True))


def get_item(x: Any, key: Any) -> torch.Tensor:
    """`x[key]` with NumPy semantics: ints, slices (negative steps too), None, Ellipsis, int
    or bool tensors."""
    x = convert_to_tensor(x)
    key = tuple(_index_part(k) for k in (key if isinstance(key, tuple) else (key,)))
    key, flips = _positive_steps(key, tuple(x.shape))
    out = x[key]
    return torch.flip(out, flips) if flips else out


def _index_part(k: Any) -> Any:
    if isinstance(k, (torch.Tensor, np.ndarray, list)):
        k = convert_to_tensor(k)
        return k if k.dtype == torch.bool else k.long()
    return k


def _positive_steps(key: tuple, shape: tuple[int, ...]) -> tuple[tuple, tuple[int, ...]]:
    """`key` with each negative-step slice replaced by the positive slice over the same
    elements, and the output dims to flip afterwards (torch slices need step > 0)."""
    if not builtins.any(isinstance(k, builtins.slice) and (k.step or 1) < 0 for k in key):
        return key, ()
    if builtins.any(isinstance(k, torch.Tensor) for k in key):
        raise ValueError(
            "get_item: a negative slice step cannot be combined with tensor "
            "indices; flip the tensor first."
        )
    used = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    new, flips, dim, out_dim = [], [], 0, 0
    for k in key:
        if k is Ellipsis:
            span = len(shape) - used
            dim, out_dim = dim + span, out_dim + span
        elif k is None:
            out_dim += 1
        elif isinstance(k, builtins.slice):
            if (k.step or 1) < 0:
                picked = range(shape[dim])[k]  # the elements, in descending order
                step = -picked.step
                k = (
                    builtins.slice(picked[-1], picked[0] + 1, step)
                    if len(picked)
                    else builtins.slice(0, 0)
                )
                flips.append(out_dim)
            dim, out_dim = dim + 1, out_dim + 1
        else:
            dim += 1
        new.append(k)
    return tuple(new), tuple(flips)


def isin(x1: Any, x2: Any, assume_unique: bool = False, invert: bool = False) -> torch.Tensor:
    """True where an element of `x1` occurs in `x2` (False with `invert`)."""
    a, b = _joined([x1, x2])
    return torch.isin(a, b, assume_unique=assume_unique, invert=invert)


def unravel_index(indices: Any, shape: Any) -> tuple[torch.Tensor, ...]:
    """The coordinates in an array of `shape` of the flat `indices`, one int32 array per axis."""
    return tuple(
        c.to(torch.int32)
        for c in torch.unravel_index(
            convert_to_tensor(indices).long(), tuple(int(s) for s in shape)
        )
    )


# -------------------------------------------------------------------------- diagonals
def diag(x: Any, k: int = 0) -> torch.Tensor:
    """The `k`-th diagonal of a 2-D `x`, or a 2-D matrix with the 1-D `x` on diagonal `k`."""
    x = convert_to_tensor(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"diag: x must be 1-D or 2-D; received shape {tuple(x.shape)}.")
    return torch.diag(x, k)


def diagflat(x: Any, k: int = 0) -> torch.Tensor:
    """A 2-D matrix with the flattened `x` on diagonal `k`."""
    return torch.diag(convert_to_tensor(x).reshape(-1), k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The diagonal `offset` of the plane `(axis1, axis2)`, as the last axis."""
    return torch.diagonal(convert_to_tensor(x), offset, axis1, axis2)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> torch.Tensor:
    """The sum of `diagonal(x, offset, axis1, axis2)` (bool and small ints give int32)."""
    d = diagonal(x, offset, axis1, axis2)
    if d.dtype in (torch.bool, torch.int8, torch.uint8, torch.int16):
        d = d.to(torch.int32)
    return torch.sum(d, dim=-1).to(d.dtype)


def tril(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with the elements above diagonal `k` of its last two axes set to 0."""
    return torch.tril(convert_to_tensor(x), k)


def triu(x: Any, k: int = 0) -> torch.Tensor:
    """`x` with the elements below diagonal `k` of its last two axes set to 0."""
    return torch.triu(convert_to_tensor(x), k)
