"""Recurrent layers: SimpleRNN, LSTM, GRU (and their cells), and `RNN` for any cell.

Weights keep Keras' layouts and gate orders in `get_weights`/`set_weights`: kernel
(input_dim, gates * units), recurrent_kernel (units, gates * units), bias (gates * units,)
(GRU with reset_after: (2, 3 * units), input then recurrent bias); LSTM gates i, f, c, o and
GRU gates z, r, h. Kernels are stored transposed (torch's (gates * units, input_dim)).

When the configuration allows it (default activations, no recurrent dropout, no mask, GRU
with reset_after), the layer runs torch's fused kernels (`torch.lstm`/`torch.gru`/
`torch.rnn_tanh`, cuDNN on CUDA). Otherwise a step loop computes Keras' cell equations;
a masked step keeps the previous state and repeats the previous output (Keras semantics).
"""

from __future__ import annotations

import torch

from fitorch.layers.base import Layer, symbolic_tracing
from fitorch.layers.embedding import get_mask, set_mask
from fitorch.layers.rnn_cells import (
    CELL_ARGS,
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
    _Cell,
    keep_mask,
)
from fitorch.utils.naming import to_snake_case

__all__ = [
    "RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
]  # fmt: skip

_RNN_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
)


class RNN(Layer):
    """Runs `cell` over the time axis of (batch, timesteps, features) inputs.

    Args:
        cell: a fitorch cell, or any layer with `state_size` and `call(inputs, states)` returning
            `(output, new_states)`.
        return_sequences: output every step (B, T, units) instead of the last (B, units).
        return_state: also return the final states (`[output, *states]`).
        go_backwards: read the sequence in reverse (outputs come in processing order).
        stateful: the final states of a batch are the initial states of the next
            (`reset_states()` zeroes them).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "state_size"):
            raise ValueError(
                f"RNN: cell must define state_size and call(inputs, states); got {cell!r}."
            )
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = (
            bool(go_backwards),
            bool(stateful),
            bool(unroll),
        )
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._states = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank 3 (batch, timesteps, "
                f"features); got shape {shape}."
            )
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._maybe_build((shape[0], shape[2]))

    # -- states ----------------------------------------------------------------------------
    def reset_states(self, states=None):
        """Zero (or set) the carried states of a stateful layer."""
        self._states = None if states is None else [torch.as_tensor(s) for s in states]

    reset_state = reset_states

    @property
    def states(self):
        return self._states

    def _initial(self, x, initial_state):
        batch = x.shape[0]
        if initial_state is not None:
            states = _flatten_states(initial_state)
            return [s.to(x.dtype) for s in states]
        if self.stateful and self._states is not None and self._states[0].shape[0] == batch:
            if not torch.is_inference_mode_enabled():  # states left by predict (inference mode)
                return [s.clone() if s.is_inference() else s for s in self._states]
            return self._states
        if hasattr(self.cell, "initial_states"):
            return self.cell.initial_states(batch, x)
        sizes = (
            self.cell.state_size
            if isinstance(self.cell.state_size, (list, tuple))
            else [self.cell.state_size]
        )
        return [torch.zeros(batch, n, dtype=x.dtype, device=x.device) for n in sizes]

    # -- compute ---------------------------------------------------------------------------
    def call(self, inputs, initial_state=None, mask=None, training=None):
        training = self.training if training is None else bool(training)
        mask = get_mask(inputs) if mask is None else mask
        x = inputs if inputs.is_floating_point() else inputs.float()
        if x.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank 3; "
                f"got shape {tuple(x.shape)}."
            )
        states = self._initial(x, initial_state)
        if self.go_backwards:
            x = x.flip(1)
            mask = mask.flip(1) if mask is not None else None
        cell = self.cell
        builtin = isinstance(cell, _Cell)
        drop = builtin and training and cell.dropout > 0
        rec_drop = builtin and training and cell.recurrent_dropout > 0
        if drop:  # one mask per sequence, shared by every step (Keras)
            x = x * keep_mask((x.shape[0], 1, x.shape[2]), cell.dropout, x)
        if builtin and mask is None and not rec_drop and not self.unroll and cell.fused_ok():
            outputs, states = cell.fused(x, states, None)
            last = outputs[:, -1]
        else:
            outputs, last, states = self._loop(x, states, mask, rec_drop, training)
        if self.stateful and not symbolic_tracing():
            self._states = [s.detach() for s in states]
        if self.return_sequences and mask is not None:  # the sequence keeps its input's mask
            set_mask(outputs, mask.flip(1) if self.go_backwards else mask)
        out = outputs if self.return_sequences else last
        if not self.return_state:
            return out
        return [out, *_per_cell(self.cell, list(states))]

    def _loop(self, x, states, mask, rec_drop, training):
        cell = self.cell
        builtin = isinstance(cell, _Cell)
        rec_mask = (
            keep_mask((x.shape[0], cell.units), cell.recurrent_dropout, x) if rec_drop else None
        )
        xp = cell.project(x) if builtin else x  # input projections of all steps at once
        outputs, prev = [], None
        for t in range(x.shape[1]):
            if builtin:
                out, new_states = cell.step(xp[:, t], states, rec_mask)
            else:
                out, new_states = cell(x[:, t], states)
                new_states = (
                    list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
                )
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)
                prev = torch.zeros_like(out) if prev is None else prev
                new_states = [torch.where(keep, n, s) for n, s in zip(new_states, states)]
                carried = torch.where(keep, out, prev)
                out = (
                    torch.where(keep, out, torch.zeros_like(out))
                    if self.zero_output_for_mask
                    else carried
                )
                prev = carried
            states = new_states
            outputs.append(out)
        seq = torch.stack(outputs, dim=1)
        last = prev if mask is not None and not self.zero_output_for_mask else seq[:, -1]
        if mask is not None and self.zero_output_for_mask:
            last = torch.where(mask[:, -1:], seq[:, -1], torch.zeros_like(seq[:, -1]))
        return seq, last, states

    def get_config(self):
        config = {**super().get_config()}
        for arg in _RNN_ARGS:
            config[arg] = getattr(self, arg)
        if type(self) is RNN:
            from fitorch.serialization import serialize_object

            config["cell"] = serialize_object(self.cell, "layer")
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("cell"), dict):
            from fitorch.serialization import deserialize_object

            config["cell"] = deserialize_object(config["cell"], "layer")
        return cls(**config)


class _CellRNN(RNN):
    """An RNN that builds its own cell from the cell arguments (SimpleRNN, LSTM, GRU)."""

    cell_class = SimpleRNNCell

    def __init__(self, units, **kwargs):
        rnn_kwargs = {k: kwargs.pop(k) for k in _RNN_ARGS if k in kwargs}
        base = {
            k: kwargs.pop(k)
            for k in (
                "name",
                "trainable",
                "dtype",
                "input_shape",
                "input_dim",
                "batch_input_shape",
                "batch_size",
                "activity_regularizer",
                "input_length",
            )
            if k in kwargs
        }
        kwargs.pop("implementation", None)
        kwargs.pop("time_major", None)
        use_cudnn = kwargs.pop("use_cudnn", "auto")
        # Named as Keras names it (an explicit name takes no session-wide default name).
        cell_name = to_snake_case(self.cell_class.__name__)
        cell = self.cell_class(units, dtype=base.get("dtype"), name=cell_name, **kwargs)
        super().__init__(cell, **rnn_kwargs, **base)
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):
        if name in CELL_ARGS:
            return getattr(self.cell, name)
        return super().__getattr__(name)

    def get_config(self):
        config = super().get_config()
        config.update({k: v for k, v in self.cell.get_config().items() if k in CELL_ARGS})
        return config


class SimpleRNN(_CellRNN):
    """Fully connected RNN (`SimpleRNNCell` over time)."""

    cell_class = SimpleRNNCell


class LSTM(_CellRNN):
    """Long short-term memory over time (`LSTMCell`); fused `torch.lstm` when allowed."""

    cell_class = LSTMCell


class GRU(_CellRNN):
    """Gated recurrent unit over time (`GRUCell`); fused `torch.gru` when reset_after=True."""

    cell_class = GRUCell


def _flatten_states(states) -> list:
    """Initial states given flat (`[h1, c1, h2]`) or nested per cell (`[[h1, c1], [h2]]`)."""
    if not isinstance(states, (list, tuple)):
        return [states]
    return [t for s in states for t in _flatten_states(s)]


def _per_cell(cell, states: list) -> list:
    """Final states as Keras returns them: flat for one cell, one list per cell for a stack."""
    if not isinstance(cell, StackedRNNCells):
        return states
    nested, start = [], 0
    for sub in cell.cells:
        n = len(StackedRNNCells._sizes(sub))
        nested.append(states[start : start + n])
        start += n
    return nested
