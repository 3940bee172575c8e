"""Transposed, depthwise and separable convolutions (1D/2D/3D transposes; 1D/2D others).

Transposed convolutions follow Keras/TensorFlow geometry. Output length per axis with
`span = (k - 1) * dilation + 1`:
- `output_padding=None`: `valid` -> `(n - 1) * s + max(span, s)`, `same` -> `n * s`;
- otherwise `(n - 1) * s + span - 2 * (span // 2 if same else 0) + output_padding`.
They are computed as torch's full transposed convolution (length `(n - 1) * s + span`),
cropped (or zero-extended) to Keras' window, then the bias is added.
"""

from __future__ import annotations

import torch.nn.functional as F

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers._utils import normalize_tuple
from fitorch.layers.conv import _CONV_FN, BaseConv, to_channels_first, to_channels_last

__all__ = [
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D",
    "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "Convolution1DTranspose", "Convolution2DTranspose", "Convolution3DTranspose",
    "SeparableConvolution1D", "SeparableConvolution2D",
]  # fmt: skip

_TRANSPOSE_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _transpose_window(n, k, s, d, padding, output_padding):
    """(left_pad, right_pad) of the stride-dilated input before a plain convolution (TF/JAX)."""
    span = (k - 1) * d + 1
    if padding == "valid":
        extra = max(span, s) - span if output_padding is None else output_padding
        return span - 1, span - 1 + extra
    total = s + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, span - 1)
    return left, total - left


class _ConvTranspose(BaseConv):
    """Transposed convolution; kernel in Keras layout (*kernel_size, filters, in_channels)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        **kwargs,
    ):
        if kwargs.get("groups", 1) != 1:
            raise ValueError(f"{type(self).__name__}: groups is not supported.")
        kwargs.pop("groups", None)
        super().__init__(
            filters, kernel_size, strides, padding, data_format, dilation_rate, **kwargs
        )
        kind = type(self).__name__
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = normalize_tuple(
                output_padding, self.rank, "output_padding", kind, allow_zero=True
            )
            for p, s in zip(self.output_padding, self.strides):
                if p >= s:
                    raise ValueError(
                        f"{kind}: output_padding={self.output_padding} must be smaller "
                        f"than strides={self.strides} on every axis."
                    )

    def _check_spatial(self, spatial, shape):
        pass  # any input length is valid for a transposed convolution

    def build(self, input_shape):
        spatial, channels = self._split_shape(input_shape)
        self.input_channels = channels
        r = self.rank
        self.add_weight(
            "kernel",
            (*self.kernel_size, self.filters, channels),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            layout=(r + 1, r, *range(r)),
        )
        self._add_bias(self.filters)

    def call(self, inputs):
        self._check_input(inputs)
        x = to_channels_first(inputs) if self.data_format == "channels_last" else inputs
        y = _TRANSPOSE_FN[self.rank](
            x, self.kernel, None, self.strides, 0, 0, 1, self.dilation_rate
        )
        # Crop torch's full output (padding span-1 each side) to Keras' window on every axis.
        flat = []
        for i in reversed(range(self.rank)):
            n, k, s, d = x.shape[2 + i], self.kernel_size[i], self.strides[i], self.dilation_rate[i]
            op = None if self.output_padding is None else self.output_padding[i]
            left, right = _transpose_window(n, k, s, d, self.padding, op)
            span = (k - 1) * d + 1
            flat += [left - (span - 1), right - (span - 1)]  # negative = crop
        if any(flat):
            y = F.pad(y, flat)
        if self.use_bias:
            y = y + self.bias.reshape(1, -1, *([1] * self.rank))
        y = self.activation(y)
        return to_channels_last(y) if self.data_format == "channels_last" else y

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        config["output_padding"] = (
            None if self.output_padding is None else list(self.output_padding)
        )
        return config


class Conv1DTranspose(_ConvTranspose):
    """1D transposed convolution over (batch, steps, channels)."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2D transposed convolution over (batch, rows, cols, channels)."""

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """3D transposed convolution over (batch, d1, d2, d3, channels)."""

    rank = 3


class _Depthwise(BaseConv):
    """Per-channel convolution: each input channel gets `depth_multiplier` kernels; output
    channels are ordered `in_channel * depth_multiplier + j`. Kernel (Keras layout):
    (*kernel_size, in_channels, depth_multiplier)."""

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            None,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            1,
            activation,
            use_bias,
            depthwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            depthwise_constraint,
            bias_constraint,
            **kwargs,
        )
        if not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(
                f"{type(self).__name__}: depth_multiplier must be a positive integer; "
                f"got {depth_multiplier!r}."
            )
        self.depth_multiplier = depth_multiplier

    def _add_depthwise(self, channels):
        r = self.rank
        # stored (in, multiplier, *k): reshaped for free to torch's (in * multiplier, 1, *k)
        self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            layout=(r, r + 1, *range(r)),
        )

    def build(self, input_shape):
        spatial, channels = self._split_shape(input_shape)
        self._check_spatial(spatial, input_shape)
        self.input_channels = channels
        self._add_depthwise(channels)
        self._add_bias(channels * self.depth_multiplier)

    def _depthwise(self, x, bias):
        w = self.depthwise_kernel
        w = w.reshape(w.shape[0] * w.shape[1], 1, *w.shape[2:])
        x, padding = self._pad(x, self.kernel_size, self.dilation_rate)
        conv = _CONV_FN[self.rank]
        return conv(x, w, bias, self.strides, padding, self.dilation_rate, self.input_channels)

    def call(self, inputs):
        self._check_input(inputs)
        x = to_channels_first(inputs) if self.data_format == "channels_last" else inputs
        y = self.activation(self._depthwise(x, self._bias()))
        return to_channels_last(y) if self.data_format == "channels_last" else y

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            config.pop(key, None)
        renamed = {}
        for key, value in config.items():
            if key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
                key = key.replace("kernel_", "depthwise_")
            renamed[key] = value
        renamed["depth_multiplier"] = self.depth_multiplier
        return renamed


class DepthwiseConv1D(_Depthwise):
    """Depthwise 1D convolution over (batch, steps, channels)."""

    rank = 1
    paddings = ("valid", "same", "causal")


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2D convolution over (batch, rows, cols, channels)."""

    rank = 2


class _Separable(_Depthwise):
    """Depthwise convolution followed by a 1x1 pointwise convolution to `filters` channels.

    Weights (Keras layouts): depthwise_kernel (*k, in, multiplier), pointwise_kernel
    (1, ..., in * multiplier, filters), bias (filters,).
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            kernel_size,
            strides,
            padding,
            depth_multiplier,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            depthwise_initializer,
            bias_initializer,
            depthwise_regularizer,
            bias_regularizer,
            activity_regularizer,
            depthwise_constraint,
            bias_constraint,
            **kwargs,
        )
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                f"{type(self).__name__}: filters must be a positive integer; got {filters!r}."
            )
        self.filters = filters
        self.pointwise_initializer = initializers_mod.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers_mod.get(pointwise_regularizer)
        self.pointwise_constraint = constraints_mod.get(pointwise_constraint)

    def build(self, input_shape):
        spatial, channels = self._split_shape(input_shape)
        self._check_spatial(spatial, input_shape)
        self.input_channels = channels
        self._add_depthwise(channels)
        r = self.rank
        self.add_weight(
            "pointwise_kernel",
            (*([1] * r), channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
            layout=(r + 1, r, *range(r)),
        )
        self._add_bias(self.filters)

    def call(self, inputs):
        self._check_input(inputs)
        x = to_channels_first(inputs) if self.data_format == "channels_last" else inputs
        y = _CONV_FN[self.rank](self._depthwise(x, None), self.pointwise_kernel, self._bias())
        y = self.activation(y)
        return to_channels_last(y) if self.data_format == "channels_last" else y

    def get_config(self):
        config = super().get_config()
        config["filters"] = self.filters
        config["pointwise_initializer"] = initializers_mod.serialize(self.pointwise_initializer)
        config["pointwise_regularizer"] = regularizers_mod.serialize(self.pointwise_regularizer)
        config["pointwise_constraint"] = constraints_mod.serialize(self.pointwise_constraint)
        return config


class SeparableConv1D(_Separable):
    """Depthwise-separable 1D convolution."""

    rank = 1
    paddings = ("valid", "same", "causal")


class SeparableConv2D(_Separable):
    """Depthwise-separable 2D convolution."""

    rank = 2


# Keras' long spellings name the same classes.
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
