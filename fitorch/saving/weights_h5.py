"""Keras 3's `.weights.h5` layout, written and read through h5py (an optional dependency).

Layout (as Keras 3 writes it): `layers/<key>/vars/<i>` for each layer of a model, where
`<key>` is the snake-cased class name made unique in order (`dense`, `dense_1`,
`input_layer`), `<i>` the index of the weight in Keras order (trainable first) and in Keras
layout; the `vars` group's `name` attribute holds the user's layer name. A nested model nests
`layers/...`; a layer holding other layers nests them under its attribute names; a wrapped
torch module stores its `state_dict` names. The model itself has an empty `vars` group.
A compiled model also writes `optimizer/vars` (iterations, learning rate, then each trainable
weight's slots), so Keras resumes training from the file, and reads Keras' back.
Reading follows only hard links and refuses datasets with external storage or virtual
(mapped from other files) layouts; a truncated file is a ValueError naming it.
Keras 2 HDF5 files (`layer_names`/`weight_names` attributes) are read by layer order, or by
layer name with `by_name=True`.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import torch
from torch import nn

from fitorch.layers.base import Layer
from fitorch.utils.naming import unique_name

__all__ = ["keras_variables", "write_h5", "read_h5", "h5py_module", "open_h5"]


def h5py_module():
    """h5py, or an ImportError saying how to get it."""
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - h5py is installed in tests
        raise ImportError(
            "Reading or writing .h5 weights needs h5py: `pip install h5py` (or save to a name "
            "without .h5 to use safetensors)."
        ) from err
    return h5py


@contextlib.contextmanager
def open_h5(fileobj, where: str):
    """The HDF5 file opened read-only; a truncated or non-HDF5 file is a ValueError naming
    `where` (h5py's OSError says only "Unable to open file")."""
    h5py = h5py_module()
    try:
        f = h5py.File(fileobj, "r")
    except OSError as err:
        raise ValueError(
            f"{where}: not a readable HDF5 file (truncated or corrupt): {err}"
        ) from err
    with f:
        yield f


def keras_key(cls_name: str) -> str:
    """Keras' snake case for h5 keys: `Conv2D` -> `conv2d` (a digit does not start a word)."""
    name = re.sub(r"\W+", "", cls_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _own(layer) -> list[tuple[str, torch.Tensor, tuple | None]]:
    """(dataset name, tensor, layout) of the weights a Keras `vars` group holds for `layer`."""
    from fitorch.layers.torch_module import TorchModuleWrapper

    if isinstance(layer, TorchModuleWrapper):
        return [(k, v, None) for k, v in layer.module.state_dict(keep_vars=True).items()]
    if not isinstance(layer, Layer):
        return [(k, v, None) for k, v in layer.state_dict(keep_vars=True).items()]
    out = []
    for i, (w, _) in enumerate(layer.own_weights()):
        out.append((str(i), w, layer.weight_layout(w)))
    return out


def keras_variables(model) -> dict[str, tuple[str, list]]:
    """group path -> (layer name, [(dataset name, tensor, layout)]) in Keras 3's layout."""
    out: dict[str, tuple[str, list]] = {}
    _walk(model, "", out)
    return out


def _walk(layer, prefix: str, out: dict) -> None:
    from fitorch.layers.torch_module import TorchModuleWrapper
    from fitorch.models.model import Model

    out[f"{prefix}vars"] = (getattr(layer, "name", type(layer).__name__), _own(layer))
    if isinstance(layer, TorchModuleWrapper) or not isinstance(layer, Layer):
        return
    if isinstance(layer, Model):
        taken: set[str] = set()
        for child in layer.layers:
            key = unique_name(keras_key(type(child).__name__), taken)
            _walk(child, f"{prefix}layers/{key}/", out)
        return
    for attr, child in sorted(layer.named_children()):
        if isinstance(child, (nn.ModuleList, nn.Sequential)) and not isinstance(child, Layer):
            for j, sub in enumerate(child):
                _walk(sub, f"{prefix}{attr}/{j}/", out)
        elif isinstance(child, nn.ModuleDict):
            for key, sub in sorted(child.items()):
                _walk(sub, f"{prefix}{attr}/{key}/", out)
        else:
            _walk(child, f"{prefix}{attr}/", out)


def to_keras_layout(t: torch.Tensor, layout) -> np.ndarray:
    value = t.detach()
    if layout is not None:
        value = value.permute(*np.argsort(layout).tolist())
    return value.cpu().numpy()


def write_h5(model, fileobj) -> None:
    """Write the model's weights into `fileobj` (path or binary file) in Keras 3's layout."""
    h5py = h5py_module()
    with h5py.File(fileobj, "w") as f:
        for path, (name, items) in keras_variables(model).items():
            group = f.require_group(path)
            group.attrs["name"] = name
            for key, t, layout in items:
                group.create_dataset(key, data=to_keras_layout(t, layout))
        if getattr(model, "trainer", None) is not None:
            write_keras_optimizer(model, f)


def _hard_child(group, key, where):
    """group[key], following only hard links (no soft or external links)."""
    h5py = h5py_module()
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ValueError(
            f"{where}: {group.name}/{key} is a {type(link).__name__}; only plain "
            "groups and datasets are read."
        )
    return group[key]


def _lookup(f, path: str, where: str):
    node = f
    for part in path.split("/"):
        node = _hard_child(node, part, where)
        if node is None:
            return None
    return node


def _read_dataset(ds, where) -> np.ndarray:
    h5py = h5py_module()
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: {ds.name} is not a dataset.")
    if ds.external or ds.is_virtual:
        kind = "external files" if ds.external else "a virtual dataset (other files' data)"
        raise ValueError(f"{where}: dataset {ds.name} stores its data in {kind}; refusing it.")
    return ds[()]


def read_h5(model, fileobj, where: str, by_name: bool = False):
    """(plan, problems) from a Keras 3 or Keras 2 file; nothing is assigned here.

    plan: [(tensor, keras-layout value, layout, label)] for the weights that match;
    problems: one line per missing, extra or mis-shaped weight.
    """
    with open_h5(fileobj, where) as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            return _read_keras2(model, f, where, by_name)
        plan, problems = [], []
        expected = keras_variables(model)
        problems += [f"{path}: weights in the file for no layer of the model"
                     for path in _weight_groups(f) if path not in expected]  # fmt: skip
        for path, (name, items) in expected.items():
            group = _lookup(f, path, where)
            if group is None:
                if items:
                    problems.append(f"{path}: missing (layer {name!r} has {len(items)} weights)")
                continue
            present = [k for k in group.keys()]
            if len(present) != len(items):
                problems.append(
                    f"{path}: the file has {len(present)} weights, layer {name!r} has {len(items)}"
                )
                continue
            for key, t, layout in items:
                ds = _hard_child(group, key, where)
                if ds is None:
                    problems.append(f"{path}/{key}: missing")
                    continue
                plan.append((t, ds, layout, f"{path}/{key} (layer {name!r})"))
        return _materialize(plan, problems, where)


def _weight_groups(f) -> list[str]:
    """Paths of the non-empty `vars` groups of a Keras 3 file (optimizer excluded)."""
    h5py = h5py_module()
    found = []

    def visit(name, obj):
        if name.endswith("vars") and isinstance(obj, h5py.Group) and len(obj):
            if not name.startswith("optimizer"):
                found.append(name)

    f.visititems(visit)
    return found


def _materialize(plan, problems, where: str):
    out = []
    for t, ds, layout, label in plan:
        expected = _keras_shape(t, layout)
        if tuple(ds.shape) != expected:
            problems.append(f"{label}: shape {tuple(ds.shape)} in the file, {expected} expected")
            continue
        value = _read_dataset(ds, f"{where}: {label}")
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
            problems.append(f"{label}: dtype {value.dtype} is not numeric")
            continue
        out.append((t, value, layout, label))
    return out, problems


def _keras_shape(t: torch.Tensor, layout) -> tuple:
    shape = tuple(t.shape)
    if layout is None:
        return shape
    inverse = np.argsort(layout).tolist()
    return tuple(shape[i] for i in inverse)


def _read_keras2(model, f, where, by_name):
    """Keras 2 HDF5: layers with weights, in order (or matched by name), weight_names order."""
    root = f["model_weights"] if "model_weights" in f else f
    names = [
        n.decode() if isinstance(n, bytes) else str(n) for n in root.attrs.get("layer_names", [])
    ]
    file_layers = []
    for n in names:
        group = _hard_child(root, n, where)
        wnames = [
            w.decode() if isinstance(w, bytes) else str(w)
            for w in group.attrs.get("weight_names", [])
        ]
        if wnames:
            file_layers.append((n, [_lookup(group, w, where) for w in wnames]))
    model_layers = _keras2_layers(model)
    plan, problems = [], []
    if by_name:
        table = dict(file_layers)
        pairs = [(items, table.get(name), name) for name, items in model_layers]
    else:
        if len(file_layers) != len(model_layers):
            problems.append(
                f"the file has {len(file_layers)} layers with weights, the model "
                f"{len(model_layers)}"
            )
            return [], problems
        pairs = [
            (items, dsets, name) for (name, items), (_, dsets) in zip(model_layers, file_layers)
        ]
    for items, dsets, name in pairs:
        if dsets is None:
            problems.append(f"layer {name!r}: not in the file")
            continue
        if len(dsets) != len(items):
            problems.append(
                f"layer {name!r}: {len(dsets)} weights in the file, {len(items)} in the model"
            )
            continue
        for (_key, t, layout), ds in zip(items, dsets):
            plan.append((t, ds, layout, f"{ds.name} (layer {name!r})"))
    return _materialize(plan, problems, where)


def _keras2_layers(model) -> list[tuple[str, list]]:
    """Keras 2's entries: one per top-level layer with weights (a nested model is one entry),
    holding its trainable then its non-trainable weights, as Keras 2 saved them."""
    if not hasattr(model, "layers"):
        return [(name, items) for name, items in keras_variables(model).values() if items]
    out = []
    for layer in model.layers:
        weights = layer.trainable_weights + layer.non_trainable_weights
        if weights:
            out.append(
                (layer.name, [(str(i), w, layer.weight_layout(w)) for i, w in enumerate(weights)])
            )
    return out


def _keras_optimizer_layout(model):
    """(optimizer, params, slot names) when Keras' `optimizer/vars` layout maps, else (None, why).

    Keras stores iterations, learning_rate, then for each trainable variable its slots in
    order (`momentum`, `velocity`, ...), which are fitorch's slot names and order. Optimizers
    with global slots, gradient accumulation or EMA keep extra state and are not mapped.
    """
    from fitorch.optimizers import Optimizer

    opt = getattr(model, "optimizer", None)
    if not isinstance(opt, Optimizer) or not opt.param_groups:
        return None, "the optimizer is not a bound fitorch optimizer"
    if opt._global_slots or opt.gradient_accumulation_steps or opt.use_ema:
        return None, f"{type(opt).__name__} keeps state Keras lays out differently"
    params = [p for g in opt.param_groups for p in g["params"]]
    return (opt, params, tuple(opt._slot_names)), None


def write_keras_optimizer(model, f) -> None:
    """Write `optimizer/vars` as Keras 3 does (so Keras resumes training from the file)."""
    layout_info, _ = _keras_optimizer_layout(model)
    if layout_info is None:
        return
    opt, params, slots = layout_info
    group = f.require_group("optimizer/vars")
    group.attrs["name"] = opt.name
    group.create_dataset("0", data=np.int32(int(opt.iterations)))
    group.create_dataset("1", data=np.float32(opt.current_learning_rate()))
    i = 2
    for p in params:
        layout = model.weight_layout(p)
        state = opt.state.get(p) or {}
        for name in slots:
            value = state.get(name, torch.zeros_like(p))
            group.create_dataset(str(i), data=to_keras_layout(value, layout))
            i += 1


def read_keras_optimizer(model, fileobj, where: str):
    """Keras 3 `optimizer/vars` -> (iterations, [(slot tensor, value)]) or (None, reason).

    Only when the variable count and every shape match (see `_keras_optimizer_layout`).
    """
    layout_info, reason = _keras_optimizer_layout(model)
    if layout_info is None:
        return None, reason
    opt, params, slots = layout_info
    with open_h5(fileobj, where) as f:
        group = _lookup(f, "optimizer/vars", where)
        count = len(group) if group is not None else 0
        if count == 0:
            return 0, []  # compiled, never trained: nothing to restore
        if count != 2 + len(params) * len(slots):
            need = 2 + len(params) * len(slots)
            return None, (
                f"the file has {count} optimizer variables; {type(opt).__name__} on "
                f"{len(params)} parameters needs {need}"
            )
        plan, i = [], 2
        for p in params:
            layout = model.weight_layout(p)
            for name in slots:
                ds = _hard_child(group, str(i), where)
                if ds is None or tuple(ds.shape) != _keras_shape(p, layout):
                    return None, f"optimizer variable {i} does not match parameter {tuple(p.shape)}"
                value = torch.as_tensor(np.ascontiguousarray(_read_dataset(ds, where)))
                if layout is not None:
                    value = value.permute(*layout)
                plan.append((opt._state_of(p)[name], value))
                i += 1
        iterations = int(_read_dataset(_hard_child(group, "0", where), where))
    return iterations, plan
