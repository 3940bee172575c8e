"""CIFAR-10/100 reader shared by `cifar10` and `cifar100`: the python-pickle batches of the
official tarballs, read with `ArrayUnpickler` (no code runs), images as Keras lays them out."""

from __future__ import annotations

import numpy as np

from fitorch.backend import image_data_format
from fitorch.datasets.readers import load_pickle


def load_batch(path: str, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """`(images, labels)`: uint8 `(n, 3, 32, 32)` and the labels as stored (a list -> int64)."""
    batch = {k.decode("utf8"): v for k, v in load_pickle(path, encoding="bytes").items()}
    data = np.asarray(batch["data"], dtype=np.uint8)
    return data.reshape(len(data), 3, 32, 32), np.asarray(batch[label_key])


def to_keras_layout(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as a column `(n, 1)`; images NHWC unless `image_data_format()` is channels_first."""
    if image_data_format() == "channels_last":
        images = images.transpose(0, 2, 3, 1)
    return images, labels.reshape(len(labels), 1)
