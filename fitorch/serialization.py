"""Keras-style records for any fitorch object, and their safe inverse.

A record is `{"module", "class_name", "config", "registered_name"}` (layers add
`build_config`). Strings, numbers, None, lists and plain dicts stay as they are; a function is
`{"module", "class_name": "function", "config": <registered name>, "registered_name": "function"}`;
an object with `get_config` is its class name plus its config.

Loading is safe by construction: `module` is informational only and is never imported. A name
resolves, in order, to an object passed in (`custom_objects=`, then open
`custom_object_scope`s), a fitorch built-in of the expected kind (for a plain name), a
registered one (`register_serializable`, `"package>name"` or its short name), or one this
process used in `compile`; anything else is a `ValueError` naming the object, where the file
uses it, and the line to add. A Python lambda stored as bytecode (`__lambda__`) is only
rebuilt when safe mode is off (`load_model(..., safe_mode=False)`).
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import marshal
import threading
import types

from fitorch import registry as custom_registry
from fitorch.registry import get_registered_object

__all__ = [
    "serialize_object",
    "deserialize_object",
    "deserialize_function",
    "safe_mode_scope",
    "in_safe_mode",
    "enable_unsafe_deserialization",
    "missing_object_error",
    "builtin_table",
]

_STATE = threading.local()
_UNSAFE_GLOBAL = [False]

# Keys Keras 3 writes that fitorch constructors do not take; dropped when they hold the
# neutral value (anything else is an unsupported feature and reaches the constructor).
_KERAS_NEUTRAL = {
    "quantization_config": None,
    "optional": False,
    "sparse": False,
    "ragged": False,
    "input_axes": None,
    "output_axes": None,
    "lora_rank": None,
    "lora_alpha": None,
    "synchronized": False,
}

KINDS = (
    "layer",
    "loss",
    "metric",
    "optimizer",
    "schedule",
    "initializer",
    "regularizer",
    "constraint",
    "activation",
)


# -- safe mode ----------------------------------------------------------------------------
@contextlib.contextmanager
def safe_mode_scope(safe_mode: bool | None):
    """Within the block, `in_safe_mode()` answers `safe_mode` (None keeps the outer value)."""
    previous = getattr(_STATE, "safe_mode", None)
    if safe_mode is not None:
        _STATE.safe_mode = bool(safe_mode)
    try:
        yield
    finally:
        _STATE.safe_mode = previous


def in_safe_mode() -> bool:
    """True unless a `safe_mode_scope(False)` is open or unsafe loading was enabled globally."""
    value = getattr(_STATE, "safe_mode", None)
    if value is None:
        return not _UNSAFE_GLOBAL[0]
    return value


def enable_unsafe_deserialization() -> None:
    """Allow rebuilding Python lambdas from stored bytecode everywhere (Keras' switch)."""
    _UNSAFE_GLOBAL[0] = True


# -- built-in tables ----------------------------------------------------------------------
# Layer and model classes by name, filled by `fitorch.layers` and `fitorch.models` when they
# load (this module sits below them and never imports them).
_LAYER_CLASSES: dict[str, type] = {}


def register_builtin_layers(classes, **named) -> None:
    """Make fitorch's own layer/model classes loadable by class name (or by `named` keys)."""
    for cls in classes:
        _LAYER_CLASSES[cls.__name__] = cls
    _LAYER_CLASSES.update(named)


def builtin_table(kind: str) -> dict:
    """name -> fitorch built-in object of `kind` (layers by class name, others by alias)."""
    if kind == "layer":
        return dict(_LAYER_CLASSES)
    registry = _registry(kind)
    return dict(registry._by_name) if registry is not None else {}


def _registry(kind: str):
    if kind == "loss":
        from fitorch.losses import LOSSES

        return LOSSES
    if kind == "metric":
        from fitorch.metrics import METRICS

        return METRICS
    if kind == "optimizer":
        from fitorch.optimizers import OPTIMIZERS

        return OPTIMIZERS
    if kind == "schedule":
        from fitorch.optimizers.schedules import SCHEDULES

        return SCHEDULES
    module = {
        "initializer": "initializers",
        "regularizer": "regularizers",
        "constraint": "constraints",
        "activation": "activations",
    }.get(kind)
    if module is None:
        return None
    import fitorch

    return getattr(getattr(fitorch, module), module.upper())


def _builtin_lookup(name: str, kind: str | None):
    for k in [kind] if kind else KINDS:
        table = builtin_table(k)
        registry = _registry(k)
        key = registry._key(name) if registry is not None else name
        if key in table:
            return table[key]
    return None


# -- serialize ----------------------------------------------------------------------------
def _registered_key(obj) -> str | None:
    return custom_registry._CUSTOM_NAMES.get(id(obj))


def _function_name(fn) -> str:
    """The registered custom key (`"package>name"`), else `__name__` (built-ins register theirs)."""
    return _registered_key(fn) or fn.__name__


def serialize_object(obj, kind: str | None = None):
    """A JSON-able record of `obj` (see the module docstring); TypeError if impossible."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_object(v, kind) for v in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_object(v, kind) for k, v in obj.items()}
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        return lambda_record(obj)
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return {
            "module": getattr(obj, "__module__", None),
            "class_name": "function",
            "config": _function_name(obj),
            "registered_name": "function",
        }
    wrapped = _wrapped_module_record(obj)
    if wrapped is not None:
        return wrapped
    if hasattr(obj, "get_config"):
        cls = type(obj)
        record = {
            "module": cls.__module__,
            "class_name": cls.__name__,
            "config": serialize_object(obj.get_config(), kind),
            "registered_name": _registered_key(cls),
        }
        if hasattr(obj, "get_build_config"):
            build = obj.get_build_config()
            if build is not None:
                record["build_config"] = build
        return record
    raise TypeError(
        f"Cannot serialize {obj!r} ({type(obj).__name__}): it is not a string, number, "
        "function or object with get_config()."
    )


def _wrapped_module_record(obj) -> dict | None:
    """`Model.wrap(module)`: the record names the module's class; loading needs the module."""
    if not isinstance(obj, _LAYER_CLASSES["WrappedModule"]):
        return None
    config = {
        "name": obj.name,
        "trainable": obj.trainable,
        "module_class": type(obj.module).__name__,
    }
    return {"module": "fitorch.models", "class_name": "WrappedModule", "config": config,
            "registered_name": None}  # fmt: skip


def _torch_module(config: dict, custom_objects, where: str | None):
    """The torch module a wrapper needs: an instance (or no-argument class) passed in."""
    from torch import nn

    name = config.get("module_class")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: a wrapped torch module record needs 'module_class'.")
    hit = (custom_objects or {}).get(name) or get_registered_object(name)
    if isinstance(hit, nn.Module):
        return hit
    if isinstance(hit, type) and issubclass(hit, nn.Module):
        try:
            return hit()
        except TypeError as err:
            raise ValueError(
                f"{where}: {name} needs constructor arguments ({err}); pass an instance: "
                f"custom_objects={{{name!r}: {name}(...)}}."
            ) from err
    raise ValueError(
        f"{where}: the file holds a wrapped torch module of class {name!r}; its weights are in "
        "the file but its code is not (fitorch never imports it). Pass the module, built with "
        f"the same arguments: load_model(path, custom_objects={{{name!r}: {name}(...)}})."
    )


def _build_wrapper(class_name: str, config: dict, custom_objects, where):
    module = _torch_module(config, custom_objects, where or class_name)
    model = _LAYER_CLASSES[class_name](module, name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def lambda_record(fn) -> dict:
    """A Python lambda as `__lambda__` bytecode (loads only with safe_mode=False)."""
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    return {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}


# -- deserialize --------------------------------------------------------------------------
def missing_object_error(name: str, kind: str | None, where: str | None) -> ValueError:
    """The error for a name that is neither built in, registered nor passed in."""
    short = name.split(">")[-1]
    what = kind or "object"
    used = f" (used as {where})" if where else ""
    is_fn = kind in ("loss", "metric", "activation") or short[:1].islower()
    define = f"def {short}" if is_fn else f"class {short}"
    return ValueError(
        f"Unknown {what} {name!r}{used}: it is not built into fitorch, not registered and not "
        "passed in, and fitorch never imports modules named by a file. Add one of:\n"
        f"    load_model(path, custom_objects={{{short!r}: {short}}})\n"
        f"    @fitorch.saving.register_serializable()   # on the line above `{define}`\n"
        f"    with fitorch.saving.custom_object_scope({{{short!r}: {short}}}): ...\n"
        + ("To load only for inference, pass compile=False." if kind in ("loss", "metric") else "")
    )


def _is_module_instance(obj) -> bool:
    from torch import nn

    return isinstance(obj, nn.Module)


def find_object(name: str, kind: str | None, custom_objects=None, where: str | None = None):
    """Resolve `name` without importing anything (see the module docstring for the order)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"Invalid object name {name!r} in the file (used as {where or kind}).")
    short = name.split(">")[-1]
    for table in [custom_objects or {}, *reversed(custom_registry._SCOPES)]:
        for key in (name, short):
            hit = table.get(key)
            # A torch module instance passed in is for a wrapper record, never a layer class.
            if hit is not None and not (kind == "layer" and _is_module_instance(hit)):
                return hit
    hit = _builtin_lookup(name, kind) if ">" not in name else None
    if hit is None:
        hit = get_registered_object(name)
    if hit is None and ">" in name:
        hit = _builtin_lookup(short, kind)
    if hit is None:
        raise missing_object_error(name, kind, where)
    return hit


def deserialize_function(record, kind: str | None = None, custom_objects=None, where=None):
    """A function from a name, a `function` record or (safe_mode off) a `__lambda__` record."""
    if callable(record):
        return record
    if isinstance(record, str):
        return find_object(record, kind, custom_objects, where)
    if isinstance(record, dict) and record.get("class_name") == "__lambda__":
        return _rebuild_lambda(record, where)
    if isinstance(record, dict) and record.get("class_name") == "function":
        return find_object(record.get("config"), kind, custom_objects, where)
    raise ValueError(f"Expected a function record (used as {where or kind}); got {record!r}.")


def _rebuild_lambda(record: dict, where: str | None):
    if in_safe_mode():
        raise ValueError(
            f"Refusing to rebuild a Python lambda stored as bytecode ({where or 'lambda'}): "
            "running bytecode from a file can execute arbitrary code, so safe mode blocks it. "
            "If you trust the file, load it with `load_model(path, safe_mode=False)` (or call "
            "`fitorch.saving.enable_unsafe_deserialization()`); better, replace the lambda by a "
            "named function registered with @fitorch.saving.register_serializable()."
        )
    config = record.get("config") or {}
    try:
        code = marshal.loads(base64.b64decode(config["code"]))
    except Exception as err:  # noqa: BLE001 - any decoding failure is a bad file
        raise ValueError(f"The stored lambda ({where}) has unreadable bytecode: {err}") from err
    defaults = config.get("defaults")
    if code.co_freevars:
        raise ValueError(
            f"The stored lambda ({where}) closes over variables {list(code.co_freevars)}; "
            "their values are not in the file. Use a named, registered function instead."
        )
    import numpy
    import torch

    from fitorch import backend

    # Names stored lambdas commonly use; anything else raises NameError when called.
    namespace = {"__builtins__": __builtins__, "torch": torch, "K": backend, "np": numpy}
    return types.FunctionType(code, namespace, None, tuple(defaults) if defaults else None)


def _accepted_params(cls) -> set[str] | None:
    """Constructor parameter names over the MRO (None if it takes any **kwargs freely)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            names |= set(inspect.signature(init).parameters)
        except (TypeError, ValueError):
            continue
    return names


def _drop_keras_extras(cls, config: dict) -> dict:
    params = _accepted_params(cls)
    out = {}
    for key, value in config.items():
        if key in _KERAS_NEUTRAL and key not in params and value == _KERAS_NEUTRAL[key]:
            continue
        out[key] = value
    return out


def sanitize_keras(record):
    """Recursively drop Keras-only neutral keys from records of fitorch built-in classes."""
    if isinstance(record, list):
        return [sanitize_keras(v) for v in record]
    if not isinstance(record, dict):
        return record
    out = {k: sanitize_keras(v) for k, v in record.items()}
    config = out.get("config")
    if isinstance(out.get("class_name"), str) and isinstance(config, dict):
        cls = _builtin_lookup(out["class_name"], None)
        if isinstance(cls, type):
            out["config"] = _drop_keras_extras(cls, config)
    return out


def deserialize_with(get, config, custom_objects: dict | None = None):
    """`get(config)` with `custom_objects` resolvable and Keras-only neutral keys dropped
    (`sanitize_keras`): every family's Keras-style `deserialize`."""
    with custom_registry.custom_object_scope(custom_objects):
        return get(sanitize_keras(config))


def deserialize_object(record, kind: str | None = None, custom_objects=None, where=None):
    """Inverse of `serialize_object` for the kinds in `KINDS` (see the module docstring)."""
    if record is None or isinstance(record, (bool, int, float)):
        return record
    if isinstance(record, str):
        return (
            record
            if kind in ("loss", "metric", "optimizer")
            else find_object(record, kind, custom_objects, where)
        )
    if isinstance(record, list):
        return [deserialize_object(v, kind, custom_objects, where) for v in record]
    if not isinstance(record, dict):
        raise ValueError(f"Unexpected value {record!r} in the file (used as {where or kind}).")
    if "class_name" not in record:
        return {k: deserialize_object(v, kind, custom_objects, where) for k, v in record.items()}
    class_name = record["class_name"]
    if class_name in ("function", "__lambda__"):
        return deserialize_function(record, kind, custom_objects, where)
    if class_name in ("TorchModuleWrapper", "WrappedModule") and not record.get("registered_name"):
        return _build_wrapper(class_name, record.get("config") or {}, custom_objects, where)
    name = record.get("registered_name") or class_name
    if not isinstance(name, str) or name in ("function",):
        name = class_name
    cls = find_object(name, kind, custom_objects, where)
    config = record.get("config") or {}
    if not isinstance(config, dict):
        raise ValueError(f"The config of {class_name!r} ({where}) must be a dict; got {config!r}.")
    return build_from_record(cls, config, record, custom_objects, where)


def build_from_record(cls, config: dict, record: dict, custom_objects=None, where=None):
    """`cls.from_config(config)` (passing custom_objects when it takes them), then build."""
    if not isinstance(cls, type):
        return cls  # a function or an instance passed in by the user, used as is
    try:
        from_config = getattr(cls, "from_config", None)
        if from_config is None:
            obj = cls(**config)
        elif "custom_objects" in inspect.signature(from_config).parameters:
            obj = from_config(config, custom_objects=custom_objects)
        else:
            obj = from_config(config)
    except (TypeError, ValueError) as err:
        raise type(err)(
            f"Could not rebuild {cls.__name__} ({where or 'object'}) from its config: {err}"
        ) from err
    build = record.get("build_config")
    if build and hasattr(obj, "build_from_config") and not getattr(obj, "built", True):
        obj.build_from_config(build)
    return obj
