"""Embedding (integer ids -> vectors, optional `mask_zero`) and Masking.

Masks travel as Keras' torch backend carries them: as a `_keras_mask` attribute on the output
tensor, read by the next layer that accepts a `mask` (RNNs, Bidirectional, GlobalPooling1D,
Attention). Layers that do not consume a mask make new tensors, so the mask stops there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers.base import Layer, get_mask, set_mask

__all__ = ["Embedding", "Masking", "get_mask", "set_mask"]


class Embedding(Layer):
    """`output[..., :] = embeddings[inputs[...]]`; embeddings (input_dim, output_dim).

    `mask_zero=True` marks id 0 as padding: the output carries the mask `inputs != 0`
    (so `input_dim` must count the padding id).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive integer; got {value!r}.")
        if lora_rank:
            raise ValueError("Embedding: lora_rank is not supported.")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers_mod.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers_mod.get(embeddings_regularizer)
        self.embeddings_constraint = constraints_mod.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = weights

    def build(self, input_shape):
        self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        ids = inputs if inputs.dtype in (torch.int64, torch.int32) else inputs.long()
        out = F.embedding(ids, self.embeddings)
        return set_mask(out, ids != 0) if self.mask_zero else out

    def compute_mask(self, inputs, mask=None):
        return inputs != 0 if self.mask_zero else None

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers_mod.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers_mod.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints_mod.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }


class Masking(Layer):
    """Masks every timestep whose features all equal `mask_value`: they are zeroed in the
    output and the mask `any(inputs != mask_value, axis=-1)` is attached to it."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.built = True

    def call(self, inputs):
        keep = (inputs != self.mask_value).any(dim=-1)
        return set_mask(inputs * keep.unsqueeze(-1).to(inputs.dtype), keep)

    def compute_mask(self, inputs, mask=None):
        return (inputs != self.mask_value).any(dim=-1)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
