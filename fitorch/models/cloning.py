"""`clone_model`: the same architecture with new layers (fresh weights), as Keras 3's.

- Sequential: every layer goes through `clone_function`, behind a new `Input` like the
  original's (when it has one).
- Functional: new `Input`s like the original's (or `input_tensors`), then every layer call
  of the graph is replayed, in execution order, on the clone of its layer; a layer called
  twice is cloned once, so sharing is kept. `call_function(layer, *args, **kwargs)` replaces
  the call when given; `recursive=True` clones nested Sequential/functional models with the
  same functions instead of passing them to `clone_function`.
- Any other model: `type(model).from_config(model.get_config())` (its layers build at its
  first call).
The default `clone_function` is `layer.__class__.from_config(layer.get_config())`. A
compiled model's clone is compiled with the same (serialized, so not shared) configuration.
"""

from __future__ import annotations

from fitorch.layers.input import Input, InputLayer, KerasTensor, OpLayer
from fitorch.models.functional import Functional
from fitorch.models.sequential import Sequential
from fitorch.tree import flatten, map_structure

__all__ = ["clone_model"]


def _clone_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(
    model, input_tensors=None, clone_function=None, call_function=None, recursive=False
):
    """A copy of `model` with new layers and freshly initialised weights (see the module).

    Args:
        model: a `Sequential`, functional or subclassed model.
        input_tensors: symbolic tensors, structured like `model.input`, to build the clone
            on (new `Input`s by default; one tensor for a Sequential).
        clone_function: `fn(layer) -> layer` applied to every layer but the inputs.
        call_function: `fn(layer, *args, **kwargs)` making each call of a functional clone.
        recursive: clone nested Sequential/functional models layer by layer.
    """
    if clone_function is not None and not callable(clone_function):
        raise ValueError(f"clone_model: clone_function must be callable; got {clone_function!r}.")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "clone_model: call_function is supported for functional models only; a "
                "Sequential model's layers are listed, not called."
            )
        cloner = _cloner(clone_function, call_function, recursive)
        clone = _clone_sequential(model, cloner, input_tensors)
    elif isinstance(model, Functional):
        cloner = _cloner(clone_function, call_function, recursive)
        clone = _clone_functional(model, cloner, input_tensors, call_function)
    else:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ValueError(
                "clone_model: clone_function, input_tensors and call_function are supported "
                f"for Sequential and functional models only; got a {type(model).__name__}."
            )
        clone = type(model).from_config(model.get_config())
    if model.get_compile_config() is not None:
        from fitorch.saving.compile_config import compile_from_record, compile_record

        compile_from_record(clone, compile_record(model), None, "clone_model")
    return clone


def _cloner(clone_function, call_function, recursive):
    """`fn(layer)`: its clone, made once per layer (a shared layer stays shared)."""
    make = clone_function or _clone_layer
    cache: dict[int, object] = {}

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(
                    layer, clone_function=clone_function, call_function=call_function,
                    recursive=True,
                )  # fmt: skip
            else:
                cache[id(layer)] = make(layer)
        return cache[id(layer)]

    return clone


def _clone_sequential(model, clone, input_tensors=None):
    """The layers' clones behind `input_tensors` (one symbolic tensor, as Keras), else behind
    a new `Input` like the model's (when it has one)."""
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        given = flatten(input_tensors)
        if len(given) != 1 or not isinstance(given[0], KerasTensor):
            raise ValueError(
                "clone_model: a Sequential model takes one symbolic tensor as input_tensors; "
                f"got {input_tensors!r}."
            )
        layers = [given[0]] + layers
    elif model.input_shape is not None:
        (first,) = model.inputs
        layers = [_new_input(first)] + layers
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _new_input(tensor: KerasTensor):
    layer = tensor.node.layer
    return Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=layer.name)


def _clone_functional(model, clone, input_tensors, call_function):
    if input_tensors is None:
        input_tensors = map_structure(_new_input, model.input)
    new_inputs = flatten(input_tensors)
    old_inputs = flatten(model.input)
    if len(new_inputs) != len(old_inputs) or not all(
        isinstance(t, KerasTensor) for t in new_inputs
    ):
        raise ValueError(
            f"clone_model: input_tensors must be symbolic tensors structured like model.input "
            f"({len(old_inputs)} tensor(s)); got {input_tensors!r}."
        )
    values = {id(old): new for old, new in zip(old_inputs, new_inputs)}
    for node in model.graph_nodes():
        if isinstance(node.layer, InputLayer):
            continue
        args = _substitute(node.args, values)
        kwargs = _substitute(node.kwargs, values)
        # An op node (`x + y`, `ops.exp(x)`) holds no weights: the same op runs in the clone.
        layer = node.layer if isinstance(node.layer, OpLayer) else clone(node.layer)
        out = call_function(layer, *args, **kwargs) if call_function else layer(*args, **kwargs)
        for old, new in zip(node.outputs, flatten(out)):
            values[id(old)] = new
    outputs = map_structure(lambda t: values[id(t)], model.output)
    return Functional(input_tensors, outputs, name=model.name, trainable=model.trainable)


def _substitute(structure, values):
    """The node's recorded arguments with each symbolic tensor replaced by its clone's."""
    return map_structure(
        lambda v: values.get(id(v), v) if isinstance(v, KerasTensor) else v, structure
    )
