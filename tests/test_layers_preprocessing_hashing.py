"""Hashing and HashedCrossing against Keras 3 on TensorFlow (the values of
tests/fixtures/hashing_expected.json, written by make_hashing_fixture.py) and Keras's docstring
examples; configs round-trip and models holding the layers save and load."""

import json
import os

import numpy as np
import pytest
import torch

import fitorch as keras
from fitorch.layers import HashedCrossing, Hashing

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "hashing_expected.json")
with open(FIXTURE, encoding="utf-8") as _f:
    CASES = json.load(_f)["cases"]


def as_input(values, dtype):
    return np.array(values, dtype=str if dtype == "str" else dtype)


def cases_of(layer):
    found = [c for c in CASES if c["layer"] == layer]
    return pytest.mark.parametrize("case", found, ids=[json.dumps(c["config"]) for c in found])


@cases_of("Hashing")
def test_hashing_equals_keras(case):
    out = Hashing(**case["config"])(as_input(case["inputs"], case["dtype"]))
    assert out.tolist() == case["output"]
    assert str(out.dtype).replace("torch.", "") == case["output_dtype"]


@cases_of("HashedCrossing")
def test_hashed_crossing_equals_keras(case):
    features = tuple(as_input(v, d) for v, d in zip(case["inputs"], case["dtype"]))
    out = HashedCrossing(**case["config"])(features)
    assert out.tolist() == case["output"]
    assert str(out.dtype).replace("torch.", "") == case["output_dtype"]


def test_keras_docstring_examples():
    letters = [["A"], ["B"], ["C"], ["D"], ["E"]]
    assert Hashing(num_bins=3)(letters).tolist() == [[1], [0], [1], [1], [2]]
    masked = Hashing(num_bins=3, mask_value="")([["A"], ["B"], [""], ["C"], ["D"]])
    assert masked.tolist() == [[1], [1], [0], [2], [2]]
    assert Hashing(num_bins=3, salt=[133, 137])(letters).tolist() == [[1], [2], [1], [0], [2]]
    assert Hashing(num_bins=3, salt=133)(letters).tolist() == [[0], [0], [2], [1], [0]]
    feat1, feat2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])
    assert HashedCrossing(num_bins=5)((feat1, feat2)).tolist() == [1, 4, 1, 1, 3]


def test_inputs_as_lists_bytes_and_tensors_give_the_same_bins():
    expected = Hashing(num_bins=1000)(np.array([[1, -4, 99]])).tolist()
    assert Hashing(num_bins=1000)(torch.tensor([[1, -4, 99]])).tolist() == expected
    assert Hashing(num_bins=1000)([["1", "-4", "99"]]).tolist() == expected  # decimal strings
    assert Hashing(num_bins=1000)(np.array([[b"1", b"-4", b"99"]])).tolist() == expected
    crossed = HashedCrossing(num_bins=97)([torch.tensor([3, 4]), torch.tensor([5, 6])])
    assert crossed.tolist() == HashedCrossing(num_bins=97)([[3, 4], [5, 6]]).tolist()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_bins must be an int >= 1, got 0"):
        Hashing(num_bins=0)
    with pytest.raises(ValueError, match="output_mode must be one of"):
        Hashing(num_bins=3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="salt must be an int or a tuple of 2 ints"):
        Hashing(num_bins=3, salt=[1, 2, 3])
    with pytest.raises(ValueError, match="needs dtype 'int32' or 'int64', got 'float32'"):
        Hashing(num_bins=3, dtype="float32")
    with pytest.raises(ValueError, match="sparse=True"):
        Hashing(num_bins=3, output_mode="count", sparse=True)
    with pytest.raises(ValueError, match="output_mode must be one of"):
        HashedCrossing(num_bins=3, output_mode="multi_hot")
    with pytest.raises(ValueError, match="at least two inputs"):
        HashedCrossing(num_bins=3)(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"equal shapes, got \[\(2,\), \(3,\)\]"):
        HashedCrossing(num_bins=3)((np.array([1, 2]), np.array([1, 2, 3])))
    with pytest.raises(ValueError, match=r"shape \(\), \(batch,\) or \(batch, 1\), got \(2, 2\)"):
        HashedCrossing(num_bins=3)((np.ones((2, 2), int), np.ones((2, 2), int)))
    with pytest.raises(TypeError, match="string or integer values, got an array of dtype bool"):
        Hashing(num_bins=3)(np.array([True, False]))


def test_config_round_trip_keeps_the_bins():
    layer = Hashing(num_bins=11, mask_value="", salt=5, output_mode="count")
    config = layer.get_config()
    assert (config["salt"], config["mask_value"], config["dtype"]) == ([5, 5], "", "float32")
    clone = Hashing.from_config(config)
    x = [["a", "", "b", "a"]]
    assert torch.equal(clone(x), layer(x))
    cross = HashedCrossing.from_config(
        HashedCrossing(num_bins=9, output_mode="one_hot").get_config()
    )
    assert cross((["p", "q"], [1, 2])).shape == (2, 9)


def test_model_with_hashing_saves_and_loads(tmp_path):
    model = keras.Sequential([Hashing(num_bins=20, salt=[3, 4]), keras.layers.Embedding(20, 2)])
    x = np.array([["red"], ["green"], ["blue"]])
    expected = model(x).detach()
    path = str(tmp_path / "hashing.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).detach().numpy(), expected.numpy())


def test_functional_model_crosses_integer_inputs_and_trains():
    a, b = keras.Input((1,), dtype="int64"), keras.Input((1,), dtype="int64")
    crossed = HashedCrossing(num_bins=10, output_mode="one_hot")([a, b])
    hashed = Hashing(num_bins=10, output_mode="one_hot")(a)
    assert crossed.shape == (None, 10) and hashed.shape == (None, 10)
    model = keras.Model([a, b], keras.layers.Concatenate()([crossed, hashed]))
    xa, xb = np.array([[1], [2]]), np.array([[3], [4]])
    out = model.predict([xa, xb], verbose=0)
    expected_cross = HashedCrossing(num_bins=10)((xa, xb)).numpy()[:, 0]
    expected_hash = Hashing(num_bins=10)(xa).numpy()[:, 0]
    np.testing.assert_array_equal(out[:, :10], np.eye(10)[expected_cross])
    np.testing.assert_array_equal(out[:, 10:], np.eye(10)[expected_hash])


def test_classifier_trained_from_string_arrays_through_fit():
    # NumPy string columns reach the first layer through fit/predict unconverted
    x = np.array([["red"], ["green"], ["blue"], ["red"]] * 8)
    y = (x[:, 0] == "red").astype("float32")
    model = keras.Sequential([Hashing(num_bins=16, output_mode="one_hot"),
                              keras.layers.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert (model.predict(x[:4], verbose=0)[:, 0] > 0.5).tolist() == [True, False, False, True]
