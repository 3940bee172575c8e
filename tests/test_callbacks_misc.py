"""TerminateOnNaN, LambdaCallback, LearningRateScheduler, SwapEMAWeights, atomic files and
the rule that epoch-level callbacks add nothing per batch."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import (
    CallbackList,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    SwapEMAWeights,
    TensorBoard,
    TerminateOnNaN,
    files,
)


def _model(optimizer=None):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
    model.compile(optimizer or fitorch.optimizers.SGD(0.1), "mse")
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


# -- TerminateOnNaN -----------------------------------------------------------------------------
def _nan_loader(nan_row=10):
    # Finite data (NaN in data is refused before its step, also when streamed: see
    # training/validation.py); row `nan_row` is negative, so `_nan_model`'s sqrt makes the
    # loss of its batch NaN.
    x, y = _data()
    x[nan_row] = -1.0  # row 10: second batch of 8
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=False)


def _nan_model():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [layers.Lambda(torch.sqrt, input_shape=(3,)), layers.Dense(4), layers.Dense(1)]
    )
    model.compile(fitorch.optimizers.SGD(0.1), "mse")
    return model


def test_terminate_on_nan_stops_after_the_batch(capsys):
    batches = []
    count = LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    history = _nan_model().fit(
        _nan_loader(), epochs=3, verbose=0, callbacks=[count, TerminateOnNaN()]
    )
    assert batches == [0, 1]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(history.epoch) == 1 and np.isnan(history.history["loss"][0])


def test_terminate_on_nan_raise_error():
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        _nan_model().fit(_nan_loader(), verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


@pytest.mark.parametrize("nan_row, expected_batches", [(10, [0, 1, 2]), (30, [0, 1, 2, 3])])
def test_terminate_on_nan_deferred_check_on_accelerators(capsys, nan_row, expected_batches):
    # The accelerator path (no per-step read) run on CPU: batch b is judged after batch b+1,
    # or at epoch end for the last batch; the message names the batch with the bad loss.
    batches = []
    count = LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    cb = TerminateOnNaN()
    cb._defer_on = ("cpu",)
    history = _nan_model().fit(_nan_loader(nan_row), epochs=3, verbose=0, callbacks=[count, cb])
    assert batches == expected_batches and len(history.epoch) == 1
    assert f"Batch {nan_row // 8}: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_with_plain_logs():
    cb = TerminateOnNaN()
    holder = type("M", (), {"stop_training": False})()
    cb.set_model(holder)
    cb.on_batch_end(0, {"loss": 1.0})
    assert not holder.stop_training
    cb.on_batch_end(1, {"loss": float("inf")})
    assert holder.stop_training


# -- LambdaCallback ---------------------------------------------------------------------------
def test_lambda_callback_keras3_and_keras2_names():
    calls = []
    cb3 = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: calls.append(("k3_batch", batch)),
        on_train_end=lambda logs: calls.append("train_end"),
    )
    cb2 = LambdaCallback(
        on_batch_begin=lambda batch, logs: calls.append(("k2_begin", batch)),
        on_batch_end=lambda batch, logs: calls.append(("k2_end", batch)),
    )
    x, y = _data(16)
    _model().fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb3, cb2])
    assert calls == ["train_begin", ("k2_begin", 0), ("k3_batch", 0), ("k2_end", 0),
                     ("k2_begin", 1), ("k3_batch", 1), ("k2_end", 1),
                     ("epoch_end", 0, ["loss"]), "train_end"]  # fmt: skip


def test_lambda_callback_unknown_hook():
    with pytest.raises(TypeError, match="on_epoch_ends.*Did you mean 'on_epoch_end'"):
        LambdaCallback(on_epoch_ends=print)


def test_lambda_callback_without_batch_hooks_costs_nothing_per_batch():
    cbs = CallbackList([LambdaCallback(on_epoch_end=print)])
    assert not cbs.wants("on_train_batch_end") and not cbs.wants("on_train_batch_begin")


# -- LearningRateScheduler ----------------------------------------------------------------------
def test_scheduler_two_argument_form_and_logs(capsys):
    model = _model()
    x, y = _data(16)
    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr, verbose=1)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert history.history["lr"] == [0.1, 0.05, 0.025]
    out = capsys.readouterr().out
    assert "\nEpoch 2: LearningRateScheduler setting learning rate to 0.05." in out


def test_keys_added_at_epoch_end_reach_later_callbacks_but_not_train_end_or_evaluate():
    # Keras gives every hook its own dict: the scheduler's `learning_rate` is in History and
    # in a later callback's epoch logs, not in on_train_end's logs; a key added in
    # on_test_end is not in evaluate's result.
    seen = {}
    record = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.setdefault("epoch", sorted(logs)),
        on_train_end=lambda logs: seen.setdefault("train_end", sorted(logs)),
    )
    model = _model()
    x, y = _data(16)
    sched = LearningRateScheduler(lambda epoch, lr: lr)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[sched, record])
    assert seen == {"epoch": ["learning_rate", "loss"], "train_end": ["loss"]}
    assert list(history.history) == ["loss", "learning_rate"]
    add = LambdaCallback(on_test_end=lambda logs: logs.update(extra=1.0))
    assert list(model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[add])) == ["loss"]


def test_scheduler_keras2_one_argument_form_with_torch_optimizer():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(torch.optim.SGD(model.parameters(), lr=1.0), "mse")
    x, y = _data(16)
    sched = LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[sched])
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.1 / 3])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 3)


def test_scheduler_bad_output():
    with pytest.raises(ValueError, match="should be a float. Got: 'fast'"):
        _model().fit(*_data(8), verbose=0, callbacks=[LearningRateScheduler(lambda e: "fast")])


# -- SwapEMAWeights -----------------------------------------------------------------------------
def test_swap_ema_weights_for_validation_and_on_epoch(tmp_path):
    optimizer = fitorch.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    model = _model(optimizer)
    x, y = _data()
    seen = {}

    def at_test_begin(logs):
        opt = model.optimizer
        seen["params"] = [p.detach().clone() for p in model.parameters()]
        seen["slots"] = [opt.state[p]["ema"].clone() for p in model.parameters()]

    probe = LambdaCallback(on_test_begin=at_test_begin)
    ckpt = ModelCheckpoint(str(tmp_path / "ema.weight"), save_weights_only=True)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0,
                        shuffle=False, callbacks=[SwapEMAWeights(swap_on_epoch=True), probe,
                                                  ckpt])  # fmt: skip
    # During validation the model held the EMA; val_loss is the EMA weights' loss.
    ema_model = _model()
    with torch.no_grad():
        for p, v in zip(ema_model.parameters(), seen["params"]):
            p.copy_(v)
    val = ema_model.evaluate(x[24:], y[24:], batch_size=8, verbose=0)
    assert val == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    assert not all(torch.equal(a, b) for a, b in zip(seen["params"], seen["slots"]))
    # swap_on_epoch: the checkpoint written at epoch end holds the EMA; fit ends with the EMA.
    saved = _model()
    saved.load_weights(str(tmp_path / "ema.weight"))
    for p, q, ema in zip(saved.parameters(), model.parameters(), seen["params"]):
        assert torch.equal(p, ema) and torch.equal(q, ema)


def test_swap_ema_requires_use_ema():
    with pytest.raises(ValueError, match="use_ema=True"):
        _model().fit(*_data(8), verbose=0, callbacks=[SwapEMAWeights()])


# -- files and per-batch cost ---------------------------------------------------------------------
def test_atomic_write_replaces_and_cleans_up(tmp_path):
    path = tmp_path / "d" / "f.txt"
    files.atomic_write(path, "one")
    files.atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and sorted(p.name for p in path.parent.iterdir()) == [
        "f.txt"
    ]
    with pytest.raises(RuntimeError), files.atomic_path(path) as tmp:
        open(tmp, "w").write("torn")
        raise RuntimeError
    assert path.read_bytes() == b"two" and len(list(path.parent.iterdir())) == 1


def test_benchmark_set_adds_no_batch_hooks(tmp_path):
    cbs = CallbackList([ModelCheckpoint(str(tmp_path / "m.weight"), save_best_only=True),
                        EarlyStopping(), ReduceLROnPlateau(), CSVLogger(tmp_path / "l.csv"),
                        TensorBoard(tmp_path, update_freq="epoch")])  # fmt: skip
    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_end"):
        assert not cbs.wants(hook)


def test_callback_list_hands_on_plain_values_in_a_custom_loop():
    # Keras's CallbackList: tensors -> floats (arrays when several values), nested dicts
    # flattened, as a training loop written from scratch passes them.
    seen = []
    record = LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs),
                            on_epoch_end=lambda e, logs: seen.append(logs))  # fmt: skip
    model = _model()
    cbs = CallbackList([record], add_history=True, model=model)
    logs = {"loss": torch.tensor(1.5), "acc": torch.tensor([0.5, 1.0]), "m": {"mae": np.float32(2)}}
    cbs.on_train_batch_end(0, logs)
    cbs.on_epoch_end(0, logs)
    for got in seen:
        assert list(got) == ["loss", "acc", "mae"] and got["loss"] == 1.5 and got["mae"] == 2.0
        assert type(got["loss"]) is float and got["acc"].tolist() == [0.5, 1.0]
    assert model.history.history["loss"] == [1.5]


def test_callback_list_set_model_and_keras2_batch_hooks():
    calls = []

    class Legacy(fitorch.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append((batch, logs, self.model))

    first, second = _model(), _model()
    cbs = CallbackList([Legacy()], add_history=True, model=first)
    cbs.set_model(second)
    cbs.on_batch_end(3, {"loss": np.float32(2.0)})
    assert calls == [(3, {"loss": 2.0}, second)]
    assert second.history is cbs.history
