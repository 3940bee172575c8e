"""Keras 2 spellings: `fitorch.preprocessing.sequence.pad_sequences`."""

from fitorch.preprocessing import sequence

__all__ = ["sequence"]
