"""StringLookup / IntegerLookup: the outputs of Keras 3's docstring examples (Keras's layers
need TensorFlow, so they cannot run here as the oracle), errors, config and saving."""

import numpy as np
import pytest

import fitorch
from fitorch.layers import IntegerLookup, StringLookup

VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d"], ["d", "z", "b"]]


def test_string_lookup_keras_examples():
    assert StringLookup(vocabulary=VOCAB)(DATA).tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = StringLookup()
    layer.adapt(DATA)  # d twice; ties ranked by value, descending
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    masked = StringLookup(vocabulary=VOCAB, mask_token="")
    assert masked([["a", "c", "d"], ["", "z", "b"]]).tolist() == [[2, 4, 5], [0, 1, 3]]
    inverse = StringLookup(vocabulary=VOCAB, invert=True)
    assert inverse([[1, 3, 4], [4, 0, 2]]).tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]
    multi = StringLookup(vocabulary=VOCAB, output_mode="multi_hot")
    assert multi(DATA).tolist() == [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]
    count = StringLookup(vocabulary=VOCAB, output_mode="count")
    assert count([["a", "c", "d", "d"], ["d", "z", "b", "z"]]).tolist() == [
        [0, 1, 0, 1, 2],
        [2, 0, 1, 0, 1],
    ]
    one_hot = StringLookup(vocabulary=VOCAB, output_mode="one_hot")
    assert one_hot(["a", "b", "c", "d", "z"]).tolist() == np.eye(5)[[1, 2, 3, 4, 0]].tolist()
    assert StringLookup(vocabulary=VOCAB, num_oov_indices=0)([["b"]]).tolist() == [[1]]
    limited = StringLookup(max_tokens=3)
    limited.adapt(np.array(DATA))
    assert limited.get_vocabulary() == ["[UNK]", "d", "z"]


def test_integer_lookup_keras_examples():
    vocab, data = [12, 36, 1138, 42], np.array([[12, 1138, 42], [42, 1000, 36]])
    assert IntegerLookup(vocabulary=vocab)(data).tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    masked = IntegerLookup(vocabulary=vocab, mask_token=0)
    assert masked(np.array([[12, 1138, 42], [0, 1000, 36]])).tolist() == [[2, 4, 5], [0, 1, 3]]
    inverse = IntegerLookup(vocabulary=vocab, invert=True)
    assert inverse(np.array([[1, 3, 4], [4, 0, 2]])).tolist() == [[12, 1138, 42], [42, -1, 36]]
    multi = IntegerLookup(vocabulary=vocab, output_mode="multi_hot")
    assert multi(data).tolist() == [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="not in the vocabulary"):
        StringLookup(vocabulary=VOCAB, num_oov_indices=0)(DATA)
    with pytest.raises(ValueError, match="num_oov_indices must be 0 or 1"):
        StringLookup(num_oov_indices=2)
    with pytest.raises(ValueError, match="repeats"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="output_mode"):
        IntegerLookup(output_mode="tf-idf")
    with pytest.raises(ValueError, match="adapt"):
        StringLookup()(["a"])
    with pytest.raises(ValueError, match="integer values"):
        IntegerLookup(vocabulary=[1])(np.array([1.5]))


def test_config_round_trip_and_model_saving(tmp_path):
    layer = StringLookup(output_mode="multi_hot")
    layer.adapt(DATA)
    clone = StringLookup.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(clone(DATA).numpy(), layer(DATA).numpy())
    lookup = IntegerLookup(vocabulary=[12, 36, 1138, 42])
    model = fitorch.Sequential([lookup, fitorch.layers.Embedding(5, 2)])
    data = np.array([[12, 1138, 42]])
    expected = model(data).detach().numpy()
    model.save(tmp_path / "lookup.keras")
    loaded = fitorch.models.load_model(tmp_path / "lookup.keras")
    assert loaded.layers[0].get_vocabulary() == [-1, 12, 36, 1138, 42]
    np.testing.assert_allclose(loaded(data).detach().numpy(), expected)
