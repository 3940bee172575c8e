"""Models: `Model` (functional and subclassed), `Sequential`, `load_model`."""

from fitorch import serialization as _serialization
from fitorch.models.cloning import clone_model
from fitorch.models.functional import Functional
from fitorch.models.model import Model, _WrappedModule
from fitorch.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]

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
