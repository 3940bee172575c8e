"""Convolutional LSTMs: ConvLSTM1D, ConvLSTM2D, ConvLSTM3D (Keras 3 semantics and weights).

Inputs are (batch, time, *spatial, channels) (`channels_last`) or (batch, time, channels,
*spatial). Each step, with gates i, f, c, o:

    x_g = conv(x_t, kernel_g) + bias_g          (strides, padding, dilation_rate given)
    h_g = conv(h_{t-1}, recurrent_kernel_g)     (stride 1, padding "same")
    i, f, o = recurrent_activation(x_i + h_i), ...(x_f + h_f), ...(x_o + h_o)
    c_t = f * c_{t-1} + i * activation(x_c + h_c);   h_t = o * activation(c_t)

Weights keep Keras's layouts in `get_weights`/`set_weights`: kernel (*kernel_size, channels,
4 * filters), recurrent_kernel (*kernel_size, filters, 4 * filters), bias (4 * filters,), gates
in the order i, f, c, o (`unit_forget_bias` starts the f bias at 1). The input convolution of
every step runs as one batched convolution. A time-step mask keeps the previous states and
repeats the previous output on masked steps, as Keras's RNN does. `dropout` and
`recurrent_dropout` draw one mask per sequence (of the input, and of the state), shared by the
four gates and every step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import activations
from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers._utils import same_padding
from fitorch.layers.base import symbolic_tracing
from fitorch.layers.conv import BaseConv, to_channels_first, to_channels_last
from fitorch.layers.embedding import get_mask, set_mask
from fitorch.layers.rnn_cells import keep_mask

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_SEQUENCE_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class _ConvLSTM(BaseConv):
    """The N-d convolutional LSTM (see the module docstring); subclasses set `rank`."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        kwargs.pop("zero_output_for_mask", None)  # in Keras's config; always False there
        super().__init__(
            filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
            dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint, **kwargs,
        )  # fmt: skip
        kind = type(self).__name__
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{kind}: {arg} must be in [0, 1); got {rate!r}.")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout, self.recurrent_dropout, self.seed = (
            float(dropout),
            float(recurrent_dropout),
            seed,
        )
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = (
            bool(go_backwards),
            bool(stateful),
            bool(unroll),
        )
        self._states = None

    # -- weights ---------------------------------------------------------------------------
    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 3} "
                f"(batch, time, spatial..., channels); got shape {shape}."
            )
        step_shape = shape[:1] + shape[2:]
        spatial, channels = self._split_shape(step_shape)
        self._check_spatial(spatial, step_shape)
        self.input_channels = channels
        r, width = self.rank, 4 * self.filters
        layout = (r + 1, r, *range(r))  # Keras (*k, in, out) -> torch (out, in, *k)
        self.add_weight("kernel", (*self.kernel_size, channels, width), self.kernel_initializer,
                        regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                        layout=layout)  # fmt: skip
        self.add_weight("recurrent_kernel", (*self.kernel_size, self.filters, width),
                        self.recurrent_initializer, regularizer=self.recurrent_regularizer,
                        constraint=self.recurrent_constraint, layout=layout)  # fmt: skip
        self._add_bias(width)
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.filters : 2 * self.filters] = 1.0

    # -- states ----------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Zero the carried states of a stateful layer (Keras 3's `reset_state`)."""
        self._states = None

    reset_states = reset_state

    @property
    def states(self):
        """The carried [h, c] of a stateful layer in the layer's data format (None before)."""
        return None if self._states is None else [self._layout(s) for s in self._states]

    def _initial_states(self, x: torch.Tensor, initial_state) -> list[torch.Tensor]:
        """[h, c] channels-first, from `initial_state` (the layer's data format), the carried
        states of a stateful layer, or zeros of the step output's shape."""
        if initial_state is not None:
            states = (
                list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            )
            if len(states) != 2:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: initial_state must be [h, c]; "
                    f"got {len(states)} tensor(s)."
                )
            return [
                self._channels_first(torch.as_tensor(s, device=x.device)).to(x.dtype)
                for s in states
            ]
        batch = x.shape[0]
        if self.stateful and self._states is not None and self._states[0].shape[0] == batch:
            return [s.clone() if s.is_inference() else s for s in self._states]
        spatial = self.output_spatial(tuple(x.shape[3:]))
        zeros = x.new_zeros((batch, self.filters, *spatial))
        return [zeros, zeros.clone()]

    def _channels_first(self, t: torch.Tensor) -> torch.Tensor:
        return to_channels_first(t) if self.data_format == "channels_last" else t

    def _layout(self, t: torch.Tensor) -> torch.Tensor:
        return to_channels_last(t) if self.data_format == "channels_last" else t

    # -- compute ---------------------------------------------------------------------------
    def _input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """x_g of every step at once: (B, T, C, *spatial) -> (B, T, 4 * filters, *out)."""
        batch, steps = x.shape[:2]
        flat, padding = self._pad(x.reshape(batch * steps, *x.shape[2:]), self.kernel_size,
                                  self.dilation_rate)  # fmt: skip
        y = _CONV[self.rank](flat, self.kernel, self._bias(), self.strides, padding,
                                self.dilation_rate)  # fmt: skip
        return y.reshape(batch, steps, *y.shape[1:])

    def _recurrent(self, h: torch.Tensor) -> torch.Tensor:
        """conv(h, recurrent_kernel) with stride 1 and padding "same"."""
        pads = [same_padding(n, k, 1) for n, k in zip(h.shape[2:], self.kernel_size)]
        flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
        return _CONV[self.rank](F.pad(h, flat), self.recurrent_kernel)

    def _step(self, xp, h, c, rec_mask):
        z = xp + self._recurrent(h if rec_mask is None else h * rec_mask)
        i, f, g, o = z.chunk(4, dim=1)
        i, f, o = (
            self.recurrent_activation(i),
            self.recurrent_activation(f),
            self.recurrent_activation(o),
        )
        c = f * c + i * self.activation(g)
        return o * self.activation(c), c

    def call(self, inputs, initial_state=None, mask=None, training=None):
        training = self.training if training is None else bool(training)
        mask = get_mask(inputs) if mask is None else mask
        x = inputs if inputs.is_floating_point() else inputs.to(self.kernel.dtype)
        if x.ndim != self.rank + 3:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 3}; "
                f"got shape {tuple(x.shape)}."
            )
        x = x.movedim(-1, 2) if self.data_format == "channels_last" else x  # (B, T, C, ...)
        h, c = self._initial_states(x, initial_state)
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        if training and self.dropout > 0:  # one mask per sequence, every step and gate
            x = x * keep_mask((x.shape[0], 1, *x.shape[2:]), self.dropout, x)
        rec_mask = None
        if training and self.recurrent_dropout > 0:
            rec_mask = keep_mask(h.shape, self.recurrent_dropout, h)
        xp = self._input_projection(x)
        outputs, previous = [], None
        for t in range(x.shape[1]):
            new_h, new_c = self._step(xp[:, t], h, c, rec_mask)
            if mask is not None:
                keep = mask[:, t].reshape(-1, *([1] * (h.ndim - 1)))
                previous = torch.zeros_like(new_h) if previous is None else previous
                new_h, new_c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
                out = torch.where(keep, new_h, previous)
                previous = out
            else:
                out = new_h
            h, c = new_h, new_c
            outputs.append(out)
        if self.stateful and not symbolic_tracing():
            self._states = [h.detach(), c.detach()]
        if self.return_sequences:
            out = torch.stack([self._layout(o) for o in outputs], dim=1)
            if mask is not None:
                set_mask(out, mask.flip(1) if self.go_backwards else mask)
        else:
            out = self._layout(outputs[-1])
        if not self.return_state:
            return out
        return [out, self._layout(h), self._layout(c)]

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        config.update({
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
            "recurrent_regularizer": regularizers_mod.serialize(self.recurrent_regularizer),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "unit_forget_bias": self.unit_forget_bias,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            **{arg: getattr(self, arg) for arg in _SEQUENCE_ARGS},
            "zero_output_for_mask": False,
        })  # fmt: skip
        return config


class ConvLSTM1D(_ConvLSTM):
    """Convolutional LSTM over (batch, time, steps, channels) inputs."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """Convolutional LSTM over (batch, time, rows, cols, channels) inputs (Keras's
    next-frame video prediction example)."""

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """Convolutional LSTM over (batch, time, depth, rows, cols, channels) inputs."""

    rank = 3
