"""Utilities: Sequence/PyDataset, to_categorical, set_random_seed, plot_history."""

from fitorch.utils.numerical import normalize, to_categorical
from fitorch.utils.plotting import plot_history
from fitorch.utils.random import set_random_seed
from fitorch.utils.sequence import PyDataset, Sequence
from fitorch.utils.step_data import pack_x_y_sample_weight, unpack_x_y_sample_weight

__all__ = [
    "PyDataset",
    "Sequence",
    "normalize",
    "pack_x_y_sample_weight",
    "plot_history",
    "set_random_seed",
    "to_categorical",
    "unpack_x_y_sample_weight",
]
