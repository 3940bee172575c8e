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
    quantizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from fitorch.layers import Input, InputSpec, KerasTensor, Layer
from fitorch.models import Model, Sequential
from fitorch.variables import Variable

__version__ = "0.1.0"

__all__ = [
    "Input",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "Model",
    "Sequential",
    "Variable",
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
    "quantizers",
    "random",
    "regularizers",
    "saving",
    "tree",
    "utils",
]
