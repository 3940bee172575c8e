"""Saving and loading: whole models (`.keras` zip), weights (safetensors or Keras HDF5),
and the custom-object registry used to rebuild them safely.

    model.save("m.keras");  model = fitorch.models.load_model("m.keras", custom_objects={...})
    model.save_weights("w.weights.h5");  model.load_weights("w.weights.h5")

    @fitorch.saving.register_serializable()
    def vae_loss(y_true, y_pred): ...
"""

from fitorch.registry import (
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    register_serializable,
)
from fitorch.registry import custom_objects as get_custom_objects
from fitorch.saving.api import load_model, load_weights, save_model, save_weights
from fitorch.serialization import (
    deserialize_object,
    enable_unsafe_deserialization,
    serialize_object,
)

# Keras spellings (`keras.saving.register_keras_serializable`, ...).
register_keras_serializable = register_serializable
CustomObjectScope = custom_object_scope
serialize_keras_object = serialize_object
deserialize_keras_object = deserialize_object

__all__ = [
    "save_model",
    "load_model",
    "save_weights",
    "load_weights",
    "register_serializable",
    "custom_object_scope",
    "get_registered_object",
    "get_registered_name",
    "serialize_object",
    "deserialize_object",
    "enable_unsafe_deserialization",
    "get_custom_objects",
    "register_keras_serializable",
    "CustomObjectScope",
    "serialize_keras_object",
    "deserialize_keras_object",
]
