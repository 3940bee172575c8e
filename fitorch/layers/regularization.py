"""Noise and dropout variants (active only in training): SpatialDropout1D/2D/3D,
GaussianNoise, GaussianDropout, AlphaDropout, and ActivityRegularization."""

from __future__ import annotations

import math

import torch

from fitorch import regularizers as regularizers_mod
from fitorch.layers._utils import check_choice, default_format
from fitorch.layers.base import Layer
from fitorch.layers.core import Dropout

__all__ = [
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization",
]  # fmt: skip

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_rate(rate, kind):
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{kind}: rate must be in [0, 1); got {rate!r}.")
    return float(rate)


class _Noise(Layer):
    supports_masking = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel)."""

    rank = 1

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        kind = type(self).__name__
        self.data_format = check_choice(
            default_format(data_format), ("channels_last", "channels_first"), "data_format", kind
        )

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0.0:
            return inputs
        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank "
                f"{self.rank + 2}; got shape {tuple(inputs.shape)}."
            )
        shape = [1] * inputs.ndim
        shape[0] = inputs.shape[0]
        channel = -1 if self.data_format == "channels_last" else 1
        shape[channel] = inputs.shape[channel]
        keep = torch.rand(shape, device=inputs.device) >= self.rate
        return inputs * keep.to(inputs.dtype) / (1.0 - self.rate)

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        config.pop("noise_shape", None)
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (B, steps, C) inputs."""

    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("data_format", None)
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of (B, rows, cols, C) inputs."""

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of (B, d1, d2, d3, C) inputs."""

    rank = 3


class GaussianNoise(_Noise):
    """Training: `x + N(0, stddev^2)` noise; inference: `x`."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be >= 0; got {stddev!r}.")
        self.stddev, self.seed = float(stddev), seed

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.stddev == 0.0:
            return inputs
        return inputs + torch.randn_like(inputs) * self.stddev

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """Training: `x * N(1, rate / (1 - rate))` multiplicative noise; inference: `x`."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = _check_rate(rate, "GaussianDropout"), seed

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0.0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * (1.0 + torch.randn_like(inputs) * stddev)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_Noise):
    """Dropout that keeps SELU's self-normalization: dropped cells take SELU's negative
    saturation value `alpha' = -alpha * scale`, then `a * x + b` restores mean and variance,
    with `a = ((1 - rate) * (1 + rate * alpha'^2))^-1/2` and `b = -a * alpha' * rate`."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.noise_shape, self.seed = (
            _check_rate(rate, "AlphaDropout"),
            noise_shape,
            seed,
        )

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0.0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = [inputs.shape[i] if s is None else s for i, s in enumerate(self.noise_shape)]
        kept = (torch.rand(shape, device=inputs.device) >= self.rate).to(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }


class ActivityRegularization(_Noise):
    """Identity that adds `l1 * sum|x| + l2 * sum(x^2)` (divided by the batch size, as every
    activity regularizer) to the training loss."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers_mod.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, inputs):
        return inputs

    def get_config(self):
        config = {**super().get_config(), "l1": self.l1, "l2": self.l2}
        config.pop("activity_regularizer", None)
        return config
