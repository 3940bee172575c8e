"""`keras.ops.image` resampling and warps, re-exported by `fitorch.ops.image`:
`scale_and_translate` (separable resampling with JAX's kernel family) and
`elastic_transform` (smoothed random displacement fields)."""

from __future__ import annotations

import torch

from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.tensor_args import as_float
from fitorch.ops.tensor_args import data_format as standardize_data_format

__all__ = ["scale_and_translate", "elastic_transform"]


def _keys_cubic(d: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel (a = -0.5) at distance d >= 0."""
    near = ((1.5 * d - 2.5) * d) * d + 1.0
    far = ((-0.5 * d + 2.5) * d - 4.0) * d + 2.0
    return torch.where(d < 1.0, near, torch.where(d < 2.0, far, 0.0))


def _lanczos(radius: float):
    def kernel(d: torch.Tensor) -> torch.Tensor:
        """radius sin(pi d) sin(pi d / radius) / (pi d)**2, 1 near d = 0, 0 beyond radius."""
        pi_d = torch.pi * d
        safe = torch.where(d > 1e-3, pi_d, 1.0)
        value = radius * torch.sin(safe) * torch.sin(safe / radius) / (safe * safe)
        return torch.where(d > radius, 0.0, torch.where(d > 1e-3, value, 1.0))

    return kernel


_RESAMPLING_KERNELS = {
    "linear": lambda d: torch.clamp(1.0 - d, min=0.0),
    "cubic": _keys_cubic,
    "lanczos3": _lanczos(3.0),
    "lanczos5": _lanczos(5.0),
}
_METHOD_ALIASES = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic",
                   "tricubic": "cubic"}  # fmt: skip


def _resampling_weights(in_size: int, out_size: int, scale, shift, kernel, antialias: bool):
    """(in_size, out_size) weights: output pixel j reads the input around
    c_j = (j + 0.5 - shift) / scale - 0.5, with the kernel widened by 1 / scale when
    down-sampling with `antialias`; columns are normalised, and zero when c_j is outside."""
    dtype = scale.dtype
    device = scale.device
    centre = (torch.arange(out_size, dtype=dtype, device=device) + 0.5 - shift) / scale - 0.5
    stretch = torch.clamp(1.0 / scale, min=1.0) if antialias else 1.0
    inputs = torch.arange(in_size, dtype=dtype, device=device)
    distance = (centre[None, :] - inputs[:, None]).abs() / stretch
    weights = kernel(distance)
    total = weights.sum(dim=0, keepdim=True)
    tiny = 1000.0 * torch.finfo(torch.float32).eps
    weights = torch.where(total.abs() > tiny, weights / torch.where(total != 0, total, 1.0), 0.0)
    inside = (centre >= -0.5) & (centre <= in_size - 0.5)
    return torch.where(inside[None, :], weights, 0.0)


def scale_and_translate(
    images, output_shape, scale, translation, spatial_dims, method: str, antialias: bool = True
) -> torch.Tensor:
    """Resample `images` along `spatial_dims` to `output_shape` with per-dim `scale` and
    `translation` (JAX's `scale_and_translate`): kernels "linear", "cubic" (Keys),
    "lanczos3", "lanczos5"; integer images are rounded and clipped to their input range."""
    method = _METHOD_ALIASES.get(method, method)
    if method not in _RESAMPLING_KERNELS:
        raise ValueError(
            "scale_and_translate: `method` must be one of linear/bilinear/trilinear, "
            f"cubic/bicubic/tricubic, lanczos3, lanczos5; received method={method!r}."
        )
    x = as_tensor(images)
    scale_t, shift_t = as_float(scale), as_float(translation)
    dtype = torch.promote_types(scale_t.dtype, shift_t.dtype)
    out = x.float() if not x.is_floating_point() else x
    for i, dim in enumerate(spatial_dims):
        dim = dim % x.ndim
        factor, shift = scale_t[i].to(x.device, dtype), shift_t[i].to(x.device, dtype)
        weights = _resampling_weights(x.shape[dim], output_shape[dim], factor, shift,
                                      _RESAMPLING_KERNELS[method], antialias)  # fmt: skip
        out = torch.tensordot(out, weights.to(out.dtype), dims=([dim], [0])).movedim(-1, dim)
    if not x.is_floating_point():
        out = torch.clamp(torch.round(out), x.min(), x.max()).to(x.dtype)
    return out


def elastic_transform(
    images,
    alpha: float = 20.0,
    sigma: float = 5.0,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    seed=None,
    data_format=None,
) -> torch.Tensor:
    """Elastic distortion: every pixel reads the input at (y + alpha * dy, x + alpha * dx),
    where dx, dy are N(0, sigma**2) noise fields (one per image, shared by its channels)
    smoothed by a Gaussian of `sigma` (kernel size int(6 sigma) | 1).

    `seed` is as in `fitorch.random` (None, an int, or a SeedGenerator); draws are not
    bitwise Keras's.
    """
    from fitorch import random  # deferred: fitorch.random imports fitorch.ops
    from fitorch.ops import image

    fmt = standardize_data_format(data_format)
    x = as_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"elastic_transform: `images` must be rank 3 or 4; received shape {tuple(x.shape)}."
        )
    batch = x.unsqueeze(0) if x.ndim == 3 else x
    if fmt == "channels_first":
        batch = batch.permute(0, 2, 3, 1)
    n, height, width, channels = batch.shape
    dtype = batch.dtype if batch.is_floating_point() else torch.float32
    size = int(6 * sigma) | 1
    gen = random.SeedGenerator(seed) if isinstance(seed, int) else seed
    fields = []
    for _ in range(2):  # dx then dy
        noise = random.normal((n, height, width, 1), stddev=sigma, dtype=dtype, seed=gen)
        noise = noise.to(batch.device)
        fields.append(image.gaussian_blur(noise, (size, size), (sigma, sigma))[..., 0])
    dx, dy = fields
    rows = torch.arange(height, dtype=dtype, device=batch.device)[None, :, None]
    cols = torch.arange(width, dtype=dtype, device=batch.device)[None, None, :]
    shape = (n, height, width, channels)
    grid = [
        torch.arange(n, device=batch.device)[:, None, None, None].expand(shape),
        (rows + alpha * dy)[..., None].expand(shape),
        (cols + alpha * dx)[..., None].expand(shape),
        torch.arange(channels, device=batch.device).expand(shape),
    ]
    order = {"nearest": 0, "bilinear": 1}.get(interpolation)
    if order is None:
        raise ValueError(
            "elastic_transform: `interpolation` must be 'nearest' or 'bilinear'; received "
            f"{interpolation!r}."
        )
    out = image.map_coordinates(batch, grid, order, fill_mode, fill_value)
    out = out.permute(0, 3, 1, 2) if fmt == "channels_first" else out
    return out.squeeze(0) if x.ndim == 3 else out
