"""StringLookup / IntegerLookup: the outputs of Keras 3's docstring examples and of Keras 3 on
TensorFlow (tests/fixtures/hashing_expected.json, written by make_hashing_fixture.py: OOV
buckets, masks outside int mode, tf_idf, vocabulary files), errors, config and saving."""

import json
import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch.layers import IntegerLookup, StringLookup, TextVectorization

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "hashing_expected.json")
with open(FIXTURE, encoding="utf-8") as _f:
    KERAS_CASES = [
        c for c in json.load(_f)["cases"] if c["layer"] in ("StringLookup", "IntegerLookup")
    ]
LAYERS = {"StringLookup": StringLookup, "IntegerLookup": IntegerLookup}


def _as_input(values, dtype):
    return np.array(values, dtype=str if dtype == "str" else dtype)


def _vocabulary_file(tmp_path, lines):
    path = tmp_path / "vocabulary.txt"
    path.write_text("\n".join(str(v) for v in lines) + "\n", encoding="utf-8")
    return str(path)


def build_case(case, tmp_path):
    """The fixture case's layer, configured, given its vocabulary file and adapted."""
    config = dict(case["config"])
    lines, adapt, batches = (config.pop(k, None) for k in ("vocabulary_file", "adapt",
                                                             "adapt_batches"))  # fmt: skip
    if lines is not None:
        config["vocabulary"] = _vocabulary_file(tmp_path, lines)
    layer = {**LAYERS, "TextVectorization": TextVectorization}[case["layer"]](**config)
    if adapt is not None:
        layer.adapt(_as_input(adapt, case["dtype"]))
    if batches is not None:
        layer.adapt(_as_input(b, case["dtype"]) for b in batches)
    return layer


@pytest.mark.parametrize(
    "case", KERAS_CASES, ids=[f"{c['layer']}-{json.dumps(c['config'])}" for c in KERAS_CASES]
)
def test_equals_keras_on_tensorflow(case, tmp_path):
    layer = build_case(case, tmp_path)
    out = layer(_as_input(case["inputs"], case["dtype"]))
    out = out.tolist() if isinstance(out, (torch.Tensor, np.ndarray)) else out
    if case["output_dtype"].startswith("float"):  # tf_idf
        np.testing.assert_allclose(np.asarray(out, dtype=float), case["output"], rtol=2e-6)
    else:  # Keras's multi_hot/count/one_hot are int64 here, fitorch's float32: same values
        assert out == case["output"]
    assert layer.get_vocabulary() == case["vocabulary"]


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
    with pytest.raises(ValueError, match="num_oov_indices must be >= 0, got -1"):
        StringLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match="oov_method must be one of"):
        IntegerLookup(oov_method="hash")
    with pytest.raises(ValueError, match="salt is only used with oov_method='farmhash'"):
        IntegerLookup(salt=3)
    with pytest.raises(ValueError, match="needs idf_weights"):
        StringLookup(vocabulary=VOCAB, output_mode="tf_idf")
    with pytest.raises(ValueError, match="idf_weights is only used with output_mode='tf_idf'"):
        StringLookup(vocabulary=VOCAB, idf_weights=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="one weight per vocabulary entry"):
        StringLookup(vocabulary=VOCAB, idf_weights=[1, 2], output_mode="tf_idf")
    with pytest.raises(ValueError, match="more than max_tokens=3"):
        StringLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="pad_to_max_tokens=True needs max_tokens"):
        StringLookup(pad_to_max_tokens=True)
    with pytest.raises(ValueError, match="cannot adapt after a vocabulary was given"):
        StringLookup(vocabulary=VOCAB).adapt(DATA)
    with pytest.raises(ValueError, match="does not exist"):
        StringLookup(vocabulary="/nonexistent/vocabulary.txt")
    with pytest.raises(ValueError, match="repeats"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="output_mode"):
        IntegerLookup(output_mode="tfidf")
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


def test_tf_idf_keras_docstring_example():
    # Keras's StringLookup docstring: OOV weighted by the mean of the given weights (0.5)
    layer = StringLookup(output_mode="tf_idf", vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    out = layer([["a", "c", "d", "d"], ["d", "z", "b", "z"]]).numpy()
    np.testing.assert_allclose(out, [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6)


def test_integer_vocabulary_file_hand_computed(tmp_path):
    # Keras 3.15 cannot read one (its TF table refuses int64 keys from text); the file rule of
    # StringLookup applies: line i holds index num_oov_indices + i
    path = _vocabulary_file(tmp_path, [7, 8, 9])
    layer = IntegerLookup(vocabulary=path, num_oov_indices=2)
    assert layer(np.array([9, 7, 4, 5])).tolist() == [4, 2, 0, 1]  # 4 % 2, 5 % 2
    with pytest.raises(ValueError, match="one integer per line, got \\['x'\\]"):
        IntegerLookup(vocabulary=_vocabulary_file(tmp_path, [1, "x"]))


def test_state_round_trips_through_config_and_saving(tmp_path):
    docs = [["a", "b", "a"], ["b", "c", "d"], ["a", "e", "e"]]
    tfidf = StringLookup(output_mode="tf_idf", num_oov_indices=2, max_tokens=9,
                         pad_to_max_tokens=True)  # fmt: skip
    tfidf.adapt(docs)
    salted = StringLookup(vocabulary=VOCAB, num_oov_indices=4, salt=[3, 5], mask_token="")
    hashed = IntegerLookup(vocabulary=[7, 8], num_oov_indices=3, oov_method="farmhash")
    for layer, x in [(tfidf, docs), (salted, [["z", "", "q", "a"]]), (hashed, [[1, 2, 7]])]:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_vocabulary() == layer.get_vocabulary()
        np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())
    model = fitorch.Sequential([hashed, fitorch.layers.Embedding(6, 2)])
    x = np.array([[1, 2, 7, 100]])
    expected = model(x).detach().numpy()
    model.save(tmp_path / "hashed.keras")
    loaded = fitorch.models.load_model(tmp_path / "hashed.keras")
    np.testing.assert_allclose(loaded(x).detach().numpy(), expected)
    # a learned vocabulary in the config is state: the clone may be adapted again
    clone = StringLookup.from_config(StringLookup(vocabulary=VOCAB).get_config())
    clone.adapt([["x", "x", "y"]])
    assert clone.get_vocabulary() == ["[UNK]", "x", "y"]


def test_file_vocabulary_starting_with_reserved_tokens_round_trips(tmp_path):
    # the file's lines are tokens as they are; the config must not let them be stripped
    path = _vocabulary_file(tmp_path, ["[UNK]", "a", "b"])
    layer = StringLookup(vocabulary=path, mask_token="")
    clone = StringLookup.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary() == ["", "[UNK]", "[UNK]", "a", "b"]
    words = TextVectorization(vocabulary=_vocabulary_file(tmp_path, ["", "[UNK]", "cat"]))
    copy = TextVectorization.from_config(words.get_config())
    assert copy.get_vocabulary() == words.get_vocabulary() == ["", "[UNK]", "", "[UNK]", "cat"]
