"""`keras.ops.nn` on torch: activations, convolutions, pooling, encodings, normalisation, losses.

The activations live in `fitorch/ops/nn_activations.py` and are re-exported here, so
`fitorch.ops.nn.__all__` lists the whole Keras group.

Each op is a thin torch call with Keras's argument names and defaults. Spatial ops take
`channels_last` inputs unless `data_format` (or `config.image_data_format()`) says otherwise;
kernels use Keras's layout `(*spatial, in_channels, out_channels)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fitorch import backend
from fitorch.ops import nn_activations
from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.nn_activations import *  # noqa: F403 (the activations are part of ops.nn)
from fitorch.ops.tensor_args import as_float, int_tuple, result_float
from fitorch.ops.tensor_args import data_format as standardize_data_format

__all__ = [
    *nn_activations.__all__,
    # convolution and pooling
    "conv", "depthwise_conv", "separable_conv", "conv_transpose", "max_pool", "average_pool",
    "adaptive_max_pool", "adaptive_average_pool", "unfold", "fold",
    "depth_to_space", "space_to_depth",
    # encodings, normalisation, losses, attention
    "one_hot", "multi_hot", "moments", "batch_normalization", "normalize",
    "rms_normalization", "layer_normalization", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "ctc_loss", "ctc_decode",
    "psnr", "dot_product_attention", "polar",
]  # fmt: skip


# -------------------------------------------------------------------- convolution, pooling
def _to_channels_first(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """(N, *spatial, C) -> (N, C, *spatial) for channels_last; channels_first passes."""
    if fmt == "channels_first":
        return x
    return x.movedim(-1, 1).contiguous()


def _from_channels_first(x: torch.Tensor, fmt: str) -> torch.Tensor:
    return x if fmt == "channels_first" else x.movedim(1, -1)


def _spatial_rank(x: torch.Tensor, op: str) -> int:
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"{op}: `inputs` must have rank 3, 4 or 5 (batch, spatial dims, channels); "
            f"received inputs.shape={tuple(x.shape)}."
        )
    return x.ndim - 2


def _same_pads(size: int, window: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF "same" padding of one dim: output length ceil(size / stride), the odd pad at the end."""
    effective = (window - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, windows, strides, dilations, value: float = 0.0):
    """Pad the spatial dims of channels-first `x` for "same"; returns the padded tensor."""
    pads: list[int] = []
    for size, w, s, d in reversed(list(zip(x.shape[2:], windows, strides, dilations))):
        pads.extend(_same_pads(size, w, s, d))
    return F.pad(x, pads, value=value) if any(pads) else x


def _check_padding(padding: str, op: str) -> str:
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: `padding` must be 'valid' or 'same'; received {padding!r}.")
    return padding


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def conv(
    inputs, kernel, strides=1, padding: str = "valid", data_format=None, dilation_rate=1
) -> torch.Tensor:
    """N-d convolution (cross-correlation as in Keras/TF) of `inputs` with `kernel`.

    `kernel` has shape `(*spatial, in_channels // groups, out_channels)`; the number of groups
    is `in_channels // kernel.shape[-2]`. "same" pads as TensorFlow (extra at the end).
    """
    fmt = standardize_data_format(data_format)
    x, k = as_float(inputs), as_tensor(kernel)
    n = _spatial_rank(x, "conv")
    strides = int_tuple(strides, n, "strides")
    dilation = int_tuple(dilation_rate, n, "dilation_rate")
    padding = _check_padding(padding, "conv")
    x = _to_channels_first(x, fmt)
    in_channels, kernel_in = x.shape[1], k.shape[-2]
    if k.ndim != n + 2 or in_channels % kernel_in:
        raise ValueError(
            "conv: `kernel` must have shape (*spatial, in_channels // groups, out_channels) "
            f"with in_channels={in_channels} divisible by its second-to-last dim; received "
            f"kernel.shape={tuple(k.shape)}, inputs.shape={tuple(inputs.shape)}."
        )
    weight = k.permute(n + 1, n, *range(n)).to(x.dtype)  # (out, in/groups, *spatial)
    if padding == "same":
        x = _pad_same(x, weight.shape[2:], strides, dilation)
    out = _CONV[n](x, weight, stride=strides, dilation=dilation, groups=in_channels // kernel_in)
    return _from_channels_first(out, fmt)


def depthwise_conv(
    inputs, kernel, strides=1, padding: str = "valid", data_format=None, dilation_rate=1
) -> torch.Tensor:
    """Per-channel convolution; `kernel` is `(*spatial, in_channels, channel_multiplier)`.

    Output channel `c * multiplier + m` is input channel `c` convolved with `kernel[..., c, m]`.
    """
    k = as_tensor(kernel)
    grouped = k.reshape(*k.shape[:-2], 1, k.shape[-2] * k.shape[-1])
    return conv(inputs, grouped, strides, padding, data_format, dilation_rate)


def separable_conv(
    inputs,
    depthwise_kernel,
    pointwise_kernel,
    strides=1,
    padding: str = "valid",
    data_format=None,
    dilation_rate=1,
) -> torch.Tensor:
    """`depthwise_conv` followed by a 1x1 `conv` with `pointwise_kernel`."""
    mid = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(mid, pointwise_kernel, 1, "valid", data_format)


def _transpose_pads(window: int, stride: int, dilation: int, padding: str, output_padding):
    """(left, right) zero padding of the stride-dilated input, as TensorFlow's conv transpose.

    The output length is (in - 1) * stride + 1 + left + right - (k_eff - 1).
    """
    k = (window - 1) * dilation + 1
    if padding == "valid":
        extra = max(k, stride) - k if output_padding is None else output_padding
        return k - 1, k - 1 + extra
    total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, k - 1)
    return left, total - left


def conv_transpose(
    inputs,
    kernel,
    strides=1,
    padding: str = "valid",
    output_padding=None,
    data_format=None,
    dilation_rate=1,
) -> torch.Tensor:
    """Transposed convolution (the gradient of `conv`); `kernel` is `(*spatial, out, in)`.

    Output length per dim: "valid" (in - 1) * s + k_eff + max(s - k_eff, 0), "same" in * s,
    or, with `output_padding`, (in - 1) * s + k_eff - 2 * pad + output_padding.
    """
    fmt = standardize_data_format(data_format)
    x, k = _to_channels_first(as_float(inputs), fmt), as_tensor(kernel)
    n = _spatial_rank(x, "conv_transpose")
    strides = int_tuple(strides, n, "strides")
    dilation = int_tuple(dilation_rate, n, "dilation_rate")
    padding = _check_padding(padding, "conv_transpose")
    extras = (
        [None] * n if output_padding is None else int_tuple(output_padding, n, "output_padding")
    )
    if k.ndim != n + 2 or k.shape[-1] != x.shape[1]:
        raise ValueError(
            "conv_transpose: `kernel` must have shape (*spatial, out_channels, in_channels) "
            f"with in_channels={x.shape[1]}; received kernel.shape={tuple(k.shape)}."
        )
    weight = k.permute(n + 1, n, *range(n)).to(x.dtype)  # (in, out, *spatial)
    full = _CONV_T[n](x, weight, stride=strides, dilation=dilation)
    # torch's full output pads k_eff - 1 on both sides; crop (or zero-extend) to TF's window.
    index, pads = [slice(None), slice(None)], []
    for d in range(n):
        k_eff = (weight.shape[2 + d] - 1) * dilation[d] + 1
        left, right = _transpose_pads(weight.shape[2 + d], strides[d], dilation[d], padding,
                                      extras[d])  # fmt: skip
        crop_left, crop_right = k_eff - 1 - left, k_eff - 1 - right
        index.append(slice(max(crop_left, 0), full.shape[2 + d] - max(crop_right, 0)))
        pads = [max(-crop_left, 0), max(-crop_right, 0)] + pads
    out = full[tuple(index)]
    if any(pads):
        out = F.pad(out, pads)
    return _from_channels_first(out, fmt)


_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _pool_args(inputs, pool_size, strides, padding, data_format, op):
    fmt = standardize_data_format(data_format)
    x = _to_channels_first(as_tensor(inputs), fmt)
    n = _spatial_rank(x, op)
    window = int_tuple(pool_size, n, "pool_size")
    strides = window if strides is None else int_tuple(strides, n, "strides")
    return x, n, window, strides, _check_padding(padding, op), fmt


def max_pool(inputs, pool_size, strides=None, padding: str = "valid", data_format=None):
    """Max over windows of `pool_size` moved by `strides` (default: `pool_size`).

    "same" pads with -inf (TF placement), so padded positions never win.
    """
    x, n, window, strides, padding, fmt = _pool_args(
        inputs, pool_size, strides, padding, data_format, "max_pool"
    )
    if padding == "same":
        x = _pad_same(x, window, strides, (1,) * n, value=-math.inf)
    return _from_channels_first(_MAX_POOL[n](x, window, strides), fmt)


def average_pool(inputs, pool_size, strides=None, padding: str = "valid", data_format=None):
    """Mean over windows of `pool_size` moved by `strides` (default: `pool_size`).

    With "same", padded positions are left out of each window's count (as TensorFlow).
    """
    x, n, window, strides, padding, fmt = _pool_args(
        as_float(inputs), pool_size, strides, padding, data_format, "average_pool"
    )
    if padding == "valid":
        return _from_channels_first(_AVG_POOL[n](x, window, strides), fmt)
    # Window sums over the zero-padded input divided by the count of real elements in each.
    ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
    sums = _AVG_POOL[n](_pad_same(x, window, strides, (1,) * n), window, strides)
    counts = _AVG_POOL[n](_pad_same(ones, window, strides, (1,) * n), window, strides)
    return _from_channels_first(sums / counts, fmt)


_ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}


def adaptive_max_pool(inputs, output_size, data_format=None) -> torch.Tensor:
    """Max pooling into `output_size` bins per spatial dim (bin i spans floor/ceil of i*L/out)."""
    fmt = standardize_data_format(data_format)
    x = _to_channels_first(as_tensor(inputs), fmt)
    n = _spatial_rank(x, "adaptive_max_pool")
    return _from_channels_first(_ADAPTIVE_MAX[n](x, int_tuple(output_size, n, "output_size")), fmt)


def adaptive_average_pool(inputs, output_size, data_format=None) -> torch.Tensor:
    """Average pooling into `output_size` bins per spatial dim."""
    fmt = standardize_data_format(data_format)
    x = _to_channels_first(as_float(inputs), fmt)
    n = _spatial_rank(x, "adaptive_average_pool")
    return _from_channels_first(_ADAPTIVE_AVG[n](x, int_tuple(output_size, n, "output_size")), fmt)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> torch.Tensor:
    """Sliding blocks of a channels-first (N, C, H, W) image -> (N, C * kH * kW, L)."""
    return F.unfold(as_float(x), kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> torch.Tensor:
    """Inverse of `unfold`: sum (N, C * kH * kW, L) blocks into an (N, C, *output_size) image."""
    return F.fold(
        as_float(x), output_size, kernel_size, dilation=dilation, padding=padding, stride=stride
    )


def _check_block(x: torch.Tensor, block_size: int, op: str) -> None:
    if x.ndim != 4 or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(
            f"{op}: expected a rank-4 `x` and a positive int `block_size`; received "
            f"x.shape={tuple(x.shape)}, block_size={block_size!r}."
        )


def depth_to_space(x, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """Move channel blocks into b x b spatial tiles: (N, H, W, C) -> (N, H*b, W*b, C / b**2).

    channels_last reads the channels as (b, b, C / b**2) (TensorFlow's order); channels_first
    as (C / b**2, b, b) (torch's `pixel_shuffle`), as Keras on torch.
    """
    x = as_tensor(x)
    _check_block(x, block_size, "depth_to_space")
    b = block_size
    if standardize_data_format(data_format) == "channels_first":
        return F.pixel_shuffle(x, b)
    n, h, w, c = x.shape
    tiles = x.reshape(n, h, w, b, b, c // (b * b)).permute(0, 1, 3, 2, 4, 5)
    return tiles.reshape(n, h * b, w * b, c // (b * b))


def space_to_depth(x, block_size: int, data_format: str = "channels_last") -> torch.Tensor:
    """Inverse of `depth_to_space`: (N, H, W, C) -> (N, H / b, W / b, C * b**2)."""
    x = as_tensor(x)
    _check_block(x, block_size, "space_to_depth")
    b = block_size
    if standardize_data_format(data_format) == "channels_first":
        return F.pixel_unshuffle(x, b)
    n, h, w, c = x.shape
    blocks = x.reshape(n, h // b, b, w // b, b, c).permute(0, 1, 3, 2, 4, 5)
    return blocks.reshape(n, h // b, w // b, c * b * b)


# ------------------------------------------------------------------------------- encodings
def one_hot(x, num_classes: int, axis: int = -1, dtype=None, sparse: bool = False):
    """One-hot encode integer `x` into a new axis `axis` of length `num_classes`.

    Negative indices give an all-zero row. `dtype` defaults to floatx.
    """
    if sparse:
        raise ValueError("one_hot: `sparse=True` is not supported on torch; use sparse=False.")
    x = as_tensor(x).long()
    encoded = F.one_hot(torch.clamp(x, min=0), num_classes) * (x >= 0).unsqueeze(-1)
    encoded = encoded.to(backend.to_torch_dtype(dtype))
    return encoded if axis == -1 else encoded.movedim(-1, axis)


def multi_hot(inputs, num_classes=None, axis: int = -1, dtype=None, sparse: bool = False, **kwargs):
    """Multi-hot encode ints: (batch, n) -> (batch, num_classes), (n,) -> (num_classes,).

    `num_tokens` is accepted as the older spelling of `num_classes`.
    """
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: `num_classes` must be given.")
    x = as_tensor(inputs)
    encoded = one_hot(x, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return torch.amax(encoded, dim=1 if x.ndim > 1 else 0)


# --------------------------------------------------------------------------- normalisation
def _axes_tuple(axes, ndim: int) -> tuple[int, ...]:
    return tuple(a % ndim for a in ((axes,) if isinstance(axes, int) else axes))


def moments(x, axes, keepdims: bool = False, synchronized: bool = False):
    """(mean, variance) of `x` over `axes`; variance = mean(x**2) - mean(x)**2 (biased).

    float16 inputs are reduced in float32 and cast back (clipped to the float16 range).
    """
    if synchronized:
        raise NotImplementedError("moments: `synchronized=True` needs a distributed strategy.")
    x = as_float(x)
    dims = _axes_tuple(axes, x.ndim)
    compute = x.float() if x.dtype == torch.float16 else x
    mean = torch.mean(compute, dim=dims, keepdim=True)
    variance = torch.mean(compute * compute, dim=dims, keepdim=True) - mean * mean
    if not keepdims:
        mean, variance = mean.squeeze(dims), variance.squeeze(dims)
    if x.dtype == torch.float16:
        limit = torch.finfo(torch.float16).max
        mean, variance = (t.clamp(-limit, limit).to(x.dtype) for t in (mean, variance))
    return mean, variance


def batch_normalization(x, mean, variance, axis: int, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, with the 1-D statistics on `axis`."""
    x = as_float(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def along_axis(v):
        return None if v is None else as_tensor(v).to(x.dtype).reshape(shape)

    mean, variance, offset, scale = map(along_axis, (mean, variance, offset, scale))
    inv = torch.rsqrt(variance + epsilon)
    if scale is not None:
        inv = inv * scale
    out = (x - mean) * inv
    return out if offset is None else out + offset


def normalize(x, axis: int = -1, order: int = 2, epsilon=None) -> torch.Tensor:
    """x / max(||x||_order, epsilon) along `axis` (epsilon defaults to `config.epsilon()`)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: `order` must be an int >= 1; received order={order!r}.")
    x = as_float(x)
    x = x.reshape(1) if x.ndim == 0 else x
    epsilon = backend.epsilon() if epsilon is None else epsilon
    if order == 2:
        # rsqrt of the square sum, capped at 1/epsilon (Keras's form: stable for x == 0).
        inv = torch.rsqrt(torch.sum(x * x, dim=axis, keepdim=True))
        return x * torch.clamp(inv, max=1.0 / epsilon)
    norm = torch.linalg.vector_norm(x, ord=order, dim=axis, keepdim=True)
    return x / torch.clamp(norm, min=epsilon)


def rms_normalization(x, scale=None, axis=-1, epsilon=None) -> torch.Tensor:
    """x / sqrt(mean(x**2, axis) + epsilon) * scale, computed in at least float32."""
    x = as_float(x)
    epsilon = backend.epsilon() if epsilon is None else epsilon
    compute = x.to(result_float(x))
    dims = _axes_tuple(axis, x.ndim)
    out = compute * torch.rsqrt(torch.mean(compute * compute, dim=dims, keepdim=True) + epsilon)
    if scale is not None:
        out = out * as_tensor(scale).to(compute.dtype)
    return out.to(x.dtype)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs) -> torch.Tensor:
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over `axis`; `rms_scaling=True` skips
    the centring (x / sqrt(var + epsilon) * gamma)."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    x = as_float(x)
    epsilon = backend.epsilon() if epsilon is None else epsilon
    compute = x.to(result_float(x))
    dims = _axes_tuple(axis, x.ndim)
    shape = [x.shape[d] if d in dims else 1 for d in range(x.ndim)]

    def broadcast(v):
        return None if v is None else as_tensor(v).to(compute.dtype).reshape(shape)

    gamma, beta = broadcast(gamma), broadcast(beta)
    mean = torch.mean(compute, dim=dims, keepdim=True)
    var = torch.mean((compute - mean) ** 2, dim=dims, keepdim=True)
    out = (compute if rms_scaling else compute - mean) * torch.rsqrt(var + epsilon)
    if gamma is not None:
        out = out * gamma
    if beta is not None and not rms_scaling:
        out = out + beta
    return out.to(x.dtype)


# ---------------------------------------------------------------------------------- losses
def binary_crossentropy(target, output, from_logits: bool = False) -> torch.Tensor:
    """Elementwise -(t log p + (1 - t) log(1 - p)); p clipped to [eps, 1 - eps] unless logits."""
    return backend.binary_crossentropy(as_float(target), as_float(output), from_logits)


def categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    """-sum(t * log p, axis); probabilities renormalised and clipped unless `from_logits`."""
    return backend.categorical_crossentropy(as_float(target), as_float(output), from_logits, axis)


def sparse_categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    """-log p[target] along `axis`; `target` holds class indices (shape of `output` sans axis)."""
    return backend.sparse_categorical_crossentropy(
        as_tensor(target), as_float(output), from_logits, axis
    )


def ctc_loss(target, output, target_length, output_length, mask_index: int = 0):
    """Per-sample CTC negative log likelihood, shape (batch,).

    Args:
        target: (batch, max_label_length) integer labels.
        output: (batch, max_time, num_classes) logits (log-softmaxed here).
        target_length, output_length: (batch,) valid lengths.
        mask_index: the blank class.
    """
    output = as_float(output)
    output = output.to(result_float(output))
    log_probs = torch.log_softmax(output, dim=-1).transpose(0, 1)  # (time, batch, classes)
    return F.ctc_loss(
        log_probs,
        as_tensor(target).long(),
        as_tensor(output_length).long(),
        as_tensor(target_length).long(),
        blank=mask_index,
        reduction="none",
    )


def ctc_decode(
    inputs,
    sequence_lengths,
    strategy: str = "greedy",
    beam_width: int = 100,
    top_paths: int = 1,
    merge_repeated: bool = True,
    mask_index: int = 0,
):
    """Greedy CTC decoding: per-step argmax, repeats merged, blanks (`mask_index`) dropped.

    Returns `(paths, scores)`: paths (1, batch, max_time) int32 left-aligned and padded with -1,
    scores (batch, 1) = -sum over valid steps of the max of `inputs`. Only `strategy="greedy"`
    is provided (beam search is listed as not provided in docs/ops_nn.md).
    """
    if strategy != "greedy":
        raise ValueError(
            f"ctc_decode: only strategy='greedy' is provided; received strategy={strategy!r}."
        )
    x = as_float(inputs)
    x = x.to(result_float(x))
    lengths = as_tensor(sequence_lengths).long()
    batch, steps, _ = x.shape
    scores, best = torch.max(x, dim=-1)
    past_end = torch.arange(steps, device=x.device)[None, :] >= lengths[:, None]
    best = torch.where(past_end, mask_index, best)
    scores = torch.where(past_end, 0.0, scores)
    if merge_repeated:
        repeat = F.pad(best[:, 1:] == best[:, :-1], (1, 0))
        best = torch.where(repeat, mask_index, best)
    dropped = best == mask_index
    # A stable sort of "dropped" flags moves kept labels to the front in their order.
    order = torch.argsort(dropped.to(torch.int8), dim=-1, stable=True)
    paths = torch.where(dropped, -1, best).gather(-1, order).to(torch.int32)
    return paths.unsqueeze(0), -torch.sum(scores, dim=1, keepdim=True)


def psnr(x1, x2, max_val) -> torch.Tensor:
    """Peak signal-to-noise ratio 20 log10(max_val) - 10 log10(mean((x1 - x2)**2)), a scalar."""
    x1, x2 = as_float(x1), as_float(x2)
    if x1.shape != x2.shape:
        raise ValueError(
            f"psnr: `x1` and `x2` must have the same shape; received {tuple(x1.shape)} and "
            f"{tuple(x2.shape)}."
        )
    mse = torch.mean((x1 - x2) ** 2)
    peak = torch.as_tensor(max_val, dtype=x1.dtype, device=x1.device)
    return 20 * torch.log10(peak) - 10 * torch.log10(mse)


# ------------------------------------------------------------------------------- attention
def dot_product_attention(
    query,
    key,
    value,
    bias=None,
    mask=None,
    scale=None,
    is_causal: bool = False,
    flash_attention=None,
    attn_logits_soft_cap=None,
) -> torch.Tensor:
    """softmax(q k^T * scale + bias, masked) v over inputs of shape (batch, time, heads, dim).

    `scale` defaults to 1 / sqrt(dim); `mask` (bool, True = attend) and `bias` broadcast to
    (batch, heads, q_time, kv_time); key/value may have fewer heads (grouped-query attention).
    `attn_logits_soft_cap` c maps logits to c * tanh(logits / c).
    """
    q, k, v = as_float(query), as_float(key), as_float(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            "dot_product_attention: `query`, `key` and `value` must be rank 4 "
            f"(batch, time, heads, dim); received {tuple(q.shape)}, {tuple(k.shape)}, "
            f"{tuple(v.shape)}."
        )
    if bias is not None and mask is not None:
        raise ValueError("dot_product_attention: give `bias` or `mask`, not both.")
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True needs a CUDA kernel.")
    dtype = torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype)
    q, k, v = (t.to(dtype).transpose(1, 2) for t in (q, k, v))  # (batch, heads, time, dim)
    if k.shape[1] != q.shape[1]:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = torch.matmul(q, k.transpose(-1, -2)) * scale
    if attn_logits_soft_cap is not None:
        logits = attn_logits_soft_cap * torch.tanh(logits / attn_logits_soft_cap)
    if bias is not None:
        logits = logits + as_tensor(bias).to(dtype)
    keep = None if mask is None else as_tensor(mask).bool()
    if is_causal:
        causal = torch.ones(logits.shape[-2:], dtype=torch.bool, device=q.device).tril()
        keep = causal if keep is None else keep & causal
    if keep is not None:
        logits = logits.masked_fill(~keep, torch.finfo(dtype).min)
    weights = torch.softmax(logits, dim=-1)
    return torch.matmul(weights, v).transpose(1, 2)


def polar(abs_, angle) -> torch.Tensor:
    """The complex number abs_ * (cos(angle) + i sin(angle))."""
    magnitude, angle = as_float(abs_), as_float(angle)
    return torch.polar(magnitude, angle.to(magnitude.dtype))
