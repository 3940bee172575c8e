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
import threading

import torch

from fitorch.layers.base import Layer, _as_dtype, _tracing, symbolic_tracing

__all__ = ["Input", "InputLayer", "KerasTensor", "Node", "symbolic_call"]

_RUN = threading.local()


@contextlib.contextmanager
def executing():
    """Inside this block, KerasTensors compute with their bound values."""
    _RUN.depth = getattr(_RUN, "depth", 0) + 1
    try:
        yield
    finally:
        _RUN.depth -= 1


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

    def __add__(self, o):
        return self._op("__add__", o)  # noqa: E704

    def __radd__(self, o):
        return self._op("__radd__", o)  # noqa: E704

    def __sub__(self, o):
        return self._op("__sub__", o)  # noqa: E704

    def __rsub__(self, o):
        return self._op("__rsub__", o)  # noqa: E704

    def __mul__(self, o):
        return self._op("__mul__", o)  # noqa: E704

    def __rmul__(self, o):
        return self._op("__rmul__", o)  # noqa: E704

    def __truediv__(self, o):
        return self._op("__truediv__", o)  # noqa: E704

    def __rtruediv__(self, o):
        return self._op("__rtruediv__", o)  # noqa: E704

    def __pow__(self, o):
        return self._op("__pow__", o)  # noqa: E704

    def __rpow__(self, o):
        return self._op("__rpow__", o)  # noqa: E704

    def __matmul__(self, o):
        return self._op("__matmul__", o)  # noqa: E704

    def __neg__(self):
        return self._op("__neg__")  # noqa: E704

    def __abs__(self):
        return self._op("__abs__")  # noqa: E704

    def __getitem__(self, key):
        return self._op("__getitem__", key)  # noqa: E704


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
        self.output = KerasTensor(self.batch_shape, self._dtype, name=self.name)
        self.output.node = Node(self, (), {}, [self.output])

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            "batch_shape": list(self.batch_shape),
            "dtype": str(self._dtype).replace("torch.", ""),
            "name": self.name,
        }


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, tensor=None):  # noqa: N802
    """A symbolic input of `shape` (batch dimension excluded) for the functional API."""
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported; pass shape= instead.")
    return InputLayer(
        shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape
    ).output


# -- symbolic calls -----------------------------------------------------------------------
def symbolic_call(layer, args, kwargs, record: bool = True):
    """Call `layer` on symbolic arguments: build it, infer output shapes, record a Node."""
    first = args[0] if args else next(iter(kwargs.values()))
    if not layer.built:
        layer._maybe_build(_map(first, lambda t: t.shape))
    try:
        out_small = _run_placeholder(layer, args, kwargs, 2, 3)
        out_large = _run_placeholder(layer, args, kwargs, 2, 5)
    except ValueError:
        # A window longer than 3 steps (Conv1D(k=5) on Input(shape=(None,))) needs longer
        # placeholders; 97 and 131 still give different lengths for windows up to 34.
        if not any(s is None for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)
                   for s in t.shape[1:]):  # fmt: skip
            raise
        out_small = _run_placeholder(layer, args, kwargs, 2, 97)
        out_large = _run_placeholder(layer, args, kwargs, 2, 131)
    flat_small, flat_large = _flatten(out_small), _flatten(out_large)
    outputs = []
    for i, (a, b) in enumerate(zip(flat_small, flat_large)):
        shape = [None] + [s if s == t else None for s, t in zip(a.shape[1:], b.shape[1:])]
        if a.ndim == 0:
            shape = []
        outputs.append(
            KerasTensor(shape, a.dtype, name=f"{layer.name}_out{i}" if i else layer.name)
        )
    node = Node(layer, args, kwargs, outputs) if record else None
    for i, t in enumerate(outputs):
        t.node, t.index = node, i
    if record:
        layer._inbound_nodes.append(node)
    it = iter(outputs)
    return _map(out_small, lambda _: next(it))


def _run_placeholder(layer, args, kwargs, batch: int, free: int):
    """Run `layer` on zeros shaped like the symbolic args (None -> batch / free)."""

    def placeholder(t):
        shape = [
            batch if i == 0 and s is None else (free if s is None else s)
            for i, s in enumerate(t.shape)
        ]
        return torch.zeros(shape, dtype=t.dtype, device=_device_of(layer))

    values = _map((args, kwargs), lambda t: placeholder(t) if isinstance(t, KerasTensor) else t)
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad(), _tracing(), executing():
            out = layer.forward(*values[0], **values[1])
    except Exception as err:
        shapes = [t.shape for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) cannot be called on inputs of "
            f"shape {shapes if len(shapes) != 1 else shapes[0]}: {err}"
        ) from err
    finally:
        layer.train(was_training)
    return out


def _device_of(layer):
    for p in layer.parameters():
        return p.device
    return torch.device("cpu")


class _OpLayer(Layer):
    """A torch function applied to symbolic tensors (`x + y`, `torch.cat`, `K.square`)."""

    def __init__(self, func, **kw):
        super().__init__(name=kw.pop("name", None) or _op_name(func), **kw)
        self.func = func
        self.built = True

    def call(self, *args, **kwargs):
        return self.func(*args, **kwargs)


def _op_name(func) -> str:
    name = getattr(func, "__name__", "op").strip("_")
    return {"add": "add", "radd": "add", "mul": "multiply", "rmul": "multiply"}.get(name, name)


def _op_node(func, args, kwargs):
    layer = _OpLayer(func)
    return symbolic_call(layer, args, kwargs)


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
