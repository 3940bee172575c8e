"""Recurrent cells (one time step each): SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells.

Weights keep Keras' layouts and gate orders in `get_weights`/`set_weights`: kernel
(input_dim, gates * units), recurrent_kernel (units, gates * units), bias (gates * units,)
(GRU with reset_after: (2, 3 * units), input then recurrent bias); LSTM gates i, f, c, o and
GRU gates z, r, h. Kernels are stored transposed (torch's (gates * units, input_dim)), so the
layers in recurrent.py can hand them to torch's fused kernels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import activations
from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers.base import Layer

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "CELL_ARGS", "keep_mask"]

CELL_ARGS = (
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
    "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout", "unit_forget_bias", "reset_after", "seed",
)  # fmt: skip


def keep_mask(shape, rate, like: torch.Tensor):
    """Inverted-dropout multiplier: 0 with probability `rate`, else 1 / (1 - rate)."""
    keep = torch.rand(shape, device=like.device) >= rate
    return keep.to(like.dtype) / (1.0 - rate)


class _Cell(Layer):
    """Shared cell arguments and weights; subclasses define `gates` and `step`."""

    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"{type(self).__name__}: units must be a positive integer; got {units!r}."
            )
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1); got {rate!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.dropout, self.recurrent_dropout, self.seed = (
            float(dropout),
            float(recurrent_dropout),
            seed,
        )

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _init_bias(self, value):
        return value

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"{type(self).__name__}: the feature dimension must be known; got {input_shape}."
            )
        width = self.gates * self.units
        self.add_weight(
            "kernel",
            (in_dim, width),
            self.kernel_initializer,
            layout=(1, 0),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.add_weight(
            "recurrent_kernel",
            (self.units, width),
            self.recurrent_initializer,
            layout=(1, 0),
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            bias = self.add_weight(
                "bias",
                self._bias_shape(),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            with torch.no_grad():
                bias.copy_(self._init_bias(bias.detach().clone()))
        self.register_buffer("_zero_bias", torch.zeros(width, dtype=self.dtype), persistent=False)

    def input_bias(self):
        return self.bias if self.use_bias else None

    def project(self, x):
        """Input contribution of every gate for all timesteps at once: x @ kernel + bias."""
        return F.linear(x, self.kernel, self.input_bias())

    def initial_states(self, batch, like):
        return [torch.zeros(batch, self.units, dtype=like.dtype, device=like.device)]

    def call(self, inputs, states, training=None):
        """Keras cell API: one step on `inputs` (B, features) -> (output, new_states)."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        return self.step(self.project(inputs), states, None)

    def get_config(self):
        config = {**super().get_config()}
        for arg in CELL_ARGS:
            if hasattr(self, arg):
                config[arg] = _serialize_arg(arg, getattr(self, arg))
        return config


def _serialize_arg(arg, value):
    if arg.endswith("activation"):
        return activations.serialize(value)
    if arg.endswith("initializer"):
        return initializers_mod.serialize(value)
    if arg.endswith("regularizer"):
        return regularizers_mod.serialize(value)
    if arg.endswith("constraint"):
        return constraints_mod.serialize(value)
    return value


class SimpleRNNCell(_Cell):
    """`h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)`; output = h."""

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def step(self, xp, states, rec_mask):
        h = states[0] if rec_mask is None else states[0] * rec_mask
        out = self.activation(xp + F.linear(h, self.recurrent_kernel))
        return out, [out]

    def fused_ok(self):
        return self.activation in (activations.tanh, activations.relu)

    def fused(self, x, states, dropout_mask):
        fn = torch.rnn_tanh if self.activation is activations.tanh else torch.rnn_relu
        bias = self.input_bias()
        params = [self.kernel, self.recurrent_kernel] + (
            [bias, self._zero_bias] if bias is not None else []
        )
        out, h = fn(x, states[0].unsqueeze(0), params, bias is not None, 1, 0.0, False, False, True)
        return out, [h[0]]

    def get_config(self):
        config = super().get_config()
        config.pop("recurrent_activation", None)
        return config


class LSTMCell(_Cell):
    """Keras LSTM step, gates i, f, c, o: `c = f * c_prev + i * activation(x_c + h_prev R_c)`,
    `h = o * activation(c)`, with i, f, o = recurrent_activation(...)."""

    gates = 4

    def __init__(self, units, unit_forget_bias=True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_bias(self, value):
        if self.unit_forget_bias:
            value[self.units : 2 * self.units] = 1.0
        return value

    def initial_states(self, batch, like):
        zeros = torch.zeros(batch, self.units, dtype=like.dtype, device=like.device)
        return [zeros, zeros.clone()]

    @property
    def state_size(self):
        return [self.units, self.units]

    def step(self, xp, states, rec_mask):
        h, c = states
        hr = h if rec_mask is None else h * rec_mask
        z = xp + F.linear(hr, self.recurrent_kernel)
        i, f, g, o = z.chunk(4, dim=-1)
        i, f, o = (
            self.recurrent_activation(i),
            self.recurrent_activation(f),
            self.recurrent_activation(o),
        )
        c = f * c + i * self.activation(g)
        h = o * self.activation(c)
        return h, [h, c]

    def fused_ok(self):
        return (
            self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid
        )

    def fused(self, x, states, dropout_mask):
        bias = self.input_bias()
        params = [self.kernel, self.recurrent_kernel] + (
            [bias, self._zero_bias] if bias is not None else []
        )
        hx = (states[0].unsqueeze(0), states[1].unsqueeze(0))
        out, h, c = torch.lstm(x, hx, params, bias is not None, 1, 0.0, False, False, True)
        return out, [h[0], c[0]]


class GRUCell(_Cell):
    """Keras GRU step, gates z, r, h: `h = z * h_prev + (1 - z) * hh` with
    `hh = activation(x_h + r * (h_prev R_h + b_rec_h))` (reset_after=True, the default) or
    `activation(x_h + (r * h_prev) R_h)` (reset_after=False)."""

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def input_bias(self):
        if not self.use_bias:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def step(self, xp, states, rec_mask):
        h = states[0]
        hr = h if rec_mask is None else h * rec_mask
        u = self.units
        x_z, x_r, x_h = xp.chunk(3, dim=-1)
        if self.reset_after:
            rec_bias = self.bias[1] if self.use_bias else None
            inner = F.linear(hr, self.recurrent_kernel, rec_bias)
            r_z, r_r, r_h = inner.chunk(3, dim=-1)
        else:
            inner = F.linear(hr, self.recurrent_kernel[: 2 * u])
            r_z, r_r = inner.chunk(2, dim=-1)
        z = self.recurrent_activation(x_z + r_z)
        r = self.recurrent_activation(x_r + r_r)
        if self.reset_after:
            rec_h = r * r_h
        else:
            rec_h = F.linear(r * hr, self.recurrent_kernel[2 * u :])
        hh = self.activation(x_h + rec_h)
        out = z * h + (1 - z) * hh
        return out, [out]

    def fused_ok(self):
        return (
            self.reset_after
            and self.activation is activations.tanh
            and self.recurrent_activation is activations.sigmoid
        )

    def fused(self, x, states, dropout_mask):
        u = self.units

        def torch_order(w):  # Keras z, r, h -> torch r, z, n along the gate axis (first)
            return torch.cat([w[u : 2 * u], w[:u], w[2 * u :]])

        params = [torch_order(self.kernel), torch_order(self.recurrent_kernel)]
        if self.use_bias:
            params += [torch_order(self.bias[0]), torch_order(self.bias[1])]
        out, h = torch.gru(
            x, states[0].unsqueeze(0), params, self.use_bias, 1, 0.0, False, False, True
        )
        return out, [h[0]]


class StackedRNNCells(Layer):
    """Several cells run as one: each step feeds cell i's output to cell i + 1. States are
    the cells' states in order, flattened (`[h1, c1, h2, c2]` for two LSTM cells)."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not cells or not all(hasattr(c, "state_size") for c in cells):
            raise ValueError(f"StackedRNNCells: cells must be RNN cells; got {cells!r}.")
        self.cells = torch.nn.ModuleList(cells)

    @staticmethod
    def _sizes(cell):
        size = cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def state_size(self):
        return [n for c in self.cells for n in self._sizes(c)]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", self._sizes(last)[0])

    def build(self, input_shape):
        features = input_shape[-1]
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._maybe_build((None, features))
            features = getattr(cell, "output_size", self._sizes(cell)[0])

    def initial_states(self, batch, like):
        out = []
        for cell in self.cells:
            if hasattr(cell, "initial_states"):
                out += cell.initial_states(batch, like)
            else:
                out += [
                    torch.zeros(batch, n, dtype=like.dtype, device=like.device)
                    for n in self._sizes(cell)
                ]
        return out

    def call(self, inputs, states, training=None):
        new_states, i = [], 0
        for cell in self.cells:
            n = len(self._sizes(cell))
            inputs, cell_states = cell(inputs, list(states[i : i + n]))
            new_states += (
                list(cell_states) if isinstance(cell_states, (list, tuple)) else [cell_states]
            )
            i += n
        return inputs, new_states

    def get_config(self):
        from fitorch.serialization import serialize_object

        return {**super().get_config(), "cells": [serialize_object(c, "layer") for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        from fitorch.serialization import deserialize_object

        config = dict(config)
        config["cells"] = [deserialize_object(c, "layer") for c in config["cells"]]
        return cls(**config)
