"""Seed 001 (model.compile usage): optimizers by object, name and Keras 2 arguments; the
Keras 2 loss definitions written with K; accuracy metric functions; a custom metric."""

import numpy as np
import pytest

import fitorch


def test_optimizer_object_with_keras2_arguments(run_seed):
    run = run_seed("seed001_optimizer_object")
    sgd = run["sgd"]
    assert isinstance(sgd, fitorch.optimizers.SGD)
    assert fitorch.optimizers.get_learning_rate(sgd) == pytest.approx(0.01)
    assert sgd.clipvalue == 0.5
    assert run["model"].optimizer is sgd
    h = run["history"].history
    assert list(h) == ["loss"] and len(h["loss"]) == 3 and h["loss"][-1] <= h["loss"][0]


def test_optimizer_by_name_uses_defaults(run_seed):
    run = run_seed("seed001_optimizer_by_name")
    optimizer = run["model"].optimizer
    assert isinstance(optimizer, fitorch.optimizers.SGD)
    assert fitorch.optimizers.get_learning_rate(optimizer) == pytest.approx(0.01)  # Keras default
    loss = run["history"].history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:]))


def test_optimizer_keras2_arguments(run_seed):
    run = run_seed("seed001_optimizer_arguments")
    expected_lr = {"SGD": 0.01, "RMSprop": 0.001, "Adagrad": 0.01, "Adam": 0.001, "Adamax": 0.002,
                   "Nadam": 0.002}  # fmt: skip
    for name, optimizer in run["optimizers_from_seed"].items():
        assert type(optimizer).__name__ == name
        assert fitorch.optimizers.get_learning_rate(optimizer) == pytest.approx(expected_lr[name])
        losses = run["losses"][name]
        assert losses[-1] < losses[0], name
        assert f"{name} loss: " in run.out


def test_keras2_loss_definitions_equal_builtin_losses(run_seed):
    run = run_seed("seed001_loss_definitions")
    differences = run["max_differences"]
    assert len(differences) == 25
    assert max(differences.values()) < 1e-6, differences
    for name, losses in run["final_losses"].items():
        assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], name


def test_accuracy_metric_functions(run_seed):
    run = run_seed("seed001_metric_functions")
    # Hand-computed from the three rows in the script. binary_accuracy is elementwise, as
    # Keras 3's function (Keras 2 averaged over the last axis; the metric's epoch value is
    # the same either way).
    binary = (run["y_true"] == (run["y_pred"] > 0.5)).astype("float32")
    assert binary.mean(axis=-1).tolist() == [0.875, 0.875, 0.75]
    expected = {
        "binary_accuracy": str(binary),
        "categorical_accuracy": "[1. 0. 0.]",
        "sparse_categorical_accuracy": "[1. 0. 0.]",
        "top_k_categorical_accuracy": "[1. 1. 0.]",
        "sparse_top_k_categorical_accuracy": "[1. 1. 0.]",
    }
    for name, printed in expected.items():
        assert f"\n{name} {printed}\n" in "\n" + run.out, name
    h = run["history"].history
    assert list(h) == ["loss", "categorical_accuracy", "top_k_categorical_accuracy"]
    assert all(t >= c for t, c in zip(h["top_k_categorical_accuracy"], h["categorical_accuracy"]))


def test_mean_pred_custom_metric(run_seed):
    run = run_seed("seed001_mean_pred")
    h, model, data, labels = run["history"].history, run["model"], run["data"], run["labels"]
    assert list(h) == ["loss", "accuracy", "mean_pred"] and len(h["loss"]) == 10
    # 200 samples in batches of 32 (last one 8): the epoch value is still the exact mean of
    # all predictions, because a per-batch scalar counts once per sample of its batch.
    _, accuracy, mean_pred = model.evaluate(data, labels, batch_size=32, verbose=0)
    pred = run["predictions"].astype("float64")
    assert mean_pred == pytest.approx(pred.mean(), rel=1e-5)
    assert accuracy == pytest.approx(np.mean((pred[:, 0] > 0.5) == labels))
