"""`InputSpec`: the rank, dtype and sizes a layer accepts, checked at every call (Keras 3).

A layer that sets `self.input_spec = InputSpec(ndim=3, axes={-1: 8})` (or a list of specs,
one per input) gets a `ValueError` naming the layer, the input and the rule it breaks when
called on anything else (a tensor or a functional graph's symbolic tensor). `None` in a
spec's `shape` matches any size; `allow_last_axis_squeeze` lets a trailing size-1 axis be
present or absent.
"""

from __future__ import annotations

import torch

from fitorch import tree

__all__ = ["InputSpec", "assert_input_compatibility"]


def _dtype_name(dtype) -> str | None:
    if dtype is None:
        return None
    return str(dtype).replace("torch.", "") if isinstance(dtype, torch.dtype) else str(dtype)


class InputSpec:
    """What one input of a layer must look like (every argument optional).

    Args:
        dtype: the dtype (a name such as "float32", or a torch dtype).
        shape: the full shape, batch axis included (`None` = any size); sets `ndim`.
        ndim / max_ndim / min_ndim: the rank, or its bounds.
        axes: `{axis: size}` for axes whose size is fixed (negative axes count from the end).
        allow_last_axis_squeeze: accept a trailing size-1 axis more or less than `shape`.
        name: the key of this input when inputs come as a dict.
        optional: whether the input may be None.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):  # fmt: skip
        self.dtype = _dtype_name(dtype)
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name, self.optional = name, optional
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (ValueError, TypeError, AttributeError):
            msg = f"InputSpec: axes must be a dict with integer keys; got {axes!r}."
            raise TypeError(msg) from None
        top = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and top is not None and max(self.axes) > top - 1:
            raise ValueError(f"InputSpec: axis {max(self.axes)} is beyond rank {top}.")

    def __repr__(self) -> str:
        fields = ("dtype", "shape", "ndim", "max_ndim", "min_ndim", "axes")
        shown = [f"{f}={getattr(self, f)}" for f in fields if getattr(self, f)]
        return f"InputSpec({', '.join(shown)})"

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def assert_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """Raise a ValueError when `inputs` (a tensor, or one per spec) break `input_spec`."""
    if not input_spec:
        return
    specs = tree.flatten(input_spec)
    if isinstance(inputs, dict) and all(spec.name for spec in specs):
        missing = [spec.name for spec in specs if spec.name not in inputs]
        if missing:
            raise ValueError(f"Layer {layer_name!r}: no input named {missing[0]!r}; "
                             f"got keys {list(inputs)}.")  # fmt: skip
        inputs = [inputs[spec.name] for spec in specs]
    values = tree.flatten(inputs)
    if len(values) != len(specs):
        raise ValueError(
            f"Layer {layer_name!r} expects {len(specs)} input(s); it received {len(values)}."
        )
    for index, (x, spec) in enumerate(zip(values, specs)):
        if spec is not None and not (x is None and spec.optional):
            _check_one(spec, x, f"Input {index} of layer {layer_name!r}")


def _check_one(spec: InputSpec, x, where: str) -> None:
    if not hasattr(x, "shape"):
        raise ValueError(f"{where} must be a tensor; got {type(x).__name__} {x!r}.")
    shape = tuple(None if s is None else int(s) for s in x.shape)
    rank = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and rank != spec.ndim:
        _fail(where, f"expected ndim={spec.ndim}, found ndim={rank}", shape)
    if spec.max_ndim is not None and rank > spec.max_ndim:
        _fail(where, f"expected max_ndim={spec.max_ndim}, found ndim={rank}", shape)
    if spec.min_ndim is not None and rank < spec.min_ndim:
        _fail(where, f"expected min_ndim={spec.min_ndim}, found ndim={rank}", shape)
    if spec.dtype is not None and _dtype_name(x.dtype) != spec.dtype:
        _fail(where, f"expected dtype={spec.dtype}, found dtype={_dtype_name(x.dtype)}", shape)
    for axis, size in spec.axes.items():
        if size is not None and shape[axis] not in (size, None):
            _fail(where, f"expected axis {axis} of input shape to have value {size}", shape)
    if spec.shape is not None:
        want, got = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            want = want[:-1] if want and want[-1] == 1 else want
            got = got[:-1] if got and got[-1] == 1 else got
        if any(w is not None and g is not None and w != g for w, g in zip(want, got)):
            _fail(where, f"expected shape={spec.shape}", shape)


def _fail(where: str, rule: str, shape) -> None:
    raise ValueError(f"{where} is incompatible with the layer: {rule}; received shape {shape}.")
