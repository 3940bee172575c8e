"""Keras 3's order of a functional graph's layers (`model.layers`).

Keras lists a functional model's layers by depth, deepest first, where the depth of a node is
the longest path from it to an output (a layer takes the largest depth of its nodes, and its
nodes take at least that depth); layers of equal depth keep the order in which a depth-first
walk from the outputs (each call's arguments in order) first reached them. An input that no
output depends on has depth 0 and comes first among the depth-0 layers (Keras's index -1).

This order decides `model.layers`, `get_weights()` and how Keras 2 `.h5` weight files map onto
layers, so it must equal Keras's for weight files and `set_weights` lists to fit. It differs
from execution order where branches meet (a ResNet shortcut). The walks are iterative, so
graphs deeper than Python's recursion limit (EfficientNetV2L) are ordered too.
"""

from __future__ import annotations

from fitorch.layers.input import InputLayer

__all__ = ["keras_layer_order"]


def keras_layer_order(inputs, outputs) -> list:
    """The layers of the graph from `inputs` to `outputs` (flat lists of symbolic tensors),
    in Keras 3's `model.layers` order (see the module docstring)."""
    post_order, first_visit = _walk_from_outputs(inputs, outputs)
    layer_depth, layer_of = _layer_depths(post_order)
    for t in inputs:  # an input no output depends on: depth 0, before the others
        layer = t.node.layer
        if id(layer) not in layer_of:
            layer_of[id(layer)], layer_depth[id(layer)], first_visit[id(layer)] = layer, 0, -1
    ordered = sorted(layer_of, key=lambda k: (-layer_depth[k], first_visit[k]))
    return [layer_of[k] for k in ordered]


def _walk_from_outputs(inputs, outputs) -> tuple[list, dict]:
    """(nodes in post order, id(layer) -> index of first visit), walking from each output to
    its parents depth first; the walk stops at the model's input tensors."""
    input_ids = {id(t) for t in inputs}
    first_visit: dict[int, int] = {}
    finished: set[int] = set()
    post_order: list = []
    for output in outputs:
        stack: list = [(output, None)]
        while stack:
            tensor, parents = stack[-1]
            node = tensor.node
            if parents is None:
                if node is None or id(node) in finished:
                    stack.pop()
                    continue
                first_visit.setdefault(id(node.layer), len(first_visit))
                leaf = isinstance(node.layer, InputLayer) or id(tensor) in input_ids
                parents = iter(() if leaf else node.parents())
                stack[-1] = (tensor, parents)
            parent = next(parents, None)
            if parent is not None:
                stack.append((parent, None))
                continue
            stack.pop()
            if id(node) not in finished:
                finished.add(id(node))
                post_order.append(node)
    return post_order, first_visit


def _layer_depths(post_order: list) -> tuple[dict, dict]:
    """(id(layer) -> depth, id(layer) -> layer): from the outputs down, a node's parents are
    at least one deeper than the node, and a layer's nodes share the layer's largest depth."""
    in_graph = {id(node) for node in post_order}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layer_of: dict[int, object] = {}
    for node in reversed(post_order):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layer_of[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for parent in node.parents():
            key = id(parent.node) if parent.node is not None else None
            if key in in_graph:
                node_depth[key] = max(depth + 1, node_depth.get(key, 0))
    return layer_depth, layer_of
