"""pad_sequences against keras.utils.pad_sequences (KERAS_BACKEND=torch)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest
import torch

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


# timeseries_dataset_from_array: tensorflow is not installed, so Keras's tf.data function can't
# run; windows are compared with hand-computed index lists (Keras docstring example 1).


def test_timeseries_windows_match_keras_docstring_example():
    from fitorch.utils import timeseries_dataset_from_array

    data = np.arange(99)
    ds = timeseries_dataset_from_array(
        data, None, sequence_length=10, sampling_rate=2, sequence_stride=3, batch_size=7
    )
    windows = torch.cat(list(ds)).numpy()
    assert windows[0].tolist() == list(range(0, 20, 2))
    assert windows[1].tolist() == list(range(3, 23, 2))
    assert windows[-1].tolist() == list(range(78, 98, 2))
    assert len(windows) == 27 and [len(b) for b in ds] == [7, 7, 7, 6]
    assert len(list(ds)) == 4  # re-iterable


def test_timeseries_targets_start_end_index_and_shuffle_seed():
    from fitorch.utils import timeseries_dataset_from_array

    data = np.arange(20.0)[:, None] * np.array([1.0, -1.0])
    targets = np.arange(100, 120)
    ds = timeseries_dataset_from_array(
        data, targets, sequence_length=3, batch_size=4, start_index=2, end_index=12
    )
    xs, ys = zip(*ds)
    x, y = torch.cat(xs).numpy(), torch.cat(ys).numpy()
    starts = np.arange(0, 8)  # 12 - 2 - 2 windows
    np.testing.assert_array_equal(x, np.stack([data[2 + s : 5 + s] for s in starts]))
    np.testing.assert_array_equal(y, targets[2 + starts])
    order = np.arange(8)
    np.random.RandomState(5).shuffle(order)
    sh = timeseries_dataset_from_array(
        data, targets, 3, batch_size=None, shuffle=True, seed=5, start_index=2, end_index=12
    )
    ys = [int(t) for _, t in sh]
    assert ys == (targets[2 + order]).tolist()
    with pytest.raises(ValueError, match="sequence_length"):
        timeseries_dataset_from_array(data, None, 0)


def test_timeseries_forecaster_fit_learns_next_step():
    import fitorch
    from fitorch.utils import timeseries_dataset_from_array

    t = np.arange(400, dtype="float32")
    series = np.sin(0.3 * t)
    ds = timeseries_dataset_from_array(
        series[:-8, None], series[8:], sequence_length=8, batch_size=32
    )
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [fitorch.Input((8, 1)), fitorch.layers.Flatten(), fitorch.layers.Dense(1)]
    )
    model.compile(optimizer=fitorch.optimizers.Adam(0.05), loss="mse")
    hist = model.fit(ds, epochs=30, verbose=0).history["loss"]
    assert hist[-1] < 1e-3 < hist[0]
