"""Keras 2 spellings: `preprocessing.sequence.pad_sequences`, `preprocessing.image.load_img`,
and Keras 3's `keras.preprocessing.image_dataset_from_directory` / `text_dataset_from_directory`
/ `timeseries_dataset_from_array`."""

from fitorch.preprocessing import image, sequence
from fitorch.utils.image_dataset import image_dataset_from_directory
from fitorch.utils.text_dataset import text_dataset_from_directory
from fitorch.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "image",
    "image_dataset_from_directory",
    "sequence",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
]
