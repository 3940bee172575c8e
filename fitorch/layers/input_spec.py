"""`InputSpec`: what a layer accepts as its first argument (rank, dtype, fixed axes, shape).

A layer that sets `self.input_spec` (one spec, or a list with one per input tensor) has every
call's first argument checked before `build` and again after it, as Keras 3 does; a mismatch is
a `ValueError` naming the layer, the input and what differs. A `None` dimension, on either side,
matches anything.
"""

from __future__ import annotations

__all__ = ["InputSpec", "check_input_compatibility"]


class InputSpec:
    """`InputSpec(dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
    allow_last_axis_squeeze=False, name=None, optional=False)`.

    `shape` includes the batch dimension and sets `ndim`; `axes` maps an axis to its required
    size (`{-1: 8}`); `allow_last_axis_squeeze` lets a trailing axis of size 1 on either side
    be ignored in the shape check; `name` is the key of this input in a dict argument;
    `optional` accepts `None` for it.

    Example:
        >>> InputSpec(ndim=3, axes={-1: 4})
        InputSpec(ndim=3, axes={-1: 4})
    """

    def __init__(
        self,
        dtype=None,
        shape=None,
        ndim: int | None = None,
        max_ndim: int | None = None,
        min_ndim: int | None = None,
        axes: dict | None = None,
        allow_last_axis_squeeze: bool = False,
        name: str | None = None,
        optional: bool = False,
    ):
        self.dtype = None if dtype is None else _dtype_name(dtype)
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional
        try:
            self.axes = {int(axis): size for axis, size in (axes or {}).items()}
        except (TypeError, ValueError, AttributeError):
            raise TypeError(
                f"InputSpec: `axes` must be a dict with integer keys; received axes={axes!r}."
            ) from None
        highest = self.ndim if self.ndim else self.max_ndim
        if self.axes and highest is not None and max(self.axes) > highest - 1:
            raise ValueError(
                f"InputSpec: axis {max(self.axes)} is greater than the maximum allowed value "
                f"{highest - 1} for ndim={highest}."
            )

    def __repr__(self) -> str:
        fields = {
            "dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
            "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
        }  # fmt: skip
        return "InputSpec(" + ", ".join(f"{k}={v}" for k, v in fields.items() if v) + ")"

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes,
                "optional": self.optional}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict) -> InputSpec:
        return cls(**config)


def _dtype_name(dtype) -> str:
    from fitorch.ops.dtypes import standardize_dtype  # ops import layers: not at import time

    return standardize_dtype(dtype)


def _flat(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flat(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flat(structure[key])]
    return [structure]


def _by_spec_names(specs: list, inputs: dict) -> list:
    names = [spec.name for spec in specs]
    missing = [name for name in names if name not in inputs]
    if missing:
        raise ValueError(
            f"Missing data for input {missing[0]!r}: the dict argument has keys "
            f"{list(inputs)}; the layer expects the keys {names}."
        )
    return [inputs[name] for name in names]


def check_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """ValueError if `inputs` (a layer call's first argument) does not meet `input_spec`."""
    if not input_spec:
        return
    specs = _flat(input_spec)
    if isinstance(inputs, dict) and all(spec is not None and spec.name for spec in specs):
        inputs = _by_spec_names(specs, inputs)
    tensors = _flat(inputs)
    if len(tensors) != len(specs):
        raise ValueError(
            f"Layer {layer_name!r} expects {len(specs)} input(s), but it received "
            f"{len(tensors)} input tensors."
        )
    for index, (x, spec) in enumerate(zip(tensors, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(
                f"Inputs to a layer should be tensors; got {x!r} (of type "
                f"{type(x).__name__}) as input {index} of layer {layer_name!r}."
            )
        problem = _mismatch(spec, tuple(x.shape), getattr(x, "dtype", None))
        if problem:
            raise ValueError(
                f"Input {index} of layer {layer_name!r} is incompatible with the layer: "
                f"{problem}. Full shape received: {tuple(x.shape)}"
            )


def _mismatch(spec: InputSpec, shape: tuple, dtype) -> str | None:
    """What in (shape, dtype) breaks `spec`, in words; None when it complies."""
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        return f"expected ndim={spec.ndim}, found ndim={ndim}"
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        return f"expected max_ndim={spec.max_ndim}, found ndim={ndim}"
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        return f"expected min_ndim={spec.min_ndim}, found ndim={ndim}"
    if spec.dtype is not None and dtype is not None and _dtype_name(dtype) != spec.dtype:
        return f"expected dtype={spec.dtype}, found dtype={_dtype_name(dtype)}"
    for axis, size in spec.axes.items():
        if size is not None and shape[axis] not in (size, None):
            return f"expected axis {axis} of input shape to have value {size}"
    if spec.shape is not None:
        expected, found = spec.shape, shape
        if spec.allow_last_axis_squeeze:
            found = found[:-1] if found and found[-1] == 1 else found
            expected = expected[:-1] if expected and expected[-1] == 1 else expected
        for want, got in zip(expected, found):
            if want is not None and got is not None and want != got:
                return f"expected shape={spec.shape}, found shape={shape}"
    return None
