"""Preprocessing layers that live inside models: Rescaling and Normalization (with `adapt`)."""

from __future__ import annotations

import numpy as np
import torch

from fitorch.layers.base import Layer

__all__ = ["Rescaling", "Normalization"]

_EPSILON = 1e-7  # Keras backend.epsilon()


class Rescaling(Layer):
    """`y = x * scale + offset` (e.g. `Rescaling(1 / 255)` for images); ints become floats."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self.built = True

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.to(self.dtype)
        scale = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device)
        offset = torch.as_tensor(self.offset, dtype=x.dtype, device=x.device)
        return x * scale + offset

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if not isinstance(v, (int, float)) else v

        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


class Normalization(Layer):
    """Feature-wise standardization `y = (x - mean) / max(sqrt(variance), 1e-7)`.

    `mean`/`variance` are given, or learned by `adapt(data)` over every axis but `axis`
    (weights mean, variance, count; non-trainable, as Keras). `invert=True` maps back:
    `y = mean + x * max(sqrt(variance), 1e-7)`.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: pass both mean and variance, or neither (then adapt).")
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis or ())
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)

    def build(self, input_shape):
        rank = len(input_shape)
        keep = sorted(a % rank for a in self.axis)
        if any(a == 0 for a in keep):
            raise ValueError(
                f"Normalization {self.name!r}: axis={self.axis} includes the batch axis."
            )
        self._keep, self._reduce = keep, [a for a in range(rank) if a not in keep]
        shape = tuple(input_shape[a] for a in keep)
        if any(s is None for s in shape):
            raise ValueError(
                f"Normalization {self.name!r}: axis={self.axis} must be known in input "
                f"shape {tuple(input_shape)}."
            )
        self._broadcast = [input_shape[a] if a in keep else 1 for a in range(rank)]
        if self.input_mean is None:
            self.add_weight("mean", shape, "zeros", trainable=False)
            self.add_weight("variance", shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", dtype=torch.int64, trainable=False)

    def _stats(self, like):
        if self.input_mean is None:
            mean, var = self.mean, self.variance
        else:
            mean = torch.as_tensor(np.asarray(self.input_mean, "float32"), device=like.device)
            var = torch.as_tensor(np.asarray(self.input_variance, "float32"), device=like.device)
            mean = mean.expand(self._broadcast[1:]) if mean.ndim == 0 else mean
            var = var.expand(self._broadcast[1:]) if var.ndim == 0 else var
        shape = [1] + self._broadcast[1:]
        return mean.reshape(shape).to(like.dtype), var.reshape(shape).to(like.dtype)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn mean and variance from an array/tensor or an iterable of batches."""
        batches = [data] if isinstance(data, (np.ndarray, torch.Tensor)) else data
        count, total, total_sq = 0, None, None
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            x = torch.as_tensor(np.asarray(batch) if not isinstance(batch, torch.Tensor) else batch)
            x = x.to(torch.float64)
            if not self.built:
                self._maybe_build((None,) + tuple(x.shape[1:]))
            n = int(np.prod([x.shape[a] for a in self._reduce]))
            s, sq = x.sum(dim=self._reduce), x.square().sum(dim=self._reduce)
            total = s if total is None else total + s
            total_sq = sq if total_sq is None else total_sq + sq
            count += n
        if not count:
            raise ValueError(f"Normalization {self.name!r}.adapt: got no data.")
        mean = total / count
        with torch.no_grad():
            self.mean.copy_(mean)
            self.variance.copy_((total_sq / count - mean.square()).clamp_min(0))
            self.count.fill_(count)

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.to(self.dtype)
        mean, var = self._stats(x)
        std = torch.sqrt(var).clamp_min(_EPSILON)
        return mean + x * std if self.invert else (x - mean) / std

    def get_config(self):
        def plain(v):
            return None if v is None else np.asarray(v).tolist()

        return {
            **super().get_config(),
            "axis": list(self.axis),
            "mean": plain(self.input_mean),
            "variance": plain(self.input_variance),
            "invert": self.invert,
        }
