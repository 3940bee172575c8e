"""`EinsumDense`: a dense layer whose product is an einsum equation (Keras 3 semantics).

`EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")` computes
`einsum(equation, inputs, kernel) + bias`. The equation is `[X],[Y]->[Z]`, `...[X],[Y]->...[Z]`
or `[X]...,[Y]->[Z]...`; `output_shape` gives the output without the batch axis (None where it
follows the input). Each kernel axis takes its size from the output axis with the same letter,
else from the input axis; `bias_axes` are output letters, and the bias spans the output from the
first of them on (size 1 on the others), so it broadcasts. The kernel is stored in Keras's
layout; a VarianceScaling initializer (glorot, he, lecun) takes its fans over the kernel's input
and output axes, as Keras.
"""

from __future__ import annotations

import re

import torch

from fitorch import activations
from fitorch import initializers as initializers_mod
from fitorch.layers.base import Layer
from fitorch.layers.weight_arguments import set_weight_arguments, weight_arguments_config

__all__ = ["EinsumDense"]

_FORMS = (  # (pattern on the equation with "..." as "0", where the ellipsis sits)
    (r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
    (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
    (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right"),
)


def _split(equation: str) -> tuple[str, str, str, str | None]:
    """(input spec, kernel spec, output spec, ellipsis side) of `equation`."""
    plain = equation.replace("...", "0")
    for pattern, side in _FORMS:
        found = re.fullmatch(pattern, plain)
        if found:
            return found.group(1), found.group(2), found.group(3), side
    raise ValueError(
        f"EinsumDense: invalid equation {equation!r}; expected the form [X],[Y]->[Z], "
        "...[X],[Y]->...[Z] or [X]...,[Y]->[Z]... (letters only)."
    )


def analyze(equation: str, bias_axes: str | None, input_shape, output_shape):
    """(kernel shape, bias shape or None, full output shape, kernel input axes, kernel output
    axes) for an input of `input_shape` (batch first)."""
    in_spec, kernel_spec, out_spec, side = _split(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    full = [input_shape[0], *([output_shape] if isinstance(output_shape, int) else output_shape)]
    if elided > 0 and side == "left":
        full[1:1] = input_shape[1:elided]
    elif elided > 0:
        full += input_shape[len(input_shape) - elided :]
    offset = elided if side == "left" else 0
    in_axis = {c: i + offset - (len(input_shape) if side == "left" else 0)
               for i, c in enumerate(in_spec)}  # fmt: skip
    out_axis = {c: i + offset for i, c in enumerate(out_spec)}
    for c in in_spec:
        have, want = input_shape[in_axis[c]], full[out_axis[c]] if c in out_axis else None
        if c in out_axis and want is not None and want != have:
            raise ValueError(
                f"EinsumDense: input and output shapes differ at shared dimension {c!r}: "
                f"input {have}, output {want} (equation {equation!r})."
            )
        if c in out_axis:
            full[out_axis[c]] = have
    for c in out_spec:
        if c not in in_spec and c not in kernel_spec:
            raise ValueError(
                f"EinsumDense: output dimension {c!r} is in neither the input spec {in_spec!r} "
                f"nor the kernel spec {kernel_spec!r}."
            )
    kernel, input_axes, output_axes = [], [], []
    for i, c in enumerate(kernel_spec):
        if c in out_axis:
            kernel.append(full[out_axis[c]])
            output_axes.append(i)
        elif c in in_axis:
            kernel.append(input_shape[in_axis[c]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"EinsumDense: kernel dimension {c!r} matches neither the input spec "
                f"{in_spec!r} nor the output spec {out_spec!r}."
            )
    if any(size is None for size in kernel):
        raise ValueError(
            f"EinsumDense: the kernel shape {kernel} needs every dimension known; give it in "
            f"output_shape or the input shape {input_shape}."
        )
    bias = _bias_shape(bias_axes, out_spec, full, offset, elided, side)
    return kernel, bias, full, input_axes, output_axes


def _bias_shape(bias_axes, out_spec: str, full: list, offset: int, elided: int, side):
    if bias_axes is None:
        return None
    unknown = [c for c in bias_axes if c not in out_spec]
    if unknown:
        raise ValueError(
            f"EinsumDense: bias axis {unknown[0]!r} is not in the output spec {out_spec!r}."
        )
    sizes = {c: full[i + offset] for i, c in enumerate(out_spec)}
    first = min(out_spec.find(c) for c in bias_axes)
    shape = [sizes[c] if c in bias_axes else 1 for c in out_spec[first:]]
    return shape + [1] * (elided if elided > 0 and side != "left" else 0)


class EinsumDense(Layer):
    """`activation(einsum(equation, inputs, kernel) + bias)` (see the module docstring).

    Args:
        equation: the einsum equation, inputs first, kernel second.
        output_shape: the output shape without the batch axis (an int for rank 2).
        activation, bias_axes, kernel_* / bias_*: as Dense.

    Example:
        >>> layer = EinsumDense("ab,bc->ac", output_shape=64, bias_axes="c")
        >>> layer(torch.ones(2, 32)).shape
        torch.Size([2, 64])
    """

    def __init__(
        self,
        equation,
        output_shape,
        activation=None,
        bias_axes=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        for key in ("lora_rank", "lora_alpha", "quantization_config", "gptq_unpacked_column_size"):
            if kwargs.pop(key, None) is not None:
                raise NotImplementedError(
                    f"EinsumDense: {key} (LoRA / quantization) is not supported."
                )
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _split(equation)
        self.equation = equation
        self.partial_output_shape = (
            (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        )
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        set_weight_arguments(
            self, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        )  # fmt: skip
        self.full_output_shape = None

    def build(self, input_shape):
        kernel, bias, full, input_axes, output_axes = analyze(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape
        )
        self.full_output_shape = tuple(full)
        init = self.kernel_initializer
        if isinstance(init, initializers_mod.VarianceScaling) and (
            init.input_axes is None or init.output_axes is None
        ):
            init = init.with_axes(input_axes, output_axes)
        self.add_weight("kernel", tuple(kernel), init, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint)  # fmt: skip
        if bias is not None:
            self.add_weight(
                "bias", tuple(bias), self.bias_initializer, regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )  # fmt: skip

    def call(self, inputs):
        x = inputs if inputs.is_floating_point() else inputs.to(self.kernel.dtype)
        y = torch.einsum(self.equation, x, self.kernel)
        if self.bias_axes is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self):
        return {
            **super().get_config(),
            "output_shape": list(self.partial_output_shape),
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            **weight_arguments_config(self),
        }
