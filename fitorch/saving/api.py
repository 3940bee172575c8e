"""`save_model` / `load_model` / `save_weights` / `load_weights`.

Whole model (`model.save(path)`): a zip holding
- `config.json`: the model record (architecture, `build_config`, `compile_config` with the
  optimizer, losses and metrics as records; strings stay strings);
- `metadata.json`: fitorch and torch versions, date;
- `model.weights.safetensors`: the model's `state_dict` (torch names and layouts);
- `optimizer.json` + `optimizer.safetensors`: the optimizer's `state_dict` (slots, iterations),
  tensors in safetensors and the rest as JSON, so training resumes exactly.
`load_model` also reads Keras 3 `.keras` archives (weights in `model.weights.h5`).
A `.h5`/`.hdf5` name writes Keras's whole-model HDF5 layout instead (`saving.legacy_h5`),
which Keras 3 loads; `load_model` reads it from fitorch, Keras 3 and Keras 2.

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

from fitorch import tree
from fitorch.registry import custom_object_scope
from fitorch.saving import archive, safetensors_io
from fitorch.saving.compile_config import compile_from_record, compile_record
from fitorch.saving.legacy_h5 import keras2_compile_record
from fitorch.saving.optimizer_state import (
    OPT_JSON,
    OPT_TENSORS,
    load_keras_optimizer_state,
    load_optimizer_state,
    optimizer_members,
    prepare_keras_optimizer_state,
)
from fitorch.serialization import (
    deserialize_object,
    safe_mode_scope,
    sanitize_keras,
    serialize_object,
)
from fitorch.utils.keywords import unexpected_keyword
from fitorch.utils.weight_budget import budget_for, weight_budget

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

CONFIG, METADATA = "config.json", "metadata.json"
WEIGHTS, KERAS_WEIGHTS = "model.weights.safetensors", "model.weights.h5"
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


# -- whole model --------------------------------------------------------------------------
def model_record(model) -> dict:
    """The `config.json` content: the model's record plus its compile config."""
    record = serialize_object(model, "layer")
    record["compile_config"] = compile_record(model)
    return record


def save_model(
    model, filepath, overwrite: bool = True, include_optimizer: bool = True, **kwargs
) -> None:
    """Write `model` to a zip archive at `filepath` (see the module docstring), or in Keras's
    whole-model HDF5 layout for `.h5`/`.hdf5` names (`saving.legacy_h5`); atomic."""
    kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(
            unexpected_keyword(
                "save_model",
                sorted(kwargs)[0],
                ["filepath", "overwrite", "include_optimizer", "save_format"],
            )
        )
    path = _path(filepath)
    _check_overwrite(path, overwrite)
    if _is_h5(path):
        from fitorch.saving.legacy_h5 import write_model_h5

        record = model_record(model)
        data = archive.to_bytes(lambda f: write_model_h5(model, f, record, include_optimizer))
        archive.atomic_write(path, lambda f: f.write(data))
        return
    members = {
        METADATA: json.dumps(_metadata()).encode(),
        CONFIG: json.dumps(model_record(model)).encode(),
        WEIGHTS: _state_bytes(model),
    }
    if include_optimizer:
        members.update(optimizer_members(model.optimizer if hasattr(model, "optimizer") else None))
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


def _build_model(config: dict, custom_objects: dict, path: str):
    """The model the config describes; resource failures become a ValueError about the file."""
    try:
        return deserialize_object(config, "layer", custom_objects, f"the model in {path!r}")
    except RecursionError as err:
        raise ValueError(f"{path!r}: the config nests too deeply to be a model.") from err
    except (MemoryError, RuntimeError) as err:
        raise ValueError(f"{path!r}: building the model the file describes failed: {err}") from err


def _ensure_built(model, build_config) -> None:
    """Create lazily built weights of a subclassed model by calling it on zeros."""
    layers = [m for m in model.modules() if hasattr(m, "built")]
    if all(m.built for m in layers) or not build_config or build_config.get("input_shape") is None:
        return

    def zeros(shape):
        return torch.zeros([2 if s is None else int(s) for s in shape])

    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(tree.map_shape_structure(zeros, build_config["input_shape"]))
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
        if str(metadata["keras_version"]).startswith("2."):  # a tf-keras `.keras` file
            _unnest_keras2_io(config)
    custom_objects = dict(custom_objects or {})
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        held = sum(len(members.get(k, b"")) for k in (WEIGHTS, KERAS_WEIGHTS))
        with weight_budget(budget_for(held), path):  # refuse configs far over the weights
            model = _build_model(config, custom_objects, path)
            if not isinstance(model, torch.nn.Module):
                raise ValueError(f"{path!r}: config.json does not describe a model.")
            _ensure_built(model, config.get("build_config"))
        _load_archive_weights(model, members, path, skip_mismatch=False)
        compile_config = config.get("compile_config")
        if compile and compile_config:
            compile_from_record(model, compile_config, custom_objects, path)
            if from_keras and KERAS_WEIGHTS in members:
                load_keras_optimizer_state(model, members[KERAS_WEIGHTS], path)
            else:
                load_optimizer_state(model, members, path)
    return model


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
        raise TypeError(
            unexpected_keyword(
                "save_weights", sorted(kwargs)[0], ["filepath", "overwrite", "save_format"]
            )
        )
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
        raise TypeError(
            unexpected_keyword(
                "load_weights", sorted(kwargs)[0], ["filepath", "skip_mismatch", "by_name"]
            )
        )
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
        restore_optimizer = None  # read and checked before any weight is assigned
        if model.trainer is not None and _has_keras_optimizer(path):
            restore_optimizer = prepare_keras_optimizer_state(model, path, path)
        _assign(plan, problems, skip_mismatch, path)
        if restore_optimizer is not None:
            restore_optimizer()
        return
    device = next(iter(model.parameters()), torch.empty(0)).device
    tensors, _ = safetensors_io.load_file(path, device)  # memory-mapped, not read whole
    plan, problems = _state_plan(model, tensors, path)
    _assign(plan, problems, skip_mismatch, path)


def _has_keras_optimizer(path: str) -> bool:
    from fitorch.saving.weights_h5 import open_h5

    with open_h5(path, path) as f:
        return "optimizer" in f and "layer_names" not in f.attrs


# -- legacy HDF5 (Keras 2, or Keras 3's model.save("m.h5")) ----------------------------------
def _h5_json_attr(f, key: str, path: str):
    value = f.attrs.get(key)
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else bytes(value)
    if len(raw) > archive.Limits.json_member:
        raise ValueError(f"{path!r}: the {key} attribute has {len(raw)} bytes, over the limit.")
    return archive.parse_json(raw, f"{path}:{key}")


def _unnest_keras2_io(config: dict) -> None:
    """Keras 2 nests even a single input or output tensor (`[["head", 0, 0]]`), where Keras 3
    writes one tensor as `["head", 0, 0]`: unnest it, in place, so the model has one output."""
    inner = config.get("config")
    if not isinstance(inner, dict):
        return
    for key in ("input_layers", "output_layers"):
        spec = inner.get(key)
        if isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], list):
            inner[key] = spec[0]


def _load_legacy_h5(path: str, custom_objects, compile: bool, safe_mode: bool):
    """A whole-model HDF5 file: `model_config` and `training_config` attributes + weights."""
    from fitorch.saving.weights_h5 import open_h5

    with open_h5(path, path) as f:
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
    if version.startswith("2."):
        _unnest_keras2_io(config)
    custom_objects = dict(custom_objects or {})
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        with weight_budget(budget_for(_h5_weight_bytes(path)), path):
            model = _build_model(config, custom_objects, path)
        plan, problems = _h5_plan(model, path, path)
        _assign(plan, problems, False, path)
        if compile and training:
            if version.startswith("2."):
                record = keras2_compile_record(training, model.output_names)
            else:
                record = dict(training, optimizer=training.get("optimizer_config"))
            compile_from_record(model, record, custom_objects, path)
            if _has_optimizer_weights(path):
                load_keras_optimizer_state(model, path, path, keras2=version.startswith("2."))
    return model


def _h5_weight_bytes(path: str) -> int:
    """Bytes the file's `model_weights` datasets occupy on disk (their storage, not their
    declared shapes, which a hostile file can inflate at no cost)."""
    from fitorch.saving.weights_h5 import h5py_module, open_h5

    h5py, total = h5py_module(), 0

    def add(_name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += obj.id.get_storage_size()

    with open_h5(path, path) as f:
        group = f.get("model_weights", getlink=True)
        if isinstance(group, h5py.HardLink):
            f["model_weights"].visititems(add)
    return total


def _has_optimizer_weights(path: str) -> bool:
    from fitorch.saving.weights_h5 import open_h5

    with open_h5(path, path) as f:
        return "optimizer_weights" in f
