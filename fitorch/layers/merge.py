"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot.

Each takes a list of tensors. The element-wise ones broadcast as Keras does: an input of lower
rank gets size-1 axes inserted after the batch axis, then sizes must be equal or 1 on every
axis. The functional forms (`concatenate([a, b])`, `add([a, b])`, ...) build the layer and
call it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch.layers._utils import keras_name
from fitorch.layers.base import Layer
from fitorch.layers.embedding import get_mask, set_mask

__all__ = [
    "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot",
    "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "dot",
]  # fmt: skip


class _Merge(Layer):
    """Base of the merge layers: validates the list of inputs at build time."""

    min_inputs = 2
    max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def _check_list(self, input_shape):
        kind = type(self).__name__
        if (
            not isinstance(input_shape, (list, tuple))
            or not input_shape
            or not isinstance(input_shape[0], (list, tuple))
        ):
            raise ValueError(
                f"{kind} {self.name!r} must be called on a list of tensors; "
                f"got one input of shape {input_shape}."
            )
        n = len(input_shape)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (
                self.min_inputs if self.max_inputs == self.min_inputs else f">= {self.min_inputs}"
            )
            raise ValueError(
                f"{kind} {self.name!r} needs {want} inputs; got {n} "
                f"(shapes {[tuple(s) for s in input_shape]})."
            )

    def build(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        out = shapes[0]
        for shape in shapes[1:]:
            out = _broadcast_shape(out, shape, self, shapes)

    def call(self, inputs):
        return _merged_mask(inputs, self._merge(_align_ranks(list(inputs))))

    def _merge(self, inputs):
        raise NotImplementedError


def _broadcast_shape(a, b, layer, shapes):
    """Keras merge broadcasting of two shapes (batch axis first; lower rank padded at axis 1)."""
    if len(a) < len(b):
        a, b = b, a
    b = b[:1] + (1,) * (len(a) - len(b)) + b[1:]
    out = [None]
    for x, y in zip(a[1:], b[1:]):
        if x is None or y is None:
            out.append(None)
        elif x == 1 or y == 1 or x == y:
            out.append(max(x, y))
        else:
            raise ValueError(
                f"{type(layer).__name__} {layer.name!r}: inputs have incompatible "
                f"shapes {shapes} (sizes must match or be 1 on every axis)."
            )
    return tuple(out)


def _merged_mask(inputs, output):
    """Keras' element-wise merge mask: the OR of the inputs' carried masks, or none unless
    every input carries one."""
    masks = [get_mask(x) for x in inputs]
    if masks and all(m is not None for m in masks):
        mask = masks[0]
        for m in masks[1:]:
            mask = mask | m
        set_mask(output, mask)
    return output


def _concat_mask(inputs, output, axis):
    """Keras' Concatenate mask: inputs without one count as unmasked; masks are joined along
    the time axis, or OR-ed when features are joined."""
    masks = [get_mask(x) for x in inputs]
    if all(m is None for m in masks) or output.ndim < 3:
        return output
    full = [torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if m is None else m.bool()
            for x, m in zip(inputs, masks)]  # fmt: skip
    axis = axis % output.ndim
    if axis == output.ndim - 1:
        mask = full[0]
        for m in full[1:]:
            mask = mask | m
        set_mask(output, mask)
    elif axis == 1:
        set_mask(output, torch.cat(full, dim=1))
    return output


def _align_ranks(inputs):
    top = max(x.ndim for x in inputs)
    out = []
    for x in inputs:
        while x.ndim < top:
            x = x.unsqueeze(1)
        out.append(x)
    return out


class Add(_Merge):
    """Element-wise sum of its inputs."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    max_inputs = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Element-wise product of its inputs.

    With masked inputs (Keras' rule): a masked-out step of one input counts as 1, so the
    product there is that of the other inputs; when every input carries a mask, steps masked
    out in all of them are set to 0 and the output carries the OR of the masks.
    """

    def call(self, inputs):
        masks = _feature_masks(inputs)
        filled = [x if m is None else torch.where(m, x, torch.ones_like(x))
                  for x, m in zip(inputs, masks)]  # fmt: skip
        out = self._merge(_align_ranks(filled))
        if all(m is not None for m in masks):
            keep = masks[0]
            for m in masks[1:]:
                keep = keep | m
            out = torch.where(keep, out, torch.zeros_like(out))
        return _merged_mask(inputs, out)

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Element-wise mean of its inputs: `sum(inputs) / len(inputs)`."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Maximum(_Merge):
    """Element-wise maximum of its inputs (masked steps as in `_masked_fold`)."""

    def call(self, inputs):
        return _merged_mask(inputs, _masked_fold(torch.maximum, inputs))


class Minimum(_Merge):
    """Element-wise minimum of its inputs (masked steps as in `_masked_fold`)."""

    def call(self, inputs):
        return _merged_mask(inputs, _masked_fold(torch.minimum, inputs))


def _feature_masks(inputs):
    """Each input's carried (B, T) mask broadcast to its shape (B, T, ...), or None."""
    masks = []
    for x in inputs:
        m = get_mask(x)
        masks.append(None if m is None else m.bool().unsqueeze(-1).expand(x.shape))
    return masks


def _masked_fold(op, inputs):
    """Fold `op` over the inputs as Keras' Maximum/Minimum do with masks: a masked-out step
    of the next input takes the running result, a masked-out step of the running result takes
    the next input; the running mask is the OR of the masks while every input has one."""
    masks = _feature_masks(inputs)
    aligned = _align_ranks(list(inputs))
    out, out_mask = aligned[0], masks[0]
    for x, m in zip(aligned[1:], masks[1:]):
        if m is not None:
            x = torch.where(m, x, out)
        if out_mask is not None:
            out = torch.where(out_mask, out, x)
        out_mask = out_mask | m if m is not None and out_mask is not None else None
        out = op(out, x)
    return out


class Concatenate(_Merge):
    """Joins its inputs along `axis` (default -1); every other axis must match."""

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        self._check_list(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate {self.name!r}: axis={self.axis} needs inputs of one rank "
                f"containing that axis; got shapes {shapes}."
            )
        axis = self.axis % rank
        for i in range(1, rank):
            sizes = {s[i] for s in shapes if s[i] is not None}
            if i != axis and len(sizes) > 1:
                raise ValueError(
                    f"Concatenate {self.name!r}: inputs must match on every axis but "
                    f"axis={self.axis}; got shapes {shapes}."
                )

    def call(self, inputs):
        return _concat_mask(inputs, torch.cat(list(inputs), dim=self.axis), self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Batched dot product of two inputs over `axes` (per-sample; `normalize` -> cosine).

    For shapes (B, n) and (B, n) with axes=1 the output is (B, 1); in general the output
    holds the remaining axes of the first input, then those of the second.
    """

    max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Dot: axes must be an int or a pair of ints; got {axes!r}.")
            axes = tuple(axes)
        elif not isinstance(axes, int):
            raise ValueError(f"Dot: axes must be an int or a pair of ints; got {axes!r}.")
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes(self, rank_a, rank_b):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return axes[0] % rank_a, axes[1] % rank_b

    def build(self, input_shape):
        self._check_list(input_shape)
        a, b = (tuple(s) for s in input_shape)
        ax_a, ax_b = self._axes(len(a), len(b))
        if (
            ax_a == 0
            or ax_b == 0
            or (a[ax_a] is not None and b[ax_b] is not None and a[ax_a] != b[ax_b])
        ):
            raise ValueError(
                f"Dot {self.name!r}: axes={self.axes} pairs sizes that differ (or the "
                f"batch axis) in input shapes {a} and {b}."
            )

    def call(self, inputs):
        a, b = inputs
        ax_a, ax_b = self._axes(a.ndim, b.ndim)
        if self.normalize:
            a, b = F.normalize(a, dim=ax_a), F.normalize(b, dim=ax_b)
        a = a.movedim(ax_a, -1)  # (B, ...a, k)
        b = b.movedim(ax_b, 1)  # (B, k, ...b)
        rest_a, rest_b = a.shape[1:-1], b.shape[2:]
        out = torch.bmm(
            a.reshape(a.shape[0], -1, a.shape[-1]), b.reshape(b.shape[0], b.shape[1], -1)
        )
        out = out.reshape(a.shape[0], *rest_a, *rest_b)
        return out.unsqueeze(-1) if out.ndim == 1 else out

    def get_config(self):
        axes = list(self.axes) if isinstance(self.axes, tuple) else self.axes
        return {**super().get_config(), "axes": axes, "normalize": self.normalize}


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = keras_name(cls.__name__)
    merge.__doc__ = f"Functional form of `{cls.__name__}`: `{cls.__name__}(**kwargs)(inputs)`."
    return merge


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `Concatenate(axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """Functional form of `Dot`: `Dot(axes, normalize, **kwargs)(inputs)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
