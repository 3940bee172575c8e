"""ModelCheckpoint: file names, best-only decisions, period/save_freq, the seed's `.weight`
name, atomic writes and the main-process gate; files are loaded back and compared."""

import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import Callback, ModelCheckpoint, files


class _Score(Callback):
    """Writes a scripted value into the logs and snapshots the weights every epoch."""

    def __init__(self, values):
        super().__init__()
        self.values, self.snapshots = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = self.values[epoch]
        self.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})


def _model():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


def _fit(model, callbacks, epochs=4, **kw):
    x, y = _data()
    return model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks, **kw)


def _weights_of(path):
    model = _model()
    model.load_weights(str(path))
    return model.state_dict()


def test_filename_with_epoch_and_log_values(tmp_path):
    pattern = str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.weights.h5")
    history = _fit(_model(), [ModelCheckpoint(pattern, save_weights_only=True)], epochs=3,
                   validation_split=0.25)  # fmt: skip
    expected = {f"w-{e + 1:02d}-{v:.2f}.weights.h5" for e, v in
                enumerate(history.history["val_loss"])}  # fmt: skip
    assert set(os.listdir(tmp_path)) == expected


def test_save_best_only_decisions_and_messages(tmp_path, capsys):
    score = _Score([3.0, 2.0, 2.5, 1.0])
    pattern = str(tmp_path / "ck-{epoch:02d}.weight")
    ckpt = ModelCheckpoint(pattern, monitor="score", mode="min", save_best_only=True,
                           save_weights_only=True, verbose=1)  # fmt: skip
    _fit(_model(), [score, ckpt])
    assert sorted(os.listdir(tmp_path)) == ["ck-01.weight", "ck-02.weight", "ck-04.weight"]
    out = capsys.readouterr().out
    saving = f"saving model to {tmp_path}/ck-0"
    assert f"\nEpoch 1: score improved from None to 3.00000, {saving}1.weight" in out
    assert f"\nEpoch 2: score improved from 3.00000 to 2.00000, {saving}2.weight" in out
    assert "\nEpoch 3: score did not improve from 2.00000" in out
    finished = [
        f"\nEpoch {e}: finished saving model to {tmp_path}/ck-0{e}.weight" for e in (1, 2, 4)
    ]
    assert all(line in out for line in finished) and "Epoch 3: finished" not in out  # Keras 3
    for name, epoch in (("ck-02.weight", 1), ("ck-04.weight", 3)):
        saved = _weights_of(tmp_path / name)
        for key, value in score.snapshots[epoch].items():
            assert torch.equal(saved[key], value)


def test_seed_combination_weight_file_period_1(tmp_path, monkeypatch):
    # Seed 003: ModelCheckpoint(filepath="./bert_classfition-test_model"+str(i)+".weight",
    #   monitor='val_acc', save_best_only=True, save_weights_only=True, mode='max', period=1)
    monkeypatch.chdir(tmp_path)
    i = 0
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    model.compile(fitorch.optimizers.SGD(0.5), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    rng = np.random.default_rng(1)
    x = rng.random((64, 3), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int64")

    class Snap(Callback):
        snapshots = []

        def on_epoch_end(self, epoch, logs=None):
            Snap.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})

    checkpoint = ModelCheckpoint(filepath="./bert_classfition-test_model" + str(i) + ".weight",
                                 monitor="val_acc", verbose=0, save_best_only=True,
                                 save_weights_only=True, mode="max", period=1)  # fmt: skip
    history = model.fit(x, y, batch_size=16, epochs=5, validation_split=0.25, verbose=0,
                        callbacks=[Snap(), checkpoint])  # fmt: skip
    assert os.listdir(tmp_path) == ["bert_classfition-test_model0.weight"]
    val_acc = history.history["val_acc"]
    best_epoch = int(np.argmax(val_acc))  # first maximum: later ties do not improve
    assert checkpoint.best == max(val_acc)
    fresh = fitorch.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    fresh.load_weights("./bert_classfition-test_model0.weight")
    for key, value in Snap.snapshots[best_epoch].items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_period_saves_every_n_epochs(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "p{epoch}.weight"), save_weights_only=True, period=2)
    _fit(_model(), [ckpt], epochs=5)
    assert sorted(os.listdir(tmp_path)) == ["p2.weight", "p4.weight"]


def test_save_freq_in_batches_names_epoch_and_batch(tmp_path):
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.weight"), save_weights_only=True,
                           save_freq=3)  # fmt: skip
    _fit(_model(), [ckpt], epochs=2)  # 4 batches per epoch: after global batches 3 and 6
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.weight", "e2-b2.weight"]


def test_initial_value_threshold(tmp_path):
    score = _Score([3.0, 2.0, 1.0])
    ckpt = ModelCheckpoint(str(tmp_path / "t{epoch}.weight"), monitor="score", mode="min",
                           save_best_only=True, save_weights_only=True,
                           initial_value_threshold=1.5)  # fmt: skip
    _fit(_model(), [score, ckpt], epochs=3)
    assert os.listdir(tmp_path) == ["t3.weight"]


def test_whole_model_into_new_directories(tmp_path):
    path = tmp_path / "a" / "b" / "model-{epoch}.keras"
    model = _model()
    _fit(model, [ModelCheckpoint(str(path))], epochs=2)
    loaded = fitorch.models.load_model(str(tmp_path / "a" / "b" / "model-2.keras"))
    x, _ = _data(5)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_missing_key_in_filepath():
    # A misspelled key fails in on_train_begin (callbacks/log_keys.py), before any step.
    ckpt = ModelCheckpoint("m-{val_los:.2f}.weight", save_weights_only=True)
    with pytest.raises(
        ValueError, match=r"m-\{val_los:.2f\}\.weight.*'val_los'.*Did you mean 'val_loss'"
    ):
        _fit(_model(), [ckpt], epochs=1, validation_split=0.25)


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "w.weight"
    model = _model()
    ckpt = ModelCheckpoint(str(path), save_weights_only=True)
    _fit(model, [ckpt], epochs=1)
    before = path.read_bytes()

    def broken(filepath, overwrite=True):
        with open(filepath, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    model.save_weights = broken
    with pytest.raises(OSError, match="disk full"):
        _fit(model, [ckpt], epochs=1)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.weight"]  # no temporary file left


def test_only_main_process_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_main_process_fn", lambda: False)  # restored after the test
    ckpt = ModelCheckpoint(str(tmp_path / "w{epoch}.weight"), save_weights_only=True)
    _fit(_model(), [ckpt], epochs=2)
    assert os.listdir(tmp_path) == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint("w.weight", save_freq="batch")
    with pytest.raises(ValueError, match="period"):
        ModelCheckpoint("w.weight", period=0)
    with pytest.raises(TypeError, match="save_best"):
        ModelCheckpoint("w.weight", save_best=True)
