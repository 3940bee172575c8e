"""split_dataset: sizes as Keras computes them, the shuffled split equal to Keras 3's on torch."""

import numpy as np
import pytest
import torch

from fitorch.utils import split_dataset


def _indices(subset):
    return list(subset.indices)


@pytest.mark.parametrize(
    "left, right, sizes",
    [
        (0.8, None, (8, 2)),
        (None, 3, (7, 3)),
        (4, 0.5, (4, 5)),
        (0.25, 0.25, (2, 2)),
        (0.35, None, (4, 6)),
    ],
)
def test_sizes_and_unshuffled_order(left, right, sizes):
    x = np.arange(20.0).reshape(10, 2)
    a, b = split_dataset(x, left_size=left, right_size=right)
    assert (len(a), len(b)) == sizes
    assert _indices(a) == list(range(sizes[0]))
    assert _indices(b) == list(range(sizes[0], sizes[0] + sizes[1]))
    np.testing.assert_array_equal(a[1][0].numpy(), [2.0, 3.0])


def test_shuffled_split_equals_keras_and_keeps_pairs_together():
    import keras

    x, y = np.arange(30.0).reshape(15, 2), np.arange(15)
    a, b = split_dataset((x, y), left_size=0.6, shuffle=True, seed=7)
    ka, kb = keras.utils.split_dataset((x, y), left_size=0.6, shuffle=True, seed=7)
    assert _indices(a) == list(ka.indices) and _indices(b) == list(kb.indices)
    assert sorted(_indices(a) + _indices(b)) == list(range(15))
    for xs, ys in [a[i] for i in range(len(a))]:
        assert xs[0].item() == 2 * ys.item()
    c, _ = split_dataset((x, y), left_size=0.6, shuffle=True, seed=7)
    assert _indices(c) == _indices(a)


def test_torch_dataset_input_and_errors():
    ds = torch.utils.data.TensorDataset(torch.arange(6))
    a, b = split_dataset(ds, right_size=2)
    assert [int(a[i][0]) for i in range(len(a))] == [0, 1, 2, 3] and len(b) == 2
    with pytest.raises(ValueError, match="left_size or right_size"):
        split_dataset(ds)
    with pytest.raises(ValueError, match=r"left_size as a count must be in \(0, 6\)"):
        split_dataset(ds, left_size=6)
    with pytest.raises(ValueError, match="fraction"):
        split_dataset(ds, left_size=1.5)
    with pytest.raises(ValueError, match="at most 6"):
        split_dataset(ds, left_size=4, right_size=3)
    with pytest.raises(TypeError, match="left_size must be an int"):
        split_dataset(ds, left_size="half")
    with pytest.raises(TypeError, match="dataset must be"):
        split_dataset({"x": 1}, left_size=1)
