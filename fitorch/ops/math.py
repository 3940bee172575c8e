"""`keras.ops` math group on torch: segment reductions, top-k, FFTs, special functions.

Complex values travel as Keras passes them: a `(real, imag)` pair of float tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.tensor_args import as_float

__all__ = [
    "segment_sum", "segment_max", "segment_min", "segment_prod", "top_k", "in_top_k",
    "logsumexp", "cdist", "extract_sequences", "fft", "fft2", "ifft2", "rfft", "irfft", "stft",
    "istft", "rsqrt", "erf", "erfc", "erfinv", "logdet", "view_as_complex", "view_as_real",
]  # fmt: skip


# ------------------------------------------------------------------------------ segments
def _segment_reduce(data, segment_ids, num_segments, reduce: str) -> torch.Tensor:
    """Reduce rows of `data` sharing a segment id; ids outside [0, num_segments) are dropped.

    `num_segments` defaults to max(segment_ids) + 1; empty segments hold the reduction's
    identity (0 for sum, 1 for prod, -inf for max, +inf for min), as Keras on torch.
    """
    data, ids = as_tensor(data), as_tensor(segment_ids).long()
    if ids.ndim != 1 or ids.shape[0] != data.shape[0]:
        raise ValueError(
            "segment ops: `segment_ids` must be 1-D with one id per row of `data`; received "
            f"segment_ids.shape={tuple(ids.shape)}, data.shape={tuple(data.shape)}."
        )
    n = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    # One spare row collects the dropped ids, then is cut off.
    ids = torch.where((ids >= 0) & (ids < n), ids, n)
    identity = {"sum": 0.0, "prod": 1.0, "amax": -float("inf"), "amin": float("inf")}[reduce]
    values = data.float() if not data.is_floating_point() else data
    out = torch.full((n + 1, *data.shape[1:]), identity, dtype=values.dtype, device=data.device)
    index = ids.reshape(-1, *([1] * (data.ndim - 1))).expand_as(data)
    out = out.scatter_reduce(0, index, values, reduce)
    return out[:-1].to(data.dtype)


def segment_sum(data, segment_ids, num_segments=None, sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Sum of the rows of `data` in each segment: out[s] = sum_{i: ids[i] == s} data[i]."""
    return _segment_reduce(data, segment_ids, num_segments, "sum")


def segment_max(data, segment_ids, num_segments=None, sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Elementwise max of the rows of `data` in each segment (-inf for an empty segment)."""
    return _segment_reduce(data, segment_ids, num_segments, "amax")


def segment_min(data, segment_ids, num_segments=None, sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Elementwise min of the rows of `data` in each segment (+inf for an empty segment)."""
    return _segment_reduce(data, segment_ids, num_segments, "amin")


def segment_prod(data, segment_ids, num_segments=None, sorted: bool = False) -> torch.Tensor:  # noqa: A002
    """Product of the rows of `data` in each segment (1 for an empty segment)."""
    return _segment_reduce(data, segment_ids, num_segments, "prod")


# ---------------------------------------------------------------------------- reductions
def top_k(x, k: int, sorted: bool = True):  # noqa: A002
    """`(values, indices)` of the `k` largest entries along the last axis."""
    return torch.topk(as_tensor(x), k, dim=-1, sorted=sorted)


def in_top_k(targets, predictions, k: int) -> torch.Tensor:
    """Whether each target class is among the `k` largest predictions (ties count as in)."""
    predictions = as_tensor(predictions)
    target_scores = predictions.gather(-1, as_tensor(targets).long()[:, None])
    kth = torch.topk(predictions, k, dim=-1).values[:, -1:]
    return (target_scores >= kth).squeeze(-1)


def logsumexp(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """log(sum(exp(x), axis)), computed stably; `axis=None` reduces over all elements."""
    x = as_float(x)
    dims = tuple(range(x.ndim)) if axis is None else axis
    return torch.logsumexp(x, dim=dims, keepdim=keepdims)


def cdist(x, y) -> torch.Tensor:
    """Pairwise Euclidean distances: out[..., i, j] = ||x[..., i, :] - y[..., j, :]||."""
    x, y = as_float(x), as_float(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise ValueError(
            "cdist: `x` and `y` must have rank >= 2 and the same last dim; received "
            f"x.shape={tuple(x.shape)}, y.shape={tuple(y.shape)}."
        )
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    return torch.sqrt(torch.sum(diff * diff, dim=-1))


def extract_sequences(x, sequence_length: int, sequence_stride: int) -> torch.Tensor:
    """Frames of the last axis: (..., n) -> (..., 1 + (n - length) // stride, length)."""
    return as_tensor(x).unfold(-1, sequence_length, sequence_stride)


# ------------------------------------------------------------------------------ spectral
def _complex(x) -> torch.Tensor:
    """A `(real, imag)` pair of equal-shape float tensors -> one complex tensor."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            f"`x` must be a (real, imag) pair of tensors; received {type(x).__name__}."
        )
    real, imag = as_tensor(x[0]), as_tensor(x[1])
    if real.shape != imag.shape or not (real.is_floating_point() and imag.is_floating_point()):
        raise ValueError(
            "`x` must be a (real, imag) pair of float tensors of one shape; received "
            f"{real.dtype} {tuple(real.shape)} and {imag.dtype} {tuple(imag.shape)}."
        )
    return torch.complex(real, imag)


def fft(x):
    """1-D FFT over the last axis of `(real, imag)`; returns `(real, imag)`."""
    out = torch.fft.fft(_complex(x))
    return out.real, out.imag


def fft2(x):
    """2-D FFT over the last two axes of `(real, imag)`; returns `(real, imag)`."""
    out = torch.fft.fft2(_complex(x))
    return out.real, out.imag


def ifft2(x):
    """Inverse 2-D FFT over the last two axes of `(real, imag)`; returns `(real, imag)`."""
    out = torch.fft.ifft2(_complex(x))
    return out.real, out.imag


def rfft(x, fft_length=None):
    """FFT of a real signal over the last axis: `fft_length // 2 + 1` bins as `(real, imag)`."""
    out = torch.fft.rfft(as_float(x), n=fft_length, dim=-1)
    return out.real, out.imag


def irfft(x, fft_length=None) -> torch.Tensor:
    """Inverse of `rfft`: a real signal of `fft_length` (default 2 * (bins - 1)) samples."""
    return torch.fft.irfft(_complex(x), n=fft_length, dim=-1)


def _window(window, length: int, dtype: torch.dtype, device) -> torch.Tensor:
    """The analysis window: "hann"/"hamming" (periodic), an explicit 1-D tensor, or ones."""
    if window is None:
        return torch.ones(length, dtype=dtype, device=device)
    if isinstance(window, str):
        makers = {"hann": torch.hann_window, "hamming": torch.hamming_window}
        if window not in makers:
            raise ValueError(
                f"`window` must be 'hann', 'hamming', a tensor or None; got {window!r}."
            )
        return makers[window](length, periodic=True, dtype=dtype, device=device)
    win = as_tensor(window).to(dtype)
    if win.shape != (length,):
        raise ValueError(
            f"`window` must have shape ({length},) = (sequence_length,); received "
            f"{tuple(win.shape)}."
        )
    return win


def stft(x, sequence_length: int, sequence_stride: int, fft_length: int, window="hann",
         center: bool = True):  # fmt: skip
    """Short-time Fourier transform over the last axis -> `(real, imag)` of shape
    (..., frames, fft_length // 2 + 1). `center=True` reflect-pads fft_length // 2 each side."""
    x = as_tensor(x)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"stft: `x` must be float32 or float64; received {x.dtype}.")
    if fft_length < sequence_length:
        raise ValueError(
            "stft: `fft_length` must be >= `sequence_length`; received "
            f"fft_length={fft_length}, sequence_length={sequence_length}."
        )
    win = _window(window, sequence_length, x.dtype, x.device)
    flat = x.reshape(-1, x.shape[-1])
    out = torch.stft(flat, n_fft=fft_length, hop_length=sequence_stride,
                     win_length=sequence_length, window=win, center=center,
                     return_complex=True)  # fmt: skip
    out = out.reshape(*x.shape[:-1], *out.shape[-2:]).transpose(-1, -2)  # (..., frames, bins)
    return out.real, out.imag


def istft(x, sequence_length: int, sequence_stride: int, fft_length: int, length=None,
          window="hann", center: bool = True) -> torch.Tensor:  # fmt: skip
    """Inverse of `stft` from `(real, imag)` frames (..., frames, fft_length // 2 + 1).

    With a window, `center=True` and sequence_length == fft_length this is `torch.istft`
    (overlap-add divided by the summed squared window). Otherwise, as TensorFlow's
    `inverse_stft`, each frame is multiplied by window / sum_k window[p + k * stride]**2 (the
    steady-state overlap of the squared window) before the overlap-add. `length` trims or
    zero-pads the output; without it, `center=True` drops fft_length // 2 samples each side.
    """
    spec = _complex(x)
    dtype = spec.real.dtype
    if window is not None and center and sequence_length == fft_length:
        win = _window(window, sequence_length, dtype, spec.device)
        flat = spec.reshape(-1, *spec.shape[-2:]).transpose(-1, -2)  # (B, bins, frames)
        out = torch.istft(
            flat,
            n_fft=fft_length,
            hop_length=sequence_stride,
            win_length=sequence_length,
            window=win,
            center=True,
            length=length,
        )
        return out.reshape(*spec.shape[:-2], out.shape[-1])  # fmt: skip
    frames = spec.shape[-2]
    pieces = torch.fft.irfft(spec, n=fft_length, dim=-1)  # (..., frames, fft_length)
    if window is not None:
        win = _window(window, sequence_length, dtype, spec.device)
        left = (fft_length - sequence_length) // 2  # centred inside fft_length as in stft
        win = F.pad(win, (left, fft_length - sequence_length - left))
        phases = -(-fft_length // sequence_stride)
        squares = F.pad(win * win, (0, phases * sequence_stride - fft_length))
        per_phase = squares.reshape(phases, sequence_stride).sum(dim=0)
        pieces = pieces * (win / per_phase.repeat(phases)[:fft_length])
    total = fft_length + sequence_stride * (frames - 1)
    columns = pieces.reshape(-1, frames, fft_length).transpose(1, 2)  # (B, fft_length, frames)
    signal = F.fold(columns, (1, total), (1, fft_length), stride=(1, sequence_stride))
    signal = signal.reshape(*spec.shape[:-2], total)
    start = fft_length // 2 if center else 0
    if length is not None:
        out = signal[..., start : start + length]
        return F.pad(out, (0, length - out.shape[-1]))
    return signal[..., start : total - fft_length // 2] if center else signal


# ------------------------------------------------------------------------------- special
def rsqrt(x) -> torch.Tensor:
    """1 / sqrt(x)."""
    return torch.rsqrt(as_float(x))


def erf(x) -> torch.Tensor:
    """The error function 2 / sqrt(pi) * integral_0^x exp(-t**2) dt."""
    return torch.erf(as_float(x))


def erfc(x) -> torch.Tensor:
    """1 - erf(x), accurate for large x."""
    return torch.erfc(as_float(x))


def erfinv(x) -> torch.Tensor:
    """The inverse of `erf` on (-1, 1)."""
    return torch.erfinv(as_float(x))


def logdet(x) -> torch.Tensor:
    """log(det(x)) of square matrices in the last two axes (nan for a negative determinant)."""
    return torch.logdet(as_float(x))


def view_as_complex(x) -> torch.Tensor:
    """(..., 2) float pairs -> a complex tensor of shape (...)."""
    x = as_float(x)
    if x.shape[-1:] != (2,):
        raise ValueError(f"view_as_complex: the last dim must be 2; received {tuple(x.shape)}.")
    return torch.view_as_complex(x.contiguous())


def view_as_real(x) -> torch.Tensor:
    """A complex tensor -> (..., 2) float pairs (real, imag)."""
    x = as_tensor(x)
    if not x.is_complex():
        raise ValueError(f"view_as_real: `x` must be complex; received {x.dtype}.")
    return torch.view_as_real(x)
