"""Fashion-MNIST: 60,000 train and 10,000 test 28x28 uint8 images of 10 clothing classes."""

from __future__ import annotations

import gzip
import os

import numpy as np

from fitorch.utils.file_utils import get_file

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
# idx headers: magic + counts (labels 8 bytes, images 16 bytes), then raw uint8 payload
LABEL_HEADER, IMAGE_HEADER = 8, 16


def _read(path: str, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header)


def load_data():
    """`(x_train, y_train), (x_test, y_test)` from the four gzipped idx files, cached under
    `datasets/fashion-mnist` as Keras does (no hash is published for them)."""
    paths = [
        get_file(f, origin=BASE + f, cache_subdir=os.path.join("datasets", "fashion-mnist"))
        for f in FILES
    ]
    y_train, y_test = _read(paths[0], LABEL_HEADER), _read(paths[2], LABEL_HEADER)
    x_train = _read(paths[1], IMAGE_HEADER).reshape(len(y_train), 28, 28)
    x_test = _read(paths[3], IMAGE_HEADER).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
