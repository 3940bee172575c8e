"""The Keras 2 backend module `K`, as thin torch calls.

Custom losses and metrics written for Keras 2 run unchanged:

    from fitorch import backend as K

    def my_mse(y_true, y_pred):
        return K.mean(K.square(y_pred - y_true), axis=-1)

Every function accepts torch tensors, NumPy arrays and Python numbers and returns a torch
tensor (NumPy and Python inputs become tensors of `floatx()` when they are floating point).
Signatures and semantics are Keras 2's (`axis=None, keepdims=False`, `std`/`var` are the
population statistics, `sqrt` clips negatives to 0, `round` rounds half to even).
Nothing here synchronizes with the device: no `.item()`, no Python branch on tensor values.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from fitorch import ops

__all__ = [
    "epsilon",
    "set_epsilon",
    "floatx",
    "set_floatx",
    "image_data_format",
    "is_tensor",
    "mean",
    "sum",
    "max",
    "min",
    "prod",
    "std",
    "var",
    "any",
    "all",
    "cumsum",
    "cumprod",
    "square",
    "sqrt",
    "abs",
    "exp",
    "log",
    "pow",
    "clip",
    "maximum",
    "minimum",
    "round",
    "sign",
    "softplus",
    "softsign",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "relu",
    "elu",
    "tanh",
    "logsumexp",
    "cos",
    "sin",
    "cast",
    "dtype",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "argmax",
    "argmin",
    "l2_normalize",
    "flatten",
    "batch_flatten",
    "reshape",
    "concatenate",
    "stack",
    "expand_dims",
    "squeeze",
    "tile",
    "permute_dimensions",
    "transpose",
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "eye",
    "shape",
    "int_shape",
    "ndim",
    "count_params",
    "dot",
    "batch_dot",
    "one_hot",
    "gather",
    "switch",
    "random_normal",
    "random_uniform",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "ctc_batch_cost",
    "set_image_data_format",
    "backend",
    "clear_session",
    "is_keras_tensor",
    "cast_to_floatx",
    "repeat_elements",
    "get_value",
    "set_value",
    "batch_get_value",
    "batch_set_value",
    "variable",
    "constant",
    "eval",
    "stop_gradient",
]

_EPSILON = 1e-7
_FLOATX = "float32"

_builtin_max = max


# --------------------------------------------------------------------------------- config
def epsilon() -> float:
    """The fuzz factor used in numeric expressions (default 1e-7); losses read it per call."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by `epsilon()` (losses clipping with it follow)."""
    global _EPSILON
    _EPSILON = float(value)


def floatx() -> str:
    """The default float type as a string, `"float32"` unless `set_floatx` changed it."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: one of `"float16"`, `"bfloat16"`, `"float32"`, `"float64"`."""
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(
            "Unknown floatx type: expected one of 'float16', 'bfloat16', 'float32', "
            f"'float64'; received {value!r}."
        )
    _FLOATX = value


_IMAGE_DATA_FORMAT = "channels_last"


def image_data_format() -> str:
    """The image data format, `"channels_last"` unless `set_image_data_format` changed it."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the value `image_data_format()` returns: `"channels_last"` or `"channels_first"`."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            "set_image_data_format: expected 'channels_last' or 'channels_first'; received "
            f"{data_format!r}."
        )
    _IMAGE_DATA_FORMAT = data_format


def backend() -> str:
    """The name of the backend: `"torch"`."""
    return "torch"


def clear_session() -> None:
    """Keras' `clear_session`: the default-name counters start over (the next unnamed Dense
    is `dense` again) and garbage is collected; fitorch keeps no global graph."""
    from fitorch.utils.naming import reset_names

    reset_names()
    gc.collect()


def cast_to_floatx(x) -> np.ndarray:
    """`x` as a NumPy array of `floatx()` (a tensor is read back to the host)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=_FLOATX if _FLOATX != "bfloat16" else "float32")


def to_torch_dtype(dtype: Any) -> torch.dtype:
    """A torch dtype from a string (`"float32"`), a NumPy dtype or a torch dtype."""
    if dtype is None:
        dtype = _FLOATX
    if isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    name = {"float": "float32", "int": "int64", "bool": "bool", "double": "float64"}.get(name, name)
    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise ValueError(f"Unknown dtype {dtype!r}; expected e.g. 'float32', 'int64', 'bool'.")
    return found


def _t(x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """`x` as a tensor: tensors pass through; NumPy/Python floats become `floatx()`.

    With `like`, a non-tensor `x` is created on `like`'s device (and, when it is a Python
    number, with `like`'s dtype, so `K.maximum(t, 0.)` keeps `t`'s dtype).
    """
    if isinstance(x, torch.Tensor):
        return x
    if is_keras_tensor(x):
        return _symbolic_value(x)
    device = like.device if like is not None else None
    if like is not None and isinstance(x, (int, float, bool)) and not isinstance(x, np.generic):
        return torch.as_tensor(x, dtype=like.dtype, device=device)
    out = torch.as_tensor(np.asarray(x), device=device)
    if out.is_floating_point():
        out = out.to(to_torch_dtype(_FLOATX))
    return out


def is_keras_tensor(x) -> bool:
    """Whether `x` is a functional-API KerasTensor (`Input(...)` or a layer's output on one),
    as Keras's `K.is_keras_tensor`; recognised by its attributes (no import of layers)."""
    return hasattr(x, "__torch_function__") and hasattr(x, "node")


def _symbolic_value(x) -> torch.Tensor:
    """A functional-API KerasTensor inside a model run -> the value the run bound to it."""
    from fitorch.layers.input import KerasTensor, _executing, value_of

    if not isinstance(x, KerasTensor):
        raise TypeError(f"Cannot use an object of type {type(x).__name__} as a tensor.")
    if not _executing():
        raise TypeError(
            f"Backend functions compute on values; got the symbolic {x}. Use them inside a "
            "layer's call (e.g. a Lambda layer), a loss or a metric."
        )
    return value_of(x)


def is_tensor(x: Any) -> bool:
    """True for a torch tensor."""
    return isinstance(x, torch.Tensor)


def _axes(axis, ndim: int):
    """Keras axis (None, int, list or tuple) -> a tuple of dims, or None for all."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis)
    return (int(axis),)


def _reduce(fn, x, axis, keepdims: bool):
    dims = _axes(axis, x.ndim)
    if dims is None:
        out = fn(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return fn(x, dim=dims, keepdim=keepdims)


def _floating(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() or x.is_complex() else x.to(to_torch_dtype(_FLOATX))


# ----------------------------------------------------------------------------- reductions
def mean(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """Mean over `axis` (None: all); bool and int tensors are averaged as `floatx()`."""
    return ops.mean(_t(x), axis, keepdims)


def sum(x, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001 (Keras name)
    """Sum over `axis` (None: all)."""
    return _reduce(torch.sum, _t(x), axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Maximum over `axis` (None: all)."""
    return ops.max(_t(x), axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Minimum over `axis` (None: all)."""
    return ops.min(_t(x), axis, keepdims)


def prod(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """Product over `axis` (None: all)."""
    return ops.prod(_t(x), axis, keepdims)


def var(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """Population variance over `axis`: mean((x - mean(x))**2)."""
    return ops.var(_t(x), axis, keepdims)


def std(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """Population standard deviation over `axis`: sqrt(var(x))."""
    return ops.std(_t(x), axis, keepdims)


def any(x, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Logical OR over `axis` (None: all); returns a bool tensor."""
    return ops.any(_t(x), axis, keepdims)


def all(x, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A001
    """Logical AND over `axis` (None: all); returns a bool tensor."""
    return ops.all(_t(x), axis, keepdims)


def cumsum(x, axis: int = 0) -> torch.Tensor:
    """Cumulative sum along `axis`."""
    return ops.cumsum(_t(x), axis)


def cumprod(x, axis: int = 0) -> torch.Tensor:
    """Cumulative product along `axis`."""
    return ops.cumprod(_t(x), axis)


def argmax(x, axis: int = -1) -> torch.Tensor:
    """Index of the maximum along `axis` (int64)."""
    return torch.argmax(_t(x), dim=axis)


def argmin(x, axis: int = -1) -> torch.Tensor:
    """Index of the minimum along `axis` (int64)."""
    return torch.argmin(_t(x), dim=axis)


# ----------------------------------------------------------------------------- elementwise
def square(x) -> torch.Tensor:
    """x ** 2."""
    return ops.square(_t(x))


def sqrt(x) -> torch.Tensor:
    """sqrt(max(x, 0)): negatives are clipped to 0 first, as Keras 2."""
    return torch.sqrt(torch.clamp(_floating(_t(x)), min=0.0))


def abs(x) -> torch.Tensor:  # noqa: A001
    """|x|."""
    return ops.abs(_t(x))


def exp(x) -> torch.Tensor:
    """e ** x."""
    return ops.exp(_t(x))


def log(x) -> torch.Tensor:
    """Natural logarithm."""
    return ops.log(_t(x))


def pow(x, a) -> torch.Tensor:  # noqa: A001
    """x ** a."""
    x = _t(x)
    return torch.pow(x, a if isinstance(a, (int, float)) else _t(a, like=x))


def clip(x, min_value=None, max_value=None) -> torch.Tensor:
    """Clamp `x` to [min_value, max_value]; a None bound is open (Keras 2: max >= min)."""
    x = _t(x)
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)):
        max_value = _builtin_max(max_value, min_value)
    if isinstance(min_value, torch.Tensor) or isinstance(max_value, torch.Tensor):
        lo = None if min_value is None else _t(min_value, like=x)
        hi = None if max_value is None else _t(max_value, like=x)
        return torch.clamp(x, lo, hi)
    return torch.clamp(x, min_value, max_value)


def maximum(x, y) -> torch.Tensor:
    """Elementwise maximum (broadcasting; a Python number takes the other operand's dtype)."""
    return ops.maximum(*_pair(x, y))


def minimum(x, y) -> torch.Tensor:
    """Elementwise minimum (broadcasting)."""
    return ops.minimum(*_pair(x, y))


def _pair(x, y):
    if isinstance(x, torch.Tensor):
        return x, _t(y, like=x)
    if isinstance(y, torch.Tensor):
        return _t(x, like=y), y
    return _t(x), _t(y)


def round(x) -> torch.Tensor:  # noqa: A001
    """Round to the nearest integer, halves to even (TensorFlow's `round`)."""
    return ops.round(_t(x))


def sign(x) -> torch.Tensor:
    """-1, 0 or 1 elementwise."""
    return ops.sign(_t(x))


def softplus(x) -> torch.Tensor:
    """log(1 + exp(x)), stable for large |x|."""
    return F.softplus(_floating(_t(x)))


def softsign(x) -> torch.Tensor:
    """x / (1 + |x|)."""
    return F.softsign(_floating(_t(x)))


def sigmoid(x) -> torch.Tensor:
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(_floating(_t(x)))


def hard_sigmoid(x) -> torch.Tensor:
    """Keras 2 hard sigmoid: clip(0.2 * x + 0.5, 0, 1)."""
    return torch.clamp(0.2 * _floating(_t(x)) + 0.5, 0.0, 1.0)


def softmax(x, axis: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x), axis), computed stably."""
    return torch.softmax(_floating(_t(x)), dim=axis)


def relu(x, alpha: float = 0.0, max_value=None, threshold: float = 0.0) -> torch.Tensor:
    """Keras 2 relu: x above `threshold`, alpha * (x - threshold) below, capped at `max_value`."""
    x = _floating(_t(x))
    if alpha == 0.0 and threshold == 0.0:
        out = torch.relu(x)
    else:
        out = torch.where(x >= threshold, x, alpha * (x - threshold))
    return out if max_value is None else torch.clamp(out, max=max_value)


def elu(x, alpha: float = 1.0) -> torch.Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return F.elu(_floating(_t(x)), alpha=alpha)


def tanh(x) -> torch.Tensor:
    """Hyperbolic tangent."""
    return ops.tanh(_t(x))


def cos(x) -> torch.Tensor:
    """Cosine."""
    return ops.cos(_t(x))


def sin(x) -> torch.Tensor:
    """Sine."""
    return ops.sin(_t(x))


def logsumexp(x, axis=None, keepdims: bool = False) -> torch.Tensor:
    """log(sum(exp(x), axis)), computed stably."""
    x = _floating(_t(x))
    dims = _axes(axis, x.ndim)
    if dims is None:
        dims = tuple(range(x.ndim))
    return torch.logsumexp(x, dim=dims, keepdim=keepdims)


def stop_gradient(x) -> torch.Tensor:
    """`x` detached from the autograd graph."""
    return ops.stop_gradient(_t(x))


# ----------------------------------------------------------------------- casts/comparisons
def cast(x, dtype) -> torch.Tensor:
    """`x` converted to `dtype` (a string such as `"float32"` or a torch dtype)."""
    return _t(x).to(to_torch_dtype(dtype))


def dtype(x) -> str:
    """The dtype of `x` (a tensor or a symbolic tensor) as a Keras string (`"float32"`)."""
    x = x if is_keras_tensor(x) else _t(x)
    return str(x.dtype).replace("torch.", "")


def equal(x, y) -> torch.Tensor:
    """x == y elementwise (bool)."""
    return ops.equal(*_pair(x, y))


def not_equal(x, y) -> torch.Tensor:
    """x != y elementwise (bool)."""
    return ops.not_equal(*_pair(x, y))


def greater(x, y) -> torch.Tensor:
    """x > y elementwise (bool)."""
    return ops.greater(*_pair(x, y))


def greater_equal(x, y) -> torch.Tensor:
    """x >= y elementwise (bool)."""
    return ops.greater_equal(*_pair(x, y))


def less(x, y) -> torch.Tensor:
    """x < y elementwise (bool)."""
    return ops.less(*_pair(x, y))


def less_equal(x, y) -> torch.Tensor:
    """x <= y elementwise (bool)."""
    return ops.less_equal(*_pair(x, y))


def switch(condition, then_expression, else_expression) -> torch.Tensor:
    """Elementwise `then` where `condition` else `else`; callables are called first.

    A condition of lower rank is broadcast over the trailing axes (Keras 2).
    """
    then_expression = then_expression() if callable(then_expression) else then_expression
    else_expression = else_expression() if callable(else_expression) else else_expression
    then_t, else_t = _pair(then_expression, else_expression)
    cond = _t(condition, like=then_t).bool()
    while cond.ndim < then_t.ndim:
        cond = cond.unsqueeze(-1)
    return torch.where(cond, then_t, else_t)


# ------------------------------------------------------------------------------- shapes
class _Dim(int):
    """An int size that remembers the device of the tensor it came from (see `shape`)."""

    device: torch.device

    def __new__(cls, value: int, device: torch.device):
        obj = super().__new__(cls, value)
        obj.device = device
        return obj


def shape(x):
    """The shape of `x`: a tuple of ints for a tensor, a symbolic int32 vector for a
    `KerasTensor` (Keras 2).

    The ints remember `x`'s device, so `K.random_normal((K.shape(z)[0], 2))` is created on
    the device of `z`. On a symbolic tensor (between the layers of a functional model) the
    result is a `KerasTensor` of shape `(rank,)` whose value in a model run is the run's shape,
    so `K.reshape(x, (K.shape(x)[0], -1))` and `K.random_normal((K.shape(z)[0], 2))` follow
    the batch size, as in Keras 2 (`K.shape(Input((4, 3)))` has shape `(3,)`, dtype int32).
    """
    if is_keras_tensor(x):
        return _shape_tensor(x)  # an op node (symbolic, see the end of the module)
    x = _t(x)
    return tuple(_Dim(d, x.device) for d in x.shape)


def _shape_tensor(x: torch.Tensor) -> torch.Tensor:
    """The shape of `x` as an int32 tensor on `x`'s device (Keras 2's `tf.shape`)."""
    return torch.tensor(tuple(x.shape), dtype=torch.int32, device=x.device)


def int_shape(x) -> tuple:
    """The shape of `x` as a tuple of Python ints (None where a symbolic `x` has no size)."""
    if is_keras_tensor(x):
        return tuple(x.shape)
    return tuple(int(d) for d in _t(x).shape)


def ndim(x) -> int:
    """The rank of `x` (a tensor or a symbolic tensor)."""
    return x.ndim if is_keras_tensor(x) else _t(x).ndim


def count_params(x) -> int:
    """The number of elements of `x`."""
    return _t(x).numel()


def flatten(x) -> torch.Tensor:
    """`x` as a 1-D tensor."""
    return ops.ravel(_t(x))


def batch_flatten(x) -> torch.Tensor:
    """`x` reshaped to (batch, -1)."""
    x = _t(x)
    return x.reshape(x.shape[0], -1)


def reshape(x, shape) -> torch.Tensor:
    """`x` reshaped to `shape` (one entry may be -1)."""
    return ops.reshape(_t(x), shape)


def concatenate(tensors, axis: int = -1) -> torch.Tensor:
    """Concatenate a list of tensors along `axis`."""
    return ops.concatenate([_t(t) for t in tensors], axis)


def stack(x, axis: int = 0) -> torch.Tensor:
    """Stack a list of same-shape tensors along a new `axis`."""
    return ops.stack([_t(t) for t in x], axis)


def expand_dims(x, axis: int = -1) -> torch.Tensor:
    """Insert a length-1 axis at `axis`."""
    return ops.expand_dims(_t(x), axis)


def squeeze(x, axis: int) -> torch.Tensor:
    """Remove the length-1 axis `axis`."""
    return ops.squeeze(_t(x), axis)


def repeat_elements(x, rep: int, axis: int) -> torch.Tensor:
    """Repeat each element of `x` `rep` times along `axis` ([a, b] -> [a, a, b, b])."""
    return torch.repeat_interleave(_t(x), rep, dim=axis)


def tile(x, n) -> torch.Tensor:
    """Repeat `x` `n[i]` times along axis i."""
    return ops.tile(_t(x), n)


def permute_dimensions(x, pattern) -> torch.Tensor:
    """Permute the axes of `x` by `pattern`, e.g. (0, 2, 1)."""
    return ops.transpose(_t(x), pattern)


def transpose(x) -> torch.Tensor:
    """Reverse the axes of `x` (a matrix transpose for rank 2)."""
    return ops.transpose(_t(x))


def _shape_device(shape):
    """Sizes as ints and the device remembered by any `_Dim` or size tensor (an entry of a
    symbolic `K.shape` in a model run), else torch's default. A size tensor on an
    accelerator is read back to the host here (one sync)."""
    if isinstance(shape, (int, np.integer)) or (
        isinstance(shape, torch.Tensor) and shape.ndim == 0
    ):
        shape = (shape,)
    device = next((d.device for d in shape if isinstance(d, (_Dim, torch.Tensor))), None)
    return tuple(int(d) for d in shape), device


def zeros(shape, dtype=None) -> torch.Tensor:
    """A tensor of zeros."""
    size, device = _shape_device(shape)
    return torch.zeros(size, dtype=to_torch_dtype(dtype), device=device)


def ones(shape, dtype=None) -> torch.Tensor:
    """A tensor of ones."""
    size, device = _shape_device(shape)
    return torch.ones(size, dtype=to_torch_dtype(dtype), device=device)


def eye(size: int, dtype=None) -> torch.Tensor:
    """The identity matrix of `size`."""
    return torch.eye(int(size), dtype=to_torch_dtype(dtype))


def zeros_like(x, dtype=None) -> torch.Tensor:
    """Zeros with the shape (and, unless `dtype` is given, the dtype) of `x`."""
    x = _t(x)
    return torch.zeros_like(x, dtype=None if dtype is None else to_torch_dtype(dtype))


def ones_like(x, dtype=None) -> torch.Tensor:
    """Ones with the shape (and, unless `dtype` is given, the dtype) of `x`."""
    x = _t(x)
    return torch.ones_like(x, dtype=None if dtype is None else to_torch_dtype(dtype))


def one_hot(indices, num_classes: int) -> torch.Tensor:
    """One-hot float encoding of integer `indices`, a new last axis of `num_classes`."""
    indices = _t(indices).long()
    return F.one_hot(indices, num_classes).to(to_torch_dtype(_FLOATX))


def gather(reference, indices) -> torch.Tensor:
    """Rows of `reference` selected by integer `indices` (along axis 0)."""
    reference = _t(reference)
    return reference[_t(indices, like=None).to(reference.device).long()]


# ------------------------------------------------------------------------------ products
def dot(x, y) -> torch.Tensor:
    """Keras 2 dot: contracts the last axis of x with the second-to-last of y (or its only)."""
    return ops.dot(*_pair(x, y))


def batch_dot(x, y, axes=None) -> torch.Tensor:
    """Per-sample dot product of `x` and `y` contracting `axes` (Keras 2 semantics).

    axes None: (x.ndim - 1, y.ndim - 2) for rank >= 3 `y`, else the last axes. An int applies
    to both. A rank-1 result is expanded to (batch, 1), as Keras 2.
    """
    x, y = _pair(x, y)
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 2 if y.ndim >= 3 else y.ndim - 1)
    elif isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = (a % t.ndim for a, t in zip(axes, (x, y)))
    if ax == 0 or ay == 0:
        raise ValueError(f"batch_dot cannot contract the batch axis; received axes={axes}.")
    xm = x.movedim(ax, -1)  # (B, rest_x..., n)
    ym = y.movedim(ay, 1)  # (B, n, rest_y...)
    batch, n = xm.shape[0], xm.shape[-1]
    rest_x, rest_y = xm.shape[1:-1], ym.shape[2:]
    out = torch.bmm(xm.reshape(batch, -1, n), ym.reshape(batch, n, -1))
    out = out.reshape((batch, *rest_x, *rest_y))
    return out.unsqueeze(-1) if out.ndim == 1 else out


# -------------------------------------------------------------------------------- random
def _generator(seed, device):
    if seed is None:
        return None
    gen = torch.Generator(device=device or "cpu")
    gen.manual_seed(int(seed))
    return gen


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None, device=None):
    """Samples of N(mean, stddev**2) of `shape` (on the device `shape` came from, see `shape`)."""
    size, found = _shape_device(shape)
    device = device or found
    out = torch.randn(
        size, dtype=to_torch_dtype(dtype), device=device, generator=_generator(seed, device)
    )
    return out * stddev + mean


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None, device=None):
    """Samples of U[minval, maxval) of `shape`."""
    size, found = _shape_device(shape)
    device = device or found
    out = torch.rand(
        size, dtype=to_torch_dtype(dtype), device=device, generator=_generator(seed, device)
    )
    return out * (maxval - minval) + minval


# ------------------------------------------------------------------------ crossentropies
def binary_crossentropy(target, output, from_logits: bool = False) -> torch.Tensor:
    """Elementwise binary crossentropy: -(t log p + (1 - t) log(1 - p)).

    Probabilities are clipped to [ε, 1 - ε]; logits use the stable log-sigmoid form.
    Not reduced (`K.mean(K.binary_crossentropy(t, p), axis=-1)` is the Keras 2 loss).
    """
    output = _floating(_t(output))
    target = _t(target, like=output).to(output.dtype)
    if target.shape != output.shape:
        raise ValueError(
            "binary_crossentropy: `target` and `output` must have the same shape; received "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}."
        )
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = _EPSILON
    output = torch.clamp(output, eps, 1.0 - eps)
    return F.binary_cross_entropy(output, target, reduction="none")


def categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    """Per-sample categorical crossentropy: -sum(t * log p, axis).

    Probabilities are renormalized to sum to 1 along `axis` and clipped to [ε, 1 - ε];
    logits use log_softmax. `target` and `output` must have the same shape.
    """
    output = _floating(_t(output))
    target = _t(target, like=output).to(output.dtype)
    if target.shape != output.shape:
        raise ValueError(
            "categorical_crossentropy: `target` and `output` must have the same shape; received "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}."
        )
    return -torch.sum(target * _log_probs(output, from_logits, axis), dim=axis)


def _log_probs(output: torch.Tensor, from_logits: bool, axis: int) -> torch.Tensor:
    """log of the class probabilities along `axis` (renormalized and clipped when not logits)."""
    if from_logits:
        return torch.log_softmax(output, dim=axis)
    return torch.log(_clipped_probs(output, axis))


def _clipped_probs(output: torch.Tensor, axis: int) -> torch.Tensor:
    """`output` renormalized to sum to 1 along `axis`, then clipped to [ε, 1 - ε]."""
    eps = _EPSILON
    # The clamp guards an all-zero row (0/0); any other row is unchanged.
    total = torch.sum(output, dim=axis, keepdim=True)
    output = output / torch.clamp(total, min=torch.finfo(output.dtype).tiny)
    return torch.clamp(output, eps, 1.0 - eps)


def sparse_categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    """Per-sample crossentropy with integer class `target`: -log p[target].

    `target` has the shape of `output` without `axis` (a trailing length-1 axis is squeezed).
    Probabilities are renormalized and clipped to [ε, 1 - ε]; logits use log_softmax.
    """
    output = _floating(_t(output))
    target = _t(target, like=output)
    if target.ndim == output.ndim and target.shape[axis] == 1:
        target = target.squeeze(axis)
    expected = list(output.shape)
    del expected[axis]
    if list(target.shape) != expected:
        raise ValueError(
            "sparse_categorical_crossentropy: `target` must have the shape of `output` without "
            f"the class axis {axis}, i.e. {tuple(expected)}; received "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}."
        )
    log_p = _log_probs(output, from_logits, axis)
    index = target.long().unsqueeze(axis)
    return -torch.gather(log_p, axis, index).squeeze(axis)


def ctc_batch_cost(y_true, y_pred, input_length, label_length) -> torch.Tensor:
    """Keras 2 CTC loss per sample, shape (B, 1), from softmax outputs.

    Args:
        y_true: (B, L) integer labels (entries past `label_length` are ignored).
        y_pred: (B, T, C) softmax probabilities; the blank is the last class, C - 1.
        input_length: (B, 1) or (B,) number of valid time steps of each sample.
        label_length: (B, 1) or (B,) number of labels of each sample.

    As Keras 2 (TensorFlow's ctc_loss on log(y_pred + ε)): the probabilities are renormalized
    after adding ε.
    """
    y_pred = _floating(_t(y_pred))
    y_pred = y_pred.to(torch.promote_types(y_pred.dtype, torch.float32))
    log_probs = torch.log_softmax(torch.log(y_pred + _EPSILON), dim=-1).transpose(0, 1)
    labels = _t(y_true, like=y_pred).long()
    input_length = _t(input_length, like=y_pred).long().reshape(-1)
    label_length = _t(label_length, like=y_pred).long().reshape(-1)
    loss = F.ctc_loss(
        log_probs,
        labels,
        input_length,
        label_length,
        blank=y_pred.shape[-1] - 1,
        reduction="none",
    )
    return loss.unsqueeze(-1)


# ------------------------------------------------------------------------------ variables
def variable(value, dtype=None, name=None) -> torch.Tensor:
    """A tensor holding `value` (floatx unless `dtype`); `name` is accepted and ignored."""
    del name
    t = (
        value.detach().clone()
        if isinstance(value, torch.Tensor)
        else torch.as_tensor(np.asarray(value))
    )
    if dtype is not None or t.is_floating_point():
        t = t.to(to_torch_dtype(dtype))
    return t


def constant(value, dtype=None, shape=None, name=None) -> torch.Tensor:
    """A tensor of `value` (floatx unless `dtype`), broadcast to `shape` when given."""
    del name
    t = torch.as_tensor(np.asarray(value), dtype=to_torch_dtype(dtype))
    return t.expand(tuple(shape)).clone() if shape is not None else t


def get_value(x):
    """The value of `x` as NumPy (tensors), or as is (numbers, arrays).

    Objects with a `numpy()` method or a `value` attribute (e.g. a learning-rate holder)
    are read through them.
    """
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (int, float, np.ndarray, np.generic)):
        return x
    if hasattr(x, "numpy"):
        return x.numpy()
    if hasattr(x, "value"):
        return get_value(x.value)
    raise TypeError(
        f"get_value: expected a tensor, an array or a number; received {type(x).__name__}."
    )


def set_value(x, value) -> None:
    """Write `value` into the tensor or Parameter `x` in place (or call `x.assign(value)`)."""
    if isinstance(x, torch.Tensor):
        with torch.no_grad():
            x.copy_(torch.as_tensor(np.asarray(value), dtype=x.dtype, device=x.device))
        return
    if hasattr(x, "assign"):
        x.assign(value)
        return
    raise TypeError(
        "set_value: expected a torch tensor/Parameter or an object with `assign`; received "
        f"{type(x).__name__}. To change an optimizer's learning rate set "
        "`optimizer.learning_rate = value`."
    )


def batch_get_value(tensors) -> list:
    """`[get_value(t) for t in tensors]`."""
    return [get_value(t) for t in tensors]


def batch_set_value(tuples) -> None:
    """`set_value(x, v)` for each `(x, v)` pair."""
    for x, value in tuples:
        set_value(x, value)


def eval(x):  # noqa: A001 (Keras name)
    """The value of `x` as NumPy (Keras 2 `K.eval`)."""
    return get_value(x)


def l2_normalize(x, axis=None) -> torch.Tensor:
    """x / sqrt(max(sum(x**2, axis), 1e-12)) (TensorFlow's l2_normalize; None: all axes)."""
    x = _floating(_t(x))
    dims = _axes(axis, x.ndim)
    square_sum = torch.sum(torch.square(x), dim=dims, keepdim=True)
    return x * torch.rsqrt(torch.clamp(square_sum, min=1e-12))


# ------------------------------------------------------------------------- symbolic tensors
# Every function computing a tensor from tensors also builds a graph node when given a
# functional-API KerasTensor (`K.mean(K.exp(z_log_var))` between layers; Keras 2 VAE), and is
# allowed in saved graphs as "fitorch.backend.<name>". Config, shape and value helpers stay
# plain functions. The creators (`zeros`, `random_normal`, ...) are symbolic too: their
# shape may hold a symbolic size (`K.random_normal((K.shape(z)[0], 2))`).
_NOT_SYMBOLIC = {
    "epsilon", "set_epsilon", "floatx", "set_floatx", "image_data_format",
    "set_image_data_format", "is_tensor", "dtype", "shape", "int_shape", "ndim",
    "count_params", "eye", "backend",
    "clear_session", "is_keras_tensor", "cast_to_floatx", "get_value", "set_value",
    "batch_get_value",
    "batch_set_value", "variable", "constant", "eval",
}  # fmt: skip


def _make_symbolic() -> None:
    from fitorch.layers.op_node import symbolic_op

    for name in __all__:
        if name not in _NOT_SYMBOLIC:
            globals()[name] = symbolic_op(globals()[name], f"fitorch.backend.{name}")
    # `shape` answers ints on tensors; on a KerasTensor it records this op (saved as
    # "fitorch.backend.shape").
    globals()["_shape_tensor"] = symbolic_op(_shape_tensor, "fitorch.backend.shape")


_make_symbolic()
