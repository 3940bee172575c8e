"""IMDB reviews: 25,000 train and 25,000 test reviews as word-id lists, labels 0/1 (Keras)."""

from __future__ import annotations

import json

import numpy as np

from fitorch.datasets.readers import drop_long, limit_vocabulary, load_npz, object_array, shift_ids
from fitorch.utils.file_utils import get_file

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_ORIGIN = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
)
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(
    path: str = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    **kwargs,
):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of int lists and int labels.

    Train and test are each permuted by one `RandomState(seed)` (train first); ids are shifted
    by `index_from` after `start_char`; `maxlen` drops sequences of length >= maxlen; ids outside
    `[skip_top, num_words)` become `oov_char` (as Keras, `num_words=None` means the largest id,
    which itself then falls outside). The file is read without unpickling code.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data got unexpected arguments {sorted(kwargs)}")
    f = load_npz(get_file(fname=path, origin=ORIGIN, file_hash=FILE_HASH))
    rng = np.random.RandomState(seed)
    parts = []
    for x, y in ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])):
        order = np.arange(len(x))
        rng.shuffle(order)
        seqs, labels = drop_long(shift_ids(x[order], start_char, index_from), y[order], maxlen)
        if not seqs:
            raise ValueError(f"no sequence is shorter than maxlen={maxlen}; increase maxlen")
        parts.append((seqs, labels))
    (train, y_train), (test, y_test) = parts
    # the vocabulary limit sees both halves together, as in Keras
    xs = limit_vocabulary(train + test, num_words, skip_top, oov_char)
    return (object_array(xs[: len(train)]), y_train), (object_array(xs[len(train) :]), y_test)


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """`{word: rank}` (1 = most frequent); add `index_from` to match `load_data`'s ids."""
    with open(get_file(fname=path, origin=WORD_INDEX_ORIGIN, file_hash=WORD_INDEX_HASH)) as f:
        return json.load(f)
