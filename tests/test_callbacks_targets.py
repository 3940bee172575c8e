"""Callback targets fail in on_train_begin, before the first step: paths that cannot be
written (parent is a file, a directory where a file is needed, not writable), misspelled
ModelCheckpoint template keys and monitors (callbacks/files.py, callbacks/log_keys.py)."""

import os
import warnings

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
)
from fitorch.callbacks.log_keys import expected_log_keys


def _model(metrics=("accuracy",)):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([fitorch.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(fitorch.optimizers.SGD(0.1), "sparse_categorical_crossentropy", list(metrics))
    return model


def _data(n=16):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), np.arange(n) % 2


class _Steps(Callback):
    batches = 0

    def on_train_batch_end(self, batch, logs=None):
        _Steps.batches += 1


def _refused(callback, match, **fit_kwargs):
    """fit raises ValueError matching `match` with no step taken and weights unchanged."""
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    _Steps.batches = 0
    x, y = _data()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[_Steps(), callback],
                  **fit_kwargs)  # fmt: skip
    assert _Steps.batches == 0 and int(model.optimizer.iterations) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize(
    "make, what",
    [
        (
            lambda f: ModelCheckpoint(str(f / "w.weights.h5"), save_weights_only=True),
            "ModelCheckpoint",
        ),
        (lambda f: ModelCheckpoint(str(f / "sub" / "m-{epoch}.keras")), "ModelCheckpoint"),
        (lambda f: CSVLogger(f / "log.csv"), "CSVLogger"),
        (lambda f: BackupAndRestore(f / "backup"), "BackupAndRestore"),
        (lambda f: TensorBoard(log_dir=f / "logs"), "TensorBoard"),
    ],
)
def test_parent_is_a_file(a_file, make, what):
    match = rf"{what}\(.*\): cannot create .*{a_file.name}' exists and is a file"
    _refused(make(a_file), match)
    assert a_file.read_text() == "not a directory"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d: ModelCheckpoint(str(d), save_weights_only=True), "is an existing directory"),
        (lambda d: CSVLogger(d), "is an existing directory; a file name is needed"),
    ],
)
def test_directory_where_a_file_is_needed(tmp_path, make, match):
    _refused(make(tmp_path), match)


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda f: BackupAndRestore(f), "BackupAndRestore"),
        (lambda f: TensorBoard(f), "TensorBoard"),
    ],
)
def test_file_where_a_directory_is_needed(a_file, make, what):
    _refused(make(a_file), rf"{what}\(.*\): .*plain.txt' is an existing file; a directory")


def test_directory_not_writable(tmp_path, monkeypatch):
    # (The tests run as root, where chmod does not stop writes: os.access is the judge.)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode)
    )
    _refused(CSVLogger(locked / "deeper" / "log.csv"), r"CSVLogger.*locked' is not writable")
    assert list(locked.iterdir()) == []  # nothing was created


def test_valid_targets_are_created_and_written(tmp_path):
    model = _model()
    x, y = _data()
    cbs = [CSVLogger(tmp_path / "new" / "log.csv"),
           ModelCheckpoint(str(tmp_path / "ck" / "w-{epoch}-{val_accuracy:.2f}.weights.h5"),
                           save_weights_only=True)]  # fmt: skip
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_split=0.25, callbacks=cbs)
    assert (tmp_path / "new" / "log.csv").read_text().startswith("epoch,accuracy,loss")
    assert [p.name.split("-")[1] for p in (tmp_path / "ck").iterdir()] == ["1"]


def test_misspelled_template_key_fails_before_the_first_step(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "m-{val_acuracy:.2f}.keras"))
    _refused(ckpt, r"the key 'val_acuracy' will not be in the logs. Did you mean 'val_accuracy'",
             validation_split=0.25)  # fmt: skip


class _Score(Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = 10.0 - epoch


def test_keys_other_callbacks_add_are_not_refused(tmp_path):
    model = _model()
    x, y = _data()
    ckpt = ModelCheckpoint(str(tmp_path / "s-{score:.0f}.weights.h5"), monitor="score",
                           mode="min", save_best_only=True, save_weights_only=True)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no early warning for "score"
        model.fit(x, y, epochs=2, verbose=0, callbacks=[_Score(), ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-10.weights.h5", "s-9.weights.h5"]


@pytest.mark.parametrize("cls", [EarlyStopping, ReduceLROnPlateau])
def test_misspelled_monitor_warns_before_the_first_step(cls):
    seen_before_step = []

    class Probe(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen_before_step.append(len(caught))

    x, y = _data()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _model().fit(x, y, epochs=1, verbose=0, validation_split=0.25,
                     callbacks=[cls(monitor="val_acuracy"), Probe()])  # fmt: skip
    early = [str(w.message) for w in caught if "checked before the first step" in str(w.message)]
    assert len(early) == 1 and "Did you mean 'val_accuracy'?" in early[0]
    assert seen_before_step[0] >= 1  # the warning came before the first batch


def test_strict_monitor_raises_before_the_first_step():
    match = r"'val_los' which is not available \(checked before the first step\)\. Did you mean"
    _refused(EarlyStopping(monitor="val_los", strict=True), match, validation_split=0.25)


def test_validation_monitor_without_validation_data_warns_early():
    x, y = _data()
    with pytest.warns(UserWarning, match=r"checked before the first step.*No validation metrics"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping(monitor="val_loss")])


def test_expected_log_keys_cover_the_logged_keys():
    inp = fitorch.Input((3,))
    outputs = {"a": layers.Dense(2, activation="softmax", name="a")(inp),
               "b": layers.Dense(1, name="b")(inp)}  # fmt: skip
    model = fitorch.Model(inp, outputs)
    model.compile("sgd", {"a": "sparse_categorical_crossentropy", "b": "mse"},
                  metrics={"a": ["acc"], "b": [fitorch.metrics.MeanAbsoluteError(name="m")]},
                  weighted_metrics={"b": ["mae"]})  # fmt: skip
    expected = expected_log_keys(model, do_validation=True)
    x, y = _data()
    history = model.fit(x, {"a": y, "b": y[:, None] * 1.0}, epochs=1, verbose=0,
                        validation_split=0.25)  # fmt: skip
    assert set(history.history) <= expected
    assert {"a_acc", "a_accuracy", "b_m", "val_b_m", "a_loss", "b_weighted_mae"} <= expected


def test_expected_log_keys_unknown_for_own_train_step():
    class Own(fitorch.Model):
        def train_step(self, data):
            return {"g_loss": 0.0}

    model = Own()
    model.compile("sgd", "mse")
    assert expected_log_keys(model, do_validation=False) is None
