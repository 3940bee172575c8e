"""Reshaping layers: Permute, RepeatVector, UpSampling1D/2D/3D, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D (Flatten and Reshape live in core.py)."""

from __future__ import annotations

import torch.nn.functional as F

from fitorch.layers._utils import check_choice, default_format
from fitorch.layers.base import Layer

__all__ = [
    "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
]  # fmt: skip


class _Named(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def _check_rank(self, shape, rank):
        if len(tuple(shape)) != rank:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {rank}; "
                f"got shape {tuple(shape)}."
            )


def _format(data_format, kind):
    return check_choice(
        default_format(data_format), ("channels_last", "channels_first"), "data_format", kind
    )


def _spatial_axes(rank, data_format):
    """Positions of the `rank` spatial axes in a batched input."""
    start = 1 if data_format == "channels_last" else 2
    return list(range(start, start + rank))


class Permute(_Named):
    """Permutes the non-batch axes by `dims` (1-indexed): Permute((2, 1)) swaps axes 1 and 2."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                f"Permute: dims must be a permutation of 1..{len(self.dims)}; got {dims!r}."
            )

    def build(self, input_shape):
        self._check_rank(input_shape, len(self.dims) + 1)

    def call(self, inputs):
        return inputs.permute(0, *self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(_Named):
    """(B, F) -> (B, n, F): repeats each input vector `n` times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer; got {n!r}.")
        self.n = n

    def build(self, input_shape):
        self._check_rank(input_shape, 2)

    def call(self, inputs):
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class _UpSampling(_Named):
    rank = 2

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        from fitorch.layers._utils import normalize_tuple

        self.size = normalize_tuple(size, self.rank, "size", kind)
        self.data_format = _format(data_format, kind) if self.rank > 1 else "channels_last"
        modes = ("nearest",) if self.rank != 2 else ("nearest", "bilinear", "bicubic")
        self.interpolation = check_choice(interpolation, modes, "interpolation", kind)

    def build(self, input_shape):
        self._check_rank(input_shape, self.rank + 2)

    def call(self, inputs):
        axes = _spatial_axes(self.rank, self.data_format)
        if self.interpolation == "nearest":
            x = inputs
            for axis, factor in zip(axes, self.size):
                x = x.repeat_interleave(factor, dim=axis)
            return x
        x = inputs.movedim(-1, 1) if self.data_format == "channels_last" else inputs
        y = F.interpolate(x, scale_factor=self.size, mode=self.interpolation, align_corners=False)
        return y.movedim(1, -1) if self.data_format == "channels_last" else y

    def get_config(self):
        config = {
            **super().get_config(),
            "size": list(self.size) if self.rank > 1 else self.size[0],
        }
        if self.rank > 1:
            config["data_format"] = self.data_format
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


class UpSampling1D(_UpSampling):
    """(B, steps, F) -> (B, steps * size, F): repeats every step `size` times."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(size=size, **kwargs)


class UpSampling2D(_UpSampling):
    """Scales rows and cols by `size`: `nearest` repeats, `bilinear`/`bicubic` interpolate
    (half-pixel centres, no antialiasing)."""

    rank = 2


class UpSampling3D(_UpSampling):
    """Repeats every cell `size` times along the three spatial axes."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size=size, data_format=data_format, **kwargs)


def _pairs(value, rank, arg, kind):
    """int | (a, b, ...) | ((a0, a1), (b0, b1), ...) -> ((before, after),) * rank."""
    if isinstance(value, int):
        pairs = [(value, value)] * rank
    elif rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        pairs = [tuple(value)]
    elif len(value) == rank and all(isinstance(v, int) for v in value):
        pairs = [(v, v) for v in value]
    elif len(value) == rank and all(len(v) == 2 for v in value):
        pairs = [tuple(int(a) for a in v) for v in value]
    else:
        raise ValueError(
            f"{kind}: {arg} must be an int, {rank} ints or {rank} pairs; got {value!r}."
        )
    if any(a < 0 for pair in pairs for a in pair):
        raise ValueError(f"{kind}: {arg} must be non-negative; got {value!r}.")
    return tuple(pairs)


class _ZeroPadding(_Named):
    rank = 2

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.padding = _pairs(padding, self.rank, "padding", kind)
        self.data_format = _format(data_format, kind)

    def build(self, input_shape):
        self._check_rank(input_shape, self.rank + 2)

    def call(self, inputs):
        axes = _spatial_axes(self.rank, self.data_format)
        flat = []
        for axis in reversed(range(1, inputs.ndim)):  # F.pad wants the last axis first
            pair = self.padding[axes.index(axis)] if axis in axes else (0, 0)
            flat.extend(pair)
        return F.pad(inputs, flat)

    def get_config(self):
        padding = self.padding[0] if self.rank == 1 else [list(p) for p in self.padding]
        return {**super().get_config(), "padding": list(padding), "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros before/after the steps axis: padding int or (left, right)."""

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Adds zero rows/cols: int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros along the three spatial axes (int, 3 ints or 3 pairs)."""

    rank = 3


class _Cropping(_Named):
    rank = 2

    def __init__(self, cropping=0, data_format=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.cropping = _pairs(cropping, self.rank, "cropping", kind)
        self.data_format = _format(data_format, kind)

    def build(self, input_shape):
        self._check_rank(input_shape, self.rank + 2)
        axes = _spatial_axes(self.rank, self.data_format)
        for axis, (a, b) in zip(axes, self.cropping):
            n = input_shape[axis]
            if n is not None and a + b >= n:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: cropping={self.cropping} removes every "
                    f"cell of axis {axis} of input shape {tuple(input_shape)}."
                )

    def call(self, inputs):
        index = [slice(None)] * inputs.ndim
        for axis, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.cropping):
            index[axis] = slice(a, inputs.shape[axis] - b)
        return inputs[tuple(index)]

    def get_config(self):
        cropping = self.cropping[0] if self.rank == 1 else [list(p) for p in self.cropping]
        return {**super().get_config(), "cropping": list(cropping), "data_format": self.data_format}


class Cropping1D(_Cropping):
    """Removes (start, end) steps from the steps axis."""

    rank = 1

    def __init__(self, cropping=(1, 1), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping2D(_Cropping):
    """Removes rows/cols: int, (rows, cols) or ((top, bottom), (left, right))."""

    rank = 2


class Cropping3D(_Cropping):
    """Removes cells along the three spatial axes (int, 3 ints or 3 pairs)."""

    rank = 3
