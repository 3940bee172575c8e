"""MonitorCallback rules, EarlyStopping and ReduceLROnPlateau: hand-computed sequences,
Keras 3 as a differential oracle on the same logs, and fit-level effects."""

import types
import warnings

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import Callback, EarlyStopping, MonitorCallback, ReduceLROnPlateau

keras = pytest.importorskip("keras")


def _holder(lr=1.0):
    """A stand-in model: `stop_training` and a torch optimizer (no compiled metrics)."""
    param = torch.nn.Parameter(torch.zeros(1))
    return types.SimpleNamespace(stop_training=False, optimizer=torch.optim.SGD([param], lr=lr))


def _compiled_model(metrics):
    model = fitorch.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile("sgd", "categorical_crossentropy", metrics=metrics)
    model.train_on_batch(np.zeros((4, 3), "float32"), np.eye(2, dtype="float32")[[0, 1, 0, 1]])
    return model


# -- mode resolution ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metrics, monitor, expected",
    [
        (["acc"], "val_loss", "min"),
        (["acc"], "loss", "min"),
        (["acc"], "val_acc", "max"),
        (["accuracy"], "val_acc", "max"),  # Keras 2 spelling finds the 'accuracy' metric
        (["mae"], "val_mae", "min"),
        ([fitorch.metrics.AUC()], "val_auc", "max"),
        (["mse"], "val_mean_squared_error", "min"),
    ],
)
def test_auto_mode_from_metric_direction(metrics, monitor, expected):
    cb = MonitorCallback(monitor)
    cb.set_model(_compiled_model(metrics))
    assert cb._resolve_mode() == expected


def test_auto_mode_unknown_raises_with_fix():
    def custom(y_true, y_pred):
        return (y_pred - y_true).mean(-1)

    cb = MonitorCallback("val_custom")
    cb.set_model(_compiled_model([custom]))
    with pytest.raises(ValueError, match=r"'val_custom'.*mode='min' or mode='max'"):
        cb._resolve_mode()


def test_unknown_mode_warns_and_uses_auto():
    with pytest.warns(UserWarning, match="mode 'maximum' is unknown, fallback to auto"):
        cb = EarlyStopping(mode="maximum")
    assert cb.mode == "auto"


def test_missing_monitor_warns_with_suggestion_and_strict_raises():
    cb = EarlyStopping(monitor="val_los", mode="min")
    cb.set_model(_holder())
    with pytest.warns(UserWarning, match=r"'val_los'.*Did you mean 'val_loss'.*loss, val_loss"):
        cb.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
    strict = EarlyStopping(monitor="val_acc", mode="max", strict=True)
    strict.set_model(_holder())
    with pytest.raises(ValueError, match="No validation metrics"):
        strict.on_epoch_end(0, {"loss": 1.0, "acc": 0.5})


def test_monitor_resolves_alias_in_logs():
    cb = MonitorCallback("val_acc")
    cb.set_model(_compiled_model(["accuracy"]))
    assert cb.get_monitor_value({"val_accuracy": 0.75, "val_loss": 0.1}) == 0.75


def test_min_delta_is_a_margin_in_the_mode_direction():
    cb = MonitorCallback("x", mode="min", min_delta=-0.1)  # sign ignored, as Keras
    assert cb._is_improvement(0.85, 1.0) and not cb._is_improvement(0.95, 1.0)
    cb = MonitorCallback("x", mode="max", min_delta=0.1)
    assert cb._is_improvement(1.15, 1.0) and not cb._is_improvement(1.05, 1.0)
    assert cb._is_improvement(-5.0, None)


# -- EarlyStopping: sequences vs Keras 3 --------------------------------------------------------
ES_CASES = [
    # kwargs, monitored values
    ({"mode": "min", "patience": 2}, [1.0, 0.9, 0.95, 0.97, 0.5]),
    ({"mode": "min", "patience": 2, "min_delta": 0.1}, [1.0, 0.95, 0.8, 0.85, 0.9, 0.7]),
    ({"mode": "max", "patience": 0}, [0.5, 0.6, 0.6, 0.7]),
    ({"mode": "max", "patience": 1, "baseline": 0.8}, [0.5, 0.6, 0.7, 0.9, 0.9, 0.9]),
    ({"mode": "min", "patience": 1, "start_from_epoch": 3}, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    ({"mode": "min", "patience": 3}, [3.0, 2.0, 1.0, 0.5, 0.4, 0.3]),
]


def _drive(cb, values, model):
    stopped = None
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, value in enumerate(values):
        cb.on_epoch_end(epoch, {"score": value})
        if model.stop_training:
            stopped = epoch
            break
    return stopped, cb.wait, cb.best


@pytest.mark.parametrize("kwargs, values", ES_CASES)
def test_early_stopping_matches_keras(kwargs, values):
    ours = _drive(EarlyStopping(monitor="score", **kwargs), values, _holder())
    theirs = _drive(keras.callbacks.EarlyStopping(monitor="score", **kwargs), values,
                    types.SimpleNamespace(stop_training=False))  # fmt: skip
    assert ours == theirs


def test_early_stopping_hand_case():
    # best 0.9 at epoch 1; epochs 2 and 3 do not improve -> wait 2 >= patience 2 at epoch 3.
    assert _drive(EarlyStopping("score", mode="min", patience=2), [1.0, 0.9, 0.95, 0.97, 0.5],
                  _holder()) == (3, 2, 0.9)  # fmt: skip


class _Score(Callback):
    """Writes a scripted value into the logs and snapshots the weights every epoch."""

    def __init__(self, values):
        super().__init__()
        self.values, self.snapshots = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        self.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})


def _fit(callbacks, epochs=8):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.random.rand(32, 3).astype("float32"), np.random.rand(32, 1).astype("float32")
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks)
    return model, history


def test_fit_stops_and_restores_best_weights(capsys):
    score = _Score([5.0, 3.0, 4.0, 2.5, 2.6, 2.7, 2.8, 1.0])
    es = EarlyStopping("score", mode="min", patience=3, verbose=1, restore_best_weights=True)
    model, history = _fit([score, es])
    assert history.epoch == [0, 1, 2, 3, 4, 5, 6]  # stops at epoch index 6
    out = capsys.readouterr().out
    assert "Epoch 7: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 4." in out
    for key, value in model.state_dict().items():
        assert torch.equal(value, score.snapshots[3][key])
    last, best = score.snapshots[6], score.snapshots[3]
    assert any(not torch.equal(last[k], best[k]) for k in best)  # training moved on after 4


def test_restore_best_weights_also_without_stopping():
    score = _Score([3.0, 1.0, 2.0])
    es = EarlyStopping("score", mode="min", patience=5, restore_best_weights=True)
    model, history = _fit([score, es], epochs=3)
    assert len(history.epoch) == 3 and es.stopped_epoch == 0
    for key, value in model.state_dict().items():
        assert torch.equal(value, score.snapshots[1][key])


def test_early_stopping_seed_combination_val_acc():
    # Seed: EarlyStopping(monitor='val_acc', verbose=1, patience=3) with metrics=['accuracy'].
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.rand(40, 3).astype("float32"), np.random.randint(0, 2, 40)
    es = EarlyStopping(monitor="val_acc", verbose=1, patience=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # val_acc is found through the alias: no warning
        model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[es])
    assert es._direction == "max" and es.best is not None


# -- ReduceLROnPlateau ----------------------------------------------------------------------------
RLR_CASES = [
    ({"mode": "min", "factor": 0.5, "patience": 1}, [1.0] * 6),
    ({"mode": "min", "factor": 0.5, "patience": 1, "cooldown": 2}, [1.0] * 8),
    ({"mode": "min", "factor": 0.5, "patience": 1, "cooldown": 1, "min_lr": 0.2}, [1.0] * 6),
    ({"mode": "max", "factor": 0.1, "patience": 2, "min_delta": 0.05},
     [0.5, 0.52, 0.6, 0.62, 0.63, 0.7, 0.71]),
    ({"mode": "min", "factor": 0.5, "patience": 0}, [3.0, 2.0, 2.5, 1.0]),
]  # fmt: skip


def _drive_lr(cb, values, model):
    cb.set_model(model)
    cb.on_train_begin()
    logged = []
    for epoch, value in enumerate(values):
        logs = {"score": value}
        cb.on_epoch_end(epoch, logs)
        logged.append(logs["learning_rate"])
    return logged


@pytest.mark.parametrize("kwargs, values", RLR_CASES)
def test_reduce_lr_matches_keras(kwargs, values):
    ours = _drive_lr(ReduceLROnPlateau(monitor="score", **kwargs), values, _holder(1.0))
    optimizer = types.SimpleNamespace(learning_rate=1.0)
    theirs = _drive_lr(keras.callbacks.ReduceLROnPlateau(monitor="score", **kwargs), values,
                       types.SimpleNamespace(optimizer=optimizer))  # fmt: skip
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_reduce_lr_hand_sequence_with_cooldown_and_min_lr(capsys):
    # patience 1, cooldown 2: reduce at e1; e2 and e3 in cooldown (counter 2 -> 1 -> 0, and at
    # e3 the counter reaches 0 before the check, so wait counts again); floor at min_lr.
    model = _holder(1.0)
    cb = ReduceLROnPlateau("score", mode="min", factor=0.5, patience=1, cooldown=2, min_lr=0.3,
                           verbose=1)  # fmt: skip
    logged = _drive_lr(cb, [1.0] * 9, model)
    assert logged == [1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3]
    assert model.optimizer.param_groups[0]["lr"] == 0.3
    out = capsys.readouterr().out
    assert "\nEpoch 2: ReduceLROnPlateau reducing learning rate to 0.5." in out
    assert "\nEpoch 4: ReduceLROnPlateau reducing learning rate to 0.3." in out
    assert out.count("reducing") == 2  # at min_lr: no further reduction


def test_reduce_lr_keras2_epsilon_and_factor_check():
    with pytest.warns(UserWarning, match="epsilon"):
        cb = ReduceLROnPlateau(epsilon=0.3)
    assert cb.min_delta == 0.3
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_in_fit_with_fitorch_optimizer_history_lr_alias():
    values = [1.0, 1.0, 1.0, 1.0]
    score = _Score(values)
    rlr = ReduceLROnPlateau("score", mode="min", factor=0.5, patience=1)
    model, history = _fit([score, rlr], epochs=4)
    assert history.history["learning_rate"] == [0.01, 0.01, 0.005, 0.0025]
    assert history.history["lr"] == history.history["learning_rate"]
    assert fitorch.optimizers.get_learning_rate(model.optimizer) == 0.00125
