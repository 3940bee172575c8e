"""Seed 004 (losses and metrics summary): losses by name and function, a custom loss, a
two-input/two-output model with loss weights, metrics by name and by function."""

import numpy as np
import pytest


def test_losses_by_name_and_function(run_seed):
    run = run_seed("seed004_loss_by_name")
    histories = run["histories"]
    assert list(histories) == ["mean_squared_error", "losses.mean_squared_error",
                               "mean_absolute_error", "huber_loss", "categorical_crossentropy",
                               "hinge"]  # fmt: skip
    for name, history in histories.items():
        loss = history.history["loss"]
        assert list(history.history) == ["loss"] and len(loss) == 5, name
        assert loss[-1] < loss[0], name


def test_custom_loss_function(run_seed):
    run = run_seed("seed004_custom_loss")
    model, x, y = run["model"], run["x"], run["y"]
    loss = run["history"].history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    err = model.predict(x, verbose=0).astype("float64") - y
    expected = np.mean(np.where(err < 0, 2.0, 1.0) * err**2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_two_inputs_two_outputs_with_loss_weights(run_seed):
    run = run_seed("seed004_multi_io")
    h = run["history"].history
    assert list(h) == ["loss", "output_1_loss", "output_2_loss"] and len(h["loss"]) == 10
    # Exact epoch means: total = 1 * loss_1 + 0.2 * loss_2 in every epoch.
    np.testing.assert_allclose(
        h["loss"], np.array(h["output_1_loss"]) + 0.2 * np.array(h["output_2_loss"]), rtol=1e-5
    )
    assert h["loss"][-1] < h["loss"][0]
    model, x1, x2, y1, y2 = (run[k] for k in ("model", "x1", "x2", "y1", "y2"))
    total, loss_1, loss_2 = model.evaluate([x1, x2], [y1, y2], verbose=0)
    p1, p2 = (p.astype("float64") for p in model.predict([x1, x2], verbose=0))
    p2 = np.clip(p2, 1e-7, 1 - 1e-7)
    bce = -np.mean(y2 * np.log(p2) + (1 - y2) * np.log(1 - p2))
    np.testing.assert_allclose([loss_1, loss_2], [np.mean((p1 - y1) ** 2), bce], rtol=1e-5)
    assert total == pytest.approx(loss_1 + 0.2 * loss_2, rel=1e-6)


def test_metrics_by_name_and_by_function(run_seed):
    run = run_seed("seed004_metrics")
    assert list(run["history_names"].history) == ["loss", "mae", "acc"]
    assert list(run["history_functions"].history) == [
        "loss", "mean_absolute_error", "categorical_accuracy"
    ]  # fmt: skip
    model, x, y = run["model"], run["x"], run["y"]
    loss, mae, accuracy = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0).astype("float64")
    np.testing.assert_allclose([loss, mae], [np.mean((pred - y) ** 2), np.mean(np.abs(pred - y))],
                               rtol=1e-5)  # fmt: skip
    assert accuracy == pytest.approx(np.mean(pred.argmax(1) == y.argmax(1)))
    # 'acc' on one-hot targets is categorical accuracy: a count of rows out of 150 (binary
    # accuracy would count the 450 entries).
    counts = np.array(run["history_names"].history["acc"]) * 150
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)


def test_mean_pred_metric(run_seed):
    run = run_seed("seed004_mean_pred")
    h = run["history"].history
    assert list(h) == ["loss", "accuracy", "mean_pred"] and len(h["loss"]) == 5
    model, x, y = run["model"], run["x"], run["y"]
    _, _, mean_pred = model.evaluate(x, y, batch_size=30, verbose=0)  # batches 30, 30, 30, 10
    expected = model.predict(x, verbose=0).astype("float64").mean()
    assert mean_pred == pytest.approx(expected, rel=1e-5)
