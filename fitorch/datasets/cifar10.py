"""CIFAR-10: 50,000 train and 10,000 test 32x32 RGB uint8 images over 10 classes (Keras)."""

from __future__ import annotations

import os

import numpy as np

from fitorch.datasets.cifar import load_batch, to_keras_layout
from fitorch.utils.file_utils import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
DIRNAME = "cifar-10-batches-py-target"  # Keras's cache names, so its downloads are reused


def load_data():
    """`(x_train, y_train), (x_test, y_test)`: uint8 images `(n, 32, 32, 3)` (channels_last) and
    uint8 labels `(n, 1)`; train is `data_batch_1..5` in order, test is `test_batch`."""
    folder = os.path.join(
        get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=FILE_HASH),
        "cifar-10-batches-py",
    )
    train = [load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train]).astype(np.uint8)  # Keras: uint8 labels here
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    y_test = y_test.astype(np.uint8)
    return to_keras_layout(x_train, y_train), to_keras_layout(x_test, y_test)
