"""CIFAR-100: 50,000 train and 10,000 test 32x32 RGB uint8 images, 100 fine / 20 coarse labels."""

from __future__ import annotations

import os

from fitorch.datasets.cifar import load_batch, to_keras_layout
from fitorch.utils.file_utils import get_file

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
DIRNAME = "cifar-100-python-target"
LABEL_MODES = ("fine", "coarse")


def load_data(label_mode: str = "fine"):
    """`(x_train, y_train), (x_test, y_test)` as `cifar10`, labels from `fine_labels` (0-99)
    or `coarse_labels` (0-19)."""
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    folder = os.path.join(
        get_file(fname=DIRNAME, origin=ORIGIN, extract=True, file_hash=FILE_HASH),
        "cifar-100-python",
    )
    key = f"{label_mode}_labels"
    train = load_batch(os.path.join(folder, "train"), label_key=key)
    test = load_batch(os.path.join(folder, "test"), label_key=key)
    return to_keras_layout(*train), to_keras_layout(*test)
