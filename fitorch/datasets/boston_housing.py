"""Boston housing: 506 rows of 13 features, target the median value in $1000s (Keras)."""

from __future__ import annotations

import numpy as np

from fitorch.datasets.readers import check_test_split, shuffle_split
from fitorch.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """`(x_train, y_train), (x_test, y_test)`, rows permuted by `RandomState(seed)`."""
    check_test_split(test_split)
    with np.load(get_file(path, origin=ORIGIN, file_hash=FILE_HASH), allow_pickle=False) as f:
        return shuffle_split(f["x"], f["y"], test_split, seed)
