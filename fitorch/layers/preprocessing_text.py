"""Categorical preprocessing layers (Keras 3 semantics): CategoryEncoding, and the encoding of
bin ids that the hashing layers share (`encode_categorical_inputs`)."""

from __future__ import annotations

import numpy as np
import torch

from fitorch.layers.base import Layer

__all__ = ["CategoryEncoding", "encode_categorical_inputs"]

_MODES = ("one_hot", "multi_hot", "count")


def encode_categorical_inputs(
    ids: torch.Tensor, output_mode: str, depth: int, dtype: torch.dtype
) -> torch.Tensor:
    """Bin ids in `[0, depth)` -> Keras's encodings (its `encode_categorical_inputs`).

    `int`: the ids cast to `dtype`. `one_hot`: a trailing axis of size 1 is dropped, then a
    `depth` axis appended. `multi_hot` / `count`: the last axis is the sample axis and is
    replaced by `depth` (`(batch, k) -> (batch, depth)`, a rank-1 `(k,)` input is one sample
    `-> (depth,)`, a scalar is upranked to `(1,)` first), holding 1 where an id occurs / the
    number of times it occurs.
    """
    if output_mode == "int":
        return ids.to(dtype)
    if ids.ndim == 0:
        ids = ids[None]
    if output_mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids[..., 0]
        return torch.nn.functional.one_hot(ids, depth).to(dtype)
    rows = ids.reshape(-1, ids.shape[-1])
    counts = torch.zeros(rows.shape[0], depth, dtype=torch.float32, device=ids.device)
    counts.scatter_add_(1, rows, torch.ones(rows.shape, device=ids.device))
    if output_mode == "multi_hot":
        counts = (counts > 0).float()
    return counts.reshape(*ids.shape[:-1], depth).to(dtype)


class CategoryEncoding(Layer):
    """Integer ids in `[0, num_tokens)` -> dense encodings, as Keras `CategoryEncoding`.

    `multi_hot` (default): `y[b, t] = 1` if id `t` occurs in row `b`. `count`: the number of
    occurrences (weighted by `count_weights` when given). `one_hot`: a rank-1 input of shape
    `(batch,)` (or `(batch, 1)`) gives `(batch, num_tokens)`; a rank-2 input gives
    `(batch, steps, num_tokens)`. Out-of-range ids raise ValueError.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if num_tokens is None or int(num_tokens) < 1:
            raise ValueError(
                f"CategoryEncoding: num_tokens must be an int >= 1, got {num_tokens!r}."
            )
        if output_mode not in _MODES:
            raise ValueError(
                f"CategoryEncoding: output_mode must be one of {_MODES}, got {output_mode!r}."
            )
        if sparse:
            raise ValueError("CategoryEncoding: sparse=True is not supported in fitorch.")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False
        self.built = True

    def call(self, inputs, count_weights=None):
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        x = x.long()
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.num_tokens):
            raise ValueError(
                f"CategoryEncoding {self.name!r}: input ids must be in [0, {self.num_tokens}), "
                f"got min {int(x.min())} and max {int(x.max())}."
            )
        if self.output_mode == "one_hot":
            if x.ndim == 2 and x.shape[-1] == 1:
                x = x[:, 0]
            return torch.nn.functional.one_hot(x, self.num_tokens).to(self.dtype)
        if x.ndim == 1:
            x = x[:, None]
        w = torch.ones(x.shape, dtype=torch.float32, device=x.device)
        if count_weights is not None and self.output_mode == "count":
            w = torch.as_tensor(count_weights, dtype=torch.float32, device=x.device).reshape(
                x.shape
            )
        out = torch.zeros(x.shape[0], self.num_tokens, dtype=torch.float32, device=x.device)
        out.scatter_add_(1, x, w)
        if self.output_mode == "multi_hot":
            out = (out > 0).to(out.dtype)
        return out.to(self.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
