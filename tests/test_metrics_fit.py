"""The metrics contract seen through compile/fit/evaluate (the seeds' usage, end to end)."""

from __future__ import annotations

import numpy as np
import pytest

models = pytest.importorskip("fitorch.models")
layers = pytest.importorskip("fitorch.layers")
from fitorch import backend, optimizers  # noqa: E402

X = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], dtype="float32")


def _identity_model():
    model = models.Sequential()
    model.add(layers.Dense(1, input_dim=1))
    model.layers[0].set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    return model


def test_seed000_regression_metrics_keys_aliases_and_perfect_fit_values():
    model = _identity_model()
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=0.0),
                  metrics=["mse", "mae", "mape", "cosine"])  # fmt: skip
    history = model.fit(X, X, epochs=2, batch_size=len(X), verbose=0)
    assert list(history.history) == ["loss", "mse", "mae", "mape", "cosine"]
    aliases = {
        "mean_squared_error": "mse",
        "mean_absolute_error": "mae",
        "mean_absolute_percentage_error": "mape",
        "cosine_proximity": "cosine",
    }
    for alias, key in aliases.items():
        assert history.history[alias] == history.history[key]
    assert history.history["cosine_proximity"][-1] == pytest.approx(-1.0)
    assert history.history["mse"][-1] == pytest.approx(0.0, abs=1e-10)


def test_seed000_custom_rmse_and_seed001_mean_pred_through_fit():
    def rmse(y_true, y_pred):
        return backend.sqrt(backend.mean(backend.square(y_pred - y_true), axis=-1))

    def mean_pred(y_true, y_pred):
        return backend.mean(y_pred)

    model = _identity_model()
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=0.0),
                  metrics=[rmse, mean_pred, "acc"])  # fmt: skip
    history = model.fit(X, X + 0.5, epochs=1, batch_size=4, verbose=0)  # batches 4, 4, 2
    assert history.history["rmse"][-1] == pytest.approx(0.5, rel=1e-5)
    assert history.history["mean_pred"][-1] == pytest.approx(float(X.mean()), rel=1e-5)
    assert "accuracy" in history.history and "acc" in list(history.history)
