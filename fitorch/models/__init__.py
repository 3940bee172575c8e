"""Models: `Model` (functional and subclassed), `Sequential`, `clone_model`, `load_model`,
`save_model`, `model_from_json`."""

from fitorch import serialization as _serialization
from fitorch.models.cloning import clone_model
from fitorch.models.functional import Functional
from fitorch.models.model import Model, _WrappedModule
from fitorch.models.sequential import Sequential

__all__ = [
    "Functional",
    "Model",
    "Sequential",
    "clone_model",
    "load_model",
    "model_from_json",
    "save_model",
]

# Loading a file finds these classes by name (fitorch.serialization never imports this module).
_serialization.register_builtin_layers(
    [Functional, Model, Sequential], WrappedModule=_WrappedModule
)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `model.save` (or by Keras 3); see `fitorch.saving.load_model`."""
    from fitorch import saving

    return saving.load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def save_model(model, filepath, overwrite=True, **kwargs):
    """Keras' `keras.models.save_model`: `model.save(filepath)`; see `fitorch.saving`."""
    from fitorch import saving

    saving.save_model(model, filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """The model described by `model.to_json()` (new layers, fresh weights), as Keras'; a
    Keras 3 JSON string loads too (its Keras-only neutral keys are dropped)."""
    import json

    record = _serialization.sanitize_keras(json.loads(json_string))
    return _serialization.deserialize_object(record, "layer", custom_objects)
