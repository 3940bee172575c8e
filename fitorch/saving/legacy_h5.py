"""Keras's whole-model HDF5 layout, written by `model.save("m.h5")` (Keras 3 loads it).

Layout (as `keras.models.save_model(model, "m.h5")` writes it):
- root attributes `keras_version`, `backend`, `model_config` (JSON `{"class_name", "config"}`
  of the model, Keras names only) and, for a compiled model, `training_config` (JSON of the
  compile arguments: `loss`, `metrics`, `weighted_metrics`, `loss_weights`, ...,
  `optimizer_config`);
- group `model_weights`: attributes `layer_names` (every top-level layer, in order),
  `keras_version`, `backend`; one group per layer holding its weights under their Keras paths
  (`dense/kernel`), listed in order by the layer group's `weight_names` attribute (trainable
  weights first, see `weights_h5.legacy_layer_weights`), values in Keras layout;
- group `optimizer_weights` (compiled models whose optimizer state maps onto Keras's): the
  iteration count, learning rate and slots in Keras's order, named by `weight_names`.
`load_model` reads this layout back (from fitorch, Keras 3 or Keras 2), see `saving.api`;
Keras 2's `training_config` differs (metrics per output, see `keras2_compile_record`).
"""

from __future__ import annotations

import json

import numpy as np

from fitorch.saving.weights_h5 import (
    h5py_module,
    keras_optimizer_values,
    legacy_layer_weights,
    to_keras_layout,
)

__all__ = [
    "KERAS_VERSION",
    "keras_model_config",
    "keras_training_config",
    "write_model_h5",
    "keras2_compile_record",
]

# The Keras release whose whole-model layout this writer follows (what Keras reads in
# `keras_version`; a "2." prefix would make readers apply Keras 2's conversions).
KERAS_VERSION = "3.15.1"


# fitorch package -> the Keras module Keras 3 records for its built-ins of that family.
_KERAS_MODULES = {
    "layers": "keras.layers",
    "initializers": "keras.initializers",
    "regularizers": "keras.regularizers",
    "constraints": "keras.constraints",
    "optimizers": "keras.optimizers",
    "losses": "keras.losses",
    "metrics": "keras.metrics",
    "models": "keras.models",
}


def _keras_module(module: str, class_name: str) -> str | None:
    """Keras's `module` for a fitorch built-in (`fitorch.layers.core` -> `keras.layers`)."""
    if class_name == "Functional":
        return "keras.src.models.functional"  # not exported under keras.models
    parts = module.split(".")
    return _KERAS_MODULES.get(parts[1]) if len(parts) > 1 else None


def _keras_record(value):
    """`value` with fitorch's `module` names replaced by Keras's (Keras imports `keras...`
    modules only, and nested records such as a Bidirectional's layer are found by module)."""
    if isinstance(value, list):
        return [_keras_record(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _keras_record(v) for k, v in value.items()}
    module, name = out.get("module"), out.get("class_name")
    if name == "Sequential" and isinstance(out.get("config"), dict):
        out["config"] = _with_input_layer(out["config"])
    if isinstance(module, str) and module.split(".")[0] == "fitorch" and isinstance(name, str):
        keras_module = _keras_module(module, name)
        if keras_module is None:
            del out["module"]
        else:
            out["module"] = keras_module
        if out.get("registered_name") == name:
            out["registered_name"] = None  # a built-in, not a registered custom object
    return out


def _with_input_layer(config: dict) -> dict:
    """A Sequential config without `batch_input_shape` in its layers' configs (Keras 2's
    spelling, which Keras 3 layers refuse), starting with an InputLayer record as Keras 3's."""
    records = config.get("layers")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return config
    shapes, cleaned = [], []
    for record in records:
        layer_config = dict(record.get("config") or {})
        shapes.append(layer_config.pop("batch_input_shape", None))
        cleaned.append(dict(record, config=layer_config))
    has_input = bool(cleaned) and cleaned[0].get("class_name") == "InputLayer"
    if not has_input and shapes and shapes[0] is not None:
        dtype = cleaned[0]["config"].get("dtype")
        cleaned.insert(0, {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {"batch_shape": shapes[0],
                       "dtype": dtype if isinstance(dtype, str) else "float32"},
            "registered_name": None,
        })  # fmt: skip
    return dict(config, layers=cleaned)


def keras_model_config(record: dict) -> dict:
    """The `model_config` attribute: `{"class_name", "config"}` of a model record."""
    return _keras_record({"class_name": record["class_name"], "config": record["config"]})


def _loss_names(value):
    """Loss strings by their function's name (`"mse"` -> `"mean_squared_error"`), nested
    structures kept: Keras 3's HDF5 reader refuses the short aliases (it looks `mse` up as a
    class in `keras.metrics`), so a model compiled with `loss="mse"` would not load there."""
    from fitorch import losses

    if isinstance(value, list):
        return [_loss_names(v) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _loss_names(v) for k, v in value.items()}
    if isinstance(value, str):
        found = losses.get(value)
        return found.__name__ if callable(found) and not isinstance(found, type) else value
    return value


def keras_training_config(compile_record: dict | None) -> dict | None:
    """The `training_config` attribute from a compile record (None when not compiled)."""
    if not compile_record or compile_record.get("optimizer") is None:
        return None
    out = {k: _keras_record(v) for k, v in compile_record.items() if k != "optimizer"}
    out["loss"] = _loss_names(out.get("loss"))
    optimizer = _keras_record(compile_record["optimizer"])
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    out["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
    if out.get("jit_compile") == "auto":
        out["jit_compile"] = False  # Keras's legacy layout stores a bool
    return out


def _string_list(values: list[str]) -> np.ndarray:
    """An HDF5 attribute value Keras decodes as a list of strings (empty -> float array, as
    Keras itself writes an empty list)."""
    return np.array([v.encode("utf8") for v in values]) if values else np.zeros((0,))


def _write_layer(group, layer) -> None:
    items = legacy_layer_weights(layer)
    group.attrs["weight_names"] = _string_list([name for name, _, _ in items])
    for name, tensor, layout in items:
        group.create_dataset(name, data=to_keras_layout(tensor, layout))


def write_model_h5(model, fileobj, record: dict, include_optimizer: bool = True) -> None:
    """Write `model` in the whole-model HDF5 layout (module docstring) into `fileobj`
    (a path or a binary file); `record` is the model's record with its compile config."""
    import fitorch

    h5py = h5py_module()
    with h5py.File(fileobj, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "torch"
        f.attrs["fitorch_version"] = fitorch.__version__
        f.attrs["model_config"] = json.dumps(keras_model_config(record)).encode("utf8")
        training = keras_training_config(record.get("compile_config"))
        if include_optimizer and training is not None:
            f.attrs["training_config"] = json.dumps(training).encode("utf8")
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = _string_list([layer.name for layer in model.layers])
        weights.attrs["backend"] = b"torch"
        weights.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
        for layer in model.layers:
            _write_layer(weights.create_group(layer.name), layer)
        optimizer = keras_optimizer_values(model) if include_optimizer else None
        if optimizer and getattr(model, "trainer", None) is not None:
            group = f.create_group("optimizer_weights")
            group.attrs["weight_names"] = _string_list([name for name, _ in optimizer])
            for name, value in optimizer:
                group.create_dataset(name, data=value)


# -- reading Keras 2 (tf-keras) files -----------------------------------------------------
def _keras2_metric(record, output: str | None):
    """A Keras 2 metric record -> what the user passed when that can be told: tf-keras stores
    `metrics=["mae"]` as `MeanMetricWrapper(name="mae" or "<output>_mae", fn=...)`."""
    from fitorch import metrics

    if not (isinstance(record, dict) and record.get("class_name") == "MeanMetricWrapper"):
        return record
    config = record.get("config") or {}
    name = str(config.get("name", ""))
    if output and name.startswith(f"{output}_"):
        name = name[len(output) + 1 :]
    try:
        metrics.get(name)
    except (ValueError, TypeError):
        return config.get("fn", record)
    return name


def _keras2_metrics(value, output_names: list[str]):
    """Keras 2's `[[metrics of output 0], [metrics of output 1], ...]` -> a list (one output)
    or a dict by output name; other forms are returned as they are."""
    if not (isinstance(value, list) and value and all(isinstance(v, list) for v in value)):
        return value
    if len(value) != len(output_names):
        return value
    per_output = {
        out: [_keras2_metric(r, out if len(output_names) > 1 else None) for r in records]
        for out, records in zip(output_names, value)
    }
    return per_output[output_names[0]] if len(output_names) == 1 else per_output


def keras2_compile_record(training: dict, output_names: list[str]) -> dict:
    """A compile record from a tf-keras 2.x `training_config`: the optimizer from
    `optimizer_config`, metrics and weighted metrics from Keras 2's per-output nested lists."""
    record = dict(training, optimizer=training.get("optimizer_config"))
    for key in ("metrics", "weighted_metrics"):
        record[key] = _keras2_metrics(record.get(key), list(output_names))
    return record
