"""Seed 002 (what metrics are): a mean-squared-error model reporting 'mae' and 'acc'."""

import numpy as np
import pytest


def test_mae_and_acc_next_to_the_loss(run_seed):
    run = run_seed("seed002_metrics_mae_acc")
    h, model, x, y = run["history"].history, run["model"], run["x"], run["y"]
    assert list(h) == ["loss", "mae", "acc"] and len(h["loss"]) == 20
    assert h["mean_absolute_error"] is h["mae"] and h["accuracy"] is h["acc"]
    assert h["loss"][-1] < h["loss"][0]
    assert "Epoch 20/20" in run.out and " - loss: " in run.out and " - acc: " in run.out
    loss, mae, acc = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0).astype("float64")
    np.testing.assert_allclose([loss, mae], [np.mean((pred - y) ** 2), np.mean(np.abs(pred - y))],
                               rtol=1e-5)  # fmt: skip
    # 'acc' with a non-crossentropy loss and one output unit is binary accuracy.
    assert acc == pytest.approx(np.mean((pred > 0.5) == y))
