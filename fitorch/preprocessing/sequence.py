"""Keras 2 spelling `keras.preprocessing.sequence.pad_sequences`."""

from fitorch.utils.padding import pad_sequences

__all__ = ["pad_sequences"]
