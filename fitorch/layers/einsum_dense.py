"""`EinsumDense`: a dense layer written as an einsum, `y = einsum(equation, x, kernel) + bias`.

The equation names the input, kernel and output axes (`"abc,cd->abd"`, with `...` for
leading or trailing axes kept as they are); `output_shape` gives the output sizes without
the batch axis (None where the input decides). As in Keras 3, the kernel has one axis per
kernel letter, sized from the output (a letter the output has) or else from the input; the
bias covers the output axes from the first letter of `bias_axes` on, size 1 on the others.
"""

from __future__ import annotations

import math
import re

import torch

from fitorch import activations
from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch.layers.base import Layer

__all__ = ["EinsumDense"]

# (pattern of the equation with "..." written "0", whether the ellipsis leads)
_FORMS = (
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", False),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", True),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", False),
)


def einsum_shapes(equation: str, bias_axes, input_shape, output_shape):
    """(kernel shape, bias shape or None, full output shape) of an EinsumDense (Keras' rule)."""
    plain = equation.replace("...", "0")
    found = [(m, leading) for p, leading in _FORMS if (m := re.match(p, plain))]
    if not found:
        raise ValueError(f"EinsumDense: invalid equation {equation!r}; it must be "
                         "X,Y->Z, ...X,Y->...Z or X...,Y->Z... .")  # fmt: skip
    match, leading = found[0]
    x_spec, w_spec, y_spec = match.groups()
    input_shape = list(input_shape)
    elided = len(input_shape) - len(x_spec)
    out = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    out.insert(0, input_shape[0])
    if elided > 0 and leading:
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out += input_shape[len(input_shape) - elided :]
    shift = elided if leading else 0
    x_at = {d: i + shift - (len(input_shape) if leading else 0) for i, d in enumerate(x_spec)}
    y_at = {d: i + shift for i, d in enumerate(y_spec)}
    for d in x_spec:
        if d in y_at and out[y_at[d]] is not None and out[y_at[d]] != input_shape[x_at[d]]:
            raise ValueError(f"EinsumDense {equation!r}: input size {input_shape[x_at[d]]} and "
                             f"output size {out[y_at[d]]} differ on axis {d!r}.")  # fmt: skip
    missing = [d for d in w_spec if d not in x_at and d not in y_at]
    missing += [d for d in y_spec if d not in x_spec and d not in w_spec]
    if missing:
        raise ValueError(f"EinsumDense {equation!r}: axis {missing[0]!r} has no size (it must "
                         "appear in the input or the output).")  # fmt: skip
    kernel = [out[y_at[d]] if d in y_at else input_shape[x_at[d]] for d in w_spec]
    if not bias_axes:
        return kernel, None, out
    unknown = [c for c in bias_axes if c not in y_spec]
    if unknown:
        raise ValueError(f"EinsumDense: bias axis {unknown[0]!r} is not an output axis of "
                         f"{equation!r}.")  # fmt: skip
    tail = y_spec[min(y_spec.find(c) for c in bias_axes) :]
    bias = [out[y_at[c]] if c in bias_axes else 1 for c in tail]
    return kernel, bias + ([1] * max(elided, 0) if not leading else []), out


class EinsumDense(Layer):
    """`einsum(equation, inputs, kernel) (+ bias)`, then `activation` (see the module).

    Args:
        equation: the einsum equation, input first then kernel.
        output_shape: the output sizes without the batch axis (an int for one axis).
        activation: applied to the output (default: none).
        bias_axes: the output axes the bias spans (letters), or None for no bias.
        kernel_initializer / bias_initializer / *_regularizer / *_constraint: as in Dense.
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, **kwargs):  # fmt: skip
        kwargs.pop("quantization_config", None)
        kwargs.pop("gptq_unpacked_column_size", None)
        super().__init__(**kwargs)
        if lora_rank:
            raise ValueError("EinsumDense: lora_rank is not supported.")
        self.equation = equation
        self.partial_output_shape = (
            (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        )
        self.activation = activations.get(activation)
        self.bias_axes = bias_axes
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)

    def build(self, input_shape):
        kernel, bias, _ = einsum_shapes(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        self.add_weight("kernel", kernel, self._kernel_init(kernel),
                        regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint)  # fmt: skip
        if bias is not None:
            self.add_weight("bias", bias, self.bias_initializer,
                            regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint)  # fmt: skip

    def _kernel_init(self, kernel_shape):
        """Keras scales a variance-scaling kernel by the kernel's input and output axes (the
        input letters, and the output letters): draw it as (fan_in, fan_out), then reshape
        (its entries are i.i.d., so any layout of them has the same distribution)."""
        init = self.kernel_initializer
        if not isinstance(init, initializers_mod.VarianceScaling):
            return init
        w_spec = re.match(r"[^,]*,([a-zA-Z]+)->", self.equation).group(1)
        y_spec = self.equation.split("->")[1]
        fan_out = math.prod(n for d, n in zip(w_spec, kernel_shape) if d in y_spec)
        fan_in = math.prod(kernel_shape) // max(fan_out, 1)

        def draw(shape, dtype=torch.float32):
            return init((fan_in, fan_out), dtype=dtype).reshape(shape)

        return draw

    def call(self, inputs):
        out = torch.einsum(self.equation, inputs, self.kernel)
        if self.bias_axes:
            out = out + self.bias
        return self.activation(out)

    def compute_output_shape(self, input_shape):
        return tuple(einsum_shapes(self.equation, None, input_shape, self.partial_output_shape)[2])

    def get_config(self):
        return {
            **super().get_config(),
            "equation": self.equation,
            "output_shape": list(self.partial_output_shape),
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
            "bias_initializer": initializers_mod.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
        }
