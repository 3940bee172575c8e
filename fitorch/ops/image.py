"""`keras.ops.image` on torch: colour spaces, resizing, geometric transforms, patches, padding.

Images are rank 3 (one image) or rank 4 (a batch), `channels_last` unless `data_format` (or
`config.image_data_format()`) says otherwise.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from fitorch.ops import nn
from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.tensor_args import as_float
from fitorch.ops.tensor_args import data_format as standardize_data_format

__all__ = [
    "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb", "resize", "affine_transform",
    "extract_patches", "extract_patches_3d", "map_coordinates", "pad_images", "crop_images",
    "perspective_transform", "gaussian_blur", "sobel_edges", "ssim", "scale_and_translate",
]  # fmt: skip


def _images(images, op: str) -> torch.Tensor:
    x = as_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{op}: `images` must be rank 3 (one image) or rank 4 (a batch); received shape "
            f"{tuple(x.shape)}."
        )
    return x


def _batched_channels_first(x: torch.Tensor, fmt: str) -> torch.Tensor:
    """Rank-3/4 images -> (N, C, H, W)."""
    x = x.unsqueeze(0) if x.ndim == 3 else x
    return x.permute(0, 3, 1, 2) if fmt == "channels_last" else x


def _restore(x: torch.Tensor, fmt: str, rank: int) -> torch.Tensor:
    """Undo `_batched_channels_first`."""
    x = x.permute(0, 2, 3, 1) if fmt == "channels_last" else x
    return x.squeeze(0) if rank == 3 else x


# ---------------------------------------------------------------------------- colour spaces
def rgb_to_grayscale(images, data_format=None) -> torch.Tensor:
    """0.2989 R + 0.587 G + 0.114 B, keeping a channel axis of 1 (1-channel input is copied)."""
    fmt = standardize_data_format(data_format)
    x = _images(images, "rgb_to_grayscale")
    axis = -1 if fmt == "channels_last" else -3
    if x.shape[axis] not in (1, 3):
        raise ValueError(
            f"rgb_to_grayscale: expected 1 or 3 channels on axis {axis}; received shape "
            f"{tuple(x.shape)}."
        )
    if x.shape[axis] == 1:
        return x.clone()
    r, g, b = x.unbind(dim=axis)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(x.dtype).unsqueeze(axis)


def _float_rgb(images, data_format, op: str) -> tuple[torch.Tensor, int]:
    fmt = standardize_data_format(data_format)
    x = _images(images, op)
    if not x.is_floating_point():
        raise ValueError(f"{op}: `images` must be a float dtype; received {x.dtype}.")
    return x, -1 if fmt == "channels_last" else -3


def rgb_to_hsv(images, data_format=None) -> torch.Tensor:
    """RGB in [0, 1] -> HSV with hue in [0, 1): value = max, saturation = range / max."""
    x, axis = _float_rgb(images, data_format, "rgb_to_hsv")
    x = torch.where(x.abs() < torch.finfo(x.dtype).eps, 0.0, x)
    r, g, b = x.unbind(dim=axis)
    value = torch.maximum(torch.maximum(r, g), b)
    spread = value - torch.minimum(torch.minimum(r, g), b)
    saturation = torch.where(value > 0, spread / torch.where(value > 0, value, 1.0), 0.0)
    scale = 1.0 / (6.0 * torch.where(spread > 0, spread, 1.0))
    # Hue sector by which channel is the max (red wins ties, then green).
    hue = torch.where(value == g, scale * (b - r) + 2.0 / 6.0, scale * (r - g) + 4.0 / 6.0)
    hue = torch.where(value == r, scale * (g - b), hue)
    hue = torch.where(spread > 0, hue, 0.0) + (hue < 0).to(hue.dtype)
    return torch.stack([hue, saturation, value], dim=axis)


def hsv_to_rgb(images, data_format=None) -> torch.Tensor:
    """Inverse of `rgb_to_hsv`: piecewise-linear channel ramps of hue * 6."""
    x, axis = _float_rgb(images, data_format, "hsv_to_rgb")
    hue, saturation, value = x.unbind(dim=axis)
    sector = torch.remainder(hue, 1.0) * 6.0
    ramps = (
        torch.clamp(torch.abs(sector - 3.0) - 1.0, 0.0, 1.0),
        torch.clamp(2.0 - torch.abs(sector - 2.0), 0.0, 1.0),
        torch.clamp(2.0 - torch.abs(sector - 4.0), 0.0, 1.0),
    )
    return torch.stack([value * (1.0 - saturation + saturation * c) for c in ramps], dim=axis)


# --------------------------------------------------------------------------------- resizing
_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}


def _aspect_box(height: int, width: int, size, grow: bool) -> tuple[int, int, int, int]:
    """(top, left, box_h, box_w): the centred box of the target aspect ratio that fits
    inside the image (`grow=False`, crop) or contains it (`grow=True`, pad)."""
    target_h, target_w = size
    box_h, box_w = int(width * target_h / target_w), int(height * target_w / target_h)
    if grow:
        box_h, box_w = max(height, box_h), max(width, box_w)
    else:
        box_h, box_w = max(min(height, box_h), 1), max(min(width, box_w), 1)
    return int(abs(height - box_h) / 2), int(abs(width - box_w) / 2), box_h, box_w


def resize(
    images,
    size,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format=None,
) -> torch.Tensor:
    """Resize to `size` = (height, width) with half-pixel sampling ("bilinear", "nearest",
    "bicubic"); optionally crop or pad (with `fill_value`) to the target aspect ratio first.

    Integer images are resized in float32 and rounded back (bicubic uint8 is clipped).
    """
    if interpolation not in _RESIZE_MODES:
        raise ValueError(
            f"resize: `interpolation` must be one of {sorted(_RESIZE_MODES)}; received "
            f"{interpolation!r} (lanczos is not available on torch)."
        )
    if fill_mode != "constant":
        raise ValueError(f"resize: only fill_mode='constant' is supported; received {fill_mode!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("resize: give crop_to_aspect_ratio or pad_to_aspect_ratio, not both.")
    if len(tuple(size)) != 2:
        raise ValueError(f"resize: `size` must be (height, width); received size={size!r}.")
    fmt = standardize_data_format(data_format)
    x = _images(images, "resize")
    rank, out_dtype = x.ndim, x.dtype
    x = _batched_channels_first(x, fmt)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    height, width = x.shape[-2:]
    if crop_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, size, grow=False)
        x = x[:, :, top : top + box_h, left : left + box_w]
    elif pad_to_aspect_ratio:
        top, left, box_h, box_w = _aspect_box(height, width, size, grow=True)
        x = F.pad(x, (left, left, top, top), value=fill_value)
    mode = _RESIZE_MODES[interpolation]
    smooth = interpolation in ("bilinear", "bicubic")
    out = F.interpolate(x, size=tuple(size), mode=mode, align_corners=False if smooth else None,
                        antialias=antialias and smooth)  # fmt: skip
    if not out_dtype.is_floating_point:
        if out_dtype == torch.uint8:
            out = out.clamp(0, 255)
        out = out.round()
    return _restore(out.to(out_dtype), fmt, rank)


# ------------------------------------------------------------------- geometric transforms
def _fix_index(index: torch.Tensor, size: int, fill_mode: str) -> torch.Tensor:
    """Map out-of-range integer positions back into [0, size) as `fill_mode` extends the input:
    "reflect" (d c b a | a b c d | d c b a), "mirror" (d c b | a b c d | c b a),
    "wrap" (a b c d | a b c d), "nearest"/"constant" (clamped; constant masks them later)."""
    if fill_mode == "wrap":
        return torch.remainder(index, size)
    if fill_mode == "mirror":
        if size == 1:
            return torch.zeros_like(index)
        period = 2 * (size - 1)
        folded = torch.remainder(index, period)
        return torch.minimum(folded, period - folded)
    if fill_mode == "reflect":
        folded = torch.remainder(index, 2 * size)
        return torch.where(folded >= size, 2 * size - 1 - folded, folded)
    return torch.clamp(index, 0, size - 1)


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def map_coordinates(inputs, coordinates, order: int, fill_mode: str = "constant", fill_value=0):
    """Sample `inputs` at fractional positions: out[p] = inputs[coordinates[:, p]] (scipy's
    `ndimage.map_coordinates`), nearest (`order=0`, round half to even) or linear (`order=1`).

    `coordinates` has one leading entry per input dim. Positions outside the input follow
    `fill_mode` (see `_fix_index`); "constant" uses `fill_value` for them.
    """
    x = as_tensor(inputs)
    coords = [as_tensor(c) for c in coordinates]
    if len(coords) != x.ndim:
        raise ValueError(
            "map_coordinates: `coordinates` must have one entry per dim of `inputs` "
            f"({x.ndim}); received {len(coords)}."
        )
    if fill_mode not in _FILL_MODES:
        raise ValueError(
            f"map_coordinates: `fill_mode` must be one of {_FILL_MODES}; got {fill_mode!r}."
        )
    if order not in (0, 1):
        raise ValueError(f"map_coordinates: `order` must be 0 or 1; received order={order!r}.")
    per_dim = []  # for each dim: [(index, weight)] nodes around the coordinate
    for c in coords:
        if not c.is_floating_point():
            per_dim.append([(c.long(), None)])
        elif order == 0:
            per_dim.append([(torch.round(c).long(), None)])
        else:
            low = torch.floor(c)
            frac = c - low
            per_dim.append([(low.long(), 1.0 - frac), (low.long() + 1, frac)])
    total = 0
    for nodes in itertools.product(*per_dim):
        index = [_fix_index(i, n, fill_mode) for (i, _), n in zip(nodes, x.shape)]
        value = x[tuple(index)]
        if fill_mode == "constant":
            inside = torch.ones_like(value, dtype=torch.bool)
            for (i, _), n in zip(nodes, x.shape):
                inside &= (i >= 0) & (i < n)
            value = torch.where(inside, value, torch.as_tensor(fill_value, dtype=value.dtype))
        for _, w in nodes:
            if w is not None:
                value = value * w
        total = total + value
    out = torch.as_tensor(total)
    if not x.is_floating_point() and out.is_floating_point():
        out = torch.round(out)
    return out.to(x.dtype)


_AFFINE_ORDERS = {"nearest": 0, "bilinear": 1}


def affine_transform(
    images,
    transform,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value=0,
    data_format=None,
) -> torch.Tensor:
    """Apply projective transforms [a0, a1, a2, b0, b1, b2, c0, c1] (one, or one per image).

    Output pixel (x, y) reads the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k),
    k = c0 x + c1 y + 1, sampled by `map_coordinates` with `fill_mode` beyond the edges.
    """
    if interpolation not in _AFFINE_ORDERS:
        raise ValueError(
            f"affine_transform: `interpolation` must be 'nearest' or 'bilinear'; received "
            f"{interpolation!r}."
        )
    fmt = standardize_data_format(data_format)
    x = _images(images, "affine_transform")
    rank = x.ndim
    x = x.unsqueeze(0) if rank == 3 else x
    x = x.permute(0, 2, 3, 1) if fmt == "channels_first" else x  # (N, H, W, C)
    t = as_float(transform)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError(
            "affine_transform: `transform` must have shape (8,) or (batch, 8); received "
            f"{tuple(t.shape)}."
        )
    t = t.reshape(-1, 8).expand(x.shape[0], 8)
    n, height, width, channels = x.shape
    ys, xs = torch.meshgrid(torch.arange(height, dtype=t.dtype), torch.arange(width, dtype=t.dtype),
                            indexing="ij")  # fmt: skip
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i, None, None] for i in range(8))  # (N, 1, 1) each
    k = c0 * xs + c1 * ys + 1.0
    src_x, src_y = (a0 * xs + a1 * ys + a2) / k, (b0 * xs + b1 * ys + b2) / k  # (N, H, W)
    # One map_coordinates call over (N, H, W, C); integer batch and channel coordinates are
    # exact (one interpolation node each), so only y and x interpolate.
    shape = (n, height, width, channels)
    grid = [
        torch.arange(n)[:, None, None, None].expand(shape),
        src_y[..., None].expand(shape),
        src_x[..., None].expand(shape),
        torch.arange(channels).expand(shape),
    ]
    result = map_coordinates(x, grid, _AFFINE_ORDERS[interpolation], fill_mode, fill_value)
    result = result.permute(0, 3, 1, 2) if fmt == "channels_first" else result
    return result.squeeze(0) if rank == 3 else result


# --------------------------------------------------------------------------- patches, pads
def _patches(x: torch.Tensor, size, strides, dilation_rate, padding, fmt: str, n: int):
    """Patches of `size` over the n spatial dims of a batch, flattened into channels: each
    output channel is one (offset..., channel) element of the patch, offsets first."""
    window = (size,) * n if isinstance(size, int) else tuple(size)
    channels = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    depth = channels * int(torch.tensor(window).prod())
    # An identity kernel copies each patch element into its own output channel.
    dtype = x.dtype if x.is_floating_point() else torch.float32
    kernel = torch.eye(depth, dtype=dtype).reshape(*window, channels, depth)
    return nn.conv(x, kernel, strides or window, padding, fmt, dilation_rate)


def extract_patches(
    images, size, strides=None, dilation_rate=1, padding: str = "valid", data_format=None
) -> torch.Tensor:
    """Patches of `size` (an int or (h, w)) flattened into the channel axis:
    (N, H, W, C) -> (N, H', W', h * w * C), each patch in (row, col, channel) order.
    A 3-tuple `size` extracts volume patches (`extract_patches_3d`)."""
    if not isinstance(size, int) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    fmt = standardize_data_format(data_format)
    x = _images(images, "extract_patches")
    batch = x.unsqueeze(0) if x.ndim == 3 else x
    out = _patches(batch, size, strides, dilation_rate, padding, fmt, 2)
    return out.squeeze(0) if x.ndim == 3 else out


def extract_patches_3d(
    volumes, size, strides=None, dilation_rate=1, padding: str = "valid", data_format=None
) -> torch.Tensor:
    """Volume patches: (N, D, H, W, C) -> (N, D', H', W', d * h * w * C) (rank 4: one volume)."""
    fmt = standardize_data_format(data_format)
    x = as_tensor(volumes)
    if x.ndim not in (4, 5):
        raise ValueError(
            "extract_patches_3d: `volumes` must be rank 4 (one volume) or rank 5 (a batch); "
            f"received shape {tuple(x.shape)}."
        )
    batch = x.unsqueeze(0) if x.ndim == 4 else x
    out = _patches(batch, size, strides, dilation_rate, padding, fmt, 3)
    return out.squeeze(0) if x.ndim == 4 else out


def _homography(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """(batch, 8) coefficients of the projective map sending each `end` corner to its `start`
    corner: start = ((a0 x + a1 y + a2) / k, (a3 x + a4 y + a5) / k), k = a6 x + a7 y + 1."""
    ex, ey = end[..., 0], end[..., 1]  # (batch, 4)
    sx, sy = start[..., 0], start[..., 1]
    one, zero = torch.ones_like(ex), torch.zeros_like(ex)
    rows_x = torch.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], dim=-1)
    rows_y = torch.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], dim=-1)
    system = torch.cat([rows_x, rows_y], dim=1)  # (batch, 8, 8)
    return torch.linalg.solve(system, torch.cat([sx, sy], dim=1))


def perspective_transform(
    images, start_points, end_points, interpolation: str = "bilinear", fill_value=0,
    data_format=None,
) -> torch.Tensor:  # fmt: skip
    """Warp so that the four `start_points` (x, y) land on `end_points` ((4, 2) or (N, 4, 2));
    pixels mapped from outside the input get `fill_value`."""
    x = _images(images, "perspective_transform")
    dtype = x.dtype if x.is_floating_point() else torch.float32
    start, end = (as_tensor(p).to(dtype) for p in (start_points, end_points))
    if start.shape != end.shape or start.shape[-2:] != (4, 2) or start.ndim not in (2, 3):
        raise ValueError(
            "perspective_transform: `start_points` and `end_points` must both have shape "
            f"(4, 2) or (N, 4, 2); received {tuple(start.shape)} and {tuple(end.shape)}."
        )
    compute = torch.promote_types(dtype, torch.float32)
    coefficients = _homography(
        start.reshape(-1, 4, 2).to(compute), end.reshape(-1, 4, 2).to(compute)
    )
    return affine_transform(
        x, coefficients.to(dtype), interpolation, "constant", fill_value, data_format
    )


def _two_of_three(start, end, target, names: tuple[str, str, str], op: str) -> None:
    if [start, end, target].count(None) != 1:
        raise ValueError(
            f"{op}: give exactly two of {', '.join(names)}; received "
            f"{names[0]}={start}, {names[1]}={end}, {names[2]}={target}."
        )
    for value, name in zip((start, end, target), names):
        if value is not None and value < 0:
            raise ValueError(f"{op}: `{name}` must be >= 0; received {name}={value}.")


def _hw(x: torch.Tensor, fmt: str) -> tuple[int, int]:
    return tuple(x.shape[-3:-1]) if fmt == "channels_last" else tuple(x.shape[-2:])


def pad_images(
    images,
    top_padding=None,
    left_padding=None,
    bottom_padding=None,
    right_padding=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> torch.Tensor:
    """Zero-pad the spatial dims; per dim give two of (start pad, end pad, target size)."""
    fmt = standardize_data_format(data_format)
    x = _images(images, "pad_images")
    names = ("top_padding", "bottom_padding", "target_height")
    _two_of_three(top_padding, bottom_padding, target_height, names, "pad_images")
    names = ("left_padding", "right_padding", "target_width")
    _two_of_three(left_padding, right_padding, target_width, names, "pad_images")
    height, width = _hw(x, fmt)
    top = target_height - bottom_padding - height if top_padding is None else top_padding
    bottom = target_height - top - height if bottom_padding is None else bottom_padding
    left = target_width - right_padding - width if left_padding is None else left_padding
    right = target_width - left - width if right_padding is None else right_padding
    for value, name in ((top, "top_padding"), (bottom, "bottom_padding"),
                        (left, "left_padding"), (right, "right_padding")):  # fmt: skip
        if value < 0:
            raise ValueError(f"pad_images: the image is larger than the target; {name}={value}.")
    pads = (
        (0, 0, left, right, top, bottom) if fmt == "channels_last" else (left, right, top, bottom)
    )
    return F.pad(x, pads)


def crop_images(
    images,
    top_cropping=None,
    left_cropping=None,
    bottom_cropping=None,
    right_cropping=None,
    target_height=None,
    target_width=None,
    data_format=None,
) -> torch.Tensor:
    """Crop the spatial dims; per dim give two of (start crop, end crop, target size)."""
    fmt = standardize_data_format(data_format)
    x = _images(images, "crop_images")
    names = ("top_cropping", "bottom_cropping", "target_height")
    _two_of_three(top_cropping, bottom_cropping, target_height, names, "crop_images")
    names = ("left_cropping", "right_cropping", "target_width")
    _two_of_three(left_cropping, right_cropping, target_width, names, "crop_images")
    height, width = _hw(x, fmt)
    top = height - target_height - bottom_cropping if top_cropping is None else top_cropping
    rows = height - bottom_cropping - top if target_height is None else target_height
    left = width - target_width - right_cropping if left_cropping is None else left_cropping
    cols = width - right_cropping - left if target_width is None else target_width
    if min(top, rows, left, cols) < 0 or top + rows > height or left + cols > width:
        raise ValueError(
            f"crop_images: the crop ({top}:{top + rows}, {left}:{left + cols}) does not fit an "
            f"image of height {height} and width {width}."
        )
    if fmt == "channels_last":
        return x[..., top : top + rows, left : left + cols, :]
    return x[..., top : top + rows, left : left + cols]


# ---------------------------------------------------------------------------------- filters
def _depthwise_filter(x: torch.Tensor, kernel: torch.Tensor, fmt: str) -> torch.Tensor:
    """Convolve every channel of rank-3/4 images with the 2-D `kernel` ("same", zero pad)."""
    rank = x.ndim
    batch = _batched_channels_first(x, fmt)
    channels = batch.shape[1]
    weight = kernel.to(batch.dtype).expand(channels, 1, *kernel.shape)
    kh, kw = kernel.shape
    padded = F.pad(batch, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2))
    return _restore(F.conv2d(padded, weight, groups=channels), fmt, rank)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None) -> torch.Tensor:
    """Blur with a normalised separable Gaussian of `kernel_size` and `sigma` (per (h, w))."""
    fmt = standardize_data_format(data_format)
    x = as_float(_images(images, "gaussian_blur"))
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma

    kernel = torch.outer(_gaussian_taps(kh, sh, x.dtype), _gaussian_taps(kw, sw, x.dtype))
    return _depthwise_filter(x, kernel, fmt)


def sobel_edges(images, data_format=None) -> torch.Tensor:
    """Sobel gradients per channel, stacked in a new last axis as (d/dy, d/dx)."""
    fmt = standardize_data_format(data_format)
    x = as_float(_images(images, "sobel_edges"))
    dy = torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], dtype=x.dtype)
    return torch.stack([_depthwise_filter(x, k, fmt) for k in (dy, dy.T)], dim=-1)


def _gaussian_taps(n: int, sigma: float, dtype: torch.dtype) -> torch.Tensor:
    """A normalised 1-D Gaussian of `n` taps centred on the middle one."""
    offsets = torch.arange(n, dtype=dtype) - (n - 1) / 2
    w = torch.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return w / w.sum()


def ssim(
    image1,
    image2,
    max_val: float = 1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_format=None,
) -> torch.Tensor:
    """Structural similarity per image, averaged over channels and valid window positions:
    (2 mu1 mu2 + c1)(2 s12 + c2) / ((mu1**2 + mu2**2 + c1)(s1**2 + s2**2 + c2)),
    c = (k * max_val)**2, local statistics under a `filter_size` Gaussian of `filter_sigma`.
    Computed in float32 unless the input is float16/bfloat16/float32 (Keras's rule)."""
    fmt = standardize_data_format(data_format)
    a, b = _images(image1, "ssim"), _images(image2, "ssim")
    if a.shape != b.shape:
        raise ValueError(
            f"ssim: `image1` and `image2` must have one shape; received {tuple(a.shape)} and "
            f"{tuple(b.shape)}."
        )
    out_dtype, rank = a.dtype, a.ndim
    keep = (torch.float16, torch.bfloat16, torch.float32)
    compute = a.dtype if a.dtype in keep else torch.float32
    a, b = (_batched_channels_first(t.to(compute), fmt) for t in (a, b))
    n, c, h, w = a.shape
    taps = _gaussian_taps(filter_size, filter_sigma, compute)
    kernel = torch.outer(taps, taps)[None, None]

    def local_mean(t: torch.Tensor) -> torch.Tensor:  # "valid" Gaussian filter per channel
        return F.conv2d(t.reshape(n * c, 1, h, w), kernel)

    mu1, mu2 = local_mean(a), local_mean(b)
    var1, var2 = local_mean(a * a) - mu1 * mu1, local_mean(b * b) - mu2 * mu2
    cov = local_mean(a * b) - mu1 * mu2
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ratio = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / ((mu1**2 + mu2**2 + c1) * (var1 + var2 + c2))
    per_image = ratio.reshape(n, -1).mean(dim=-1)
    return (per_image.squeeze(0) if rank == 3 else per_image).to(out_dtype)


# ------------------------------------------------------------------------- kernel resampling
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
    centre = (torch.arange(out_size, dtype=dtype) + 0.5 - shift) / scale - 0.5
    stretch = torch.clamp(1.0 / scale, min=1.0) if antialias else 1.0
    distance = (centre[None, :] - torch.arange(in_size, dtype=dtype)[:, None]).abs() / stretch
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
        weights = _resampling_weights(x.shape[dim], output_shape[dim], scale_t[i].to(dtype),
                                      shift_t[i].to(dtype), _RESAMPLING_KERNELS[method],
                                      antialias)  # fmt: skip
        out = torch.tensordot(out, weights.to(out.dtype), dims=([dim], [0])).movedim(-1, dim)
    if not x.is_floating_point():
        out = torch.clamp(torch.round(out), x.min(), x.max()).to(x.dtype)
    return out
