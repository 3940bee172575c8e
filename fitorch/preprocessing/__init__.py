"""Keras 2 spellings: `preprocessing.sequence.pad_sequences`, `preprocessing.image.load_img`."""

from fitorch.preprocessing import image, sequence

__all__ = ["image", "sequence"]
