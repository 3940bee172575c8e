"""fitorch: the Keras training system, native on PyTorch.

Keras code runs with one import changed:

    from fitorch import layers, losses, metrics, optimizers, callbacks, backend
    from fitorch.models import Sequential, Model
"""

from fitorch import (
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distributed,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    quantizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from fitorch.devices import device
from fitorch.dtype_policies import DTypePolicy, FloatDTypePolicy
from fitorch.initializers import Initializer
from fitorch.layers import Input, InputSpec, KerasTensor, Layer
from fitorch.losses import Loss
from fitorch.metrics import Metric
from fitorch.models import Model, Sequential
from fitorch.optimizers import Optimizer
from fitorch.regularizers import Regularizer
from fitorch.variables import Variable

__version__ = "0.1.0"


def version() -> str:
    """fitorch's version string (Keras 3's `keras.version()`)."""
    return __version__


__all__ = [
    "DTypePolicy",
    "FloatDTypePolicy",
    "Initializer",
    "Input",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Loss",
    "Metric",
    "Model",
    "Optimizer",
    "Regularizer",
    "Sequential",
    "Variable",
    "device",
    "version",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "datasets",
    "distributed",
    "dtype_policies",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "quantizers",
    "random",
    "regularizers",
    "saving",
    "tree",
    "utils",
]
