"""Array creation of `keras.ops` (part of `fitorch.ops.numpy`): ranges, constants, windows.

Without `dtype`, `arange` of ints gives int32 and everything else `floatx()` (`full` too,
whatever its fill value), as Keras; `*_like` functions keep the dtype and device of `x`.
The others create on `default_device()`: the GPU when there is one, as Keras and as fit,
which moves the model there, so `ops.arange(n)` inside a layer meets its weights.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np
import torch

from fitorch.ops.core import convert_to_tensor
from fitorch.ops.dtypes import floatx, to_torch_dtype

__all__ = [
    "arange",
    "array",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "identity",
    "linspace",
    "logspace",
    "geomspace",
    "ones",
    "ones_like",
    "zeros",
    "zeros_like",
    "tri",
    "meshgrid",
    "bartlett",
    "blackman",
    "hamming",
    "hanning",
    "kaiser",
    "vander",
]


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    if isinstance(shape, torch.Tensor):
        shape = shape.tolist()
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(
            f"shape: expected an int or a sequence of ints; received {shape!r}."
        ) from None


def default_device() -> torch.device:
    """Where creation ops put new tensors: the current CUDA device when CUDA is available,
    else torch's default device. Traceable: dynamo cannot trace `torch.get_default_device`
    (a graph break), so a compiled step reads the device of a new empty tensor instead,
    which is the same device."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.compiler.is_compiling():
        return torch.empty(()).device
    return torch.get_default_device()


def _dtype(dtype: Any) -> torch.dtype:
    return to_torch_dtype(floatx() if dtype is None else dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> torch.Tensor:
    """`[start, start + step, ...)` below `stop` (`arange(n)` is `0..n-1`); int32 for ints."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if dtype is None:
        kinds = [
            v.dtype.is_floating_point
            if isinstance(v, torch.Tensor)
            else isinstance(v, (float, np.floating))
            for v in (start, stop, step)
        ]
        dtype = floatx() if builtins.any(kinds) else "int32"
    return torch.arange(
        _item(start), _item(stop), _item(step), dtype=to_torch_dtype(dtype), device=default_device()
    )


def _item(v: Any) -> Any:
    return v.item() if isinstance(v, (torch.Tensor, np.generic)) else v


def array(x: Any, dtype: Any = None) -> torch.Tensor:
    """`x` as a tensor (see `convert_to_tensor`)."""
    return convert_to_tensor(x, dtype)


def empty(shape: Any, dtype: Any = None) -> torch.Tensor:
    """An uninitialised tensor of `shape` (fitorch fills it with zeros, to be deterministic)."""
    return zeros(shape, dtype)


def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with 0."""
    return torch.zeros(_shape(shape), dtype=_dtype(dtype), device=default_device())


def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with 1."""
    return torch.ones(_shape(shape), dtype=_dtype(dtype), device=default_device())


def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor of `shape` filled with `fill_value` (a scalar or broadcastable tensor)."""
    fill = convert_to_tensor(fill_value).to(device=default_device(), dtype=_dtype(dtype))
    return torch.broadcast_to(fill, _shape(shape)).clone()


def _like(x: Any, dtype: Any) -> tuple[torch.Tensor, torch.dtype]:
    x = convert_to_tensor(x)
    return x, x.dtype if dtype is None else to_torch_dtype(dtype)


def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Zeros of the shape of `x` (its dtype unless `dtype`)."""
    x, d = _like(x, dtype)
    return torch.zeros(x.shape, dtype=d, device=x.device)


def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """Ones of the shape of `x` (its dtype unless `dtype`)."""
    x, d = _like(x, dtype)
    return torch.ones(x.shape, dtype=d, device=x.device)


def empty_like(x: Any, dtype: Any = None) -> torch.Tensor:
    """`zeros_like` (an uninitialised tensor, zero-filled to be deterministic)."""
    return zeros_like(x, dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """`fill_value` broadcast to the shape of `x`, in its dtype unless `dtype`."""
    x, d = _like(x, dtype)
    fill = convert_to_tensor(fill_value).to(device=x.device, dtype=d)
    return torch.broadcast_to(fill, x.shape).clone()


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803
    """An `N x M` matrix with ones on diagonal `k` (above the main one for `k > 0`)."""
    M = N if M is None else M  # noqa: N806
    rows = torch.arange(int(N), device=default_device()).unsqueeze(1)
    cols = torch.arange(int(M), device=default_device()).unsqueeze(0)
    return (cols - rows == int(k)).to(_dtype(dtype))


def identity(n: int, dtype: Any = None) -> torch.Tensor:
    """The `n x n` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:  # noqa: N803
    """An `N x M` matrix with ones at and below diagonal `k`, zeros above."""
    M = N if M is None else M  # noqa: N806
    rows = torch.arange(int(N), device=default_device()).unsqueeze(1)
    cols = torch.arange(int(M), device=default_device()).unsqueeze(0)
    return (cols - rows <= int(k)).to(_dtype(dtype))


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """`num` evenly spaced values from `start` to `stop` (inclusive with `endpoint`).

    Tensor `start`/`stop` give one sequence per element, stacked along `axis`; `retstep`
    also returns the spacing (a Python float for scalar bounds, as Keras).
    """
    d = _dtype(dtype)
    device = next(
        (v.device for v in (start, stop) if isinstance(v, torch.Tensor)), default_device()
    )
    lo = convert_to_tensor(start).to(device=device, dtype=torch.float64)
    hi = convert_to_tensor(stop).to(device=device, dtype=torch.float64)
    lo, hi = torch.broadcast_tensors(lo, hi)
    div = (num - 1) if endpoint else num
    step = (hi - lo) / div if div > 0 else torch.full_like(lo, float("nan"))
    t = torch.arange(num, dtype=torch.float64, device=device).reshape(-1, *([1] * lo.ndim))
    out = lo + t * (step if div > 0 else 0.0)
    if endpoint and num > 1:
        out[-1] = hi  # exact last value, as NumPy
    out = torch.movedim(out, 0, axis).to(d)
    if not retstep:
        return out
    return (out, float(step)) if step.ndim == 0 else (out, step.to(d))


def logspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    base: float = 10,
    dtype: Any = None,
    axis: int = 0,
) -> torch.Tensor:
    """`base ** linspace(start, stop, num)`."""
    exps = linspace(start, stop, num, endpoint, dtype="float64", axis=axis)
    return torch.pow(float(base), exps).to(_dtype(dtype))


def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0
) -> torch.Tensor:
    """`num` values from `start` to `stop` evenly spaced on a log scale (a geometric series)."""
    lo = convert_to_tensor(start).to(device=default_device(), dtype=torch.float64)
    hi = convert_to_tensor(stop).to(device=default_device(), dtype=torch.float64)
    if bool(torch.any(lo == 0)) or bool(torch.any(hi == 0)):
        raise ValueError(
            f"geomspace: start and stop must be non-zero; received start={start!r}, stop={stop!r}."
        )
    sign = torch.sign(lo)
    out = sign * logspace(
        torch.log10(lo * sign), torch.log10(hi * sign), num, endpoint, dtype="float64", axis=0
    ).reshape(num, *lo.shape)
    if endpoint and num > 1:
        out[-1] = hi
    out[0] = lo
    return torch.movedim(out, 0, axis).to(_dtype(dtype))


def meshgrid(*x: Any, indexing: str = "xy") -> list[torch.Tensor]:
    """Coordinate grids from 1-D vectors: `indexing="xy"` (Cartesian) or `"ij"` (matrix)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij'; received {indexing!r}.")
    tensors = [convert_to_tensor(v) for v in x]
    device = next((v.device for v in x if isinstance(v, torch.Tensor)), default_device())
    return list(torch.meshgrid(*[t.to(device) for t in tensors], indexing=indexing))


# ------------------------------------------------------------------------------ windows
def _window_n(x: Any) -> int:
    return int(x.item() if isinstance(x, torch.Tensor) else x)


def bartlett(x: Any) -> torch.Tensor:
    """The triangular window of `x` points: `1 - |2n/(M-1) - 1|`."""
    return torch.bartlett_window(
        _window_n(x), periodic=False, dtype=_dtype(None), device=default_device()
    )


def blackman(x: Any) -> torch.Tensor:
    """The Blackman window: `0.42 - 0.5 cos(2 pi n/(M-1)) + 0.08 cos(4 pi n/(M-1))`."""
    return torch.blackman_window(
        _window_n(x), periodic=False, dtype=_dtype(None), device=default_device()
    )


def hamming(x: Any) -> torch.Tensor:
    """The Hamming window: `0.54 - 0.46 cos(2 pi n/(M-1))`."""
    return torch.hamming_window(
        _window_n(x), periodic=False, dtype=_dtype(None), device=default_device()
    )


def hanning(x: Any) -> torch.Tensor:
    """The Hann window: `0.5 - 0.5 cos(2 pi n/(M-1))`."""
    return torch.hann_window(
        _window_n(x), periodic=False, dtype=_dtype(None), device=default_device()
    )


def kaiser(x: Any, beta: float) -> torch.Tensor:
    """The Kaiser window: `I0(beta sqrt(1 - (2n/(M-1) - 1)**2)) / I0(beta)`."""
    return torch.kaiser_window(
        _window_n(x), periodic=False, beta=float(beta), dtype=_dtype(None), device=default_device()
    )


def vander(x: Any, N: int | None = None, increasing: bool = False) -> torch.Tensor:  # noqa: N803
    """The Vandermonde matrix: column `j` is `x ** (N-1-j)` (`x ** j` with `increasing`)."""
    x = convert_to_tensor(x)
    if x.ndim != 1:
        raise ValueError(f"vander: x must be 1-D; received shape {tuple(x.shape)}.")
    n = x.shape[0] if N is None else int(N)
    powers = (
        torch.arange(n, device=x.device)
        if increasing
        else torch.arange(n - 1, -1, -1, device=x.device)
    )
    return torch.pow(x.unsqueeze(1), powers.to(x.dtype).unsqueeze(0)).to(x.dtype)
