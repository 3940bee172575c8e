"""Normalization: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization.

All use the biased variance `mean((x - mean)^2)` and `y = (x - mean) / sqrt(var + epsilon) *
gamma + beta` (Keras' default epsilon 1e-3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers.base import Layer
from fitorch.layers.embedding import get_mask

__all__ = [
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "RMSNormalization",
]  # fmt: skip


def _axes(axis, rank: int, layer) -> list[int]:
    """`axis` (int or list) as sorted non-negative axes of a rank-`rank` input (never batch)."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        if not -rank <= a < rank or a % rank == 0:
            raise ValueError(
                f"{type(layer).__name__} {layer.name!r}: axis={axis} is out of bounds (or the "
                f"batch axis) for inputs of rank {rank}."
            )
        out.append(a % rank)
    return sorted(out)


def _param_shape(axes, input_shape, layer):
    shape = []
    for a in axes:
        if input_shape[a] is None:
            raise ValueError(
                f"{type(layer).__name__} {layer.name!r}: the dimension at axis {a} must be known; "
                f"got input shape {tuple(input_shape)}."
            )
        shape.append(input_shape[a])
    return tuple(shape)


def _broadcast(w: torch.Tensor, axes, rank: int) -> torch.Tensor:
    """Reshape a weight over `axes` so it broadcasts against a rank-`rank` input."""
    shape = [1] * rank
    for a, n in zip(axes, w.shape):
        shape[a] = n
    return w.reshape(shape)


def _masked_moments(inputs, mask, reduce):
    """Mean and biased variance over `reduce` counting only the unmasked steps (Keras)."""
    w = mask.to(inputs.dtype).reshape(*mask.shape, *([1] * (inputs.ndim - mask.ndim)))
    count = w.expand_as(inputs).sum(dim=reduce) + 1e-7
    mean = (w * inputs).sum(dim=reduce) / count
    shape = [1 if a in reduce else n for a, n in enumerate(inputs.shape)]
    var = (w * (w * inputs - mean.reshape(shape)).square()).sum(dim=reduce) / count
    return mean, var


class _Norm(Layer):
    """Shared arguments: gamma/beta with their initializers, regularizers and constraints."""

    supports_masking = True

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers_mod.get(beta_initializer)
        self.gamma_initializer = initializers_mod.get(gamma_initializer)
        self.beta_regularizer = regularizers_mod.get(beta_regularizer)
        self.gamma_regularizer = regularizers_mod.get(gamma_regularizer)
        self.beta_constraint = constraints_mod.get(beta_constraint)
        self.gamma_constraint = constraints_mod.get(gamma_constraint)

    def _add_affine(self, shape):
        if self.scale:
            self.add_weight(
                "gamma",
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        if self.center:
            self.add_weight(
                "beta",
                shape,
                self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )

    def _gamma_beta(self):
        return (self.gamma if self.scale else None), (self.beta if self.center else None)

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers_mod.serialize(self.beta_initializer),
            "gamma_initializer": initializers_mod.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers_mod.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers_mod.serialize(self.gamma_regularizer),
            "beta_constraint": constraints_mod.serialize(self.beta_constraint),
            "gamma_constraint": constraints_mod.serialize(self.gamma_constraint),
        }


class BatchNormalization(_Norm):
    """Normalizes with batch statistics in training and moving statistics in inference.

    Training: mean/var over every axis but `axis`; then
    `moving = moving * momentum + batch_stat * (1 - momentum)` (Keras convention; torch's
    `momentum` is 1 - this). A layer with `trainable=False` always runs in inference mode
    and never updates its moving statistics (Keras 2.x/3 behaviour, for fine-tuning).
    Weights (Keras order): gamma, beta, moving_mean, moving_variance.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        for legacy in ("fused", "renorm", "virtual_batch_size", "adjustment"):
            if kwargs.pop(legacy, None) not in (None, False):
                raise ValueError(f"BatchNormalization: {legacy}= is not supported.")
        kwargs.pop("renorm_clipping", None)
        kwargs.pop("renorm_momentum", None)
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            beta_constraint,
            gamma_constraint,
            **kwargs,
        )
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1]; got {momentum!r}.")
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers_mod.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers_mod.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)

    def build(self, input_shape):
        rank = len(input_shape)
        self._norm_axes = _axes(self.axis, rank, self)
        shape = _param_shape(self._norm_axes, input_shape, self)
        self._add_affine(shape)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self._rank = rank

    def call(self, inputs, training=None, mask=None):
        training = self.training if training is None else bool(training)
        mask = get_mask(inputs) if mask is None else mask
        if inputs.ndim != self._rank:
            raise ValueError(
                f"BatchNormalization {self.name!r} was built for inputs of rank {self._rank}; "
                f"got shape {tuple(inputs.shape)}."
            )
        gamma, beta = self._gamma_beta()
        axes, rank = self._norm_axes, inputs.ndim
        channel_axis = axes == [1] or axes == [rank - 1]
        if training and self.trainable:
            n = inputs.numel() // max(inputs.shape[axes[0]], 1) if len(axes) == 1 else 0
            if mask is None and channel_axis and n > 1:
                return self._fused_training(inputs, gamma, beta, n)
            reduce = [a for a in range(rank) if a not in axes]
            if mask is None:
                var, mean = torch.var_mean(inputs, dim=reduce, unbiased=False)
            else:
                mean, var = _masked_moments(inputs, mask, reduce)
            with torch.no_grad():
                m = self.momentum
                self.moving_mean.mul_(m).add_(mean.detach().to(self.moving_mean.dtype), alpha=1 - m)
                self.moving_variance.mul_(m).add_(
                    var.detach().to(self.moving_variance.dtype), alpha=1 - m
                )
        else:
            mean, var = self.moving_mean, self.moving_variance
            if channel_axis:
                # Fused inference kernel; a channels_last input goes in as a permuted view.
                x = inputs if axes == [1] else inputs.movedim(-1, 1)
                y = F.batch_norm(x, mean, var, gamma, beta, False, 0.0, self.epsilon)
                return y if axes == [1] else y.movedim(1, -1)
        inv = torch.rsqrt(_broadcast(var, axes, rank) + self.epsilon)
        if gamma is not None:
            inv = inv * _broadcast(gamma, axes, rank)
        y = (inputs - _broadcast(mean, axes, rank)) * inv
        return y + _broadcast(beta, axes, rank) if beta is not None else y

    def _fused_training(self, inputs, gamma, beta, n):
        """torch's fused kernel, then the moving variance moved from torch's unbiased batch
        variance to Keras' biased one: `new -= (new - momentum * old) / n`."""
        m, last = self.momentum, inputs.ndim - 1
        x = inputs if self._norm_axes == [1] else inputs.movedim(-1, 1)  # channels_last view
        with torch.no_grad():
            running_var = self.moving_variance.clone()  # torch updates this copy in place
        y = F.batch_norm(x, self.moving_mean, running_var, gamma, beta, True, 1.0 - m, self.epsilon)
        with torch.no_grad():
            old = self.moving_variance
            old.copy_(running_var - (running_var - m * old) / n)
        return y if self._norm_axes == [1] or last == 1 else y.movedim(1, -1)

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "moving_mean_initializer": initializers_mod.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers_mod.serialize(
                self.moving_variance_initializer
            ),
            "synchronized": self.synchronized,
        }


class LayerNormalization(_Norm):
    """Normalizes each sample over `axis` (default -1): mean/var of that sample's values.

    `rms_scaling=True` (deprecated in Keras 3, kept for its saved models): `y = x /
    sqrt(var(x) + epsilon) * gamma`, no centering and no beta, exactly as Keras computes it.
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        rms_scaling=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            beta_constraint,
            gamma_constraint,
            **kwargs,
        )
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape):
        self._norm_axes = _axes(self.axis, len(input_shape), self)
        shape = _param_shape(self._norm_axes, input_shape, self)
        if self.rms_scaling:
            self.add_weight(
                "gamma",
                shape,
                self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        else:
            self._add_affine(shape)

    def _gamma_beta(self):
        if self.rms_scaling:
            return self.gamma, None
        return super()._gamma_beta()

    def call(self, inputs):
        gamma, beta = self._gamma_beta()
        rank, axes = inputs.ndim, self._norm_axes
        if self.rms_scaling:
            var = inputs.var(dim=axes, unbiased=False, keepdim=True)
            y = inputs * torch.rsqrt(var + self.epsilon)
            return y * _broadcast(gamma, axes, rank) if gamma is not None else y
        if axes == list(range(rank - len(axes), rank)):
            return F.layer_norm(inputs, inputs.shape[rank - len(axes) :], gamma, beta, self.epsilon)
        var, mean = torch.var_mean(inputs, dim=axes, unbiased=False, keepdim=True)
        y = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            y = y * _broadcast(gamma, axes, rank)
        return y + _broadcast(beta, axes, rank) if beta is not None else y

    def get_config(self):
        return {**super().get_config(), "rms_scaling": self.rms_scaling}


class GroupNormalization(_Norm):
    """Splits the channels (`axis`) into `groups` and normalizes each group of each sample
    over its channels and every spatial position (`groups=-1`: one group per channel)."""

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        if not isinstance(axis, int):
            raise ValueError(f"GroupNormalization: axis must be an int; got {axis!r}.")
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            beta_constraint,
            gamma_constraint,
            **kwargs,
        )
        self.groups = int(groups)

    def build(self, input_shape):
        (axis,) = _axes(self.axis, len(input_shape), self)
        channels = _param_shape([axis], input_shape, self)[0]
        groups = channels if self.groups == -1 else self.groups
        if groups <= 0 or channels % groups:
            raise ValueError(
                f"GroupNormalization {self.name!r}: the {channels} channels of input shape "
                f"{tuple(input_shape)} must be divisible by groups={self.groups}."
            )
        self._channel_axis, self._groups = axis, groups
        self._add_affine((channels,))

    def call(self, inputs):
        gamma, beta = self._gamma_beta()
        x = inputs.movedim(self._channel_axis, 1)
        if x.ndim == 2:
            x = x.unsqueeze(-1)
        y = F.group_norm(x, self._groups, gamma, beta, self.epsilon)
        return y.reshape(inputs.movedim(self._channel_axis, 1).shape).movedim(1, self._channel_axis)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


class UnitNormalization(Layer):
    """`y = x / sqrt(max(sum(x^2, axis), 1e-12))`: each sample scaled to unit L2 norm."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)

    def build(self, input_shape):
        self._norm_axes = _axes(self.axis, len(input_shape), self)

    def call(self, inputs):
        squares = inputs.square().sum(dim=self._norm_axes, keepdim=True)
        return inputs * torch.rsqrt(squares.clamp(min=1e-12))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """`y = x / sqrt(mean(x^2, axis) + epsilon) * scale` with a learned `scale` over `axis`."""

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        self._norm_axes = _axes(self.axis, len(input_shape), self)
        self.add_weight("scale", _param_shape(self._norm_axes, input_shape, self), "ones")

    def call(self, inputs):
        axes, rank = self._norm_axes, inputs.ndim
        if axes == list(range(rank - len(axes), rank)):
            return F.rms_norm(inputs, inputs.shape[rank - len(axes) :], self.scale, self.epsilon)
        rrms = torch.rsqrt(inputs.square().mean(dim=axes, keepdim=True) + self.epsilon)
        return inputs * rrms * _broadcast(self.scale, axes, rank)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}
