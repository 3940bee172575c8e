"""`Functional`: a model defined by a graph of layer calls on symbolic tensors.

`Model(inputs, outputs)` walks back from `outputs` to `inputs` through the recorded
`Node`s and keeps them in topological order; `call` replays them on real tensors. Several
inputs and outputs (lists or dicts) and shared layers (one layer, several nodes) work.
`model.layers` (hence `weights` and `get_weights()`) follows Keras 3's order, by depth from
the outputs (`models/layer_order.py`), not the execution order.

`training` in a graph (Keras 3's rule): a call recorded with `training=` (`base(x,
training=False)`) keeps that value only while the model itself runs without one; once the
model's call resolves `training` (fit passes True, predict False, or an enclosing call), that
value reaches every layer of the graph and replaces the recorded one. So an unfrozen base called
with `training=False` trains its BatchNormalization in fit, as in Keras 3; a frozen (non-trainable)
BatchNormalization still runs in inference.
"""

from __future__ import annotations

import torch
from torch import nn

from fitorch.layers.base import enclosing_training
from fitorch.layers.input import (
    InputLayer,
    KerasTensor,
    Node,
    _flatten,
    bind_value,
    executing,
    value_of,
)
from fitorch.models.layer_order import keras_layer_order
from fitorch.models.model import Model
from fitorch.utils.naming import auto_name

__all__ = ["Functional"]


class Functional(Model):
    """A graph model: `Functional(inputs, outputs, name=None)`."""

    def __init__(self, inputs=None, outputs=None, name=None, **kwargs):
        super().__init__(name=name or auto_name("Functional"), **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._input_tensors = _flatten_sorted(inputs)
        self._output_tensors = _flatten_sorted(outputs)
        for t in self._input_tensors + self._output_tensors:
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    f"Model(inputs, outputs) needs symbolic tensors from Input() and layer calls; "
                    f"got {type(t).__name__}."
                )
        self._nodes = _topological_nodes(self._input_tensors, self._output_tensors)
        _uniquify_names(list(dict.fromkeys(node.layer for node in self._nodes)))
        self._graph_layers = nn.ModuleList(
            keras_layer_order(self._input_tensors, self._output_tensors)
        )
        self._loss_tensors: list[KerasTensor] = []  # symbolic add_loss terms
        self._loss_nodes: list = []
        self._loss_layers = nn.ModuleList()
        self.built = True

    @property
    def layers(self) -> list:
        return list(self._graph_layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        """The input tensors, flat (Keras 3's `model.inputs`: a dict's in sorted key order)."""
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        """The output tensors, flat (Keras 3's `model.outputs`: a dict's in sorted key order)."""
        return list(self._output_tensors)

    @property
    def input(self):
        """The inputs as given to `Model(inputs, outputs)`: one tensor, a list or a dict keyed
        by input name (Keras 3's `model.input`)."""
        return self._inputs_struct

    @property
    def output(self):
        """The outputs as given to `Model(inputs, outputs)` (Keras 3's `model.output`)."""
        return self._outputs_struct

    @property
    def input_shape(self):
        """The inputs' shapes (batch None): a tuple, or a list of them for several inputs."""
        shapes = [tuple(t.shape) for t in self._input_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        """The outputs' shapes (batch None): a tuple, or a list of them for several outputs."""
        shapes = [tuple(t.shape) for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def operations(self) -> list:
        """Every layer of the graph, its `InputLayer`s and op nodes (`OpLayer`) included, in
        `layers` order (Keras 3's `model.operations`)."""
        return list(self._graph_layers)

    def graph_nodes(self) -> list[Node]:
        """The graph's layer calls in execution order (each input before the calls reading it).

        A `Node` has `layer`, `args`/`kwargs` (symbolic tensors where the call took them),
        `outputs` (flat list) and `parents()` (the tensors it reads). A layer called twice has
        two nodes. Symbolic `add_loss` terms are not part of the graph and are not listed.
        Keras keeps its nodes private (`_nodes_by_depth`); this is fitorch's public view.
        """
        return list(self._nodes)

    @property
    def symbolic_losses(self) -> list[KerasTensor]:
        """The symbolic `add_loss` terms (Keras 2), in the order they were added."""
        return list(self._loss_tensors)

    def symbolic_loss_nodes(self) -> list[Node]:
        """The calls computing `symbolic_losses` that the graph does not run, parents first."""
        return list(self._loss_nodes)

    @property
    def input_names(self) -> list[str]:
        return [t.node.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._outputs_struct, dict):
            # Keras names a dict's outputs by key (in sorted order) when fitting.
            return sorted(self._outputs_struct)
        return [t.node.layer.name for t in self._output_tensors]

    def call(self, inputs, training=None, mask=None):
        override = enclosing_training() is not None  # the module docstring's `training` rule
        values: dict[int, torch.Tensor] = {}
        for kt, value in zip(self._input_tensors, self._match_inputs(inputs)):
            value = _standardize_rank(self, kt, value)
            values[id(kt)] = value
            bind_value(kt, value)
        with executing():
            for node in self._nodes + self._loss_nodes:
                if isinstance(node.layer, InputLayer):
                    continue
                args = _substitute(node.args, values)
                # A fresh dict either way: the `training` pop below must not touch the node.
                kwargs = _substitute(node.kwargs, values) if node.kwargs else {}
                if override:
                    kwargs.pop("training", None)  # the layer inherits the model's value
                out = node.layer(*args, **kwargs)
                for kt, value in zip(node.outputs, _flatten(out)):
                    values[id(kt)] = value
                    bind_value(kt, value)
        for kt in self._loss_tensors:
            self.add_loss(values[id(kt)])
        outs = [values[id(t)] for t in self._output_tensors]
        if isinstance(self._outputs_struct, dict):
            return dict(zip(sorted(self._outputs_struct), outs))
        if isinstance(self._outputs_struct, (list, tuple)):
            return list(outs)
        return outs[0]

    def add_loss(self, loss, inputs=None) -> None:
        """A tensor term, or a symbolic expression of this graph (Keras 2: `vae.add_loss(
        K.mean(reconstruction + kl))`) recomputed from the graph at every call and saved with
        the model (`models/graph_config.py`)."""
        if not isinstance(loss, KerasTensor):
            return super().add_loss(loss, inputs)
        self._loss_nodes += _loss_nodes(self, loss)
        layers = {id(layer) for layer in self.layers}
        for node in self._loss_nodes:
            if id(node.layer) not in layers and node.layer not in list(self._loss_layers):
                self._loss_layers.append(node.layer)
        self._loss_tensors.append(loss)

    def _match_inputs(self, inputs) -> list:
        """Real inputs in the order of `self._input_tensors` (list, dict by name, or one)."""
        n = len(self._input_tensors)
        if isinstance(inputs, dict):
            names = self.input_names
            if isinstance(self._inputs_struct, dict):
                names = sorted(self._inputs_struct)
            missing = [k for k in names if k not in inputs]
            if missing:
                raise ValueError(
                    f"Model {self.name!r} expects inputs {names}; the dict given has keys "
                    f"{sorted(inputs)} (missing {missing})."
                )
            return [inputs[k] for k in names]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != n:
                raise ValueError(f"Model {self.name!r} expects {n} input(s); got {len(inputs)}.")
            return list(inputs)
        if n != 1:
            raise ValueError(
                f"Model {self.name!r} expects {n} inputs (a list or dict); got one tensor."
            )
        return [inputs]

    def get_config(self) -> dict:
        from fitorch.models.graph_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild the graph from `get_config()` (or a Keras functional config)."""
        from fitorch.models.graph_config import functional_from_config

        return functional_from_config(cls, config, custom_objects)


def _flatten_sorted(structure) -> list:
    """Leaves of a nested list/tuple/dict as Keras' `tree.flatten` orders them: a dict's
    values in sorted key order (so `model.inputs`, `outputs` and the layer order follow it)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flatten_sorted(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten_sorted(item)]
    return [structure]


def _standardize_rank(model, kt: KerasTensor, value):
    """Keras's input standardisation: an array one axis short of an `Input` whose last size is
    1 gets that axis (images (N, 28, 28) into Input((28, 28, 1))); one extra trailing axis of
    size 1 is dropped. Any other rank mismatch raises naming the input and both shapes."""
    if not isinstance(value, torch.Tensor) or value.ndim == kt.ndim:
        return value
    if value.ndim == kt.ndim - 1 and kt.shape[-1] == 1:
        return value.unsqueeze(-1)
    if value.ndim == kt.ndim + 1 and value.shape[-1] == 1:
        return value.squeeze(-1)
    raise ValueError(
        f"Input {kt.node.layer.name!r} of model {model.name!r} expects shape {kt.shape}; "
        f"received an input of incompatible shape {tuple(value.shape)}."
    )


def _substitute(structure, values):
    if isinstance(structure, KerasTensor):
        # A tensor inside a nested model of the graph is bound by that model's run.
        return values[id(structure)] if id(structure) in values else value_of(structure)
    if isinstance(structure, (list, tuple)):
        items = [_substitute(v, values) for v in structure]
        return items if isinstance(structure, list) else tuple(items)
    if isinstance(structure, dict):
        return {k: _substitute(v, values) for k, v in structure.items()}
    return structure


def _topological_nodes(inputs, outputs) -> list:
    """Nodes needed to compute `outputs` from `inputs`, parents before children (a depth-first
    walk with its own stack, so graphs deeper than Python's recursion limit work)."""
    input_ids = {id(t) for t in inputs}
    order, done = [], set()
    for start in [*inputs, *outputs]:
        stack, on_path = [(start, None)], set()
        while stack:
            tensor, parents = stack[-1]
            node = tensor.node
            if parents is None:
                if node is None:
                    raise ValueError(f"{tensor} was not produced by a layer call or Input().")
                if id(node) in done:
                    stack.pop()
                    continue
                if id(node) in on_path:
                    raise ValueError("The layer graph has a cycle.")
                on_path.add(id(node))
                parents = iter(_parents_to_walk(tensor, input_ids))
                stack[-1] = (tensor, parents)
            parent = next(parents, None)
            if parent is not None:
                stack.append((parent, None))
                continue
            stack.pop()
            on_path.discard(id(node))
            done.add(id(node))
            order.append(node)
    return order


def _loss_nodes(model, loss: KerasTensor) -> list:
    """The nodes computing `loss` that the graph does not run yet, parents first.

    The walk stops at tensors the graph computes (its nodes' outputs, earlier loss nodes)
    and at tensors inside a nested model of the graph (its run binds them: the Keras 2 VAE's
    `z_mean` belongs to the encoder called inside `vae`).
    """
    known = {id(t) for node in model._nodes + model._loss_nodes for t in node.outputs}
    known |= _nested_tensors(model)
    order, seen = [], set()

    def visit(tensor):
        if id(tensor) in known or tensor.node is None or id(tensor.node) in seen:
            return
        if isinstance(tensor.node.layer, InputLayer):
            raise ValueError(
                f"add_loss: the loss depends on input {tensor.node.layer.name!r}, which is "
                f"not an input of model {model.name!r}."
            )
        seen.add(id(tensor.node))
        for parent in tensor.node.parents():
            visit(parent)
        order.append(tensor.node)

    visit(loss)
    return order


def _nested_tensors(model) -> set[int]:
    """ids of every tensor computed inside the functional models nested in `model`'s graph."""
    out: set[int] = set()
    for layer in model.layers:
        if isinstance(layer, Functional):
            out |= {id(t) for node in layer._nodes for t in node.outputs}
            out |= _nested_tensors(layer)
    return out


def _parents_to_walk(tensor, input_ids) -> list:
    """The tensors `tensor`'s node needs; none for the model's inputs."""
    if id(tensor) in input_ids:
        return []
    if isinstance(tensor.node.layer, InputLayer):
        raise ValueError(
            f"Output depends on input {tensor.node.layer.name!r}, "
            "which is not in the model's inputs."
        )
    return tensor.node.parents()


def _uniquify_names(layers) -> None:
    taken: set[str] = set()
    for layer in layers:
        base, name, i = layer.name, layer.name, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        layer.name = name
        taken.add(name)
