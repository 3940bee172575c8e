"""`fitorch.dtype_policies`: Keras 3's `keras.dtype_policies` for the float policies.

    >>> get("mixed_bfloat16").compute_dtype
    torch.bfloat16
    >>> serialize(get("float32"))["config"]
    {'name': 'float32'}

The policies are `fitorch.mixed_precision.DTypePolicy` (`variable_dtype` and `compute_dtype`
as torch dtypes, where Keras gives dtype names). `FloatDTypePolicy` is the same class (Keras
3 subclasses it; fitorch has only float policies). The quantized policies of Keras 3
(`QuantizedDTypePolicy`, `Int4DTypePolicy`, ...) need quantized layers, which fitorch does not
have: those names raise `NotImplementedError` saying so.
"""

from __future__ import annotations

from fitorch.mixed_precision import DTypePolicy, global_policy

__all__ = ["DTypePolicy", "FloatDTypePolicy", "deserialize", "get", "serialize"]

FloatDTypePolicy = DTypePolicy

_QUANTIZED = (
    "AWQDTypePolicy", "DTypePolicyMap", "GPTQDTypePolicy", "Int4DTypePolicy",
    "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
)  # fmt: skip
_CLASS_NAMES = ("DTypePolicy", "FloatDTypePolicy")


def serialize(policy: DTypePolicy) -> dict:
    """The Keras record of `policy`: `{"module": "keras", "class_name": "DTypePolicy",
    "config": {"name": ...}, "registered_name": None}` (as Keras 3 writes it)."""
    if not isinstance(policy, DTypePolicy):
        raise TypeError(
            f"dtype_policies.serialize: policy must be a DTypePolicy; got "
            f"{type(policy).__name__} {policy!r}."
        )
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": policy.get_config(),
        "registered_name": None,
    }


def deserialize(config: dict, custom_objects=None) -> DTypePolicy:
    """The policy of a record written by `serialize` (or by Keras 3)."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(
            "dtype_policies.deserialize: config must be a record {'class_name': "
            f"'DTypePolicy', 'config': {{'name': ...}}}}; got {config!r}."
        )
    class_name = config.get("class_name")
    if class_name in _QUANTIZED:
        _refuse_quantized(class_name)
    if class_name not in _CLASS_NAMES:
        raise ValueError(
            f"dtype_policies.deserialize: unknown policy class {class_name!r}; expected one of "
            f"{list(_CLASS_NAMES)}."
        )
    return DTypePolicy.from_config(config["config"])


def get(identifier) -> DTypePolicy:
    """A policy from a name (`"mixed_float16"`, `"float32"`), a record, a policy (returned
    as is) or None (the global policy, `fitorch.config.dtype_policy()`)."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        "dtype_policies.get: identifier must be a policy name, a DTypePolicy, a record or "
        f"None; got {type(identifier).__name__} {identifier!r}."
    )


def _refuse_quantized(name: str):
    raise NotImplementedError(
        f"dtype_policies.{name}: Keras 3's quantized dtype policies need quantized layers "
        "(int8/int4/float8 kernels), which fitorch does not provide; use a float policy "
        "('float32', 'mixed_float16', 'mixed_bfloat16')."
    )


def __getattr__(name: str):
    if name in _QUANTIZED:
        _refuse_quantized(name)
    raise AttributeError(f"module 'fitorch.dtype_policies' has no attribute {name!r}")
