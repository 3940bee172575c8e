"""Attention layers: MultiHeadAttention, Attention (Luong), AdditiveAttention (Bahdanau).

Masks: `True` = attend. Masked scores enter the softmax as -1e9 and a fully masked row
gives zeros (Keras' Softmax), except in MultiHeadAttention's fused path (no scores returned,
no dropout), which like Keras on torch runs `scaled_dot_product_attention` with an additive
-1e9 mask (a fully masked row attends uniformly). Query/value masks attached to the input
tensors by `Embedding(mask_zero=True)` or `Masking` are picked up.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fitorch.layers._utils import check_choice
from fitorch.layers.base import Layer
from fitorch.layers.embedding import get_mask, set_mask
from fitorch.layers.weight_arguments import set_weight_arguments, weight_arguments_config

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]


def _masked_softmax(scores, mask):
    """Softmax over the last axis; masked (False) cells -> -1e9 in, 0 out (Keras)."""
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = torch.where(mask, scores, torch.full_like(scores, -1e9))
    return torch.where(mask, torch.softmax(scores, dim=-1), torch.zeros_like(scores))


def _inverse(perm):
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return out


def _causal(tq, tk, device):
    """Lower-triangular (Tq, Tk) mask: query i attends keys j <= i."""
    return torch.ones(tq, tk, dtype=torch.bool, device=device).tril()


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention: (batch, T, dim) queries, (batch, S, dim) values.

    q, k, v = query @ Wq + bq, key @ Wk + bk, value @ Wv + bv (kernels (dim, heads, key_dim)
    in Keras layout); `scores = softmax(q k^T / sqrt(key_dim))` per head, with masks; output
    = (scores v) @ Wo + bo, Wo (heads, value_dim, output_dim). Weights in Keras order: query,
    key, value, attention_output (kernel then bias each).

    `attention_axes` (default: every axis between batch and features) are the axes attended
    over; inputs of rank > 3 attend over those and treat the others as batch (masks: rank 3).

    Call: `layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False)`. As in Keras, the query's mask is the one carried by
    the `query` tensor (an explicit `query_mask=` is not used), and the output carries it.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        for legacy in ("use_gate", "flash_attention"):
            if kwargs.pop(legacy, None):
                raise ValueError(f"MultiHeadAttention: {legacy}=True is not supported.")
        if kwargs.pop("sliding_window", None) is not None:
            raise ValueError("MultiHeadAttention: sliding_window is not supported.")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"MultiHeadAttention: {arg} must be a positive integer; got {value!r}."
                )
        if attention_axes is not None:
            attention_axes = (
                [attention_axes] if isinstance(attention_axes, int) else list(attention_axes)
            )
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = value_dim if value_dim else key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ValueError(
                    f"MultiHeadAttention: output_shape must be an int or a 1-tuple; "
                    f"got {output_shape!r}."
                )
            output_shape = output_shape[0]
        self.output_shape_arg = output_shape
        self.attention_axes = attention_axes
        set_weight_arguments(
            self, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )  # fmt: skip
        self._projections_built = False

    def build(self, input_shape):
        pass  # weights need the value's shape too: created on the first call

    def _dense(self, attr, name, kernel_shape, bias_shape):
        """A child layer holding one projection's kernel and bias (Keras' EinsumDense)."""
        dense = Layer(name=name, dtype=self.dtype)
        dense.add_weight(
            "kernel",
            kernel_shape,
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            dense.add_weight(
                "bias",
                bias_shape,
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        dense.built = True
        setattr(self, attr, dense)

    def _axes(self, rank):
        """The attention axes of a rank-`rank` input (default: all but batch and features)."""
        if self.attention_axes is None:
            return list(range(1, rank - 1))
        axes = sorted({a % rank for a in self.attention_axes})
        if any(a in (0, rank - 1) for a in axes) or any(
            not -rank <= a < rank for a in self.attention_axes
        ):
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: attention_axes={self.attention_axes} must "
                f"name axes between the batch and the feature axis of rank-{rank} inputs."
            )
        return axes

    def _build_projections(self, query, value, key):
        for name, t in (("value", value), ("key", key)):
            if t.ndim != query.ndim or query.ndim < 3:
                raise ValueError(
                    f"MultiHeadAttention {self.name!r}: query, value and key must have one rank "
                    f">= 3; got shapes {tuple(query.shape)} and {tuple(t.shape)} ({name})."
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: key and value must have the same "
                f"length; got shapes {tuple(key.shape)} and {tuple(value.shape)}."
            )
        self._axes(query.ndim)  # validates attention_axes
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim
        out_dim = self.output_shape_arg or query.shape[-1]
        # Child names as Keras' (its weight files key them `query_dense/vars`, ...).
        self._dense("query_dense", "query", (query.shape[-1], h, dk), (h, dk))
        self._dense("key_dense", "key", (key.shape[-1], h, dk), (h, dk))
        self._dense("value_dense", "value", (value.shape[-1], h, dv), (h, dv))
        self._dense("output_dense", "attention_output", (h, dv, out_dim), (out_dim,))
        if query.device != self.query_dense.kernel.device:
            self.to(query.device)
        self._projections_built = True

    def _project(self, x, dense, axes):
        """(B, *D, dim) -> (N, heads, T, d) through the (dim, heads, d) kernel, where T runs
        over the attention axes and N over the batch and every other axis."""
        w = dense.kernel
        y = (x @ w.reshape(w.shape[0], -1)).reshape(*x.shape[:-1], w.shape[1], w.shape[2])
        if self.use_bias:
            y = y + dense.bias
        r = x.ndim
        other = [a for a in range(1, r - 1) if a not in axes]
        y = y.permute(0, *other, r - 1, *axes, r)  # (B, *other, H, *attention, d)
        lead = tuple(y.shape[: 1 + len(other)])
        return y.reshape(math.prod(lead), w.shape[1], -1, w.shape[2]), lead

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        """Keras' signature: the output is `query_shape` with its last axis `output_shape`
        (default: the query's last axis); `value_shape`/`key_shape` must share their
        non-feature axes."""
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if key_shape[:-1] != value_shape[:-1]:
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: key_shape and value_shape must match in "
                f"all but the last axis; got key_shape={key_shape}, value_shape={value_shape}."
            )
        return query_shape[:-1] + (self.output_shape_arg or query_shape[-1],)

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        training = self.training if training is None else bool(training)
        key = value if key is None else key
        query_mask = get_mask(query)
        value_mask = get_mask(value) if value_mask is None else value_mask
        if key is not value:
            key_mask = get_mask(key) if key_mask is None else key_mask
        if not self._projections_built:
            self._build_projections(query, value, key)
        axes = self._axes(query.ndim)
        (q, lead), (k, _), (v, _) = (
            self._project(query, self.query_dense, axes),
            self._project(key, self.key_dense, axes),
            self._project(value, self.value_dense, axes),
        )
        if (
            query.ndim > 3
            and any(m is not None for m in (query_mask, value_mask, key_mask, attention_mask))
            or (query.ndim > 3 and use_causal_mask)
        ):
            raise ValueError(
                f"MultiHeadAttention {self.name!r}: masks are supported for rank-3 inputs only; "
                f"got query shape {tuple(query.shape)}."
            )
        mask = _combine_masks(
            query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        scale = 1.0 / math.sqrt(self.key_dim)
        use_drop = training and self.dropout > 0
        if not return_attention_scores and not use_drop:
            # Fused kernel (flash/memory-efficient on CUDA), as Keras' torch backend runs it.
            # A boolean mask becomes an additive -1e9 bias (as Keras does): a fully masked
            # row then attends uniformly instead of producing NaN.
            attn_mask = None
            if mask is not None:
                attn_mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device)
                attn_mask = attn_mask.masked_fill(~mask, -1e9)[:, None]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
            scores = None
        else:
            logits = (q * scale) @ k.transpose(-1, -2)
            scores = _masked_softmax(logits, None if mask is None else mask[:, None])
            probs = F.dropout(scores, self.dropout, True) if use_drop else scores
            out = probs @ v  # (B, H, T, dv)
        # (N, H, Tq, dv) -> (B, *D, H, dv): undo the permutation made in _project.
        r, h = query.ndim, self.num_heads
        other = [a for a in range(1, r - 1) if a not in axes]
        q_sizes = [query.shape[a] for a in axes]
        perm = [0, *other, r - 1, *axes, r]
        out = out.reshape(*lead, h, *q_sizes, out.shape[-1]).permute(*_inverse(perm))
        w = self.output_dense.kernel
        y = out.reshape(*out.shape[:-2], -1) @ w.reshape(-1, w.shape[-1])
        if self.use_bias:
            y = y + self.output_dense.bias
        if scores is not None and r > 3:
            k_sizes = [key.shape[a] for a in axes]
            scores = scores.reshape(*lead, h, *q_sizes, *k_sizes)
        set_mask(y, query_mask)
        return (y, scores) if return_attention_scores else y

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_shape_arg,
            "attention_axes": self.attention_axes,
            **weight_arguments_config(self),
            "seed": self.seed,
        }


def _combine_masks(query, value, query_mask, value_mask, key_mask, attention_mask, causal):
    """AND of every given mask as a (B, T, S) boolean tensor (None when there is none)."""
    mask = None

    def both(a, b):
        return b if a is None else a & b

    if query_mask is not None:
        mask = both(mask, query_mask.bool()[:, :, None])
    if value_mask is not None:
        mask = both(mask, value_mask.bool()[:, None, :])
    if key_mask is not None:
        mask = both(mask, key_mask.bool()[:, None, :])
    if causal:
        mask = both(mask, _causal(query.shape[1], value.shape[1], query.device)[None])
    if attention_mask is not None:
        mask = both(mask, attention_mask.bool())
    if mask is not None:
        mask = mask.expand(query.shape[0], query.shape[1], value.shape[1])
    return mask


class _BaseAttention(Layer):
    """Shared call of Attention and AdditiveAttention: `inputs = [query, value(, key)]`."""

    def __init__(self, use_scale=False, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale, self.dropout, self.seed = bool(use_scale), float(dropout), seed

    def build(self, input_shape):
        kind = type(self).__name__
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) not in (2, 3)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"{kind} {self.name!r} expects inputs [query, value] or [query, value, "
                f"key]; got input shape {input_shape}."
            )
        q, v = tuple(input_shape[0]), tuple(input_shape[1])
        k = tuple(input_shape[2]) if len(input_shape) == 3 else v
        if q[-1] != k[-1] or (len(input_shape) == 3 and k[1] != v[1] and None not in (k[1], v[1])):
            raise ValueError(
                f"{kind} {self.name!r}: query and key must share the last dimension "
                f"and key and value the length; got shapes {q}, {v}, {k}."
            )
        self._build_weights(q[-1])

    def _build_weights(self, dim):
        pass

    def call(
        self, inputs, mask=None, training=None, return_attention_scores=False, use_causal_mask=False
    ):
        training = self.training if training is None else bool(training)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask, v_mask = (mask[0], mask[1]) if mask is not None else (get_mask(q), get_mask(v))
        scores = self._scores(q, k)  # (B, Tq, Tv)
        score_mask = None if v_mask is None else v_mask.bool()[:, None, :]
        if use_causal_mask:
            causal = _causal(scores.shape[-2], scores.shape[-1], scores.device)[None]
            score_mask = causal if score_mask is None else score_mask & causal
        if score_mask is not None:
            scores = torch.where(score_mask, scores, scores - 1e9)
        weights = torch.softmax(scores, dim=-1)
        if training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, True)
        out = weights @ v
        if q_mask is not None:
            out = torch.where(q_mask.bool()[..., None], out, torch.zeros_like(out))
            set_mask(out, q_mask)
        return (out, weights) if return_attention_scores else out

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "dropout": self.dropout,
            "seed": self.seed,
        }


class Attention(_BaseAttention):
    """Dot-product (Luong) attention: `scores = q k^T` (times a learned scalar `scale` when
    `use_scale`), or with `score_mode="concat"`: `concat_score_weight * sum(tanh(scale *
    (q_i + k_j)))`; output = softmax(scores) v."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale, dropout, seed, **kwargs)
        self.score_mode = check_choice(score_mode, ("dot", "concat"), "score_mode", "Attention")

    def _build_weights(self, dim):
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def _scores(self, q, k):
        if self.score_mode == "dot":
            scores = q @ k.transpose(-1, -2)
            return scores * self.scale if self.use_scale else scores
        summed = q[:, :, None, :] + k[:, None, :, :]
        if self.use_scale:
            summed = self.scale * summed
        return self.concat_score_weight * torch.tanh(summed).sum(-1)

    def get_config(self):
        return {**super().get_config(), "score_mode": self.score_mode}


class AdditiveAttention(_BaseAttention):
    """Additive (Bahdanau) attention: `scores_ij = sum(scale * tanh(q_i + k_j))` with a learned
    `scale` vector (dim,) when `use_scale` (default True); output = softmax(scores) v."""

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale, dropout, seed, **kwargs)

    def _build_weights(self, dim):
        if self.use_scale:
            self.add_weight("scale", (dim,), "glorot_uniform")

    def _scores(self, q, k):
        summed = torch.tanh(q[:, :, None, :] + k[:, None, :, :])
        return (summed * self.scale).sum(-1) if self.use_scale else summed.sum(-1)
