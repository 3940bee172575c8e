"""Layer wrappers: Bidirectional (an RNN read both ways) and TimeDistributed."""

from __future__ import annotations

import torch

from fitorch.layers.base import Layer
from fitorch.layers.embedding import get_mask, set_mask
from fitorch.layers.recurrent import RNN

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _serialize(layer):
    from fitorch.serialization import serialize_object

    return serialize_object(layer, "layer")


def _deserialize(record):
    from fitorch.serialization import deserialize_object

    return record if isinstance(record, Layer) else deserialize_object(record, "layer")


def _copy_layer(layer: Layer, **overrides) -> Layer:
    config = {**layer.get_config(), **overrides}
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs `layer` forward and a copy with `go_backwards` flipped; merges their outputs.

    The backward output sequence is re-reversed so step t of both halves refers to input
    step t. `merge_mode`: `concat` (default), `sum`, `mul`, `ave`, or None (a list of both).
    With `return_state`, returns `[merged, *forward_states, *backward_states]`. Weights:
    forward layer's, then backward layer's (Keras order).
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        layer = _deserialize(layer)
        if not isinstance(layer, RNN):
            raise ValueError(
                f"Bidirectional: layer must be an RNN layer (LSTM, GRU, ...); got {layer!r}."
            )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}; "
                f"got {merge_mode!r}."
            )
        super().__init__(**kwargs)
        self.forward_layer = _copy_layer(layer, name=f"forward_{layer.name}")
        if backward_layer is None:
            self.backward_layer = _copy_layer(
                layer, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards
            )
        else:
            self.backward_layer = _deserialize(backward_layer)
            for attr in ("return_sequences", "return_state"):
                if getattr(self.backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"Bidirectional: backward_layer.{attr} must equal layer.{attr}."
                    )
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = weights

    def build(self, input_shape):
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, initial_state=None, mask=None, training=None):
        mask = get_mask(inputs) if mask is None else mask
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        fwd = self.forward_layer(inputs, mask=mask, training=training, initial_state=fwd_state)
        bwd = self.backward_layer(inputs, mask=mask, training=training, initial_state=bwd_state)
        states = []
        if self.return_state:
            states = list(fwd[1:]) + list(bwd[1:])
            fwd, bwd = fwd[0], bwd[0]
        if self.return_sequences:
            bwd = bwd.flip(1)
            if mask is not None:  # Keras zeroes both directions at masked steps
                keep = torch.as_tensor(mask, device=fwd.device).to(fwd.dtype).unsqueeze(-1)
                fwd, bwd = fwd * keep, bwd * keep
        if self.merge_mode == "concat":
            out = torch.cat([fwd, bwd], dim=-1)
        elif self.merge_mode == "sum":
            out = fwd + bwd
        elif self.merge_mode == "mul":
            out = fwd * bwd
        elif self.merge_mode == "ave":
            out = (fwd + bwd) / 2
        else:
            out = [fwd, bwd]
        if self.return_sequences and isinstance(out, torch.Tensor):
            set_mask(out, mask)
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def reset_states(self, states=None):
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    def get_config(self):
        config = {**super().get_config(), "merge_mode": self.merge_mode}
        layer_config = self.forward_layer.get_config()
        layer_config["name"] = layer_config["name"].removeprefix("forward_")
        config["layer"] = _serialize(type(self.forward_layer).from_config(layer_config))
        config["backward_layer"] = _serialize(self.backward_layer)
        return config


class TimeDistributed(Layer):
    """Applies `layer` to every step of (batch, timesteps, ...) inputs: the time axis is
    folded into the batch axis, `layer` runs once, and the result is unfolded."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        layer = _deserialize(layer)
        if not isinstance(layer, torch.nn.Module):
            raise ValueError(f"TimeDistributed: layer must be a Layer; got {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(
                f"TimeDistributed {self.name!r} expects inputs of rank >= 3 "
                f"(batch, timesteps, ...); got shape {shape}."
            )
        if isinstance(self.layer, Layer):
            self.layer._maybe_build((None,) + shape[2:])

    def call(self, inputs, training=None, mask=None):
        b, t = inputs.shape[:2]
        folded = inputs.reshape(b * t, *inputs.shape[2:])
        if training is not None and isinstance(self.layer, Layer) and _takes_training(self.layer):
            out = self.layer(folded, training=training)
        else:
            out = self.layer(folded)
        return out.reshape(b, t, *out.shape[1:])

    def get_config(self):
        return {**super().get_config(), "layer": _serialize(self.layer)}


def _takes_training(layer) -> bool:
    import inspect

    return "training" in inspect.signature(layer.call).parameters
