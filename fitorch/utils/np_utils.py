"""Keras 2's `keras.utils.np_utils` spelling: `to_categorical` and `normalize`."""

from fitorch.utils.numerical import normalize, to_categorical

__all__ = ["normalize", "to_categorical"]
