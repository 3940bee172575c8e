"""Configs of `Sequential` and `Functional` models in Keras 3's format, and their inverse.

Sequential: `{"name", "trainable", "dtype", "layers": [records], "build_input_shape"}` where the
first record is the `InputLayer` when the input shape is known.

Functional: `{"name", "trainable", "layers", "input_layers", "output_layers"}`; every layer
record carries its `name` and `inbound_nodes`, one `{"args", "kwargs"}` per call of the layer
in this graph, where a symbolic tensor is
`{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history":
[layer_name, node_index, tensor_index]}}`. Shared layers have several nodes. Keras 2's list
form of `inbound_nodes` (`[[[name, node, tensor, kwargs], ...]]`) is read too.

Operations recorded on symbolic tensors (`x + y`, `torch.cat`, `K.mean`) are saved as `TorchOp`
records naming the operation; loading accepts only the allow-listed ops of
`fitorch.layers.op_node` (which also reads Keras 3 op records and Keras 2 `TFOpLambda`).

Symbolic `add_loss` terms (Keras 2) are saved under `"symbolic_losses"` (a fitorch key, not
in Keras's format): `{"nodes": [TorchOp record + "args"/"kwargs", ...], "losses": [tensor, ...]}`,
the nodes in execution order. Their arguments name graph tensors as above, the output `j` of
loss node `i` as `{"class_name": "__loss_tensor__", "config": {"node": i, "index": j}}`, and a
tensor inside a nested functional model (the Keras 2 VAE's `z_mean`, made in `encoder`) as
`{"class_name": "__nested_tensor__", "config": {"models": ["encoder"], "keras_history":
[layer, node, index]}}`. Loading replays the nodes on the rebuilt graph and adds the terms.
"""

from __future__ import annotations

from fitorch.layers.input import InputLayer, KerasTensor, OpLayer, _flatten
from fitorch.layers.op_node import keras_op_layer, op_record
from fitorch.serialization import deserialize_object, serialize_object

__all__ = [
    "sequential_config",
    "functional_config",
    "sequential_from_config",
    "functional_from_config",
    "layer_record",
]


# -- records ------------------------------------------------------------------------------
def layer_record(layer) -> dict:
    """The Keras record of one layer (TorchOp for a recorded torch operation)."""
    if isinstance(layer, OpLayer):
        return op_record(layer)
    return serialize_object(layer, "layer")


def _build_layer(record, custom_objects, where):
    op_layer = keras_op_layer(record, where) if isinstance(record, dict) else None
    if op_layer is not None:
        return op_layer
    return deserialize_object(record, "layer", custom_objects, where)


# -- Sequential ---------------------------------------------------------------------------
def sequential_config(model) -> dict:
    """`Sequential.get_config()`: the layers' records, InputLayer first when known."""
    records = []
    if model._input_layer is not None:
        records.append(layer_record(model._input_layer))
    records += [layer_record(layer) for layer in model.layers]
    config = {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": str(model.dtype).replace("torch.", ""),
        "layers": records,
    }
    if model.input_shape is not None:
        config["build_input_shape"] = list(model.input_shape)
    return config


def sequential_from_config(cls, config: dict, custom_objects=None):
    """Inverse of `sequential_config` (also reads Keras 3 and Keras 2 Sequential configs)."""
    records = config.get("layers")
    if isinstance(config, list):  # Keras 2.0 stored the bare list
        records, config = config, {}
    if not isinstance(records, list):
        raise ValueError(
            f"A Sequential config needs a 'layers' list; got {type(records).__name__}."
        )
    model = cls(name=config.get("name"))
    for i, record in enumerate(records):
        lname = (record.get("config") or {}).get("name") if isinstance(record, dict) else None
        where = f"layer {lname or i!r} of Sequential {config.get('name')!r}"
        model.add(_build_layer(record, custom_objects, where))
    shape = config.get("build_input_shape")
    if model._input_layer is None and shape is not None:
        model.build(tuple(shape))
    if config.get("trainable") is False:
        model.trainable = False
    return model


# -- Functional ---------------------------------------------------------------------------
def _node_numbering(model) -> tuple[dict, dict]:
    """(id(node) -> node index within its layer, id(tensor) -> [layer, node, index])."""
    counts: dict[int, int] = {}
    node_index, history = {}, {}
    for node in model.graph_nodes():
        k = counts.get(id(node.layer), 0)
        counts[id(node.layer)] = k + 1
        node_index[id(node)] = k
        for i, t in enumerate(node.outputs):
            history[id(t)] = [node.layer.name, k, i]
    return node_index, history


def _encode(value, history):
    if isinstance(value, KerasTensor):
        ref = history[id(value)]
        if isinstance(ref, dict):  # a loss node's output or a nested model's tensor
            return ref
        return {
            "class_name": "__keras_tensor__",
            "config": {
                "shape": list(value.shape),
                "dtype": str(value.dtype).replace("torch.", ""),
                "keras_history": ref,
            },
        }
    if isinstance(value, list):
        return [_encode(v, history) for v in value]
    if isinstance(value, tuple):
        return {
            "class_name": "__tuple__",
            "config": {"value": [_encode(v, history) for v in value]},
        }
    if isinstance(value, dict):
        return {str(k): _encode(v, history) for k, v in value.items()}
    if isinstance(value, slice):
        return {
            "class_name": "__slice__",
            "config": {"start": value.start, "stop": value.stop, "step": value.step},
        }
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"Cannot save a functional graph whose layer call takes {type(value).__name__} "
        f"{value!r}: only symbolic tensors, numbers, strings, slices and containers are saved."
    )


def _io_spec(struct, history):
    if isinstance(struct, KerasTensor):
        return history[id(struct)]
    if isinstance(struct, dict):
        return {k: _io_spec(v, history) for k, v in struct.items()}
    return [_io_spec(v, history) for v in struct]


def functional_config(model) -> dict:
    """`Functional.get_config()` in Keras 3's format (see the module docstring)."""
    node_index, history = _node_numbering(model)
    records = []
    for layer in model.layers:
        record = layer_record(layer)
        record["name"] = layer.name
        record["inbound_nodes"] = [
            {"args": _encode(list(node.args), history), "kwargs": _encode(node.kwargs, history)}
            for node in model.graph_nodes()
            if node.layer is layer and not isinstance(layer, InputLayer)
        ]
        records.append(record)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": records,
        "input_layers": _io_spec(model.input, history),
        "output_layers": _io_spec(model.output, history),
        **_losses_config(model, history),
    }


def _losses_config(model, history) -> dict:
    """`{"symbolic_losses": ...}` for a model with symbolic add_loss terms, else `{}`."""
    if not model.symbolic_losses:
        return {}
    refs = _nested_refs(model, [])
    refs.update(history)  # a tensor the graph itself computes is named by the graph
    nodes = []
    for i, node in enumerate(model.symbolic_loss_nodes()):
        if not isinstance(node.layer, OpLayer):
            raise TypeError(
                f"Cannot save the add_loss term of model {model.name!r}: it calls layer "
                f"{node.layer.name!r} ({type(node.layer).__name__}); a saved symbolic loss is "
                "made of ops only (K functions, fitorch.ops, operators). Call the layer in the "
                "graph and add the loss of its output."
            )
        call = {"args": _encode(list(node.args), refs), "kwargs": _encode(node.kwargs, refs)}
        nodes.append({**op_record(node.layer), **call})
        for j, t in enumerate(node.outputs):
            refs[id(t)] = {"class_name": "__loss_tensor__", "config": {"node": i, "index": j}}
    losses = [_encode(t, refs) for t in model.symbolic_losses]
    return {"symbolic_losses": {"nodes": nodes, "losses": losses}}


def _nested_refs(model, path: list) -> dict:
    """id(tensor) -> `__nested_tensor__` reference for every tensor of the functional models
    nested (at any depth) in `model`'s graph."""
    from fitorch.models.functional import Functional

    refs = {}
    for layer in model.layers:
        if isinstance(layer, Functional):
            inner = [*path, layer.name]
            refs.update(_nested_refs(layer, inner))
            for key, ref in _node_numbering(layer)[1].items():
                config = {"models": inner, "keras_history": ref}
                refs[key] = {"class_name": "__nested_tensor__", "config": config}
    return refs


def _decode(value, tensors, where):
    if isinstance(value, list):
        return [_decode(v, tensors, where) for v in value]
    if not isinstance(value, dict):
        return value
    cls = value.get("class_name")
    config = value.get("config") or {}
    if cls == "__keras_tensor__":
        return _lookup_tensor(config.get("keras_history"), tensors, where)
    if cls == "__loss_tensor__":  # keyed (None, node) by `_restore_losses`
        return _lookup_tensor([None, config.get("node"), config.get("index")], tensors, where)
    if cls == "__nested_tensor__":  # keyed by (models..., layer) by `_restore_losses`
        ref = config.get("keras_history")
        if not (isinstance(ref, list) and len(ref) == 3 and isinstance(config.get("models"), list)):
            raise ValueError(f"{where}: unreadable nested tensor reference {config!r}.")
        return _lookup_tensor([(*map(str, config["models"]), ref[0]), *ref[1:]], tensors, where)
    if cls == "__tuple__":
        return tuple(_decode(v, tensors, where) for v in config.get("value", []))
    if cls == "__slice__":
        return slice(config.get("start"), config.get("stop"), config.get("step"))
    if cls == "__ellipsis__":
        return Ellipsis
    return {k: _decode(v, tensors, where) for k, v in value.items()}


class _NotReady(Exception):
    pass


def _lookup_tensor(ref, tensors, where):
    if not (isinstance(ref, list) and len(ref) >= 3):
        raise ValueError(f"{where}: a tensor reference must be [layer, node, index]; got {ref!r}.")
    key = (ref[0], int(ref[1]))
    if key not in tensors:
        raise _NotReady(ref[0])
    outs = tensors[key]
    if not 0 <= int(ref[2]) < len(outs):
        raise ValueError(f"{where}: tensor index {ref[2]} out of range for layer {ref[0]!r}.")
    return outs[int(ref[2])]


def _node_call(node_data, tensors, where, names=frozenset()):
    """(args, kwargs) of one recorded call, Keras 3 dict form or Keras 2 list form.

    Keras 2 writes a layer's call as `[[name, node, tensor, kwargs], ...]` (its inputs), and
    an op layer's call on one tensor (`TFOpLambda`, `SlicingOpLambda`) as `[name, node,
    tensor, kwargs]`; there a tensor among the keyword arguments (`tf.math.multiply(a, b)`:
    `{"y": [name, node, tensor]}`) is a reference to a layer of `names`.
    """
    if isinstance(node_data, dict):
        return (
            _decode(node_data.get("args", []), tensors, where),
            _decode(node_data.get("kwargs", {}), tensors, where),
        )
    if isinstance(node_data, list) and node_data and isinstance(node_data[0], str):
        node_data = [node_data]  # an op layer's single tensor
    if isinstance(node_data, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        inputs = [_lookup_tensor(list(ref[:3]), tensors, where) for ref in node_data]
        kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
        kwargs = _keras2_refs(dict(kwargs or {}), tensors, where, names)
        return ([inputs[0] if len(inputs) == 1 else inputs], kwargs)
    raise ValueError(f"{where}: unreadable inbound node {node_data!r}.")


def _keras2_refs(value, tensors, where, names):
    """`value` with each Keras 2 tensor reference `[layer, node, tensor]` to a layer of
    `names` replaced by that tensor (tf-keras's keyword tensors)."""
    if isinstance(value, dict):
        return {k: _keras2_refs(v, tensors, where, names) for k, v in value.items()}
    if isinstance(value, list):
        is_ref = len(value) == 3 and isinstance(value[0], str) and value[0] in names
        if is_ref and all(isinstance(v, int) for v in value[1:]):
            return _lookup_tensor(value, tensors, where)
        return [_keras2_refs(v, tensors, where, names) for v in value]
    return value


def functional_from_config(cls, config: dict, custom_objects=None):
    """Rebuild the layers, replay every recorded call in dependency order, make the model."""
    name = config.get("name")
    records = config.get("layers")
    if not isinstance(records, list):
        raise ValueError(
            f"A functional config needs a 'layers' list; got {type(records).__name__}."
        )
    layers, pending, tensors = {}, [], {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"Layer record {i} of model {name!r} must be a dict.")
        lname = record.get("name") or (record.get("config") or {}).get("name")
        layer = _build_layer(record, custom_objects, f"layer {lname!r} of model {name!r}")
        layers[lname] = layer
        if isinstance(layer, InputLayer):
            tensors[(lname, 0)] = [layer.output]
        nodes = record.get("inbound_nodes") or []
        if isinstance(nodes, dict):
            nodes = [nodes]
        pending += [(lname, k, node) for k, node in enumerate(nodes)]
    done: dict[str, int] = {}
    while pending:
        progressed, waiting = False, []
        for lname, k, node in pending:
            where = f"node {k} of layer {lname!r} in model {name!r}"
            if done.get(lname, 0) != k:
                waiting.append((lname, k, node))
                continue
            try:
                args, kwargs = _node_call(node, tensors, where, names=layers.keys())
            except _NotReady:
                waiting.append((lname, k, node))
                continue
            out = layers[lname](*args, **kwargs)
            tensors[(lname, k)] = _flatten(out)
            done[lname] = k + 1
            progressed = True
        if not progressed:
            missing = sorted({n for n, _, _ in waiting})
            raise ValueError(
                f"Model {name!r}: cannot rebuild the graph; the calls of layers {missing} "
                "refer to layers or nodes that the config does not define."
            )
        pending = waiting
    inputs = _resolve_io(config.get("input_layers"), tensors, name)
    outputs = _resolve_io(
        _keras_nested_outputs(config.get("output_layers"), records), tensors, name
    )
    model = cls(inputs=inputs, outputs=outputs, name=name)
    if config.get("trainable") is False:
        model.trainable = False
    if config.get("symbolic_losses") is not None:
        _restore_losses(model, config["symbolic_losses"], tensors)
    return model


def _restore_losses(model, spec, tensors) -> None:
    """Replay the saved loss nodes on the rebuilt graph and add the loss terms."""
    where = f"symbolic_losses of model {model.name!r}"
    if not (isinstance(spec, dict) and isinstance(spec.get("nodes"), list)
            and isinstance(spec.get("losses"), list)):  # fmt: skip
        raise ValueError(f"{where}: expected {{'nodes': [...], 'losses': [...]}}; got {spec!r}.")
    tensors = {**tensors, **_nested_tensors(model, ())}
    for i, record in enumerate(spec["nodes"]):
        at = f"node {i} of {where}"
        layer = keras_op_layer(record, at) if isinstance(record, dict) else None
        if layer is None:
            raise ValueError(f"{at}: expected an op record; got {record!r}.")
        try:
            args, kwargs = _node_call(record, tensors, at)
        except _NotReady as missing:
            raise ValueError(
                f"{at}: it reads layer {missing.args[0]!r}, which the model does not have."
            ) from None
        tensors[(None, i)] = _flatten(layer(*args, **kwargs))
    for k, loss in enumerate(spec["losses"]):
        try:
            model.add_loss(_decode(loss, tensors, f"loss {k} of {where}"))
        except _NotReady as missing:
            raise ValueError(
                f"loss {k} of {where}: it reads layer {missing.args[0]!r}, which the model "
                "does not have."
            ) from None


def _nested_tensors(model, path: tuple) -> dict:
    """((models..., layer), node) -> outputs for the functional models nested in `model`."""
    from fitorch.models.functional import Functional

    found = {}
    for layer in model.layers:
        if isinstance(layer, Functional):
            inner = (*path, layer.name)
            found.update(_nested_tensors(layer, inner))
            counts: dict[int, int] = {}
            for node in layer.graph_nodes():
                k = counts.get(id(node.layer), 0)
                counts[id(node.layer)] = k + 1
                found[((*inner, node.layer.name), k)] = node.outputs
    return found


def _keras_nested_outputs(spec, records):
    """Keras 3 numbers a nested functional model's calls from 1 in `output_layers` (its node 0
    is the one made with the model), where call arguments number them from 0: renumber those
    references from 0, as fitorch writes them."""
    nested = {
        record.get("name")
        for record in records
        if record.get("class_name") == "Functional"
        and str(record.get("module", "")).startswith("keras")
    }
    if not nested:
        return spec
    if isinstance(spec, dict):
        return {k: _keras_nested_outputs(v, records) for k, v in spec.items()}
    if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
        return [spec[0], int(spec[1]) - 1, spec[2]] if spec[0] in nested else spec
    if isinstance(spec, list):
        return [_keras_nested_outputs(v, records) for v in spec]
    return spec


def _resolve_io(spec, tensors, name):
    where = f"inputs/outputs of model {name!r}"
    if isinstance(spec, dict):
        return {k: _resolve_io(v, tensors, name) for k, v in spec.items()}
    if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
        try:
            return _lookup_tensor(spec, tensors, where)
        except _NotReady:
            raise ValueError(f"{where}: no layer {spec[0]!r} in the config.") from None
    if isinstance(spec, list):
        return [_resolve_io(v, tensors, name) for v in spec]
    raise ValueError(f"{where}: unreadable spec {spec!r}.")
