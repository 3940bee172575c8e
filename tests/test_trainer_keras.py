"""fit / evaluate / *_on_batch against Keras 3 (torch backend) from the same weights."""

import numpy as np
import pytest

import fitorch
from fitorch import layers as fl

keras = pytest.importorskip("keras")

RNG = np.random.RandomState(0)
X = RNG.randn(50, 4).astype("float32")
Y_CLASS = RNG.randint(0, 3, 50)
Y_REG = RNG.randn(50, 2).astype("float32")
SW = RNG.rand(50).astype("float32")


def twin_mlp(units, activation):
    """The same MLP in Keras and fitorch, fitorch holding Keras' initial weights."""
    km = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )
    fm = fitorch.Sequential(
        [fl.Dense(8, activation="relu", input_dim=4), fl.Dense(units, activation=activation)]
    )
    fm.set_weights(km.get_weights())
    return km, fm


def assert_same_history(hk, hf, rtol=2e-5):
    assert sorted(hk) == sorted(hf)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=rtol, atol=1e-7, err_msg=key)


CASES = {
    "sparse_ce_adam_validation_split": (
        3,
        "softmax",
        "sparse_categorical_crossentropy",
        ["accuracy"],
        ("Adam", {"learning_rate": 0.01}),
        Y_CLASS,
        {"validation_split": 0.2},
    ),
    "mse_sgd_momentum_sample_weight": (
        2,
        None,
        "mse",
        ["mae"],
        ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
        Y_REG,
        {"sample_weight": SW},
    ),
    "cce_rmsprop_class_weight": (
        3,
        "softmax",
        "categorical_crossentropy",
        ["accuracy"],
        ("RMSprop", {"learning_rate": 0.01}),
        np.eye(3, dtype="float32")[Y_CLASS],
        {"class_weight": {0: 1.0, 1: 2.0, 2: 0.5}},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fit_history_and_evaluate_equal_keras(case):
    units, act, loss, metrics, (opt_name, opt_args), y, fit_kwargs = CASES[case]
    km, fm = twin_mlp(units, act)
    km.compile(getattr(keras.optimizers, opt_name)(**opt_args), loss, metrics=metrics)
    fm.compile(getattr(fitorch.optimizers, opt_name)(**opt_args), loss, metrics=metrics)
    hk = km.fit(X, y, epochs=3, batch_size=16, verbose=0, shuffle=False, **fit_kwargs).history
    hf = fm.fit(X, y, epochs=3, batch_size=16, verbose=0, shuffle=False, **fit_kwargs).history
    assert_same_history(hk, hf)
    ek = km.evaluate(X, y, verbose=0, return_dict=True)
    ef = fm.evaluate(X, y, verbose=0, return_dict=True)
    assert_same_history({k: [v] for k, v in ek.items()}, {k: [v] for k, v in ef.items()})


def test_weighted_metrics_and_plain_metrics_equal_keras():
    km = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    fm = fitorch.Sequential([fl.Dense(2, input_dim=4)])
    fm.set_weights(km.get_weights())
    for model in (km, fm):
        model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    ek = km.evaluate(X, Y_REG, sample_weight=SW, verbose=0, return_dict=True)
    ef = fm.evaluate(X, Y_REG, sample_weight=SW, verbose=0, return_dict=True)
    assert sorted(ef) == ["loss", "mae", "weighted_mae"]
    for key in ek:
        np.testing.assert_allclose(ef[key], ek[key], rtol=1e-6)


def test_cnn_with_batchnorm_and_on_batch_calls_equal_keras():
    x = RNG.randn(40, 8, 8, 1).astype("float32")
    y = RNG.randint(0, 4, 40)

    def stack(L, inp):
        return [
            inp,
            L.Conv2D(4, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(4, activation="softmax"),
        ]

    km = keras.Sequential(stack(keras.layers, keras.Input((8, 8, 1))))
    fm = fitorch.Sequential(stack(fl, fitorch.Input((8, 8, 1))))
    fm.set_weights(km.get_weights())
    km.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    fm.compile(
        fitorch.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    hk = km.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False).history
    hf = fm.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False).history
    assert_same_history(hk, hf, rtol=1e-4)
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(
        fm.train_on_batch(x[:8], y[:8]), km.train_on_batch(x[:8], y[:8]), rtol=1e-4
    )
    np.testing.assert_allclose(
        fm.test_on_batch(x[:8], y[:8]), km.test_on_batch(x[:8], y[:8]), rtol=1e-4
    )


def test_multi_output_dict_losses_weights_and_metrics_equal_keras():
    def graph(L, Model, Input):
        a = Input((3,), name="a")
        h = L.Dense(4, name="h")(a)
        outs = {
            "o1": L.Dense(1, name="o1")(h),
            "o2": L.Dense(2, activation="softmax", name="o2")(h),
        }
        return Model(a, outs)

    kf = graph(keras.layers, keras.Model, keras.Input)
    ff = graph(fl, fitorch.Model, fitorch.Input)
    ff.set_weights(kf.get_weights())
    xs = RNG.randn(20, 3).astype("float32")
    ys = {"o1": RNG.randn(20, 1).astype("float32"), "o2": RNG.randint(0, 2, 20)}
    compile_args = dict(
        loss={"o1": "mse", "o2": "sparse_categorical_crossentropy"},
        loss_weights={"o1": 1.0, "o2": 0.5},
        metrics={"o2": ["accuracy"]},
    )
    kf.compile("sgd", **compile_args)
    ff.compile("sgd", **compile_args)
    hk = kf.fit(xs, ys, epochs=2, batch_size=8, verbose=0, shuffle=False).history
    hf = ff.fit(xs, ys, epochs=2, batch_size=8, verbose=0, shuffle=False).history
    assert_same_history(hk, hf)
    assert list(hf) == ["loss", "o1_loss", "o2_loss", "o2_accuracy"]
