"""TextVectorization: Keras's docstring examples, hand-computed vocabularies, counts and tf-idf
weights (Keras's layer needs TensorFlow, so it cannot serve as the oracle here), and Keras 3 on
TensorFlow's outputs for vocabulary files (tests/fixtures/hashing_expected.json)."""

import json
import math
import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch.layers import TextVectorization

DOCS = ["foo bar", "bar baz", "baz bada boom"]
FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "hashing_expected.json")
with open(FIXTURE, encoding="utf-8") as _f:
    KERAS_CASES = [c for c in json.load(_f)["cases"] if c["layer"] == "TextVectorization"]


@pytest.mark.parametrize("case", KERAS_CASES, ids=[json.dumps(c["config"]) for c in KERAS_CASES])
def test_equals_keras_on_tensorflow(case, tmp_path):
    """Adapted vocabularies (ngrams, max_tokens, standardize and split variants, tf_idf) and
    vocabulary files: outputs and get_vocabulary() as Keras 3 on TensorFlow."""
    config = dict(case["config"])
    lines, docs = config.pop("vocabulary_file", None), config.pop("adapt", None)
    if lines is not None:
        path = tmp_path / "vocabulary.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        config["vocabulary"] = str(path)
    layer = TextVectorization(**config)
    if docs is not None:
        layer.adapt(np.array(docs))
    out = layer(np.array(case["inputs"])).numpy()
    np.testing.assert_allclose(out, np.asarray(case["output"], dtype=float), rtol=2e-6)
    assert layer.get_vocabulary() == case["vocabulary"]


def test_lower_maps_ascii_letters_only_as_tensorflow():
    layer = TextVectorization(standardize="lower", vocabulary=["Ünïcode", "words"])
    assert layer(["Ünïcode WORDS ünïcode"]).tolist() == [[2, 3, 1]]


def test_vocabulary_file_lines_are_taken_as_they_are(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("[UNK]\ncat\n\n", encoding="utf-8")  # trailing empty lines dropped
    layer = TextVectorization(vocabulary=path, output_mode="multi_hot")
    assert layer.get_vocabulary() == ["[UNK]", "[UNK]", "cat"]
    with pytest.raises(ValueError, match="tf_idf' cannot read its vocabulary from a file"):
        TextVectorization(vocabulary=path, output_mode="tf_idf", idf_weights=[1.0, 2.0])


def test_keras_docstring_examples():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(DOCS)
    # counts: bar 2, baz 2, then 1 each; ties ranked by token, descending (Keras's lexsort)
    assert layer.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    out = layer([["foo qux bar"], ["qux baz"]])
    assert out.dtype == torch.int64 and out.tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    given = TextVectorization(output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert given.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert given(["The earth, WIND and fire!"]).tolist() == [[1, 2, 3, 4]]


def test_int_mode_pads_to_the_longest_and_truncates():
    layer = TextVectorization(vocabulary=["a", "b"])
    assert layer(np.array(["a b a", "b"])).tolist() == [[2, 3, 2], [3, 0, 0]]
    layer = TextVectorization(vocabulary=["a", "b"], output_sequence_length=2)
    assert layer(["a b a", "zz"]).tolist() == [[2, 3], [1, 0]]


def test_max_tokens_ngrams_standardize_and_split():
    layer = TextVectorization(max_tokens=4)  # '' + [UNK] + the 2 most frequent
    layer.adapt(["x y y z z z", "z"])
    assert layer.get_vocabulary() == ["", "[UNK]", "z", "y"]
    bigrams = TextVectorization(ngrams=2, standardize=None)
    bigrams.adapt(["a b c"])
    assert sorted(bigrams.get_vocabulary(False)) == ["a", "a b", "b", "b c", "c"]
    assert bigrams.tokens("a b c") == ["a", "b", "c", "a b", "b c"]
    only_bigrams = TextVectorization(ngrams=(2,), standardize="lower")
    assert only_bigrams.tokens("A b. C") == ["a b.", "b. c"]
    chars = TextVectorization(split="character", standardize="strip_punctuation")
    assert chars.tokens("Ab!") == ["A", "b"]
    custom = TextVectorization(
        standardize=lambda s: s.replace("-", " "), split=lambda s: s.split(" ")
    )
    assert custom.tokens("a-b c") == ["a", "b", "c"]


def test_multi_hot_count_and_tf_idf_by_hand():
    counts = TextVectorization(output_mode="count", vocabulary=["a", "b"])
    assert counts.get_vocabulary() == ["[UNK]", "a", "b"]  # no mask outside int mode
    np.testing.assert_array_equal(counts(["a a b q", "b"]).numpy(), [[1, 2, 1], [0, 0, 1]])
    multi = TextVectorization(
        output_mode="multi_hot", vocabulary=["a", "b"], max_tokens=5, pad_to_max_tokens=True
    )
    np.testing.assert_array_equal(multi(["a a q"]).numpy(), [[1, 1, 0, 0, 0]])
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(DOCS)
    vocab = tfidf.get_vocabulary()
    assert vocab == ["[UNK]", "baz", "bar", "foo", "boom", "bada"]
    docs_with = {"baz": 2, "bar": 2, "foo": 1, "boom": 1, "bada": 1}
    idf = [math.log(1 + 3 / (1 + docs_with[t])) for t in vocab[1:]]
    expected_idf = [np.mean(idf)] + idf  # OOV weight: the mean
    np.testing.assert_allclose(tfidf.idf_weights.numpy(), expected_idf, rtol=1e-6)
    out = tfidf(["bar bar qux"]).numpy()[0]
    np.testing.assert_allclose(out, [expected_idf[0], 0, 2 * expected_idf[2], 0, 0, 0], rtol=1e-6)
    with pytest.raises(ValueError, match="idf_weights"):
        TextVectorization(output_mode="tf_idf", vocabulary=["a"])


def test_adapt_on_batches_of_a_text_dataset(tmp_path):
    for cls, text in [("neg", "bad bad film"), ("pos", "good film")]:
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "0.txt").write_text(text)
    ds = fitorch.utils.text_dataset_from_directory(
        tmp_path, batch_size=1, shuffle=False, verbose=False
    )
    layer = TextVectorization()
    layer.adapt(ds)  # (texts, labels) batches: the texts are read
    assert layer.get_vocabulary() == ["", "[UNK]", "film", "bad", "good"]


def test_config_round_trip_and_saved_with_the_model(tmp_path):
    layer = TextVectorization(output_mode="tf_idf", ngrams=2)
    layer.adapt(DOCS)
    clone = TextVectorization.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_allclose(clone(DOCS).numpy(), layer(DOCS).numpy())
    vectorizer = TextVectorization(output_sequence_length=3)
    vectorizer.adapt(DOCS)
    model = fitorch.Sequential([vectorizer, fitorch.layers.Embedding(8, 2)])
    expected = model(["baz boom"]).detach().numpy()  # strings straight into the model
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_vocabulary() == vectorizer.get_vocabulary()
    assert loaded.layers[0](["baz boom"]).tolist() == [[2, 5, 0]]
    np.testing.assert_allclose(loaded(["baz boom"]).detach().numpy(), expected)


def test_errors_name_the_argument():
    for kwargs, match in [
        ({"output_mode": "bag"}, "output_mode"),
        ({"standardize": "upper"}, "standardize"),
        ({"split": "comma"}, "split"),
        ({"ngrams": "2"}, "ngrams"),
        ({"output_mode": "count", "output_sequence_length": 3}, "output_sequence_length"),
        ({"sparse": True}, "sparse"),
    ]:
        with pytest.raises(ValueError, match=match):
            TextVectorization(**kwargs)
    with pytest.raises(ValueError, match="adapt"):
        TextVectorization()(["a"])
    with pytest.raises(ValueError, match="repeats"):
        TextVectorization(vocabulary=["a", "a"])


def test_text_classifier_on_vectorized_strings():
    fitorch.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    noise = ["the", "a", "movie", "plot", "actors", "scene", "it", "was"]
    texts, labels = [], []
    for i in range(120):
        label = i % 2
        words = list(rng.choice(noise, 5)) + ["great" if label else "awful"] * 2
        texts.append(" ".join(rng.permutation(words)) + ("!" if label else "."))
        labels.append(label)
    vectorizer = TextVectorization(max_tokens=20, output_sequence_length=8)
    vectorizer.adapt(texts[:90])
    x = vectorizer(texts).numpy()
    model = fitorch.Sequential([
        fitorch.Input((8,), dtype="int64"),
        fitorch.layers.Embedding(20, 8),
        fitorch.layers.GlobalAveragePooling1D(),
        fitorch.layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip
    model.compile(fitorch.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x[:90], np.array(labels[:90]), epochs=15, batch_size=16, verbose=0)
    _, accuracy = model.evaluate(x[90:], np.array(labels[90:]), verbose=0)
    assert accuracy == 1.0
