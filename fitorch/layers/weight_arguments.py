"""The initializer / regularizer / constraint arguments of a layer's weights, Keras-named.

Dense, EinsumDense, the convolutions and MultiHeadAttention take, per weight prefix (`kernel`,
`bias`), `<prefix>_initializer`, `<prefix>_regularizer` and `<prefix>_constraint`;
`set_weight_arguments` resolves them onto the layer and `weight_arguments_config` writes them
back in Keras's config order (initializers, regularizers with `activity_regularizer`, then
constraints).
"""

from __future__ import annotations

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod

__all__ = ["set_weight_arguments", "weight_arguments_config"]

_FAMILIES = (
    ("initializer", initializers_mod),
    ("regularizer", regularizers_mod),
    ("constraint", constraints_mod),
)


def set_weight_arguments(layer, prefixes=("kernel", "bias"), **given) -> None:
    """`layer.<prefix>_<kind> = <family>.get(given["<prefix>_<kind>"])` for every prefix and
    kind (a missing argument resolves None)."""
    for kind, family in _FAMILIES:
        for prefix in prefixes:
            name = f"{prefix}_{kind}"
            setattr(layer, name, family.get(given.get(name)))


def weight_arguments_config(layer, prefixes=("kernel", "bias")) -> dict:
    """The serialized arguments, `activity_regularizer` after the weights' regularizers."""
    config = {}
    for kind, family in _FAMILIES:
        for prefix in prefixes:
            config[f"{prefix}_{kind}"] = family.serialize(getattr(layer, f"{prefix}_{kind}"))
        if kind == "regularizer":
            config["activity_regularizer"] = regularizers_mod.serialize(layer.activity_regularizer)
    return config
