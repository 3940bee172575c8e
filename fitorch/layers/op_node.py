"""Op nodes: functions applied to symbolic tensors inside functional graphs.

`symbolic_op(func, name)` is the one wrapping point: the wrapped function computes as
before on tensors, and called with a `KerasTensor` anywhere in its (nested) arguments it
returns symbolic tensor(s) made by an `OpLayer` node, which calls `func` when the model
runs. Output shape and dtype are those of `func` on placeholder zeros (see
`layers.input.symbolic_call`), so `K.mean(K.exp(z), axis=-1).shape == (None,)` as in Keras.
The backend module `K` and `fitorch.ops` wrap their public functions with it; Python
operators and indexing on a `KerasTensor` use the same `OpLayer`.

Saving: an op node is stored as a `TorchOp` record naming the op (`"fitorch.backend.mean"`,
`"torch.exp"`, `"Tensor.__add__"`); loading resolves the name only against the ops
registered here (an allow-list; nothing named by a file is ever imported). A Keras 3 op
record (`{"module": "keras.src.ops.numpy", "class_name": "NotEqual", "config": {...}}`) and a
Keras 2 `TFOpLambda` record (`"function": "math.not_equal"`) load as the
matching fitorch op, with the record's config as fixed keyword arguments.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

import torch

from fitorch.layers.input import KerasTensor, OpLayer
from fitorch.registry import suggest
from fitorch.tree import flatten
from fitorch.utils.naming import to_snake_case

__all__ = [
    "get_op",
    "is_symbolic",
    "keras_op_layer",
    "op_name",
    "op_record",
    "register_op",
    "symbolic_namespace",
    "symbolic_op",
]

_OPS: dict[str, Callable] = {}  # saved name -> function: the allow-list
_NAMES: dict[int, str] = {}  # id(function) -> saved name


def register_op(name: str, func: Callable) -> Callable:
    """Allow `func` in saved graphs under `name` (the first name registered is kept)."""
    _OPS.setdefault(name, func)
    _NAMES.setdefault(id(func), name)
    return func


def op_name(func: Callable) -> str | None:
    """The saved name of `func`, or None when it is not an allowed op."""
    return _NAMES.get(id(func))


def get_op(name: str, where: str = "op") -> Callable:
    """The allowed op saved as `name`; ValueError naming the closest allowed names."""
    if name not in _OPS:
        close = suggest(str(name), _OPS)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"{where}: {name!r} is not an operation fitorch rebuilds from a file.{hint} "
            "Allowed: fitorch.backend.*, fitorch.ops.*, the torch functions and Tensor "
            "operators listed in fitorch.layers.op_node."
        )
    return _OPS[name]


def is_symbolic(structure) -> bool:
    """True when a `KerasTensor` occurs anywhere in the nested `structure`."""
    return any(isinstance(leaf, KerasTensor) for leaf in flatten(structure))


def symbolic_op(func: Callable, name: str | None = None) -> Callable:
    """`func`, recording a graph node when called on symbolic tensors (see module doc).

    With `name`, the op is also registered for saving under that name.
    """
    if name is not None:
        register_op(name, func)

    @functools.wraps(func)
    def op(*args, **kwargs):
        if is_symbolic((args, kwargs)):
            return OpLayer(func)(*args, **kwargs)
        return func(*args, **kwargs)

    return op


def symbolic_namespace(namespace: dict, names, prefix: str) -> None:
    """Replace each function `namespace[name]` by `symbolic_op(it, f"{prefix}.{name}")`
    (the package-level wrapping of `fitorch.ops`; classes and constants stay as they are)."""
    for name in names:
        func = namespace[name]
        if callable(func) and not isinstance(func, type) and name.islower():
            namespace[name] = symbolic_op(func, f"{prefix}.{name}")


def op_record(layer: OpLayer) -> dict:
    """The `TorchOp` record of an op layer; TypeError when its function is not allowed."""
    name = op_name(layer.func)
    if name is None:
        raise TypeError(
            f"Cannot save the operation {getattr(layer.func, '__name__', layer.func)!r} "
            f"applied to symbolic tensors (layer {layer.name!r}): only registered ops "
            "(fitorch.backend, fitorch.ops, common torch functions and operators) are saved. "
            "Wrap it in a Layer subclass registered with "
            "@fitorch.saving.register_serializable()."
        )
    config = {"name": layer.name, "op": name}
    if layer.bound:
        config["bound"] = layer.bound
    return {
        "module": "fitorch.layers",
        "class_name": "TorchOp",
        "config": config,
        "registered_name": None,
    }


def keras_op_layer(record: dict, where: str) -> OpLayer | None:
    """The op layer for a `TorchOp`, Keras 3 op or Keras 2 TFOpLambda record, else None."""
    cls = record.get("class_name")
    config = dict(record.get("config") or {})
    name = config.pop("name", None)
    if cls == "TorchOp":
        return OpLayer(get_op(config.get("op"), where), name=name, bound=config.get("bound"))
    if cls in ("TFOpLambda", "SlicingOpLambda"):  # tf-keras: `tf.*` calls, `x[...]`
        function = config.get("function")
        if function not in _TF_OPS:
            close = suggest(str(function), _TF_OPS)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{where}: the Keras 2 TFOpLambda function {function!r} has no fitorch "
                f"equivalent.{hint} Known: {sorted(_TF_OPS)}."
            )
        return OpLayer(_TF_OPS[function], name=name)
    module = str(record.get("module") or "")
    if module.startswith("keras.src.ops.") or module.startswith("keras.ops"):
        func = _keras_op(cls, where)
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return OpLayer(func, name=name, bound=config)
    return None


def _keras_op(class_name: str, where: str) -> Callable:
    """The fitorch function for a Keras 3 op class (`NotEqual` -> `not_equal`)."""
    if class_name in _KERAS_OPS:
        return _KERAS_OPS[class_name]
    snake = to_snake_case(class_name)
    for prefix in ("fitorch.ops.", "fitorch.backend."):
        if prefix + snake in _OPS:
            return _OPS[prefix + snake]
    raise ValueError(
        f"{where}: the Keras op {class_name!r} ({snake!r}) has no fitorch equivalent "
        "registered for loading."
    )


# -- torch functions and Tensor operators allowed in saved graphs --------------------------
def get_item(x, key):
    """`x[key]`; a list key (as Keras saves an index tuple) indexes as a tuple."""
    return x[tuple(key) if isinstance(key, list) else key]


_TENSOR_OPERATORS = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__invert__", "__lt__",
    "__le__", "__gt__", "__ge__", "__ne__", "__and__", "__rand__", "__or__", "__ror__",
    "__xor__", "__rxor__", "__getitem__",
)  # fmt: skip
_TORCH_FUNCTIONS = (
    "cat", "concat", "concatenate", "stack", "add", "sub", "subtract", "mul", "multiply", "div",
    "divide", "matmul", "exp", "log", "sqrt", "square", "abs", "mean", "sum", "max", "min",
    "maximum", "minimum", "tanh", "sigmoid", "relu", "softmax", "log_softmax", "reshape",
    "transpose", "permute", "flatten", "squeeze", "unsqueeze", "clamp", "clip", "pow", "neg",
    "erf", "sin", "cos", "split", "chunk", "where", "flip", "cumsum", "logsumexp", "ne", "eq",
    "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
)  # fmt: skip
for _name in _TENSOR_OPERATORS:
    register_op(f"Tensor.{_name}", getattr(torch.Tensor, _name))
for _name in _TORCH_FUNCTIONS:
    register_op(f"torch.{_name}", getattr(torch, _name))
register_op("fitorch.layers.op_node.get_item", get_item)
for _name in ("ne", "eq", "lt", "le", "gt", "ge", "add", "sub", "mul", "truediv", "pow", "neg",
              "abs", "matmul"):  # fmt: skip
    register_op(f"operator.{_name}", getattr(operator, _name))


def _tf_cast(x, dtype, name=None):
    """TensorFlow's `cast(x, dtype)` (dtype by name, e.g. "float32")."""
    return x.to(getattr(torch, str(dtype)))


# Keras 3 op classes whose fitorch function is not `fitorch.ops.<snake_case name>`.
_KERAS_OPS: dict[str, Callable] = {
    "GetItem": get_item,
    "NotEqual": operator.ne,
    "Equal": operator.eq,
    "Less": operator.lt,
    "LessEqual": operator.le,
    "Greater": operator.gt,
    "GreaterEqual": operator.ge,
    "Add": operator.add,
    "Subtract": operator.sub,
    "Multiply": operator.mul,
    "Divide": operator.truediv,
    "TrueDivide": operator.truediv,
    "Power": operator.pow,
    "Negative": operator.neg,
    "Absolute": operator.abs,
    "Matmul": operator.matmul,
    "LogicalAnd": torch.logical_and,
    "LogicalOr": torch.logical_or,
    "LogicalNot": torch.logical_not,
}


def _tf_binary(fn):
    """A TensorFlow binary op `(x, y, name=None)` on torch tensors."""

    def call(x, y, name=None):
        return fn(x, y)

    return call


def _tf_getitem(x, slice_spec, var=None, name=None):
    """`x[slice_spec]`: tf-keras's `SlicingOpLambda` (indexing a KerasTensor).

    The file writes each entry of the index as an int, None (a new axis), `{"start", "stop",
    "step"}` (a slice) or `{"class_name": "__ellipsis__"}`; a graph rebuilt by fitorch holds
    `Ellipsis` and slices there already.
    """
    return x[tuple(_tf_index_entry(entry) for entry in slice_spec)]


def _tf_index_entry(entry):
    if isinstance(entry, dict) and entry.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(entry, dict) and set(entry) <= {"start", "stop", "step"}:
        return slice(entry.get("start"), entry.get("stop"), entry.get("step"))
    if entry is None or entry is Ellipsis or isinstance(entry, (int, slice)):
        return entry
    raise ValueError(
        f"SlicingOpLambda: an index entry must be an int, None, a slice or an ellipsis; "
        f"got {entry!r}."
    )


# Keras 2 (tf.keras) TFOpLambda functions, by the TensorFlow name the record carries.
_TF_OPS: dict[str, Callable] = {
    "__operators__.getitem": _tf_getitem,
    "math.not_equal": _tf_binary(operator.ne),
    "math.equal": _tf_binary(operator.eq),
    "math.less": _tf_binary(operator.lt),
    "math.greater": _tf_binary(operator.gt),
    "math.multiply": _tf_binary(operator.mul),
    "math.subtract": _tf_binary(operator.sub),
    "math.truediv": _tf_binary(operator.truediv),
    "__operators__.add": _tf_binary(operator.add),
    "cast": _tf_cast,
}
for _name, _func in _TF_OPS.items():
    register_op(f"tf.{_name}", _func)
