"""Symbolic tensors for the functional API: `Input`, `InputLayer`, `KerasTensor`, `Node`.

Calling a layer on `KerasTensor`s records a `Node` (layer, its symbolic arguments, its
symbolic outputs) instead of computing. Output shapes come from running the layer once on
small placeholder values (zeros; batch 2), so every layer supports the functional API
without a hand-written shape rule. A dimension that changes with the placeholder size is
reported as None.

Torch functions and Python operators applied to `KerasTensor`s (`x + y`, `x[:, 0]`,
`torch.cat([a, b], 1)`, `K.square(z)`) become nodes too. While a functional model runs,
each `KerasTensor` is bound to its current value, so code that closes over a symbolic
tensor (as Keras 2 custom-loss layers do) computes with the real values.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import torch

from fitorch.layers.base import (
    Layer,
    _as_dtype,
    _tracing,
    fill_mask_argument,
    get_mask,
    propagate_masks,
    symbolic_tracing,
)
from fitorch.layers.input_spec import assert_input_compatibility
from fitorch.utils.naming import auto_name

__all__ = ["Input", "InputLayer", "KerasTensor", "Node", "OpLayer", "symbolic_call", "value_of"]

_RUN = threading.local()


@contextlib.contextmanager
def executing():
    """Inside this block, KerasTensors compute with their bound values."""
    _RUN.depth = getattr(_RUN, "depth", 0) + 1
    try:
        yield
    finally:
        _RUN.depth -= 1


def bind_value(t: KerasTensor, value: torch.Tensor) -> None:
    """Bind `value` to `t` for this model run (what `value_of` returns)."""
    t._value = value
    bound = getattr(_RUN, "bound", None)
    if bound is not None:
        bound.append(t)


@contextlib.contextmanager
def unbinding():
    """Values bound inside the block are released at its end (the trainer's step: no
    symbolic tensor keeps a batch's activations, and their autograd graph, after it)."""
    outer = getattr(_RUN, "bound", None)
    _RUN.bound = []
    try:
        yield
    finally:
        for t in _RUN.bound:
            t._value = None
        _RUN.bound = outer


def _executing() -> bool:
    return getattr(_RUN, "depth", 0) > 0


class KerasTensor:
    """A symbolic tensor: a shape (None = unknown), a dtype and the node that made it."""

    def __init__(self, shape, dtype=torch.float32, name=None, node=None, index=0):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = _as_dtype(dtype)
        self.name = name
        self.node = node
        self.index = index
        self._value = None
        # For an integer scalar or vector made by an op (`K.shape(x)`, `K.shape(x)[0]`):
        # (batch, free) -> its value on the shape-inference placeholders, so a size read
        # from a shape follows the placeholder batch downstream (see `symbolic_call`).
        self.placeholder_value = None
        # The symbolic mask (a bool KerasTensor) when the layer that made it hands one on,
        # as Keras' `x._keras_mask` on a functional graph's tensors.
        self._keras_mask = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        dtype = str(self.dtype).replace("torch.", "")
        return f"<KerasTensor shape={self.shape}, dtype={dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError("A symbolic KerasTensor has no length; use .shape.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value.")

    def __hash__(self):
        return id(self)

    # Torch functions and operators on symbolic tensors become graph nodes.
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _executing():
            return func(*_bind(args), **_bind(kwargs))
        return _op_node(func, args, kwargs)

    def _op(self, name, *args):
        return self.__torch_function__(getattr(torch.Tensor, name), (KerasTensor,), (self, *args))

    def __getitem__(self, key):
        return self._op("__getitem__", key)


# Python operators, as Keras 3's KerasTensor defines them; each records the torch.Tensor
# method of the same name. There is no `__eq__`: `==` stays identity (as in Keras), so
# symbolic tensors can be compared and kept in containers.
_BINARY_OPERATORS = (
    "add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "rfloordiv",
    "mod", "rmod", "pow", "rpow", "matmul", "rmatmul", "lt", "le", "gt", "ge", "ne", "and",
    "rand", "or", "ror", "xor", "rxor",
)  # fmt: skip
_UNARY_OPERATORS = ("neg", "abs", "invert")


def _binary_operator(name: str):
    def operator(self, other):
        return self._op(name, other)

    operator.__name__ = name
    return operator


def _unary_operator(name: str):
    def operator(self):
        return self._op(name)

    operator.__name__ = name
    return operator


for _op_name_ in _BINARY_OPERATORS:
    setattr(KerasTensor, f"__{_op_name_}__", _binary_operator(f"__{_op_name_}__"))
for _op_name_ in _UNARY_OPERATORS:
    setattr(KerasTensor, f"__{_op_name_}__", _unary_operator(f"__{_op_name_}__"))


class Node:
    """One call of `layer` in a graph: symbolic `args`/`kwargs` in, `outputs` (flat) out."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs  # flat list of KerasTensors

    def parents(self) -> list[KerasTensor]:
        return [t for t in _flatten((self.args, self.kwargs)) if isinstance(t, KerasTensor)]


class InputLayer(Layer):
    """The layer behind `Input`: passes its value through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kw):
        if "input_shape" in kw and shape is None:
            shape = kw.pop("input_shape")
        if "batch_input_shape" in kw and batch_shape is None:
            batch_shape = kw.pop("batch_input_shape")
        kw.pop("sparse", None)
        kw.pop("ragged", None)
        if kw.pop("optional", False):
            raise ValueError(
                f"InputLayer {name!r}: optional=True (an input that may be None) is not "
                "supported; give every input a tensor."
            )
        super().__init__(name=name, dtype=dtype, **kw)
        if batch_shape is None:
            if shape is None:
                raise ValueError(
                    "Input needs `shape` (without the batch dimension) or `batch_shape`."
                )
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(batch_shape)
        self.built = True
        self._output = KerasTensor(self.batch_shape, self._dtype, name=self.name)
        self._output.node = Node(self, (), {}, [self._output])

    @property
    def input(self):
        """An input layer reads no tensor (Keras 3 gives `[]`)."""
        return []

    @property
    def output(self):
        """The symbolic tensor this input layer makes (what `Input()` returns)."""
        return self._output

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": str(self._dtype).replace("torch.", ""),
            "name": self.name,
        }


def Input(  # noqa: N802
    shape=None,
    batch_size=None,
    dtype=None,
    sparse=None,
    ragged=None,
    batch_shape=None,
    name=None,
    tensor=None,
    optional=False,
):
    """A symbolic input of `shape` (batch dimension excluded) for the functional API.

    Keras' signature; `sparse`/`ragged` are accepted and make a dense input, `optional=True`
    is refused (see `InputLayer`)."""
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported; pass shape= instead.")
    return InputLayer(
        shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        name=name,
        batch_shape=batch_shape,
        sparse=sparse,
        ragged=ragged,
        optional=optional,
    ).output


# -- symbolic calls -----------------------------------------------------------------------
def symbolic_call(layer, args, kwargs, record: bool = True, vary_batch: bool = False):
    """Call `layer` on symbolic arguments: build it, infer output shapes, record a Node.

    Shapes come from two runs on zeros; a dimension that differs between them is None. A
    layer keeps the batch dimension (placeholder batch 2 in both runs; output dim 0 is None);
    with `vary_batch` (op nodes) the batch size changes too (2, then 4), so reductions over
    the batch (`K.mean(x)`) and indexing (`x[0]`) report the shape Keras reports.
    """
    first = args[0] if args else next(iter(kwargs.values()))
    if layer.input_spec is not None:
        assert_input_compatibility(layer.input_spec, first, layer.name)
    if not layer.built:
        layer._maybe_build(_map(first, lambda t: t.shape))
    batches = (2, 4) if vary_batch else (2, 2)
    try:
        out_small = _run_placeholder(layer, args, kwargs, batches[0], 3)
        out_large = _run_placeholder(layer, args, kwargs, batches[1], 5)
    except ValueError:
        # A window longer than 3 steps (Conv1D(k=5) on Input(shape=(None,))) needs longer
        # placeholders; 97 and 131 still give different lengths for windows up to 34.
        if not any(s is None for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)
                   for s in t.shape[1:]):  # fmt: skip
            raise
        out_small = _run_placeholder(layer, args, kwargs, batches[0], 97)
        out_large = _run_placeholder(layer, args, kwargs, batches[1], 131)
    flat_small, flat_large = _flatten(out_small), _flatten(out_large)
    outputs = []
    for i, (a, b) in enumerate(zip(flat_small, flat_large)):
        if not isinstance(a, torch.Tensor):
            raise TypeError(
                f"{layer.name!r} on symbolic tensors must return tensors; it returned "
                f"{type(a).__name__} {a!r}."
            )
        shape = [s if s == t else None for s, t in zip(a.shape, b.shape)]
        if a.ndim and not vary_batch:
            shape[0] = None
        out = KerasTensor(shape, a.dtype, name=f"{layer.name}_out{i}" if i else layer.name)
        out._keras_mask = _symbolic_mask(get_mask(a), get_mask(b))
        outputs.append(out)
    node = Node(layer, args, kwargs, outputs) if record else None
    for i, t in enumerate(outputs):
        t.node, t.index = node, i
        if vary_batch and t.ndim <= 1 and _is_integer(t.dtype):  # sizes (Keras 2 K.shape)
            t.placeholder_value = functools.partial(_placeholder_output, layer, args, kwargs, i)
    if record:
        layer._inbound_nodes.append(node)
    it = iter(outputs)
    return _map(out_small, lambda _: next(it))


def _is_integer(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _placeholder_output(layer, args, kwargs, index: int, batch: int, free: int):
    """Output `index` of `layer` run on the placeholders of (batch, free)."""
    return _flatten(_run_placeholder(layer, args, kwargs, batch, free))[index]


def _run_placeholder(layer, args, kwargs, batch: int, free: int):
    """Run `layer` on zeros shaped like the symbolic args (None -> batch / free); a size
    tensor (`placeholder_value`) takes its value on those placeholders instead."""

    def zeros(t, dtype):
        shape = [
            batch if i == 0 and s is None else (free if s is None else s)
            for i, s in enumerate(t.shape)
        ]
        return torch.zeros(shape, dtype=dtype, device=_device_of(layer))

    def placeholder(t):
        if t.placeholder_value is not None:
            return t.placeholder_value(batch, free)
        value = zeros(t, t.dtype)
        if t._keras_mask is not None:  # an all-True mask of the symbolic mask's shape
            value._keras_mask = zeros(t._keras_mask, torch.bool).logical_not()
        return value

    values = _map((args, kwargs), lambda t: placeholder(t) if isinstance(t, KerasTensor) else t)
    call_args, call_kwargs = values[0], dict(values[1])
    first = call_args[0] if call_args else next(iter(call_kwargs.values()))
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad(), _tracing(), executing():
            carried = fill_mask_argument(layer, first, call_kwargs)
            out = layer.forward(*call_args, **call_kwargs)
            if layer.supports_masking:
                propagate_masks(layer, first, out, carried)
    except Exception as err:
        shapes = [t.shape for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) cannot be called on inputs of "
            f"shape {shapes if len(shapes) != 1 else shapes[0]}: {err}"
        ) from err
    finally:
        layer.train(was_training)
    return out


def _symbolic_mask(small, large):
    """The symbolic mask of an output whose placeholder runs carried masks `small`/`large`."""
    if not isinstance(small, torch.Tensor) or not isinstance(large, torch.Tensor):
        return None
    shape = [s if s == t else None for s, t in zip(small.shape, large.shape)]
    if shape:
        shape[0] = None
    return KerasTensor(shape, torch.bool)


def _device_of(layer):
    for p in layer.parameters():
        return p.device
    return torch.device("cpu")


class OpLayer(Layer):
    """A function applied to symbolic tensors (`x + y`, `torch.cat`, `K.square`, `ops.exp`).

    `bound` holds keyword arguments fixed when the layer was made (a Keras 3 op record's
    config, e.g. `Mean(axis=-1)`); the node's own arguments come on top. Inside a model run
    the call is the plain function (on the values bound to any symbolic tensor it meets);
    on symbolic arguments anywhere in the call it records a node, inferring the output shape
    with a batch dimension that may change (`K.mean(x)` is a scalar, `x[0]` drops it).
    """

    def __init__(self, func, name=None, bound=None, **kw):
        super().__init__(name=name or auto_name(_op_name(func)), **kw)
        self.func = func
        self.bound = dict(bound or {})
        self.built = True

    def __call__(self, *args, **kwargs):
        if _executing():
            return self.call(*_bind(args), **_bind(kwargs))
        if _has_keras_tensor((args, kwargs)):
            return symbolic_call(self, args, kwargs, vary_batch=True)
        return self.call(*args, **kwargs)

    def call(self, *args, **kwargs):
        return self.func(*args, **{**self.bound, **kwargs})


_OpLayer = OpLayer  # the name earlier modules import


def _op_name(func) -> str:
    name = getattr(func, "__name__", "op").strip("_")
    return {"add": "add", "radd": "add", "mul": "multiply", "rmul": "multiply"}.get(name, name)


def _op_node(func, args, kwargs):
    return OpLayer(func)(*args, **kwargs)


def _has_keras_tensor(structure) -> bool:
    return any(isinstance(leaf, KerasTensor) for leaf in _flatten(structure))


def value_of(t: KerasTensor) -> torch.Tensor:
    """The value `t` stands for while a model runs.

    During shape inference a symbolic tensor that a layer closes over (not one of its
    arguments) is zeros of its shape (batch 2, as the placeholders); in a model run, the value
    the run bound to it. Code that closes over symbolic tensors (Keras 2 custom-loss layers,
    losses reading `z_mean`) thereby computes with real values.
    """
    if symbolic_tracing():
        shape = [2 if i == 0 and s is None else (3 if s is None else s)
                 for i, s in enumerate(t.shape)]  # fmt: skip
        return torch.zeros(shape, dtype=t.dtype)
    if t._value is None:
        raise TypeError(
            f"{t} has no value: it belongs to a model that has not run. Backend functions "
            "compute on values; use them inside a layer's call, a loss or a metric."
        )
    return t._value


def _bind(x):
    return _map(x, lambda t: value_of(t) if isinstance(t, KerasTensor) else t)


# -- structure helpers --------------------------------------------------------------------
# Not fitorch.tree: a functional graph keeps dicts in insertion order (the order the user
# gave inputs and outputs in), where keras.tree sorts the keys; they run at every layer call.
def _flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _flatten(v)]
    if isinstance(x, dict):
        return [leaf for v in x.values() for leaf in _flatten(v)]
    return [x]


def _map(x, fn):
    """Apply `fn` to every KerasTensor/tensor leaf of a nested list/tuple/dict."""
    if isinstance(x, (KerasTensor, torch.Tensor)):
        return fn(x)
    if isinstance(x, list):
        return [_map(v, fn) for v in x]
    if isinstance(x, tuple):
        return tuple(_map(v, fn) for v in x)
    if isinstance(x, dict):
        return {k: _map(v, fn) for k, v in x.items()}
    return x
