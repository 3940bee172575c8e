"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers.base import Layer
from fitorch.layers.embedding import get_mask

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Identity"]


class _Named(Layer):
    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True


class ReLU(_Named):
    """`x` above `threshold`, else `negative_slope * (x - threshold)`; capped at `max_value`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("max_value", max_value), ("negative_slope", negative_slope)):
            if value is not None and value < 0:
                raise ValueError(f"ReLU: {arg} must be >= 0; got {value!r}.")
        self.max_value = None if max_value is None else float(max_value)
        if threshold is None or threshold < 0:
            raise ValueError(f"ReLU: threshold must be >= 0; got {threshold!r}.")
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs):
        if self.negative_slope == 0.0 and self.threshold == 0.0:
            y = torch.relu(inputs)
        else:
            below = self.negative_slope * (inputs - self.threshold)
            y = torch.where(inputs > self.threshold, inputs, below)
        return y.clamp(max=self.max_value) if self.max_value is not None else y

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(_Named):
    """`x` if x >= 0 else `negative_slope * x` (Keras 3 default slope 0.3; `alpha=` accepted)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be >= 0; got {negative_slope!r}.")
        self.negative_slope = float(negative_slope)

    def call(self, inputs):
        return F.leaky_relu(inputs, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(_Named):
    """`max(x, 0) - alpha * max(-x, 0)` with a learned `alpha` per input cell (axes listed in
    `shared_axes`, 1-indexed, share one alpha)."""

    def __init__(
        self,
        alpha_initializer="zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.built = False
        self.alpha_initializer = initializers_mod.get(alpha_initializer)
        self.alpha_regularizer = regularizers_mod.get(alpha_regularizer)
        self.alpha_constraint = constraints_mod.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = [shared_axes] if isinstance(shared_axes, int) else list(shared_axes)
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(
                    f"PReLU {self.name!r}: shared_axes={self.shared_axes} is out of "
                    f"range for input shape {tuple(input_shape)}."
                )
            shape[axis - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(
                f"PReLU {self.name!r}: every non-shared axis must be known; got "
                f"input shape {tuple(input_shape)}."
            )
        self.add_weight(
            "alpha",
            tuple(shape),
            self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )

    def call(self, inputs):
        return torch.relu(inputs) - self.alpha * torch.relu(-inputs)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers_mod.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers_mod.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints_mod.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


class ELU(_Named):
    """`x` if x > 0 else `alpha * (exp(x) - 1)`."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return F.elu(inputs, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_Named):
    """`exp(x) / sum(exp(x))` over `axis` (an int or several axes).

    With a `mask` (broadcastable to the input; True = keep), masked cells enter as -1e9 and
    come out as 0, so a fully masked row gives zeros (Keras).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs, mask=None):
        mask = get_mask(inputs) if mask is None else mask
        if mask is not None:
            if mask.dtype != torch.bool:
                mask = mask > 0.5
            inputs = torch.where(mask, inputs, torch.full_like(inputs, -1e9))
        if isinstance(self.axis, list):
            out = torch.exp(inputs - torch.logsumexp(inputs, dim=self.axis, keepdim=True))
        else:
            out = torch.softmax(inputs, dim=self.axis)
        return torch.where(mask, out, torch.zeros_like(out)) if mask is not None else out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Identity(_Named):
    """Returns its input unchanged (a placeholder layer; masks pass through)."""

    def call(self, inputs):
        return inputs
