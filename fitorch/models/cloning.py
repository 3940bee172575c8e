"""`clone_model`: the same architecture with new layers, hence new (freshly initialised) weights.

Keras 3's contract: a Sequential model is rebuilt from clones of its layers; a functional model
is re-run node by node on new inputs, each layer cloned once (a shared layer stays shared in the
clone); any other model is rebuilt from its config. `clone_function(layer)` makes each new layer
(default: `layer.__class__.from_config(layer.get_config())`); `call_function(layer, *args,
**kwargs)` makes each call of a functional clone (default: `layer(*args, **kwargs)`). With
`recursive=True`, nested Sequential and functional models are cloned the same way instead of
being passed to `clone_function`. Weights are not copied: `clone.set_weights(model.get_weights())`.
"""

from __future__ import annotations

from fitorch import tree
from fitorch.layers.input import Input, InputLayer, KerasTensor, OpLayer
from fitorch.models.functional import Functional
from fitorch.models.model import Model
from fitorch.models.sequential import Sequential

__all__ = ["clone_model"]


def _clone_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(
    model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs
):
    """A new model with `model`'s architecture and new weights (see the module docstring).

    Args:
        model: a `Model` (Sequential, functional or subclassed).
        input_tensors: symbolic inputs for the clone (an `Input` or a structure of them, like
            `model.input`); default: new `Input`s shaped like the model's.
        clone_function: `layer -> new layer`.
        call_function: `(layer, *args, **kwargs) -> outputs`, functional models only.
        recursive: clone nested Sequential/functional models instead of calling
            `clone_function` on them.

    Example:
        >>> m = Sequential([Input((3,)), layers.Dense(2)])
        >>> clone_model(m).count_params() == m.count_params()
        True
    """
    if kwargs:
        raise TypeError(f"clone_model: unexpected keyword argument {sorted(kwargs)[0]!r}.")
    if not isinstance(model, Model):
        raise TypeError(
            f"clone_model: `model` must be a fitorch Model; received {type(model).__name__}."
        )
    clone_function = clone_function or _clone_layer
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "clone_model: `call_function` applies to functional models only; this model "
                "is a Sequential."
            )
        return _clone_sequential(model, input_tensors, clone_function, recursive)
    if isinstance(model, Functional):
        return _clone_functional(model, input_tensors, clone_function, call_function, recursive)
    if input_tensors is not None or call_function is not None:
        raise ValueError(
            "clone_model: `input_tensors` and `call_function` need a Sequential or functional "
            f"model; {type(model).__name__} is a subclassed model (cloned from its config)."
        )
    return _clone_layer(model)


def _clone_nested(layer, clone_function, recursive: bool):
    """`clone_function(layer)`, or with `recursive` a nested model cloned the same way; an op
    node (`x * 2`, `ops.exp(x)`: no weights) is reused, as Keras reuses its operations."""
    if isinstance(layer, OpLayer):
        return layer
    if recursive and isinstance(layer, (Sequential, Functional)):
        return clone_model(layer, clone_function=clone_function, recursive=True)
    return clone_function(layer)


def _new_input_like(tensor: KerasTensor) -> KerasTensor:
    layer = tensor.node.layer
    return Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)


def _clone_sequential(model, input_tensors, clone_function, recursive: bool):
    layers = [_clone_nested(layer, clone_function, recursive) for layer in model.layers]
    if input_tensors is not None:
        flat = tree.flatten(input_tensors)
        if len(flat) != 1 or not isinstance(flat[0], KerasTensor):
            raise ValueError(
                "clone_model: a Sequential model takes one symbolic input tensor as "
                f"`input_tensors`; received {input_tensors!r}."
            )
        layers.insert(0, flat[0])
    elif hasattr(model, "inputs"):
        layers.insert(0, _new_input_like(model.inputs[0]))
    return Sequential(layers, name=model.name)


def _clone_functional(model, input_tensors, clone_function, call_function, recursive: bool):
    if input_tensors is None:
        input_tensors = tree.map_structure(_new_input_like, model.input)
    new_inputs = tree.flatten(input_tensors)
    if len(new_inputs) != len(model.inputs) or not all(
        isinstance(t, KerasTensor) for t in new_inputs
    ):
        raise ValueError(
            f"clone_model: `input_tensors` must hold {len(model.inputs)} symbolic tensor(s), "
            f"one per model input; received {input_tensors!r}."
        )
    tensors = {id(old): new for old, new in zip(model.inputs, new_inputs)}
    clones: dict[int, object] = {}
    for node in model.graph_nodes():
        if isinstance(node.layer, InputLayer):
            continue
        layer = clones.get(id(node.layer))
        if layer is None:
            layer = clones[id(node.layer)] = _clone_nested(node.layer, clone_function, recursive)
        args, kwargs = tree.map_structure(
            lambda v: tensors.get(id(v), v) if isinstance(v, KerasTensor) else v,
            (node.args, node.kwargs),
        )
        out = call_function(layer, *args, **kwargs) if call_function else layer(*args, **kwargs)
        for old, new in zip(node.outputs, tree.flatten(out)):
            tensors[id(old)] = new
    outputs = tree.map_structure(lambda t: tensors[id(t)], model.output)
    return Model(input_tensors, outputs, name=model.name)
