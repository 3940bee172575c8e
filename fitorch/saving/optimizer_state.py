"""Optimizer state in an archive: `optimizer.json` (structure) + `optimizer.safetensors`.

`optimizer.state_dict()` is flattened: every tensor goes to safetensors under its path
(`optimizer/state/0/momentum`), the rest (param groups, iteration counts, int keys) stays in
JSON with `{"__tensor__": key}`, `{"__dict__": [[key, value], ...]}` and `{"__tuple__": [...]}`
markers, so `load_state_dict` gets back exactly what was saved. Loading needs the optimizer
bound to the model's parameters (compile binds it) and checks every slot's shape first.
"""

from __future__ import annotations

import io
import json
import math
import warnings

import torch

from fitorch.saving import archive, safetensors_io

__all__ = ["OPT_JSON", "OPT_TENSORS", "optimizer_members", "load_optimizer_state",
           "load_keras_optimizer_state", "prepare_keras_optimizer_state"]  # fmt: skip

OPT_JSON, OPT_TENSORS = "optimizer.json", "optimizer.safetensors"


def _flatten(obj, prefix: str, tensors: dict):
    """JSON-able structure of `obj` with each tensor replaced by {"__tensor__": key}.

    Not fitorch.tree: the encoding tags tuples and dicts (non-string keys, insertion order)
    so that `_unflatten` rebuilds torch's optimizer state exactly."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"Cannot save optimizer state entry {prefix!r} of type {type(obj).__name__}.")


def _unflatten(obj, tensors: dict, where: str):
    if isinstance(obj, list):
        return [_unflatten(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        if obj["__tensor__"] not in tensors:
            raise ValueError(f"{where}: optimizer tensor {obj['__tensor__']!r} is missing.")
        return tensors[obj["__tensor__"]]
    if "__tuple__" in obj:
        return tuple(_unflatten(v, tensors, where) for v in obj["__tuple__"])
    if "__dict__" in obj:
        items = obj["__dict__"]
        if not all(
            isinstance(i, list) and len(i) == 2 and isinstance(i[0], (int, str)) for i in items
        ):
            raise ValueError(f"{where}: malformed optimizer state.")
        return {k: _unflatten(v, tensors, where) for k, v in items}
    raise ValueError(f"{where}: malformed optimizer state entry {obj!r}.")


def _check_hyperparameters(state: dict, where: str) -> None:
    """Every number of every saved param group (lr, weight_decay, betas...) is finite."""
    for i, group in enumerate(state.get("param_groups") or []):
        if not isinstance(group, dict):
            raise ValueError(f"{where}: optimizer param group {i} is not a dict.")
        for key, value in group.items():
            values = value if isinstance(value, (tuple, list)) and key != "params" else [value]
            for v in values:
                if isinstance(v, float) and not math.isfinite(v):
                    raise ValueError(
                        f"{where}: optimizer hyperparameter {key!r} of param group {i} is {v}; "
                        "a saved optimizer must hold finite values."
                    )


def _check_slots(state: dict, params: list, where: str) -> None:
    """Slots belong to existing parameters, have no more elements than their parameter (a
    scalar, a factored row/column or the parameter's shape), the same shape when they have
    its rank, and finite values."""
    for idx, slots in (state.get("state") or {}).items():
        if not isinstance(idx, int) or not 0 <= idx < len(params) or not isinstance(slots, dict):
            raise ValueError(
                f"{where}: optimizer state for parameter {idx!r} does not match the model."
            )
        p = params[idx]
        for name, value in slots.items():
            if not isinstance(value, torch.Tensor):
                continue
            if (value.ndim == p.ndim and value.shape != p.shape) or value.numel() > max(
                p.numel(), 1
            ):
                raise ValueError(
                    f"{where}: optimizer slot {name!r} of parameter {idx} has shape "
                    f"{tuple(value.shape)}; the parameter has {tuple(p.shape)}."
                )
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ValueError(
                    f"{where}: optimizer slot {name!r} of parameter {idx} holds NaN or inf."
                )


def optimizer_members(optimizer) -> dict[str, bytes]:
    if optimizer is None or not getattr(optimizer, "param_groups", None):
        return {}
    tensors: dict = {}
    structure = _flatten(optimizer.state_dict(), "optimizer", tensors)
    return {OPT_JSON: json.dumps(structure).encode(), OPT_TENSORS: safetensors_io.encode(tensors)}


def load_optimizer_state(model, members: dict, where: str) -> None:
    optimizer = model.optimizer
    if OPT_JSON not in members or OPT_TENSORS not in members:
        return
    if optimizer is None or not getattr(optimizer, "param_groups", None):
        warnings.warn(
            f"{where}: the optimizer is not bound to parameters yet; its saved state "
            "was not restored.",
            stacklevel=3,
        )
        return
    tensors, _ = safetensors_io.decode(members[OPT_TENSORS], f"{where}:{OPT_TENSORS}")
    state = _unflatten(archive.parse_json(members[OPT_JSON], f"{where}:{OPT_JSON}"), tensors, where)
    if not isinstance(state, dict):
        raise ValueError(f"{where}: the optimizer state must be a dict.")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    _check_hyperparameters(state, where)
    _check_slots(state, params, where)
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"{where}: the saved optimizer state does not fit this optimizer: {err}"
        ) from err


def prepare_keras_optimizer_state(model, source, where: str, keras2: bool = False):
    """Read and check Keras' optimizer variables (archive bytes or an .h5 path; tf-keras 2.x
    names with `keras2=True`) without assigning anything; returns the function that assigns
    slots and iterations. A file whose state does not map one to one gives a function that
    warns and leaves the optimizer as it is; a hostile or damaged file raises ValueError
    here, before the caller assigns any weight."""
    from fitorch.saving.weights_h5 import read_keras2_optimizer, read_keras_optimizer

    source = io.BytesIO(source) if isinstance(source, bytes) else source
    reader = read_keras2_optimizer if keras2 else read_keras_optimizer
    iterations, plan = reader(model, source, where)

    def apply() -> None:
        if iterations is None:
            warnings.warn(
                f"{where!r}: the optimizer state in Keras' layout is not restored: {plan}.",
                stacklevel=4,
            )
            return
        with torch.no_grad():
            for slot, value in plan:
                slot.copy_(value)
        if plan:
            model.optimizer._iterations.fill_(iterations)
            model.optimizer._calls = iterations

    return apply


def load_keras_optimizer_state(model, source, where: str, keras2: bool = False) -> None:
    """Slots and iterations from Keras' optimizer variables, when they map one to one;
    otherwise a warning and the optimizer is left as it is."""
    prepare_keras_optimizer_state(model, source, where, keras2)()
