"""`save_model` / `load_model` / `save_weights` / `load_weights`.

Whole model (`model.save(path)`): a zip holding
- `config.json`: the model record (architecture, `build_config`, `compile_config` with the
  optimizer, losses and metrics as records; strings stay strings);
- `metadata.json`: fitorch and torch versions, date;
- `model.weights.safetensors`: the model's `state_dict` (torch names and layouts);
- `optimizer.json` + `optimizer.safetensors`: the optimizer's `state_dict` (slots, iterations),
  tensors in safetensors and the rest as JSON, so training resumes exactly.
`load_model` also reads Keras 3 `.keras` archives (weights in `model.weights.h5`).

Weights only (`model.save_weights(path)`): `.h5` / `.weights.h5` names write HDF5 in Keras 3's
layout (Keras loads it); any other name writes safetensors of the `state_dict`. `load_weights`
picks the reader from the file's first bytes, checks every name, shape and dtype, and assigns
nothing unless everything matches (`skip_mismatch=True` loads the matching ones and warns).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import warnings

import numpy as np
import torch

from fitorch.registry import custom_object_scope
from fitorch.saving import archive, safetensors_io
from fitorch.saving.serialization import (
    build_from_record,
    deserialize_object,
    safe_mode_scope,
    sanitize_keras,
    serialize_object,
)

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

CONFIG, METADATA = "config.json", "metadata.json"
WEIGHTS, KERAS_WEIGHTS = "model.weights.safetensors", "model.weights.h5"
OPT_JSON, OPT_TENSORS = "optimizer.json", "optimizer.safetensors"
_MEMBERS = {CONFIG, METADATA, WEIGHTS, KERAS_WEIGHTS, OPT_JSON, OPT_TENSORS}


# -- helpers ------------------------------------------------------------------------------
def _path(filepath) -> str:
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"filepath must be a str or os.PathLike; got {type(filepath).__name__}.")
    return os.fspath(filepath)


def _check_overwrite(path: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False.")


def _is_h5(path: str) -> bool:
    return path.lower().endswith((".h5", ".hdf5"))


def _metadata() -> dict:
    import fitorch

    return {
        "fitorch_version": fitorch.__version__,
        "torch_version": torch.__version__,
        "date_saved": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
        "format": "fitorch-keras-zip/1",
    }


def _require_weights(model, action: str) -> None:
    if not any(True for _ in model.parameters()) and not any(True for _ in model.buffers()):
        raise ValueError(
            f"Cannot {action}: model {getattr(model, 'name', '')!r} has no weights yet. Build it "
            "first: call it on a batch, give the first layer input_shape=..., or call build()."
        )


# -- state dict <-> safetensors -----------------------------------------------------------
def _state_bytes(model) -> bytes:
    state = {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    return safetensors_io.encode(state, {"format": "fitorch", "layout": "torch state_dict"})


def _assign(plan, problems, skip_mismatch: bool, where: str) -> None:
    """Copy every (tensor, value) of `plan`, unless `problems` and not skip_mismatch."""
    if problems and not skip_mismatch:
        shown = "\n  ".join(problems[:12]) + ("\n  ..." if len(problems) > 12 else "")
        raise ValueError(
            f"Cannot load weights from {where}: {len(problems)} mismatch(es); nothing was "
            f"loaded (pass skip_mismatch=True to load the matching weights):\n  {shown}"
        )
    if problems:
        warnings.warn(
            f"Skipped loading {len(problems)} weight(s) from {where}: " + "; ".join(problems[:12]),
            stacklevel=3,
        )
    with torch.no_grad():
        for target, value in plan:
            target.copy_(value)


def _state_plan(model, tensors: dict, where: str):
    expected = model.state_dict(keep_vars=True)
    plan, problems = [], []
    for key, target in expected.items():
        value = tensors.get(key)
        if value is None:
            problems.append(f"{key}: missing from the file")
        elif tuple(value.shape) != tuple(target.shape):
            problems.append(
                f"{key}: shape {tuple(value.shape)} in the file, {tuple(target.shape)} in the model"
            )
        elif value.dtype != target.dtype:
            problems.append(f"{key}: dtype {value.dtype} in the file, {target.dtype} in the model")
        else:
            plan.append((target, value))
    problems += [f"{key}: in the file, not in the model" for key in tensors if key not in expected]
    return plan, problems


def _h5_plan(model, source, where: str, by_name: bool = False):
    from fitorch.saving.weights_h5 import read_h5

    raw, problems = read_h5(model, source, where, by_name=by_name)
    plan = []
    for target, value, layout, label in raw:
        value = torch.as_tensor(np.ascontiguousarray(value))
        if layout is not None:
            value = value.permute(*layout)
        if value.dtype != target.dtype:
            problems.append(
                f"{label}: dtype {value.dtype} in the file, {target.dtype} in the model"
            )
            continue
        plan.append((target, value))
    return plan, problems


# -- optimizer state ----------------------------------------------------------------------
def _flatten(obj, prefix: str, tensors: dict):
    """JSON-able structure of `obj` with each tensor replaced by {"__tensor__": key}."""
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


def _optimizer_members(optimizer) -> dict[str, bytes]:
    if optimizer is None or not getattr(optimizer, "param_groups", None):
        return {}
    tensors: dict = {}
    structure = _flatten(optimizer.state_dict(), "optimizer", tensors)
    return {OPT_JSON: json.dumps(structure).encode(), OPT_TENSORS: safetensors_io.encode(tensors)}


def _load_optimizer_state(model, members: dict, where: str) -> None:
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
    for idx, slots in (state.get("state") or {}).items():
        if not isinstance(idx, int) or not 0 <= idx < len(params) or not isinstance(slots, dict):
            raise ValueError(
                f"{where}: optimizer state for parameter {idx!r} does not match the model."
            )
        for name, value in slots.items():
            p = params[idx]
            if isinstance(value, torch.Tensor) and value.ndim == p.ndim and value.shape != p.shape:
                raise ValueError(
                    f"{where}: optimizer slot {name!r} of parameter {idx} has shape "
                    f"{tuple(value.shape)}; the parameter has {tuple(p.shape)}."
                )
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"{where}: the saved optimizer state does not fit this optimizer: {err}"
        ) from err


# -- compile config -----------------------------------------------------------------------
def _optimizer_record(optimizer):
    from fitorch import optimizers

    if isinstance(optimizer, optimizers.Optimizer):
        return optimizers.serialize(optimizer)
    if isinstance(optimizer, torch.optim.Optimizer):
        defaults = {
            k: v
            for k, v in optimizer.defaults.items()
            if v is None or isinstance(v, (bool, int, float, str, tuple, list))
        }
        return {
            "module": "torch.optim",
            "class_name": type(optimizer).__name__,
            "config": serialize_object(defaults),
            "registered_name": None,
        }
    return serialize_object(optimizer, "optimizer")


def _compile_record(model):
    config = model.get_compile_config()
    if config is None:
        return None
    optimizer = model.optimizer if model.optimizer is not None else config.get("optimizer")
    out = {"optimizer": _optimizer_record(optimizer)}
    for key, kind in (("loss", "loss"), ("metrics", "metric"), ("weighted_metrics", "metric")):
        out[key] = _serialize_compiled(config.get(key), kind)
    for key in ("loss_weights", "run_eagerly", "steps_per_execution", "jit_compile"):
        out[key] = config.get(key)
    return out


def _serialize_compiled(value, kind):
    from fitorch.losses import TorchLoss

    if isinstance(value, (list, tuple)):
        return [_serialize_compiled(v, kind) for v in value]
    if isinstance(value, dict):
        return {k: _serialize_compiled(v, kind) for k, v in value.items()}
    if isinstance(value, TorchLoss):
        return {
            "module": "torch.nn",
            "class_name": "TorchLoss",
            "config": {"module": type(value.module).__name__},
            "registered_name": None,
        }
    if isinstance(value, torch.nn.Module) and type(value).__module__.startswith("torch.nn"):
        return {
            "module": "torch.nn",
            "class_name": "TorchLoss",
            "config": {"module": type(value).__name__},
            "registered_name": None,
        }
    return serialize_object(value, kind)


def _torch_loss(record, where):
    from fitorch.losses import TorchLoss

    name = (record.get("config") or {}).get("module")
    cls = getattr(torch.nn, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.modules.loss._Loss)):
        raise ValueError(f"{where}: {name!r} is not a torch.nn loss class.")
    return TorchLoss(cls())


def _deserialize_compiled(value, kind, custom_objects, where, outputs):
    if isinstance(value, list) and kind == "metric" and not any(isinstance(v, list) for v in value):
        return [deserialize_object(v, kind, custom_objects, where) for v in value]
    if isinstance(value, list):
        named = outputs if len(outputs) == len(value) else [str(i) for i in range(len(value))]
        return [
            _deserialize_compiled(v, kind, custom_objects, f"{where} of output {n!r}", [])
            for v, n in zip(value, named)
        ]
    if isinstance(value, dict) and "class_name" not in value:
        return {
            k: _deserialize_compiled(v, kind, custom_objects, f"{where} of output {k!r}", [])
            for k, v in value.items()
        }
    if isinstance(value, dict) and value.get("class_name") == "TorchLoss":
        return _torch_loss(value, where)
    return deserialize_object(value, kind, custom_objects, where)


def _deserialize_optimizer(record, model, custom_objects, where):
    from fitorch import optimizers

    if isinstance(record, str) or record is None:
        return record or "rmsprop"
    if not isinstance(record, dict) or "class_name" not in record:
        raise ValueError(f"{where}: unreadable optimizer record {record!r}.")
    if record.get("module") == "torch.optim":
        cls = getattr(torch.optim, str(record["class_name"]), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ValueError(f"{where}: {record['class_name']!r} is not a torch.optim optimizer.")
        config = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in (record.get("config") or {}).items()
        }
        return cls([p for p in model.parameters() if p.requires_grad], **config)
    name = record.get("registered_name") or record["class_name"]
    from fitorch.saving.serialization import find_object

    cls = find_object(name, "optimizer", custom_objects, where)
    if not isinstance(cls, type):
        return cls
    if cls in vars(optimizers).values():
        return optimizers.deserialize(
            {"class_name": cls.__name__, "config": record.get("config")}, custom_objects
        )
    return build_from_record(cls, record.get("config") or {}, {}, custom_objects, where)


def _compile_from_record(model, record: dict, custom_objects, where: str) -> None:
    outputs = list(model.output_names)
    kwargs = {
        "optimizer": _deserialize_optimizer(
            record.get("optimizer"), model, custom_objects, f"optimizer in {where}"
        ),
        "loss": _deserialize_compiled(record.get("loss"), "loss", custom_objects, "loss", outputs),
        "metrics": _deserialize_compiled(
            record.get("metrics"), "metric", custom_objects, "metric", outputs
        ),
        "weighted_metrics": _deserialize_compiled(
            record.get("weighted_metrics"), "metric", custom_objects, "weighted metric", outputs
        ),
        "loss_weights": record.get("loss_weights"),
    }
    for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
        if key in record:
            kwargs[key] = record[key]
    model.compile(**kwargs)


# -- whole model --------------------------------------------------------------------------
def model_record(model) -> dict:
    """The `config.json` content: the model's record plus its compile config."""
    record = serialize_object(model, "layer")
    record["compile_config"] = _compile_record(model)
    return record


def save_model(
    model, filepath, overwrite: bool = True, include_optimizer: bool = True, **kwargs
) -> None:
    """Write `model` to a zip archive at `filepath` (see the module docstring); atomic."""
    kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(f"save_model() got unexpected keyword argument(s) {sorted(kwargs)}.")
    path = _path(filepath)
    _check_overwrite(path, overwrite)
    if _is_h5(path):
        warnings.warn(
            f"{path!r}: fitorch writes its zip format (as for .keras), not legacy HDF5; "
            "load_model reads it back whatever the name.",
            stacklevel=3,
        )
    members = {
        METADATA: json.dumps(_metadata()).encode(),
        CONFIG: json.dumps(model_record(model)).encode(),
        WEIGHTS: _state_bytes(model),
    }
    if include_optimizer:
        members.update(_optimizer_members(model.optimizer if hasattr(model, "optimizer") else None))
    archive.write_archive(path, members)


def _read_members(path: str) -> dict[str, bytes]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"No file at {path!r}.")
    kind = archive.sniff(path)
    if kind != "zip":
        raise ValueError(f"{path!r} is not a model archive (a zip such as model.save writes).")
    members = archive.read_archive(path, wanted=_MEMBERS)
    if CONFIG not in members:
        raise ValueError(f"{path!r} has no {CONFIG}; it is not a saved model.")
    return members


def _ensure_built(model, build_config) -> None:
    """Create lazily built weights of a subclassed model by calling it on zeros."""
    layers = [m for m in model.modules() if hasattr(m, "built")]
    if all(m.built for m in layers) or not build_config or build_config.get("input_shape") is None:
        return

    def zeros(shape):
        if isinstance(shape, dict):
            return {k: zeros(v) for k, v in shape.items()}
        if shape and isinstance(shape[0], (list, tuple)):
            return [zeros(s) for s in shape]
        return torch.zeros([2 if s is None else int(s) for s in shape])

    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(zeros(build_config["input_shape"]))
    model.train(was_training)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Rebuild a model saved by `save_model` or by Keras 3 (`.keras`); see the module docstring.

    Only built-in, registered, passed-in (`custom_objects`) or compile-seen objects are built;
    nothing named by the file is imported. `compile=False` skips losses, metrics and optimizer.
    """
    path = _path(filepath)
    if os.path.exists(path) and archive.sniff(path) == "hdf5":
        return _load_legacy_h5(path, custom_objects, compile, safe_mode)
    members = _read_members(path)
    config = archive.parse_json(members[CONFIG], f"{path}:{CONFIG}")
    metadata = (
        archive.parse_json(members[METADATA], f"{path}:{METADATA}") if METADATA in members else {}
    )
    from_keras = "keras_version" in metadata
    if from_keras:
        config = sanitize_keras(config)
    custom_objects = dict(custom_objects or {})
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        model = deserialize_object(config, "layer", custom_objects, f"the model in {path!r}")
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"{path!r}: config.json does not describe a model.")
        _ensure_built(model, config.get("build_config"))
        _load_archive_weights(model, members, path, skip_mismatch=False)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            _compile_from_record(model, compile_config, custom_objects, path)
            if from_keras and KERAS_WEIGHTS in members:
                _load_keras_optimizer_state(model, members[KERAS_WEIGHTS], path)
            else:
                _load_optimizer_state(model, members, path)
    return model


def _load_keras_optimizer_state(model, h5_bytes: bytes, where: str) -> None:
    """Slots and iterations from a Keras archive, when they map one to one (else a warning)."""
    from fitorch.saving.weights_h5 import read_keras_optimizer

    iterations, plan = read_keras_optimizer(model, io.BytesIO(h5_bytes), where)
    if iterations is None:
        warnings.warn(f"{where!r} was written by Keras; its optimizer state is not restored: "
                      f"{plan}.", stacklevel=3)  # fmt: skip
        return
    with torch.no_grad():
        for slot, value in plan:
            slot.copy_(value)
    model.optimizer._iterations.fill_(iterations)
    model.optimizer._calls = iterations


def _load_archive_weights(model, members: dict, where: str, skip_mismatch: bool) -> None:
    if WEIGHTS in members:
        tensors, _ = safetensors_io.decode(members[WEIGHTS], f"{where}:{WEIGHTS}")
        plan, problems = _state_plan(model, tensors, where)
    elif KERAS_WEIGHTS in members:
        plan, problems = _h5_plan(model, io.BytesIO(members[KERAS_WEIGHTS]), where)
    else:
        raise ValueError(f"{where!r} holds no weights ({WEIGHTS} or {KERAS_WEIGHTS}).")
    _assign(plan, problems, skip_mismatch, where)


# -- weights only -------------------------------------------------------------------------
def save_weights(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """`.h5`/`.weights.h5`: Keras 3 HDF5 layout; any other name: safetensors of the state_dict."""
    kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(f"save_weights() got unexpected keyword argument(s) {sorted(kwargs)}.")
    path = _path(filepath)
    if path.endswith(".keras"):
        raise ValueError(
            f"{path!r}: a .keras file holds a whole model; use model.save(path), or "
            "name the weights file '*.weights.h5' or '*.safetensors'."
        )
    _check_overwrite(path, overwrite)
    _require_weights(model, "save weights")
    if _is_h5(path):
        from fitorch.saving.weights_h5 import write_h5

        data = archive.to_bytes(lambda f: write_h5(model, f))
        archive.atomic_write(path, lambda f: f.write(data))
    else:
        data = _state_bytes(model)
        archive.atomic_write(path, lambda f: f.write(data))


def load_weights(
    model, filepath, skip_mismatch: bool = False, by_name: bool = False, **kwargs
) -> None:
    """Load weights written by save_weights, model.save, or Keras (`.weights.h5`, `.keras`, `.h5`).

    Every weight is checked (presence, shape, dtype) before any is assigned: a refused load
    leaves the model untouched; `skip_mismatch=True` assigns the matching ones and warns.
    """
    if kwargs:
        raise TypeError(f"load_weights() got unexpected keyword argument(s) {sorted(kwargs)}.")
    path = _path(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No weights file at {path!r}.")
    _require_weights(model, "load weights")
    kind = archive.sniff(path)
    if kind == "zip":
        members = archive.read_archive(path, wanted={WEIGHTS, KERAS_WEIGHTS})
        _load_archive_weights(model, members, path, skip_mismatch)
        return
    if kind == "hdf5":
        plan, problems = _h5_plan(model, path, path, by_name=by_name)
    else:
        with open(path, "rb") as f:
            data = f.read()
        tensors, _ = safetensors_io.decode(data, path)
        plan, problems = _state_plan(model, tensors, path)
    _assign(plan, problems, skip_mismatch, path)


# -- legacy HDF5 (Keras 2, or Keras 3's model.save("m.h5")) ----------------------------------
def _h5_json_attr(f, key: str, path: str):
    value = f.attrs.get(key)
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else bytes(value)
    if len(raw) > archive.Limits.json_member:
        raise ValueError(f"{path!r}: the {key} attribute has {len(raw)} bytes, over the limit.")
    return archive.parse_json(raw, f"{path}:{key}")


def _load_legacy_h5(path: str, custom_objects, compile: bool, safe_mode: bool):
    """A whole-model HDF5 file: `model_config` and `training_config` attributes + weights."""
    from fitorch.saving.weights_h5 import h5py_module

    with h5py_module().File(path, "r") as f:
        config = _h5_json_attr(f, "model_config", path)
        training = _h5_json_attr(f, "training_config", path)
        version = f.attrs.get("keras_version", b"")
    version = version.decode() if isinstance(version, bytes) else str(version)
    if config is None:
        raise ValueError(f"{path!r} holds weights only (no model_config): build the model in "
                         "code and call model.load_weights(path).")  # fmt: skip
    config = sanitize_keras(config)
    if config.get("class_name") == "Model" and "layers" in (config.get("config") or {}):
        config["class_name"] = "Functional"  # Keras 2 called functional models "Model"
    inner = config.get("config")
    if version.startswith("2.") and isinstance(inner, dict):
        for key in ("input_layers", "output_layers"):  # Keras 2 nests even a single tensor
            spec = inner.get(key)
            if isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], list):
                inner[key] = spec[0]
    custom_objects = dict(custom_objects or {})
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        model = deserialize_object(config, "layer", custom_objects, f"the model in {path!r}")
        plan, problems = _h5_plan(model, path, path)
        _assign(plan, problems, False, path)
        if compile and training:
            record = dict(training, optimizer=training.get("optimizer_config"))
            _compile_from_record(model, record, custom_objects, path)
    return model
