"""Reductions, statistics, sorting and searching of `keras.ops` (part of `fitorch.ops.numpy`).

Conventions (Keras's): `axis` is None (all axes), an int or a tuple of ints, negative axes
count from the end; `keepdims=True` keeps reduced axes as size 1. Dtypes: `sum`/`prod` of
bool and ints narrower than 32 bits give int32; `mean`, `std`, `var`, `median`, quantiles
compute ints in `floatx()`; index results (`argmax`, `argsort`, `searchsorted`, ...) are int32.
`std`/`var` are population statistics (ddof 0). The `nan*` variants ignore NaNs.
"""

from __future__ import annotations

import builtins
from typing import Any

import torch

from fitorch.ops.core import convert_to_tensor
from fitorch.ops.dtypes import to_torch_dtype
from fitorch.ops.elementwise import to_float

__all__ = [
    "all",
    "any",
    "amax",
    "amin",
    "max",
    "min",
    "sum",
    "prod",
    "mean",
    "std",
    "var",
    "median",
    "average",
    "ptp",
    "count_nonzero",
    "quantile",
    "percentile",
    "argmax",
    "argmin",
    "argsort",
    "argpartition",
    "sort",
    "cumsum",
    "cumprod",
    "nanmax",
    "nanmin",
    "nansum",
    "nanprod",
    "nanmean",
    "nanstd",
    "nanvar",
    "nanmedian",
    "nanquantile",
    "nanpercentile",
    "nancumsum",
    "nancumprod",
    "nanargmax",
    "nanargmin",
    "bincount",
    "histogram",
    "digitize",
    "searchsorted",
    "unique",
]

_SMALL_INTS = (torch.bool, torch.int8, torch.uint8, torch.int16)
_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _dims(axis: Any, ndim: int) -> tuple[int, ...]:
    """Keras `axis` -> a tuple of non-negative dims (all dims for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for an input of rank {ndim}.")
        out.append(a % builtins.max(ndim, 1))
    return tuple(out)


def _reduce(fn, x: torch.Tensor, axis: Any, keepdims: bool) -> torch.Tensor:
    """Apply `fn(x, dim=tuple, keepdim=bool)` over Keras's `axis`."""
    if x.ndim == 0:
        return fn(x)
    return fn(x, dim=_dims(axis, x.ndim), keepdim=keepdims)


def _widen(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.int32) if x.dtype in _SMALL_INTS else x


# ----------------------------------------------------------------------------- logic
def all(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """True where every element along `axis` is truthy."""
    return _reduce(torch.all, convert_to_tensor(x).bool(), axis, keepdims)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """True where some element along `axis` is truthy."""
    return _reduce(torch.any, convert_to_tensor(x).bool(), axis, keepdims)


# --------------------------------------------------------------------- extrema, sums
def _extreme(fn, x: Any, axis: Any, keepdims: bool, initial: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    out = _reduce(fn, x, axis, keepdims)
    if initial is not None:
        best = torch.maximum if fn is torch.amax else torch.minimum
        out = best(out, torch.as_tensor(initial, dtype=out.dtype, device=out.device))
    return out


def max(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,  # noqa: A001
    initial: Any = None,
) -> torch.Tensor:
    """The largest element along `axis` (and no smaller than `initial` when given)."""
    x = convert_to_tensor(x)
    if initial is not None and x.numel() == 0:
        shape = [1 if d in _dims(axis, x.ndim) else n for d, n in enumerate(x.shape)]
        x = torch.full(shape, initial, dtype=x.dtype, device=x.device)
    return _extreme(torch.amax, x, axis, keepdims, initial)


def min(
    x: Any,
    axis: Any = None,
    keepdims: bool = False,  # noqa: A001
    initial: Any = None,
) -> torch.Tensor:
    """The smallest element along `axis` (and no larger than `initial` when given)."""
    x = convert_to_tensor(x)
    if initial is not None and x.numel() == 0:
        shape = [1 if d in _dims(axis, x.ndim) else n for d, n in enumerate(x.shape)]
        x = torch.full(shape, initial, dtype=x.dtype, device=x.device)
    return _extreme(torch.amin, x, axis, keepdims, initial)


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Same as `max`."""
    return max(x, axis, keepdims)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Same as `min`."""
    return min(x, axis, keepdims)


def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Peak to peak: `max(x, axis) - min(x, axis)`."""
    return max(x, axis, keepdims) - min(x, axis, keepdims)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """The sum along `axis` (bool and small ints give int32)."""
    x = _widen(convert_to_tensor(x))
    return _reduce(torch.sum, x, axis, keepdims).to(x.dtype)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    """The product along `axis` (bool and small ints give int32; `dtype` casts first)."""
    x = convert_to_tensor(x)
    x = x.to(to_torch_dtype(dtype)) if dtype is not None else _widen(x)
    dims = _dims(axis, x.ndim)
    out = x
    for d in sorted(dims, reverse=True):  # torch.prod reduces one dim at a time
        out = torch.prod(out, dim=d, keepdim=keepdims)
    return out.to(x.dtype) if x.ndim else x.clone()


def count_nonzero(x: Any, axis: Any = None) -> torch.Tensor:
    """The number of non-zero elements along `axis`, int32."""
    x = convert_to_tensor(x)
    return torch.count_nonzero(x, dim=_dims(axis, x.ndim) if x.ndim else None).to(torch.int32)


# -------------------------------------------------------------------------- statistics
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The arithmetic mean along `axis` (ints in floatx; NaN for an empty reduction)."""
    return _reduce(torch.mean, to_float(x), axis, keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The population variance `mean((x - mean(x))**2)` along `axis`."""
    x = to_float(x)
    return _reduce(lambda t, **k: torch.var(t, correction=0, **k), x, axis, keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The population standard deviation `sqrt(var(x))` along `axis`."""
    return torch.sqrt(var(x, axis, keepdims))


def average(x: Any, axis: Any = None, weights: Any = None) -> torch.Tensor:
    """The weighted mean `sum(x * w) / sum(w)` along `axis` (`weights` 1-D along `axis`, or
    the shape of `x`)."""
    x = to_float(x)
    if weights is None:
        return mean(x, axis)
    w = convert_to_tensor(weights).to(device=x.device, dtype=x.dtype)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[_dims(axis, x.ndim)[0]] = -1
        w = w.reshape(shape)
    return sum(x * w, axis) / sum(w * torch.ones_like(x), axis)


def _flatten_for(x: torch.Tensor, axis: Any) -> tuple[torch.Tensor, int]:
    """Move the axes of `axis` to the end and merge them; returns (tensor, merged dim)."""
    dims = _dims(axis, x.ndim)
    keep = [d for d in range(x.ndim) if d not in dims]
    moved = x.permute(*keep, *dims)
    return moved.reshape(*[x.shape[d] for d in keep], -1), len(keep)


def quantile(
    x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False
) -> torch.Tensor:
    """The `q`-th quantiles (`q` in [0, 1], scalar or 1-D: a leading axis) along `axis`."""
    return _quantile(x, q, axis, method, keepdims, torch.quantile)


def percentile(
    x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False
) -> torch.Tensor:
    """`quantile(x, q / 100, ...)`."""
    return quantile(x, convert_to_tensor(q, "float64") / 100.0, axis, method, keepdims)


def median(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The median along `axis` (the mean of the two middle values for even counts)."""
    return quantile(x, 0.5, axis, keepdims=keepdims)


def _quantile(x, q, axis, method, keepdims, fn) -> torch.Tensor:
    if method not in _QUANTILE_METHODS:
        raise ValueError(
            f"quantile: method must be one of {_QUANTILE_METHODS}; received {method!r}."
        )
    x = to_float(x)
    q = convert_to_tensor(q, "float64")
    flat, dim = _flatten_for(x, axis)
    # torch.quantile needs float32/64 for both operands; compute in float64, cast back.
    out = fn(flat.double(), q.to(flat.device), dim=dim, interpolation=method).to(x.dtype)
    if keepdims:
        dims = _dims(axis, x.ndim)
        shape = [1 if d in dims else x.shape[d] for d in range(x.ndim)]
        out = out.reshape(*q.shape, *shape)
    return out


def nanquantile(
    x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False
) -> torch.Tensor:
    """`quantile` ignoring NaNs."""
    return _quantile(x, q, axis, method, keepdims, torch.nanquantile)


def nanpercentile(
    x: Any, q: Any, axis: Any = None, method: str = "linear", keepdims: bool = False
) -> torch.Tensor:
    """`percentile` ignoring NaNs."""
    return nanquantile(x, convert_to_tensor(q, "float64") / 100.0, axis, method, keepdims)


def nanmedian(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`median` ignoring NaNs."""
    return nanquantile(x, 0.5, axis, keepdims=keepdims)


# -------------------------------------------------------------------- NaN-ignoring
def _without_nan(x: Any, fill: float) -> torch.Tensor:
    x = convert_to_tensor(x)
    return (
        torch.where(torch.isnan(x), torch.as_tensor(fill, dtype=x.dtype), x)
        if x.is_floating_point()
        else x
    )


def nansum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`sum` treating NaN as 0."""
    return sum(_without_nan(x, 0.0), axis, keepdims)


def nanprod(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`prod` treating NaN as 1."""
    return prod(_without_nan(x, 1.0), axis, keepdims)


def nanmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`max` ignoring NaNs (NaN where a slice is all NaN)."""
    x = convert_to_tensor(x)
    out = max(_without_nan(x, float("-inf")), axis, keepdims)
    return _all_nan_to_nan(out, x, axis, keepdims)


def nanmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`min` ignoring NaNs (NaN where a slice is all NaN)."""
    x = convert_to_tensor(x)
    out = min(_without_nan(x, float("inf")), axis, keepdims)
    return _all_nan_to_nan(out, x, axis, keepdims)


def _all_nan_to_nan(out: torch.Tensor, x: torch.Tensor, axis, keepdims) -> torch.Tensor:
    if not x.is_floating_point():
        return out
    return torch.where(all(torch.isnan(x), axis, keepdims), float("nan"), out).to(out.dtype)


def nanmean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`mean` over the non-NaN elements."""
    x = to_float(x)
    count = sum(~torch.isnan(x), axis, keepdims).to(x.dtype)
    return nansum(x, axis, keepdims) / count


def nanvar(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Population `var` over the non-NaN elements."""
    x = to_float(x)
    centred = x - nanmean(x, axis, keepdims=True)
    return nanmean(centred * centred, axis, keepdims)


def nanstd(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`sqrt(nanvar(x))`."""
    return torch.sqrt(nanvar(x, axis, keepdims))


def nancumsum(x: Any, axis: Any = None, dtype: Any = None) -> torch.Tensor:
    """`cumsum` treating NaN as 0."""
    return cumsum(_without_nan(x, 0.0), axis, dtype)


def nancumprod(x: Any, axis: Any = None, dtype: Any = None) -> torch.Tensor:
    """`cumprod` treating NaN as 1."""
    return cumprod(_without_nan(x, 1.0), axis, dtype)


def nanargmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`argmax` ignoring NaNs."""
    return argmax(_without_nan(x, float("-inf")), axis, keepdims)


def nanargmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """`argmin` ignoring NaNs."""
    return argmin(_without_nan(x, float("inf")), axis, keepdims)


# ---------------------------------------------------------------- cumulative, ordering
def _cumulative(fn, x: Any, axis: Any, dtype: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    if dtype is not None:
        x = x.to(to_torch_dtype(dtype))
    elif x.dtype == torch.bool:
        x = x.to(torch.int32)
    if axis is None:
        return fn(x.reshape(-1), dim=0).to(x.dtype)
    return fn(x, dim=int(axis)).to(x.dtype)


def cumsum(x: Any, axis: Any = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative sum along `axis` (None: of the flattened input); bools count as int32."""
    return _cumulative(torch.cumsum, x, axis, dtype)


def cumprod(x: Any, axis: Any = None, dtype: Any = None) -> torch.Tensor:
    """Cumulative product along `axis` (None: of the flattened input)."""
    return _cumulative(torch.cumprod, x, axis, dtype)


def _arg(fn, x: Any, axis: Any, keepdims: bool) -> torch.Tensor:
    x = convert_to_tensor(x)
    if x.dtype == torch.bool:
        x = x.to(torch.int32)
    if axis is None:
        out = fn(x.reshape(-1), dim=0)
        return (out.reshape([1] * x.ndim) if keepdims else out).to(torch.int32)
    return fn(x, dim=int(axis), keepdim=keepdims).to(torch.int32)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The index of the largest element along `axis` (None: in the flattened input), int32."""
    return _arg(torch.argmax, x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The index of the smallest element along `axis` (None: in the flattened input)."""
    return _arg(torch.argmin, x, axis, keepdims)


def sort(x: Any, axis: int = -1) -> torch.Tensor:
    """The elements sorted ascending along `axis` (None: the flattened input)."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return torch.sort(x, dim=axis, stable=True).values


def argsort(x: Any, axis: int = -1) -> torch.Tensor:
    """The indices that sort `x` along `axis` (stable), int32."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    if x.ndim == 0:
        return torch.zeros((), dtype=torch.int32)
    return torch.argsort(x, dim=axis, stable=True).to(torch.int32)


def argpartition(x: Any, kth: int, axis: int = -1) -> torch.Tensor:
    """Indices that partition `x` along `axis`: the element at position `kth` is the one a
    full sort puts there, smaller ones come before and larger after (this returns a stable
    argsort, one valid partition)."""
    x = convert_to_tensor(x)
    n = x.shape[axis]
    if not -n <= int(kth) < n:
        raise ValueError(f"argpartition: kth={kth} is out of bounds for axis of size {n}.")
    return argsort(x, axis)


# ---------------------------------------------------------------- counting, searching
def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> torch.Tensor:
    """Counts of each value `0..max(x)` in the non-negative int `x` (1-D, or 2-D counted per
    row); with `weights`, sums of the weights instead."""
    if sparse:
        raise ValueError("bincount: sparse=True is not supported; received sparse=True.")
    x = convert_to_tensor(x)
    w = None if weights is None else convert_to_tensor(weights)
    length = builtins.max(int(x.max()) + 1 if x.numel() else 0, int(minlength))
    if x.ndim == 2:
        rows = [bincount(x[i], None if w is None else w[i], length) for i in range(x.shape[0])]
        return torch.stack(rows)
    out = torch.bincount(x.long(), weights=None if w is None else w.double(), minlength=length)
    return (
        out.to(torch.int32)
        if w is None
        else out.to(w.dtype if w.is_floating_point() else torch.float32)
    )


def histogram(x: Any, bins: int = 10, range: Any = None) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: A002
    """`(counts, edges)` of `bins` equal-width bins over `range` (default: min..max of `x`);
    the last bin includes its right edge, as NumPy."""
    x = to_float(x).reshape(-1).double()
    lo, hi = (float(x.min()), float(x.max())) if range is None else map(float, range)
    counts = torch.histc(x, bins=int(bins), min=lo, max=hi)
    edges = torch.linspace(lo, hi, int(bins) + 1, dtype=torch.float64, device=x.device)
    return counts, edges


def digitize(x: Any, bins: Any) -> torch.Tensor:
    """For each element, the index `i` with `bins[i-1] <= x < bins[i]` (increasing bins), int32."""
    x, b = convert_to_tensor(x), convert_to_tensor(bins)
    return torch.bucketize(x, b.to(device=x.device, dtype=x.dtype), right=True).to(torch.int32)


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> torch.Tensor:
    """Insertion indices of `values` into the 1-D ascending `sorted_sequence`, int32."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right'; received {side!r}.")
    seq, v = convert_to_tensor(sorted_sequence), convert_to_tensor(values)
    if seq.ndim != 1:
        raise ValueError(
            f"searchsorted: sorted_sequence must be 1-D; received shape {tuple(seq.shape)}."
        )
    return torch.searchsorted(seq, v.to(device=seq.device, dtype=seq.dtype), side=side).to(
        torch.int32
    )


def unique(
    x: Any,
    sorted: bool = True,
    return_index: bool = False,  # noqa: A002
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: Any = None,
    size: int | None = None,
    fill_value: Any = None,
) -> Any:
    """The sorted unique elements of `x` (flattened, or unique slices along `axis`), plus
    `(index, inverse, counts)` as requested (int64, as Keras's torch backend). `size` pads
    (with `fill_value`, default the smallest unique value) or truncates the result to a fixed
    length."""
    x = convert_to_tensor(x)
    flat = x.reshape(-1) if axis is None else x
    values, inverse, counts = torch.unique(
        flat, sorted=True, return_inverse=True, return_counts=True, dim=axis
    )
    extras = []
    if return_index:
        n = flat.shape[0 if axis is None else axis]
        positions = torch.arange(n, device=x.device)
        first = torch.full(
            (values.shape[0 if axis is None else axis],), n, dtype=torch.long, device=x.device
        )
        extras.append(first.scatter_reduce(0, inverse.reshape(-1), positions, "amin"))
    if return_inverse:
        extras.append(inverse)
    if return_counts:
        extras.append(counts)
    if size is not None:
        values = _fixed_size(values, size, values[0] if fill_value is None else fill_value)
    return (values, *extras) if extras else values


def _fixed_size(values: torch.Tensor, size: int, fill: Any) -> torch.Tensor:
    if values.shape[0] >= size:
        return values[:size]
    pad = torch.full(
        (size - values.shape[0], *values.shape[1:]), fill, dtype=values.dtype, device=values.device
    )
    return torch.cat([values, pad])
