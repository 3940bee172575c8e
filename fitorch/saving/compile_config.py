"""The compile config in `config.json`: optimizer, losses and metrics as records.

Strings stay strings (`"mse"`, `["mae", "acc"]`); functions are `function` records naming
their registered name; fitorch objects are class records with their config; the optimizer
is `fitorch.optimizers.serialize`'s record, or for a `torch.optim` instance its class name
and defaults (rebuilt only for classes of `torch.optim`); a `torch.nn` loss module is a
`TorchLoss` record naming its class (rebuilt with default arguments). Per-output lists and
dicts keep their structure, and a missing object's error says which output uses it.
"""

from __future__ import annotations

import torch

from fitorch.serialization import (
    build_from_record,
    deserialize_object,
    find_object,
    serialize_object,
)

__all__ = ["compile_record", "compile_from_record"]


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


def compile_record(model):
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
    # Not fitorch.tree: the result is JSON (tuples become lists), and the reader below treats
    # a dict with "class_name" as one record and positional metric lists specially.
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
    cls = find_object(name, "optimizer", custom_objects, where)
    if not isinstance(cls, type):
        return cls
    if cls in vars(optimizers).values():
        return optimizers.deserialize(
            {"class_name": cls.__name__, "config": record.get("config")}, custom_objects
        )
    return build_from_record(cls, record.get("config") or {}, {}, custom_objects, where)


def compile_from_record(model, record: dict, custom_objects, where: str) -> None:
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
