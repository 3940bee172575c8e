"""Utilities: Sequence/PyDataset, to_categorical, set_random_seed."""

from fitorch.utils.numerical import normalize, to_categorical
from fitorch.utils.random import set_random_seed
from fitorch.utils.sequence import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence", "normalize", "set_random_seed", "to_categorical"]
