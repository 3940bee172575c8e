"""Pooling: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the global poolings.

`padding='same'` pads so the output length is ceil(n / stride), the extra cell after (as
Keras/TensorFlow); max pooling ignores the padded cells, and average pooling divides by the
number of real cells under each window (Keras on TensorFlow and JAX; Keras 3.15 on torch
averages replicated edge values when the padding is uneven, which fitorch does not copy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch.layers._utils import (
    check_choice,
    default_format,
    normalize_tuple,
    same_padding,
)
from fitorch.layers.base import Layer
from fitorch.layers.conv import to_channels_first, to_channels_last
from fitorch.layers.embedding import get_mask

__all__ = [
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
]  # fmt: skip

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class _Named(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)


def _check_format(data_format, kind):
    return check_choice(
        default_format(data_format), ("channels_last", "channels_first"), "data_format", kind
    )


class _Pooling(_Named):
    """Sliding-window pooling of `pool_size` with `strides` (default: pool_size)."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", kind)
        self.strides = normalize_tuple(
            self.pool_size if strides is None else strides, self.rank, "strides", kind
        )
        self.padding = check_choice(padding, ("valid", "same"), "padding", kind)
        self.data_format = _check_format(data_format, kind)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 2}; "
                f"got shape {shape}."
            )
        spatial = shape[1:-1] if self.data_format == "channels_last" else shape[2:]
        if self.padding == "valid":
            for n, k in zip(spatial, self.pool_size):
                if n is not None and k > n:
                    raise ValueError(
                        f"{type(self).__name__} {self.name!r}: pool_size={self.pool_size} is "
                        f"larger than the spatial shape {tuple(spatial)} with padding='valid' "
                        f"(input shape {shape})."
                    )

    def call(self, inputs):
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 2}; "
                f"got shape {tuple(inputs.shape)}."
            )
        x = to_channels_first(inputs) if self.data_format == "channels_last" else inputs
        y = self._pool(x)
        return to_channels_last(y) if self.data_format == "channels_last" else y

    def _pool(self, x):
        pads = [(0, 0)] * self.rank
        if self.padding == "same":
            pads = [
                same_padding(n, k, s) for n, k, s in zip(x.shape[2:], self.pool_size, self.strides)
            ]
        even = all(a == b for a, b in pads)
        if self.mode == "max":
            if even:
                return _MAX[self.rank](x, self.pool_size, self.strides, [a for a, _ in pads])
            flat = [p for pair in reversed(pads) for p in pair]
            return _MAX[self.rank](
                F.pad(x, flat, value=float("-inf")), self.pool_size, self.strides
            )
        if even:
            padding = [a for a, _ in pads]
            return _AVG[self.rank](
                x, self.pool_size, self.strides, padding, count_include_pad=False
            )
        # Uneven padding: sum over the zero-padded input / number of real cells per window.
        flat = [p for pair in reversed(pads) for p in pair]
        ones = torch.ones((1, 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        total = _AVG[self.rank](F.pad(x, flat), self.pool_size, self.strides)
        count = _AVG[self.rank](F.pad(ones, flat), self.pool_size, self.strides)
        return total / count

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps: (B, steps, C) -> (B, new_steps, C)."""

    rank, mode = 1, "max"


class MaxPooling2D(_Pooling):
    """Max over `pool_size` windows of (B, rows, cols, C)."""

    rank, mode = 2, "max"


class MaxPooling3D(_Pooling):
    """Max over `pool_size` windows of (B, d1, d2, d3, C)."""

    rank, mode = 3, "max"


class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps (real cells only under `same` padding)."""

    rank, mode = 1, "avg"


class AveragePooling2D(_Pooling):
    """Mean over `pool_size` windows of (B, rows, cols, C) (real cells only)."""

    rank, mode = 2, "avg"


class AveragePooling3D(_Pooling):
    """Mean over `pool_size` windows of (B, d1, d2, d3, C) (real cells only)."""

    rank, mode = 3, "avg"


class _GlobalPooling(_Named):
    """Reduce every spatial axis: (B, *spatial, C) -> (B, C) (or keepdims -> (B, 1.., C))."""

    rank = 1
    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _check_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        if len(tuple(input_shape)) != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 2}; "
                f"got shape {tuple(input_shape)}."
            )

    def call(self, inputs, mask=None):
        if mask is None and self.mode == "avg":  # Keras' max pooling ignores carried masks
            mask = get_mask(inputs)
        first = 1 if self.data_format == "channels_last" else 2
        axes = tuple(range(first, first + self.rank))
        if mask is not None and self.rank == 1:
            return self._masked(inputs, mask, axes)
        if self.mode == "max":
            return inputs.amax(dim=axes, keepdim=self.keepdims)
        return inputs.mean(dim=axes, keepdim=self.keepdims)

    def _masked(self, inputs, mask, axes):
        m = mask.to(inputs.dtype)  # (B, steps)
        m = m.unsqueeze(-1) if self.data_format == "channels_last" else m.unsqueeze(1)
        if self.mode == "max":
            filled = torch.where(m > 0, inputs, torch.finfo(inputs.dtype).min)
            return filled.amax(dim=axes, keepdim=self.keepdims)
        total = (inputs * m).sum(dim=axes, keepdim=self.keepdims)
        return total / m.sum(dim=axes, keepdim=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over steps: (B, steps, C) -> (B, C). An explicit `mask=` (B, steps) skips masked
    steps; a mask carried by the input (Embedding mask_zero) is ignored, as in Keras."""

    rank, mode = 1, "max"
    receives_carried_mask = False  # Keras' call takes no mask


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over rows and cols: (B, rows, cols, C) -> (B, C)."""

    rank, mode = 2, "max"
    receives_carried_mask = False  # Keras' call takes no mask


class GlobalMaxPooling3D(_GlobalPooling):
    """Max over the three spatial axes -> (B, C)."""

    rank, mode = 3, "max"
    receives_carried_mask = False  # Keras' call takes no mask


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over steps -> (B, C); a `mask` (B, steps) averages the unmasked steps only."""

    rank, mode = 1, "avg"


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over rows and cols -> (B, C)."""

    rank, mode = 2, "avg"


class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the three spatial axes -> (B, C)."""

    rank, mode = 3, "avg"


# Keras' short aliases name the same classes.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
)  # fmt: skip
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
)  # fmt: skip
