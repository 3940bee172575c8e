"""Reuters newswires: 11,228 word-id lists over 46 topics, split by `test_split` (Keras)."""

from __future__ import annotations

import json

import numpy as np

from fitorch.datasets.readers import (
    check_test_split,
    drop_long,
    limit_vocabulary,
    load_npz,
    object_array,
    shift_ids,
)
from fitorch.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"
)
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"
LABEL_NAMES = (
    "cocoa grain veg-oil earn acq wheat copper housing money-supply coffee sugar trade reserves "
    "ship cotton carcass crude nat-gas cpi money-fx interest gnp meal-feed alum oilseed gold tin "
    "strategic-metal livestock retail ipi iron-steel rubber heat jobs lei bop zinc orange "
    "pet-chem dlr gas silver wpi hog lead"
).split()


def load_data(
    path: str = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of int lists and topic ids 0-45.

    All newswires are permuted by `RandomState(seed)`, shifted by `index_from` after
    `start_char`, filtered by `maxlen` and limited to `[skip_top, num_words)` (as `imdb`); the
    first `int(n * (1 - test_split))` are the training split.
    """
    check_test_split(test_split)
    f = load_npz(get_file(fname=path, origin=ORIGIN, file_hash=FILE_HASH))
    order = np.arange(len(f["x"]))
    np.random.RandomState(seed).shuffle(order)
    seqs, labels = drop_long(
        shift_ids(f["x"][order], start_char, index_from), f["y"][order], maxlen
    )
    xs = limit_vocabulary(seqs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return (object_array(xs[:cut]), labels[:cut]), (object_array(xs[cut:]), labels[cut:])


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """`{word: rank}` (1 = most frequent); add `index_from` to match `load_data`'s ids."""
    with open(get_file(fname=path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_HASH)) as f:
        return json.load(f)


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, indexed by label id."""
    return tuple(LABEL_NAMES)
