"""pad_sequences against keras.utils.pad_sequences (KERAS_BACKEND=torch)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

from fitorch.preprocessing.sequence import pad_sequences as pad_v2
from fitorch.utils import pad_sequences

SEQS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9], [10, 11]]


@pytest.mark.parametrize("maxlen", [None, 1, 3, 7])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("value", [0.0, -1])
def test_pad_sequences_equals_keras(maxlen, padding, truncating, value):
    kw = dict(maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    ours = pad_sequences(SEQS, **kw)
    ref = keras.utils.pad_sequences(SEQS, **kw)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_pad_sequences_maxlen_zero_is_empty_rows():
    # Keras 3.15 raises a broadcast error here (x[-0:] keeps everything); we return (n, 0).
    out = pad_sequences(SEQS, maxlen=0)
    assert out.shape == (5, 0) and out.dtype == np.int32


def test_pad_sequences_float_and_multidim_samples_equal_keras():
    seqs = [np.arange(6.0).reshape(3, 2) / 7, np.ones((1, 2)), np.zeros((0, 2))]
    for kw in [dict(dtype="float32"), dict(dtype="float64", maxlen=2, padding="post")]:
        np.testing.assert_array_equal(
            pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw)
        )


def test_pad_sequences_strings_and_keras2_spelling():
    seqs = [["a", "b"], ["c"]]
    ours = pad_sequences(seqs, dtype=object, value="<pad>")
    ref = keras.utils.pad_sequences(seqs, dtype=object, value="<pad>")
    assert ours.tolist() == ref.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert pad_v2([[1], [2, 3]]).tolist() == [[0, 1], [2, 3]]


def test_pad_sequences_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="padding"):
        pad_sequences(SEQS, padding="mid")
    with pytest.raises(ValueError, match="truncating"):
        pad_sequences(SEQS, truncating="x")
    with pytest.raises(ValueError, match="non-iterable"):
        pad_sequences([1, 2])
    with pytest.raises(ValueError, match="dtype"):
        pad_sequences([[1]], value="x")
    with pytest.raises(ValueError, match="shape"):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))])
