"""Layers: the `Layer` base and the Keras layer catalogue (one module per family)."""

from fitorch.layers.base import Layer
from fitorch.layers.core import Activation, Dense, Dropout, Flatten, Lambda, Reshape
from fitorch.layers.merge import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract,
    add, average, concatenate, dot, maximum, minimum, multiply, subtract,
)  # fmt: skip
from fitorch.layers.input import Input, InputLayer, KerasTensor
from fitorch.layers.torch_module import TorchModuleWrapper

__all__ = [
    "Layer", "Input", "InputLayer", "KerasTensor", "TorchModuleWrapper",
    "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Lambda",
    "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
    "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]  # fmt: skip
