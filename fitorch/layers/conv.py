"""Convolutions: Conv1D, Conv2D, Conv3D (channels_last default, as Keras).

The kernel is created in Keras layout `(*kernel_size, in_channels // groups, filters)` (what
`get_weights`/`set_weights` exchange) and stored in torch layout `(filters, in // groups,
*kernel_size)`. `channels_last` inputs reach torch's kernels as a permuted view (for 2D that
is exactly torch's channels_last memory format), so no per-layer copy is made.

Padding: `valid` (none), `same` (output length ceil(n / stride); total padding
`max((out - 1) * stride + span - n, 0)` split with the extra cell after, as Keras/TensorFlow),
`causal` (Conv1D only: `span - 1` zeros before the sequence).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import activations
from fitorch.layers._utils import (
    check_choice,
    conv_output_length,
    default_format,
    normalize_tuple,
    same_padding,
)
from fitorch.layers.base import Layer
from fitorch.layers.weight_arguments import set_weight_arguments, weight_arguments_config

__all__ = [
    "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
    "to_channels_first", "to_channels_last", "BaseConv",
]  # fmt: skip

_CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def to_channels_first(x: torch.Tensor) -> torch.Tensor:
    """(B, *spatial, C) -> (B, C, *spatial) as a view (torch channels_last memory for 2D/3D)."""
    return x.movedim(-1, 1)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """(B, C, *spatial) -> (B, *spatial, C) as a view."""
    return x.movedim(1, -1)


class BaseConv(Layer):
    """N-d convolution `activation(conv(inputs, kernel) + bias)` (see the module docstring)."""

    rank = 2
    paddings = ("valid", "same")

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        kind = type(self).__name__
        if filters is not None and (not isinstance(filters, int) or filters <= 0):
            raise ValueError(f"{kind}: filters must be a positive integer; got {filters!r}.")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", kind)
        self.strides = normalize_tuple(strides, self.rank, "strides", kind)
        self.padding = check_choice(padding, self.paddings, "padding", kind)
        self.data_format = check_choice(
            default_format(data_format), ("channels_last", "channels_first"), "data_format", kind
        )
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", kind)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{kind}: strides > 1 and dilation_rate > 1 cannot be combined; got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}."
            )
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{kind}: groups must be a positive integer; got {groups!r}.")
        if filters is not None and filters % groups:
            raise ValueError(f"{kind}: filters={filters} must be divisible by groups={groups}.")
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_arguments(
            self, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )  # fmt: skip

    # -- shape checks --------------------------------------------------------------------
    def _split_shape(self, input_shape):
        """(spatial dims, channels) of a batched input shape; ValueError on a wrong rank."""
        kind = type(self).__name__
        shape = tuple(input_shape)
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{kind} {self.name!r} expects inputs of rank {self.rank + 2} "
                f"(batch, {'spatial..., channels' if self.data_format == 'channels_last' else 'channels, spatial...'}); "  # noqa: E501
                f"got shape {shape}."
            )
        if self.data_format == "channels_last":
            spatial, channels = shape[1:-1], shape[-1]
        else:
            spatial, channels = shape[2:], shape[1]
        if channels is None:
            raise ValueError(
                f"{kind} {self.name!r}: the channel dimension must be known; got {shape}."
            )
        return spatial, channels

    def _check_spatial(self, spatial, shape):
        if self.padding != "valid":
            return
        for n, k, d in zip(spatial, self.kernel_size, self.dilation_rate):
            if n is not None and (k - 1) * d + 1 > n:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: kernel_size={self.kernel_size} "
                    f"(dilation_rate={self.dilation_rate}) is larger than the input's spatial "
                    f"shape {tuple(spatial)} with padding='valid' (input shape {tuple(shape)})."
                )

    def build(self, input_shape):
        spatial, channels = self._split_shape(input_shape)
        self._check_spatial(spatial, input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: input channels ({channels}) must be "
                f"divisible by groups={self.groups}; got input shape {tuple(input_shape)}."
            )
        self.input_channels = channels
        r = self.rank
        self.add_weight(
            "kernel",
            (*self.kernel_size, channels // self.groups, self.filters),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            layout=(r + 1, r, *range(r)),
        )
        self._add_bias(self.filters)

    def _add_bias(self, units: int) -> None:
        """The `(units,)` bias weight, when `use_bias`, with its initializer/regularizer."""
        if self.use_bias:
            self.add_weight(
                "bias",
                (units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    # -- compute -------------------------------------------------------------------------
    def _pad(self, x: torch.Tensor, kernel_size, dilation):
        """Apply `same`/`causal` padding to channels-first `x`; returns (x, padding for torch)."""
        if self.padding == "valid":
            return x, 0
        if self.padding == "causal":
            return F.pad(x, ((kernel_size[0] - 1) * dilation[0], 0)), 0
        pads = [
            same_padding(n, k, s, d)
            for n, k, s, d in zip(x.shape[2:], kernel_size, self.strides, dilation)
        ]
        if all(a == b for a, b in pads):
            return x, tuple(a for a, _ in pads)
        flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
        return F.pad(x, flat), 0

    def _check_input(self, x):
        channels = x.shape[-1] if self.data_format == "channels_last" else x.shape[1]
        if x.ndim != self.rank + 2 or channels != self.input_channels:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} was built for {self.input_channels} input "
                f"channels at rank {self.rank + 2}; got input shape {tuple(x.shape)}."
            )

    def _bias(self):
        return self.bias if self.use_bias else None

    def call(self, inputs):
        self._check_input(inputs)
        x = to_channels_first(inputs) if self.data_format == "channels_last" else inputs
        if not x.is_floating_point():
            x = x.to(self.kernel.dtype)
        x, padding = self._pad(x, self.kernel_size, self.dilation_rate)
        conv = _CONV_FN[self.rank]
        y = conv(
            x, self.kernel, self._bias(), self.strides, padding, self.dilation_rate, self.groups
        )
        y = self.activation(y)
        return to_channels_last(y) if self.data_format == "channels_last" else y

    def output_spatial(self, spatial):
        return tuple(
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_arguments_config(self),
        }


class Conv1D(BaseConv):
    """1D convolution over (batch, steps, channels); padding may also be `causal`."""

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(BaseConv):
    """2D convolution over (batch, rows, cols, channels) (channels_last, the default)."""

    rank = 2


class Conv3D(BaseConv):
    """3D convolution over (batch, d1, d2, d3, channels) (channels_last, the default)."""

    rank = 3


# Keras' long spellings name the same classes.
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
