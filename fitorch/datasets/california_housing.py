"""California housing: 20,640 districts x 8 features, target the median house value (Keras)."""

from __future__ import annotations

import numpy as np

from fitorch.datasets.readers import check_test_split, shuffle_split
from fitorch.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
VERSIONS = {"small": 600, "large": None}  # rows kept from the start of the file


def load_data(
    version: str = "large",
    path: str = "california_housing.npz",
    test_split: float = 0.2,
    seed: int = 113,
):
    """`(x_train, y_train), (x_test, y_test)`; `version='small'` keeps the first 600 rows before
    the `RandomState(seed)` permutation and the `test_split` cut."""
    check_test_split(test_split)
    if version not in VERSIONS:
        raise ValueError(f"version must be 'small' or 'large', got {version!r}")
    with np.load(get_file(path, origin=ORIGIN, file_hash=FILE_HASH), allow_pickle=False) as f:
        x, y = f["x"][: VERSIONS[version]], f["y"][: VERSIONS[version]]
    return shuffle_split(x, y, test_split, seed)
