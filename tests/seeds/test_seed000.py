"""Seed 000 (Keras metrics tutorial): regression metrics, 'acc', custom RMSE."""

import re

import numpy as np
import pytest

NUM = r"-?\d+\.\d{4}(?:e[+-]\d\d)?"


def epoch_line(out: str, epoch: int, epochs: int) -> str:
    """The progress line printed right after `Epoch {epoch}/{epochs}`."""
    lines = out.splitlines()
    return lines[lines.index(f"Epoch {epoch}/{epochs}") + 1]


def keras_format(value: float) -> str:
    return f"{value:.4f}" if value > 1e-3 else f"{value:.4e}"


def test_regression_metrics_history_and_output(run_seed):
    run = run_seed("seed000_regression_metrics")
    h = run["history"].history
    assert list(h) == ["loss", "mse", "mae", "mape", "cosine"]
    # The seed reads the History under the long names.
    long_names = {
        "mean_squared_error": "mse",
        "mean_absolute_error": "mae",
        "mean_absolute_percentage_error": "mape",
        "cosine_proximity": "cosine",
    }
    for long, short in long_names.items():
        assert h[long] is h[short] and len(h[long]) == 500
    # 500 epochs, one 'Epoch i/500' line and one metrics line each (verbose=2).
    assert sum(line.startswith("Epoch ") for line in run.lines()) == 500
    line = epoch_line(run.out, 496, 500)
    pattern = rf" - loss: ({NUM}) - mse: ({NUM}) - mae: ({NUM}) - mape: ({NUM}) - cosine: ({NUM})$"
    values = re.search(pattern, line).groups()
    keys = ["loss", "mse", "mae", "mape", "cosine"]
    assert values == tuple(keras_format(h[k][495]) for k in keys)
    # A perfect fit's cosine proximity prints as in the seed (Keras 2 sign, e-notation).
    assert epoch_line(run.out, 500, 500).endswith("cosine: -1.0000e+00")
    # The loss is the mse metric (same function, exact epoch means); the model learned.
    np.testing.assert_allclose(h["loss"], h["mse"], rtol=1e-6)
    assert h["loss"][-1] < 0.1 * h["loss"][0]
    # The seed plots the four metric curves.
    assert [len(ydata) for ydata in run["__figure_lines__"]] == [500] * 4


def test_regression_metrics_equal_their_formulas(run_seed):
    run = run_seed("seed000_regression_metrics")
    model, X = run["model"], run["X"]
    pred = model.predict(X, verbose=0).astype("float64")[:, 0]
    loss, mse, mae, mape, cosine = model.evaluate(X, X, verbose=0)
    err = pred - X
    np.testing.assert_allclose([mse, mae, mape], [np.mean(err**2), np.mean(np.abs(err)),
                               100 * np.mean(np.abs(err) / X)], rtol=1e-5)  # fmt: skip
    assert loss == pytest.approx(mse, rel=1e-6)
    assert cosine == pytest.approx(-np.mean(np.sign(pred) * np.sign(X)), abs=1e-6)


def test_metric_long_names_and_loss_as_metric(run_seed):
    run = run_seed("seed000_metric_long_names")
    long_names = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                  "cosine_proximity"]  # fmt: skip
    assert list(run["long_history"].history) == ["loss", *long_names]
    assert list(run["msle_history"].history) == ["loss", "msle"]
    h = run["long_history"].history
    np.testing.assert_allclose(h["loss"], h["mean_squared_error"], rtol=1e-6)
    assert h["mse"] is h["mean_squared_error"]  # aliases answer the other way round too
    assert re.search(rf"Epoch 50/50\n.* - loss: {NUM} - msle: {NUM}$", run.out, re.M)


def test_classification_acc(run_seed):
    run = run_seed("seed000_classification_acc")
    h, model, X, y = run["history"].history, run["model"], run["X"], run["y"]
    assert list(h) == ["loss", "acc"] and len(h["acc"]) == 400
    # Binary accuracy on 10 samples: a multiple of 0.1 every epoch.
    tenths = np.array(h["acc"]) * 10
    np.testing.assert_allclose(tenths, np.round(tenths), atol=1e-5)
    assert h["loss"][-1] < h["loss"][0]
    assert re.fullmatch(rf".* - loss: {NUM} - acc: {NUM}", epoch_line(run.out, 400, 400))
    loss, acc = model.evaluate(X, y, verbose=0)
    pred = model.predict(X, verbose=0)[:, 0].astype("float64")
    assert acc == pytest.approx(np.mean((pred > 0.5) == y))
    p = np.clip(pred, 1e-7, 1 - 1e-7)
    assert loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-5)


def test_backend_mean_squared_error_is_the_builtin(run_seed):
    run = run_seed("seed000_backend_mse")
    h = run["history"].history
    assert list(h) == ["loss", "mse", "mean_squared_error"]
    np.testing.assert_allclose(h["mean_squared_error"], h["mse"], rtol=1e-6)
    np.testing.assert_allclose(h["loss"], h["mse"], rtol=1e-6)
    assert h["loss"][-1] < h["loss"][0]


def test_custom_rmse(run_seed):
    run = run_seed("seed000_custom_rmse")
    h, model, X = run["history"].history, run["model"], run["X"]
    assert list(h) == ["loss", "rmse"] and len(h["rmse"]) == 500
    assert re.fullmatch(rf".* - loss: {NUM} - rmse: {NUM}", epoch_line(run.out, 500, 500))
    # A function metric's epoch value is the mean of its per-sample values; for one output
    # the per-sample RMSE is |error|, so the epoch rmse is below sqrt(mse) (Jensen).
    assert all(r <= np.sqrt(l) * (1 + 1e-6) for r, l in zip(h["rmse"], h["loss"]))
    _, rmse = model.evaluate(X, X, verbose=0)
    pred = model.predict(X, verbose=0)[:, 0].astype("float64")
    assert rmse == pytest.approx(np.mean(np.abs(pred - X)), rel=1e-5)
    assert h["loss"][-1] < h["loss"][0]
