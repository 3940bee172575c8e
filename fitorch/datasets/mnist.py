"""MNIST digits: 60,000 train and 10,000 test 28x28 uint8 images, uint8 labels 0-9 (Keras)."""

from __future__ import annotations

import numpy as np

from fitorch.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz"):
    """`(x_train, y_train), (x_test, y_test)` read from the cached `mnist.npz` (no pickles)."""
    path = get_file(fname=path, origin=ORIGIN, file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
