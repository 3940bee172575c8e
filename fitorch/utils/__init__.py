"""Utilities (Keras 3 `keras.utils` names): Sequence/PyDataset, to_categorical, pad_sequences,
get_file, image helpers, timeseries datasets, step-data packing, set_random_seed, plot_history."""

from fitorch.registry import custom_object_scope, get_registered_name, get_registered_object
from fitorch.registry import custom_object_scope as CustomObjectScope  # noqa: N813 (Keras name)
from fitorch.registry import custom_objects as get_custom_objects
from fitorch.registry import register_serializable as register_keras_serializable
from fitorch.serialization import deserialize_object as deserialize_keras_object
from fitorch.serialization import serialize_object as serialize_keras_object
from fitorch.utils.audio_dataset import audio_dataset_from_directory
from fitorch.utils.console import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fitorch.utils.file_utils import get_file
from fitorch.utils.graph_utils import get_source_inputs
from fitorch.utils.image_dataset import image_dataset_from_directory
from fitorch.utils.image_utils import array_to_img, img_to_array, load_img, save_img
from fitorch.utils.model_visualization import model_to_dot, plot_model
from fitorch.utils.numerical import normalize, to_categorical
from fitorch.utils.padding import pad_sequences
from fitorch.utils.plotting import plot_history
from fitorch.utils.progbar import Progbar
from fitorch.utils.random import set_random_seed
from fitorch.utils.sequence import PyDataset, Sequence
from fitorch.utils.split import split_dataset
from fitorch.utils.step_data import pack_x_y_sample_weight, unpack_x_y_sample_weight
from fitorch.utils.text_dataset import text_dataset_from_directory
from fitorch.utils.timeseries import timeseries_dataset_from_array

__all__ = [
    "CustomObjectScope",
    "audio_dataset_from_directory",
    "array_to_img",
    "clear_session",
    "custom_object_scope",
    "disable_interactive_logging",
    "enable_interactive_logging",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "get_source_inputs",
    "is_interactive_logging_enabled",
    "is_keras_tensor",
    "register_keras_serializable",
    "serialize_keras_object",
    "get_file",
    "image_dataset_from_directory",
    "img_to_array",
    "load_img",
    "save_img",
    "Progbar",
    "PyDataset",
    "Sequence",
    "model_to_dot",
    "normalize",
    "pack_x_y_sample_weight",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "set_random_seed",
    "split_dataset",
    "text_dataset_from_directory",
    "timeseries_dataset_from_array",
    "to_categorical",
    "unpack_x_y_sample_weight",
]


def clear_session(free_memory=True):
    """Keras' `keras.utils.clear_session`: default layer names start over (see
    `fitorch.backend.clear_session`)."""
    from fitorch import backend  # backend imports the layers, which import fitorch.utils

    backend.clear_session()


def is_keras_tensor(x) -> bool:
    """Whether `x` is a functional-API KerasTensor (see `backend.is_keras_tensor`)."""
    from fitorch import backend

    return backend.is_keras_tensor(x)
