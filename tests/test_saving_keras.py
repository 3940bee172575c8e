"""Interoperability with Keras 3 (torch backend) as the oracle: files Keras writes load in
fitorch and predict the same; `.weights.h5` files fitorch writes load in Keras."""

import os
import warnings

import numpy as np
import pytest

from fitorch import layers
from fitorch.models import Model, Sequential, load_model

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")
Y = np.random.default_rng(2).normal(size=(16, 2)).astype("float32")


def keras_sequential():
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Reshape((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Activation("tanh"),
            keras.layers.Dense(
                2,
                kernel_regularizer=keras.regularizers.L2(0.01),
                kernel_constraint=keras.constraints.MaxNorm(2.0),
            ),
        ]
    )


def fitorch_sequential():
    return Sequential(
        [
            layers.Dense(4, activation="relu", input_shape=(3,)),
            layers.Dropout(0.2),
            layers.Reshape((2, 2)),
            layers.Flatten(),
            layers.Activation("tanh"),
            layers.Dense(2),
        ]
    )


def keras_graph():
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = keras.layers.Dense(4, activation="sigmoid", name="shared")
    out1 = keras.layers.Dense(2, name="head1")(shared(a))
    out2 = keras.layers.Dense(1, name="head2")(shared(b))
    return keras.Model([a, b], [out1, out2])


def fitorch_graph():
    import fitorch

    a, b = fitorch.Input((3,), name="a"), fitorch.Input((3,), name="b")
    shared = layers.Dense(4, activation="sigmoid", name="shared")
    out1 = layers.Dense(2, name="head1")(shared(a))
    out2 = layers.Dense(1, name="head2")(shared(b))
    return Model(inputs=[a, b], outputs=[out1, out2])


def _load_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model(path, **kw)


def test_keras_sequential_archive_loads_and_predicts_the_same(tmp_path):
    km = keras_sequential()
    km.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    km.fit(X, Y, epochs=2, verbose=0)
    km.save(tmp_path / "k.keras")
    fm = load_model(tmp_path / "k.keras")
    assert [type(l).__name__ for l in fm.layers] == [type(l).__name__ for l in km.layers]
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-6)
    cc = fm.get_compile_config()
    assert cc["loss"] == "mse" and cc["metrics"] == ["mae"]
    assert abs(fm.optimizer.learning_rate - 0.01) < 1e-8
    assert fm.layers[-1].kernel_regularizer.get_config()["l2"] == pytest.approx(0.01)
    assert fm.layers[-1].kernel_constraint.get_config()["max_value"] == 2.0
    fm.fit(X, Y, epochs=1, verbose=0)  # compiled from Keras' compile_config, it trains


def test_keras_functional_archive_with_shared_layer(tmp_path):
    km = keras_graph()
    km.save(tmp_path / "g.keras")
    fm = _load_quiet(tmp_path / "g.keras")
    assert [l.name for l in fm.layers] == ["a", "b", "shared", "head1", "head2"]
    for got, want in zip(fm.predict([X, X[::-1]], verbose=0), km.predict([X, X[::-1]], verbose=0)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_keras_weights_h5_loads_into_fitorch(tmp_path):
    km = keras_sequential()
    km.save_weights(tmp_path / "k.weights.h5")
    fm = fitorch_sequential()
    fm.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-6)


def test_fitorch_weights_h5_loads_into_keras(tmp_path):
    fm = fitorch_sequential()
    fm.save_weights(tmp_path / "f.weights.h5")
    km = keras_sequential()
    km.load_weights(tmp_path / "f.weights.h5")
    np.testing.assert_allclose(km.predict(X, verbose=0), fm.predict(X, verbose=0), atol=1e-6)

    fg, kg = fitorch_graph(), keras_graph()
    fg.save_weights(tmp_path / "g.weights.h5")
    kg.load_weights(tmp_path / "g.weights.h5")
    for got, want in zip(kg.predict([X, X], verbose=0), fg.predict([X, X], verbose=0)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_keras2_legacy_h5_weights_by_order_and_by_name(tmp_path):
    km = keras_sequential()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.save(tmp_path / "legacy.h5")  # Keras 2 HDF5 layout (layer_names / weight_names)
    fm = fitorch_sequential()
    fm.load_weights(tmp_path / "legacy.h5")
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-6)
    renamed = fitorch_sequential()
    renamed.layers[0].name = "not_in_file"
    with pytest.raises(ValueError, match="layer 'not_in_file': not in the file"):
        renamed.load_weights(tmp_path / "legacy.h5", by_name=True)


def test_keras2_legacy_h5_nested_model_is_one_entry(tmp_path):
    """Keras 2 files hold a nested model as one entry: its trainable weights, then its
    non-trainable ones (BatchNormalization's moving statistics last), as ConvNeXt's
    published files do for their stem and downsampling blocks."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    import fitorch

    kl = keras.layers
    kinner = keras.Sequential(
        [keras.Input((3,)), kl.Dense(4), kl.BatchNormalization(), kl.Dense(2)], name="inner"
    )
    kx = keras.Input((3,))
    km = keras.Model(kx, keras.layers.Dense(1)(kinner(kx)))
    rng = np.random.default_rng(3)
    km.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in km.get_weights()])
    with h5py.File(tmp_path / "nested.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)
    inner = Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                        layers.Dense(2)], name="inner")  # fmt: skip
    x = fitorch.Input((3,))
    fm = Model(inputs=x, outputs=layers.Dense(1)(inner(x)))
    fm.load_weights(tmp_path / "nested.h5")
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-5)


def test_keras_lambda_layer_safe_mode(tmp_path):
    km = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2.0 + 1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        _load_quiet(tmp_path / "lam.keras")
    fm = _load_quiet(tmp_path / "lam.keras", safe_mode=False)
    np.testing.assert_allclose(fm.predict(X, verbose=0), X * 2.0 + 1.0, atol=1e-6)


def test_legacy_h5_whole_model_loads_with_compile_config(tmp_path):
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = keras.layers.Dense(2, name="s")
    out = keras.layers.Dense(1, name="o")(keras.layers.Concatenate()([shared(a), shared(b)]))
    km = keras.Model([a, b], out)
    km.compile(keras.optimizers.SGD(0.02), "mse", metrics=["mae"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.save(tmp_path / "legacy.h5")
        keras_sequential().save(tmp_path / "seq.h5")
    fm = load_model(tmp_path / "legacy.h5")
    np.testing.assert_allclose(
        fm.predict([X, X], verbose=0), km.predict([X, X], verbose=0), atol=1e-6
    )
    cc = fm.get_compile_config()
    assert cc["loss"] == "mse" and cc["metrics"] == ["mae"]
    assert fm.optimizer.learning_rate == pytest.approx(0.02)
    seq = load_model(tmp_path / "seq.h5")
    assert [type(l).__name__ for l in seq.layers][-2:] == ["Activation", "Dense"]


@pytest.mark.parametrize("opt", ["adam", "rmsprop", "sgd"])
def test_keras_training_resumes_in_fitorch(tmp_path, opt):
    """Keras trains, saves; Keras and fitorch each train one more epoch: same weights."""
    make = {
        "adam": lambda m: m.optimizers.Adam(0.01),
        "rmsprop": lambda m: m.optimizers.RMSprop(0.01),
        "sgd": lambda m: m.optimizers.SGD(0.05, momentum=0.9),
    }[opt]
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                           keras.layers.Dense(2)])  # fmt: skip
    km.compile(make(keras), "mse")
    km.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    km.save(tmp_path / "k.keras")
    fm = load_model(tmp_path / "k.keras")
    assert int(fm.optimizer.iterations) == 4
    km.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    fm.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for got, want in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_keras_optimizer_state_that_does_not_map_warns(tmp_path):
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    km.compile(keras.optimizers.Adam(0.01, use_ema=True), "mse")
    km.fit(X, Y, epochs=1, verbose=0)
    km.save(tmp_path / "ema.keras")
    with pytest.warns(
        UserWarning, match="optimizer state in Keras. layout is not restored: Adam keeps state"
    ):
        fm = load_model(tmp_path / "ema.keras")
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-6)


def test_nested_model_weights_h5_loads_into_keras(tmp_path):
    import fitorch

    inner = Sequential([layers.Dense(4, activation="relu", input_shape=(3,)), layers.Dense(2)])
    x = fitorch.Input((3,))
    fm = Model(inputs=x, outputs=layers.Dense(1)(inner(x)))
    fm.save_weights(tmp_path / "nested.weights.h5")
    kinner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                               keras.layers.Dense(2)])  # fmt: skip
    kx = keras.Input((3,))
    km = keras.Model(kx, keras.layers.Dense(1)(kinner(kx)))
    km.load_weights(tmp_path / "nested.weights.h5")
    np.testing.assert_allclose(km.predict(X, verbose=0), fm.predict(X, verbose=0), atol=1e-6)


def _keras_zoo(name):
    L = keras.layers
    return {
        "conv2d_bn": ([keras.Input((6, 6, 2)), L.Conv2D(3, 3, padding="same", activation="relu"),
                       L.MaxPooling2D(), L.BatchNormalization(), L.GlobalAveragePooling2D(),
                       L.Dense(2)], (4, 6, 6, 2)),
        "conv1d": ([keras.Input((8, 2)), L.Conv1D(3, 3), L.AveragePooling1D(2), L.Flatten(),
                    L.Dense(2)], (4, 8, 2)),
        "lstm_gru": ([keras.Input((5, 3)), L.LSTM(4, return_sequences=True), L.GRU(3), L.Dense(1)],
                     (4, 5, 3)),
        "bidirectional": ([keras.Input((5, 3)), L.Bidirectional(L.SimpleRNN(2)), L.Dense(1)],
                          (4, 5, 3)),
        "embedding": ([keras.Input((5,), dtype="int32"), L.Embedding(10, 3), L.LayerNormalization(),
                       L.GlobalMaxPooling1D(), L.Dense(1)], (4, 5)),
        "time_distributed": ([keras.Input((5, 3)), L.TimeDistributed(L.Dense(2)), L.Flatten()],
                             (4, 5, 3)),
    }[name]  # fmt: skip


@pytest.mark.parametrize(
    "name", ["conv2d_bn", "conv1d", "lstm_gru", "bidirectional", "embedding", "time_distributed"]
)
def test_keras_layer_zoo_both_directions(tmp_path, name):
    stack, shape = _keras_zoo(name)
    rng = np.random.default_rng(3)
    x = (
        rng.integers(0, 10, shape).astype("int32")
        if name == "embedding"
        else rng.normal(size=shape)
    )
    x = x.astype(x.dtype if name == "embedding" else "float32")
    km = keras.Sequential(stack)
    km.compile("adam", "mse")
    km.fit(x, km.predict(x, verbose=0) + 0.1, verbose=0)  # moves BN statistics and weights
    km.save(tmp_path / "k.keras")
    fm = _load_quiet(tmp_path / "k.keras")
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)
    # fitorch -> Keras: perturbed weights written by fitorch load into the Keras model.
    fm.set_weights([w + 0.05 for w in fm.get_weights()])
    fm.save_weights(tmp_path / "f.weights.h5")
    km.load_weights(tmp_path / "f.weights.h5")
    np.testing.assert_allclose(km.predict(x, verbose=0), fm.predict(x, verbose=0), atol=1e-5)


def test_weights_h5_carries_optimizer_state_both_ways(tmp_path):
    """A compiled model's .weights.h5 holds Keras' optimizer/vars: training resumes either side."""
    from fitorch import optimizers

    def fitorch_mlp():
        return Sequential([layers.Dense(4, activation="tanh", input_shape=(3,)), layers.Dense(2)])

    fm = fitorch_mlp()
    fm.compile(optimizers.Adam(0.01), "mse")
    fm.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    fm.save_weights(tmp_path / "f.weights.h5")
    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                           keras.layers.Dense(2)])  # fmt: skip
    km.compile(keras.optimizers.Adam(0.01), "mse")
    km.optimizer.build(km.trainable_variables)
    km.load_weights(tmp_path / "f.weights.h5")
    assert int(km.optimizer.iterations) == 4
    # Back into a fresh compiled fitorch model: weights and Adam slots from Keras' layout.
    fresh = fitorch_mlp()
    fresh.compile(optimizers.Adam(0.01), "mse")
    km.save_weights(tmp_path / "k.weights.h5")
    fresh.load_weights(tmp_path / "k.weights.h5")
    assert int(fresh.optimizer.iterations) == 4
    for model in (km, fm, fresh):
        model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b, c in zip(km.get_weights(), fm.get_weights(), fresh.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(c, b)
