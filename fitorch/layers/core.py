"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Lambda."""

from __future__ import annotations

import base64
import inspect
import marshal
import math
import types

import torch
import torch.nn.functional as F

from fitorch import activations
from fitorch.layers.base import Layer
from fitorch.layers.weight_arguments import set_weight_arguments, weight_arguments_config

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Lambda"]

# MKL's float32 GEMM multiplies by a row-major (in, units) kernel with 2 <= units <= 11 on a
# slow path (2-3x the forward time, 4-12x the kernel gradient's, on AVX2; on AVX-512 the
# forward is even and the kernel gradient 1.7x; bench/README.md, "Matrix multiplies on this
# CPU" and "AVX-512 re-measure"); nn.Linear's (units, in) layout does not hit it.
_MKL_NARROW_UNITS = range(2, 12)


def _transposed_layout_is_faster(kernel: torch.Tensor) -> bool:
    """Whether `inputs @ kernel` runs faster as F.linear on a (units, in) copy: float32 CPU
    kernels with 2..11 units (the copy is at most 11 * in numbers)."""
    return (
        kernel.shape[1] in _MKL_NARROW_UNITS
        and kernel.dtype == torch.float32
        and kernel.device.type == "cpu"
    )


class Dense(Layer):
    """`output = activation(inputs @ kernel + bias)`; kernel (in, units) as in Keras.

    Applies to the last axis of inputs of any rank >= 2.
    """

    supports_masking = True

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer; got {units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        set_weight_arguments(
            self, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )  # fmt: skip

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"Dense {self.name!r}: the last input dimension must be known; got {input_shape}."
            )
        self.add_weight(
            "kernel",
            (in_dim, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        kernel = self.kernel  # one lookup: nn.Module resolves parameters through __getattr__
        if inputs.shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"Dense {self.name!r} expects inputs with last dimension {kernel.shape[0]}; "
                f"got shape {tuple(inputs.shape)}."
            )
        if inputs.dtype != kernel.dtype and inputs.is_floating_point() is False:
            inputs = inputs.to(kernel.dtype)
        if _transposed_layout_is_faster(kernel):
            out = F.linear(inputs, kernel.t().contiguous(), self.bias if self.use_bias else None)
        elif self.use_bias and inputs.ndim == 2:
            out = torch.addmm(self.bias, inputs, kernel)
        else:
            out = inputs @ kernel
            if self.use_bias:
                out = out + self.bias
        return self.activation(out) if self.activation is not activations.linear else out

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_arguments_config(self),
        }


class Activation(Layer):
    """Applies an activation function by name or callable."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs in training and scales the rest by 1/(1-rate).

    `noise_shape` broadcasts one mask over axes of size 1 (None entries take the input's).
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be in [0, 1]; got {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self.built = True

    def call(self, inputs, training=None):
        training = self.training if training is None else training
        if not training or self.rate == 0.0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, True)
        shape = [inputs.shape[i] if s is None else s for i, s in enumerate(self.noise_shape)]
        keep = torch.rand(shape, device=inputs.device) >= self.rate
        return inputs * keep.to(inputs.dtype) / (1.0 - self.rate)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }


class Flatten(Layer):
    """Flattens every axis but the batch axis: (B, d1, d2, ...) -> (B, d1*d2*...)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.built = True

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes every sample to `target_shape` (batch axis kept; one -1 allowed)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)
        if sum(s == -1 for s in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape; got {self.target_shape}.")
        self.built = True

    def call(self, inputs):
        known = math.prod(s for s in self.target_shape if s != -1)
        size = math.prod(inputs.shape[1:])
        if (-1 not in self.target_shape and known != size) or (known == 0 or size % known):
            raise ValueError(
                f"Reshape {self.name!r}: cannot reshape a sample of shape "
                f"{tuple(inputs.shape[1:])} "
                f"({size} values) into {self.target_shape}."
            )
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Lambda(Layer):
    """Wraps an arbitrary function `function(inputs, **arguments)` as a layer.

    As in Keras, a function with a `mask` or `training` parameter receives the call's mask /
    training flag, and `mask=` (a mask, or `fn(inputs, mask) -> mask`) gives the output's
    mask (the layer then passes masks on). Saved with the function's bytecode when it is a
    lambda; loading that needs `safe_mode=False` (running stored bytecode is running code
    from the file).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable; got {function!r}.")
        self.function = function
        self.output_shape_arg = output_shape
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):  # some builtins have no signature
            params = {}
        self._passes = [name for name in ("mask", "training") if name in params]
        self.built = True

    def call(self, inputs, mask=None, training=None):
        given = {"mask": mask, "training": training}
        return self.function(inputs, **self.arguments, **{k: given[k] for k in self._passes})

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def get_config(self):
        config = {**super().get_config(), "arguments": self.arguments}
        fn = self.function
        if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
            code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
            config["function"] = {"class_name": "__lambda__", "config": {"code": code}}
        else:
            from fitorch.registry import get_registered_name

            config["function"] = {"class_name": "function", "config": get_registered_name(fn)}
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild; a lambda's bytecode is refused unless safe mode is off (see saving)."""
        from fitorch.serialization import deserialize_function

        config = dict(config)
        where = f"the function of Lambda layer {config.get('name')!r}"
        function = config.get("function")
        config["function"] = deserialize_function(function, None, custom_objects, where)
        for key in ("output_shape", "mask"):  # Keras records; fitorch infers shapes itself
            if isinstance(config.get(key), dict):
                config.pop(key)
        return cls(**config)
