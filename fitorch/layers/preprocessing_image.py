"""Image preprocessing and augmentation layers with Keras 3's semantics.

Deterministic: `Resizing`, `CenterCrop`, `AutoContrast`. Random (active only when the layer
runs in training, Keras's rule; identity at inference): `RandomFlip`, `RandomBrightness`,
`RandomContrast`, `RandomCrop`, `RandomGrayscale`, `Solarization`, and the affine warps
`RandomRotation`, `RandomZoom`, `RandomTranslation` (resampled by `ops.image.affine_transform`
with Keras's fill modes). Inputs are images `(batch, H, W, C)` (or `(C, H, W)` with
`data_format='channels_first'`), unbatched `(H, W, C)` accepted. Random draws come from a
per-layer `torch.Generator` seeded with `seed` (runs repeat; parameters are drawn on the CPU, a
few numbers per image, and applied on the input's device).
"""

from __future__ import annotations

import math

import torch

from fitorch import backend
from fitorch.layers.base import Layer
from fitorch.ops.image import affine_transform
from fitorch.utils.image_resize import aspect_crop_box, check_interpolation, resize_images

__all__ = [
    "AutoContrast",
    "CenterCrop",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomGrayscale",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Resizing",
    "Solarization",
]

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma, as Keras's rgb_to_grayscale
_WARP_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_WARP_INTERPOLATIONS = ("nearest", "bilinear")


def factor_range(name: str, factor, low: float, high: float) -> tuple[float, float]:
    """Keras's factor rule: a pair is sorted; a number f gives `(max(-|f|, low), |f|)`."""
    if isinstance(factor, (tuple, list)) and len(factor) == 2:
        lower, upper = sorted(float(f) for f in factor)
        if lower > high or upper < low:
            raise ValueError(f"{name} must lie in [{low}, {high}], got {factor!r}")
        return lower, upper
    if isinstance(factor, (int, float)) and not isinstance(factor, bool) and low <= factor <= high:
        return max(-abs(float(factor)), low), abs(float(factor))
    raise ValueError(
        f"{name} must be a number or a pair of numbers in [{low}, {high}], got {factor!r}"
    )


def symmetric_range(name: str, factor, low: float, high: float, open_low: bool = False):
    """Zoom/translation factors: a pair (each in `[low, high]`, or `(low, high]` with
    `open_low`) is sorted; a number f gives `(-|f|, |f|)`."""
    values = list(factor) if isinstance(factor, (tuple, list)) else [factor]
    lo_text = "(" if open_low else "["
    ok = len(values) in (1, 2) and all(
        isinstance(v, (int, float))
        and not isinstance(v, bool)
        and (low < v if open_low else low <= v)
        and v <= high
        for v in values
    )
    if not ok or (isinstance(factor, (tuple, list)) and len(values) != 2):
        raise ValueError(
            f"{name} must be a number or a pair of numbers in {lo_text}{low}, {high}], "
            f"got {factor!r}"
        )
    if len(values) == 2:
        lower, upper = sorted(float(v) for v in values)
        return lower, upper
    return -abs(float(factor)), abs(float(factor))


def _value_range(value_range) -> tuple[float, float]:
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or value_range[0] >= value_range[1]
    ):
        raise ValueError(f"value_range must be (low, high) with low < high, got {value_range!r}")
    return float(value_range[0]), float(value_range[1])


class ImageLayer(Layer):
    """Shared plumbing: NCHW views of the input, the layer's generator, the training rule."""

    def __init__(self, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or backend.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
            )
        self.seed = seed
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self.built = True

    def to_nchw(self, inputs) -> tuple[torch.Tensor, bool]:
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
        x = x.to(self.dtype) if not x.is_floating_point() else x
        unbatched = x.ndim == 3
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expects images of rank 3 or 4, got shape {tuple(x.shape)}"
            )
        x = x[None] if unbatched else x
        return (x.permute(0, 3, 1, 2) if self.data_format == "channels_last" else x), unbatched

    def from_nchw(self, x: torch.Tensor, unbatched: bool) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1) if self.data_format == "channels_last" else x
        return x[0] if unbatched else x

    def uniform(self, n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
        """`n` draws from U[low, high) as `(n, 1, 1, 1)` on `like`'s device and dtype."""
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        return (low + (high - low) * u).to(like.device, like.dtype).view(n, 1, 1, 1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "seed": self.seed}


class Resizing(ImageLayer):
    """Resize to `(height, width)` (`ops.image.resize`: half-pixel, no antialias), optionally
    centre-cropping or padding to the target aspect ratio first."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 data_format=None, **kwargs):  # fmt: skip
        super().__init__(data_format=data_format, **kwargs)
        if fill_mode != "constant":
            raise ValueError(f"Resizing: fill_mode must be 'constant', got {fill_mode!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                "Resizing: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True"
            )
        self.height, self.width = int(height), int(width)
        self.interpolation = check_interpolation(interpolation)
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = (
            crop_to_aspect_ratio,
            pad_to_aspect_ratio,
        )
        self.fill_mode, self.fill_value = fill_mode, float(fill_value)

    def call(self, inputs):
        x, unbatched = self.to_nchw(inputs)
        size, crop, pad = (
            (self.height, self.width),
            self.crop_to_aspect_ratio,
            self.pad_to_aspect_ratio,
        )
        x = resize_images(x, size, self.interpolation, crop, pad, self.fill_value)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        config = {**super().get_config(), "height": self.height, "width": self.width}
        config.update(
            interpolation=self.interpolation,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
        )
        config.pop("seed")
        return config


class CenterCrop(ImageLayer):
    """The central `(height, width)` window; an input smaller on either side is instead cropped
    to the target aspect ratio and resized (Keras's `smart_resize`)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs):
        x, unbatched = self.to_nchw(inputs)
        h, w = x.shape[-2:]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            x = x[..., top : top + self.height, left : left + self.width]
        else:
            x = resize_images(x, (self.height, self.width), "bilinear", crop_to_aspect_ratio=True)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        config = {**super().get_config(), "height": self.height, "width": self.width}
        config.pop("seed")
        return config


class AutoContrast(ImageLayer):
    """Per image and channel, stretch `[min, max]` to the full `value_range` (constant
    channels are left as they are)."""

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(**kwargs)
        self.value_range = _value_range(value_range)

    def call(self, inputs):
        x, unbatched = self.to_nchw(inputs)
        lo, hi = self.value_range
        x255 = (x - lo) * (255.0 / (hi - lo))
        low = x255.amin(dim=(-2, -1), keepdim=True)
        high = x255.amax(dim=(-2, -1), keepdim=True)
        out = ((x255 - low) * (255.0 / (high - low))).clamp(0.0, 255.0) * ((hi - lo) / 255.0) + lo
        out = torch.where(torch.isnan(out), x, out)  # 0/0 of a constant channel
        return self.from_nchw(out, unbatched)

    def get_config(self):
        config = {**super().get_config(), "value_range": list(self.value_range)}
        config.pop("seed")
        return config


class RandomFlip(ImageLayer):
    """Training: each image flipped with probability 1/2; `horizontal_and_vertical` flips both
    axes together (one draw per image, as Keras)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"RandomFlip: mode must be one of {_FLIP_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if not training:
            return self.from_nchw(x, unbatched)
        flips = self.uniform(len(x), 0.0, 1.0, x) <= 0.5
        dims = {"horizontal": [-1], "vertical": [-2], "horizontal_and_vertical": [-2, -1]}[
            self.mode
        ]
        x = torch.where(flips, x.flip(dims), x)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomBrightness(ImageLayer):
    """Training: add `delta * (high - low)` per image, `delta ~ U[factor]` (a number f means
    `[-f, f]`, within [-1, 1]), then clip to `value_range`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range("RandomBrightness factor", factor, -1.0, 1.0)
        self.value_range = _value_range(value_range)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if training:
            lo, hi = self.value_range
            x = (x + self.uniform(len(x), *self.factor, x) * (hi - lo)).clamp(lo, hi)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": list(self.value_range),
        }


class RandomContrast(ImageLayer):
    """Training: `(x - mean) * c + mean` per image and channel (mean over H, W), then clip to
    `value_range`; `c ~ U[1 - lower, 1 + upper]`. As in Keras 3, a single number f in [0, 1]
    gives `(lower, upper) = (0, f)`, so `c` lies in `[1, 1 + f]`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range("RandomContrast factor", factor, 0.0, 1.0)
        self.value_range = _value_range(value_range)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if training:
            c = self.uniform(len(x), 1.0 - self.factor[0], 1.0 + self.factor[1], x)
            mean = x.mean(dim=(-2, -1), keepdim=True)
            x = ((x - mean) * c + mean).clamp(*self.value_range)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": list(self.value_range),
        }


class RandomCrop(ImageLayer):
    """Training: one random `(height, width)` window for the batch; an input not larger on both
    sides keeps what fits from the start of its centred aspect-ratio window and is resized to
    `(height, width)` (Keras 3's arithmetic). Inference: the input unchanged (Keras 3)."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if not training:
            return self.from_nchw(x, unbatched)
        h, w = x.shape[-2:]
        if h > self.height and w > self.width:
            top = int(torch.randint(h - self.height + 1, (), generator=self.generator))
            left = int(torch.randint(w - self.width + 1, (), generator=self.generator))
        else:  # Keras: start where the centred aspect-ratio window starts, keep what fits
            top, left, _, _ = aspect_crop_box(h, w, self.height, self.width)
        x = x[..., top : top + self.height, left : left + self.width]
        if tuple(x.shape[-2:]) != (self.height, self.width):
            x = resize_images(x, (self.height, self.width), "bilinear")
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomGrayscale(ImageLayer):
    """Training: with probability `factor`, an RGB image becomes its luma
    `0.2989 R + 0.587 G + 0.114 B` in all three channels."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if not 0 <= factor <= 1:
            raise ValueError(f"RandomGrayscale: factor must be in [0, 1], got {factor!r}")
        self.factor = float(factor)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if training:
            if x.shape[1] != 3:
                raise ValueError(f"RandomGrayscale expects 3 (RGB) channels, got {x.shape[1]}")
            weights = torch.tensor(_GRAY_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            gray = (x * weights).sum(dim=1, keepdim=True).expand_as(x)
            x = torch.where(self.uniform(len(x), 0.0, 1.0, x) < self.factor, gray, x)
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Solarization(ImageLayer):
    """Training: on the 0-255 scale, `y = x + a` clipped, then `255 - y` where `y >= t`, with
    per-image `a ~ U[add_lo, add_hi * 255]`, `t ~ U[thr_lo, thr_hi * 255]` (Keras 3's draws).
    With both factors 0 every pixel is inverted."""

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = factor_range(
            "Solarization addition_factor", addition_factor, 0.0, 1.0
        )
        self.threshold_factor = factor_range(
            "Solarization threshold_factor", threshold_factor, 0.0, 1.0
        )
        self.value_range = _value_range(value_range)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if training:
            lo, hi = self.value_range
            a = self.uniform(len(x), self.addition_factor[0], self.addition_factor[1] * 255, x)
            t = self.uniform(len(x), self.threshold_factor[0], self.threshold_factor[1] * 255, x)
            y = ((x - lo) * (255.0 / (hi - lo)) + a).clamp(0.0, 255.0)
            x = torch.where(y < t, y, 255.0 - y) * ((hi - lo) / 255.0) + lo
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {**super().get_config(), "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor),
                "value_range": list(self.value_range)}  # fmt: skip


class _AffineLayer(ImageLayer):
    """Shared by the warps: Keras's fill modes and interpolations, and the resampling of a
    batch of `(N, 8)` transforms (output pixel reads the input at the transformed point)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):  # fmt: skip
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        name = type(self).__name__
        if fill_mode not in _WARP_FILL_MODES:
            raise ValueError(
                f"{name}: fill_mode must be one of {_WARP_FILL_MODES}, got {fill_mode!r}"
            )
        if interpolation not in _WARP_INTERPOLATIONS:
            raise ValueError(
                f"{name}: interpolation must be one of {_WARP_INTERPOLATIONS}, "
                f"got {interpolation!r}"
            )
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    def transforms(self, n: int, height: int, width: int) -> torch.Tensor:
        """`(n, 8)` float64 transforms for one batch (draws from the layer's generator)."""
        raise NotImplementedError

    def draw(self, n: int, low: float, high: float) -> torch.Tensor:
        """`n` float64 draws from U[low, high) on the CPU."""
        return low + (high - low) * torch.rand(n, generator=self.generator, dtype=torch.float64)

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        x, unbatched = self.to_nchw(inputs)
        if not training:
            return self.from_nchw(x, unbatched)
        transform = self.transforms(len(x), x.shape[-2], x.shape[-1]).to(x.device, x.dtype)
        x = affine_transform(x, transform, interpolation=self.interpolation,
                             fill_mode=self.fill_mode, fill_value=self.fill_value,
                             data_format="channels_first")  # fmt: skip
        return self.from_nchw(x, unbatched)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}  # fmt: skip


class RandomRotation(_AffineLayer):
    """Training: rotate each image about its centre by `angle ~ U[lo * 360, hi * 360]` degrees
    (`factor` a fraction of a full turn: a number f means `[-f, f]`, within [-1, 1]); a
    positive angle turns the picture counter-clockwise, as Keras."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor_range("RandomRotation factor", factor, -1.0, 1.0)

    def transforms(self, n, height, width):
        angle = self.draw(n, self.factor[0] * 360.0, self.factor[1] * 360.0) * (math.pi / 180.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        zeros = torch.zeros_like(angle)
        # input point = R (output point - centre) + centre, R = [[cos, -sin], [sin, cos]]
        return torch.stack([cos, -sin, cx - cx * cos + cy * sin,
                            sin, cos, cy - cx * sin - cy * cos, zeros, zeros], dim=1)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_AffineLayer):
    """Training: scale each image about its centre; the sampling step is
    `1 + U[height_factor]` vertically and `1 + U[width_factor]` horizontally (a number f means
    `[-f, f]`, each value in (-1, 1]; positive values zoom out). Without `width_factor` one draw
    serves both axes (aspect ratio kept), as Keras."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = symmetric_range(
            "RandomZoom height_factor", height_factor, -1.0, 1.0, open_low=True
        )
        self.width_factor = (
            None
            if width_factor is None
            else symmetric_range("RandomZoom width_factor", width_factor, -1.0, 1.0, True)
        )

    def transforms(self, n, height, width):
        zoom_h = 1.0 + self.draw(n, *self.height_factor)
        zoom_w = zoom_h if self.width_factor is None else 1.0 + self.draw(n, *self.width_factor)
        zeros = torch.zeros_like(zoom_h)
        return torch.stack([zoom_w, zeros, (width - 1) / 2.0 * (1.0 - zoom_w),
                            zeros, zoom_h, (height - 1) / 2.0 * (1.0 - zoom_h),
                            zeros, zeros], dim=1)  # fmt: skip

    def get_config(self):
        width = None if self.width_factor is None else list(self.width_factor)
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": width}  # fmt: skip


class RandomTranslation(_AffineLayer):
    """Training: shift each image by `U[height_factor] * H` rows and `U[width_factor] * W`
    columns (fractions of the size: a number f means `[-f, f]`, each value in [-1, 1];
    positive moves the picture down / right)."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor = symmetric_range(
            "RandomTranslation height_factor", height_factor, -1.0, 1.0
        )
        self.width_factor = symmetric_range(
            "RandomTranslation width_factor", width_factor, -1.0, 1.0
        )

    def transforms(self, n, height, width):
        dy = self.draw(n, *self.height_factor) * height
        dx = self.draw(n, *self.width_factor) * width
        ones, zeros = torch.ones_like(dy), torch.zeros_like(dy)
        return torch.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], dim=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": list(self.height_factor),
                "width_factor": list(self.width_factor)}  # fmt: skip
