"""Models built from the layer catalogue survive fitorch's .keras round trip and load from
archives that Keras 3 saved (configs and weights in Keras layouts)."""

import numpy as np
import pytest

import fitorch
from tests._layer_oracle import keras


def _cnn(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input(shape=(12, 12, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(),
        L.DepthwiseConv2D(3), L.SeparableConv2D(5, 3, padding="same"), L.MaxPooling2D(),
        L.Conv2DTranspose(3, 3, strides=2), L.ZeroPadding2D(1), L.Cropping2D(1),
        L.UpSampling2D(), L.AveragePooling2D(2), L.LayerNormalization(), L.PReLU(),
        L.SpatialDropout2D(0.1), L.GlobalAveragePooling2D(), L.Dense(2),
    ])  # fmt: skip


def _rnn(lib, mask_zero=True):
    L = lib.layers
    x = lib.Input(shape=(6,), dtype="int64")
    e = L.Embedding(20, 4, mask_zero=mask_zero)(x)
    a = L.Bidirectional(L.LSTM(3, return_sequences=True))(e)
    b = L.GRU(3, return_sequences=True, reset_after=False)(e)
    c = L.concatenate([a, L.TimeDistributed(L.Dense(3))(b)])
    att = L.MultiHeadAttention(num_heads=2, key_dim=2)(c, c)
    d = L.Conv1D(4, 3, padding="causal")(att)
    pooled = L.GlobalMaxPooling1D()(L.SimpleRNN(2, return_sequences=True)(d))
    return lib.Model(x, L.Dense(1)(L.add([pooled, L.Dense(2)(L.GlobalAveragePooling1D()(a))])))


CASES = {"cnn": (_cnn, (3, 12, 12, 3), None), "rnn": (_rnn, (3, 6), 20)}


def _data(shape, high):
    rng = np.random.default_rng(0)
    if high:
        x = rng.integers(0, high, size=shape)
        x[:, -2:] = 0
        return x
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("case", sorted(CASES))
def test_fitorch_round_trip(case, tmp_path):
    build, shape, high = CASES[case]
    model = build(fitorch)
    x = _data(shape, high)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = fitorch.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_archive_loads_and_predicts_the_same(case, tmp_path):
    build, shape, high = CASES[case]
    # A Keras functional archive with Embedding(mask_zero=True) feeding MultiHeadAttention
    # stores a `NotEqual` op node that fitorch's loader does not rebuild (saving's scope).
    theirs = build(keras, mask_zero=False) if case == "rnn" else build(keras)
    x = _data(shape, high)
    path = str(tmp_path / "k.keras")
    theirs.save(path)
    ours = fitorch.models.load_model(path)
    assert ours.count_params() == theirs.count_params()
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_rows_match_keras(case):
    """Per layer: output shape (the summary's column) and parameter count equal Keras'."""
    from fitorch.models.summary import _output_shape

    build = CASES[case][0]
    ours, theirs = build(fitorch), build(keras, mask_zero=False) if case == "rnn" else build(keras)
    rows = []
    for model in (ours, theirs):
        table = []
        for layer in model.layers:
            if type(layer).__name__ == "InputLayer":
                continue
            if model is ours:
                shown = _output_shape(layer)  # the summary's cell
            else:
                shapes = [tuple(t.shape) for t in layer._inbound_nodes[-1].output_tensors]
                shown = str(shapes[0]) if len(shapes) == 1 else str(shapes)
            table.append((type(layer).__name__, shown, layer.count_params()))
        rows.append(sorted(table))  # the two graphs may list independent branches apart
    assert rows[0] == rows[1]
