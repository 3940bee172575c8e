"""Keras 2 whole-model `.h5` files made by the real tf-keras 2.21 (`model.save('m.h5')`,
fixtures in tests/fixtures/tf_keras built by tests/fixtures/make_tf_keras_fixtures.py) load
in fitorch: same predictions as tf-keras, the compile config Keras 2 stored (metrics per
output as nested lists), the optimizer state, and one more epoch of training equal to
tf-keras's own resumed epoch."""

import os
import warnings

import numpy as np
import pytest

from fitorch import optimizers
from fitorch.models import load_model

pytest.importorskip("h5py")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "tf_keras")

# name -> (loss, metrics, optimizer class, learning rate) as compiled in the fixture script.
COMPILED = {
    "mlp": ("mse", ["mae"], optimizers.Adam, 0.005),
    "cnn": ("sparse_categorical_crossentropy", ["accuracy"], optimizers.SGD, 0.05),
    "lstm": ("binary_crossentropy", ["accuracy"], optimizers.RMSprop, 0.01),
    "gru": ("mae", ["mse"], optimizers.Adam, 0.01),
    "two_inputs": (
        {"reg": "mse", "cls": "sparse_categorical_crossentropy"},
        {"reg": ["mae"], "cls": ["accuracy"]},
        optimizers.Adam,
        0.01,
    ),
}


def _fixture(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the optimizer state must map: no "not restored"
        model = load_model(os.path.join(FIXTURES, f"{name}.h5"))
    data = np.load(os.path.join(FIXTURES, f"{name}.npz"))

    def arrays(prefix):
        found = sorted(k for k in data.files if k[0] == prefix and k[1:].isdigit())
        values = [data[k] for k in found]
        return values if len(values) > 1 else values[0]

    return model, data, arrays("x"), arrays("y"), arrays("p")


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_predicts_as_tf_keras(name):
    model, _, x, _, want = _fixture(name)
    got = model.predict(x, verbose=0)
    got, want = (got, want) if name == "two_inputs" else ([got], [want])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_compile_config_and_optimizer_state(name):
    model, _, _, _, _ = _fixture(name)
    loss, metrics, opt_class, lr = COMPILED[name]
    config = model.get_compile_config()
    assert config["loss"] == loss and config["metrics"] == metrics
    assert type(model.optimizer) is opt_class
    assert model.optimizer.learning_rate == pytest.approx(lr)
    assert int(model.optimizer.iterations) == 4  # one epoch of 32 samples in batches of 8
    for p in (p for g in model.optimizer.param_groups for p in g["params"]):
        for slot in model.optimizer.state[p].values():
            if slot.shape == p.shape:
                assert slot.abs().sum() > 0  # restored from the file, not fresh zeros


@pytest.mark.parametrize("name", ["cnn", "lstm", "gru", "two_inputs"])
def test_trains_on_like_tf_keras(name):
    """One more epoch in fitorch equals tf-keras's resumed epoch (loss, iterations, weights)."""
    model, data, x, y, _ = _fixture(name)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(float(data["loss"][0]), rel=1e-4)
    assert int(model.optimizer.iterations) == int(data["iterations"])
    for layer in model.layers:
        for j, got in enumerate(layer.get_weights()):
            np.testing.assert_allclose(got, data[f"w/{layer.name}/{j}"], rtol=1e-4, atol=1e-5)


def test_dropout_model_trains_on():
    """mlp has Dropout (random masks differ from TensorFlow's): it trains and moves on."""
    model, data, x, y, _ = _fixture("mlp")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert int(model.optimizer.iterations) == int(data["iterations"]) == 8
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_optimizer_state_that_does_not_map_warns_and_loads(tmp_path):
    """A Keras 2 file missing one slot variable: the model loads with fresh optimizer state
    and a warning saying why, weights and compile config intact."""
    import shutil

    import h5py

    path = tmp_path / "gru.h5"
    shutil.copy(os.path.join(FIXTURES, "gru.h5"), path)
    with h5py.File(path, "r+") as f:
        group = f["optimizer_weights"]
        group.attrs["weight_names"] = group.attrs["weight_names"][:-1]
    with pytest.warns(UserWarning, match=r"not restored: 7 'velocity' variables for 8 parameters"):
        model = load_model(path)
    assert int(model.optimizer.iterations) == 0
    x = np.load(os.path.join(FIXTURES, "gru.npz"))["x0"]
    want = np.load(os.path.join(FIXTURES, "gru.npz"))["p0"]
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-5)
