"""Seed 003/004's callback combination, as written, through `fit_generator` with
`validation_data` generators and `val_acc` from metrics=['acc'] or ['accuracy']."""

import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau


class _Data:
    """The seed's `data_generator`: `len()` batches, `__iter__` loops forever."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return len(self.x) // self.batch_size

    def __iter__(self):
        while True:
            for i in range(len(self)):
                s = slice(i * self.batch_size, (i + 1) * self.batch_size)
                yield self.x[s], self.y[s]


class _Snap(Callback):
    def __init__(self):
        super().__init__()
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})


@pytest.mark.parametrize("metric", ["acc", "accuracy"])
def test_seed_callbacks_with_fit_generator(tmp_path, monkeypatch, capsys, metric):
    monkeypatch.chdir(tmp_path)
    fitorch.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((96, 4), dtype=np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] + 0.3 * rng.random(96) > 0.65).astype(int)]
    train_D, valid_D = _Data(x[:64], y[:64], 8), _Data(x[64:], y[64:], 8)
    model = fitorch.Sequential([layers.Dense(8, activation="relu", input_shape=(4,)),
                                layers.Dense(2, activation="softmax")])  # fmt: skip
    model.compile(fitorch.optimizers.Adam(0.05), "categorical_crossentropy", metrics=[metric])
    i, epochs = 1, 12
    model_weight_filepath = "./bert_classfition-test_model" + str(i) + ".weight"
    earlystopping = EarlyStopping(monitor="val_acc", verbose=1, patience=3)
    reducelronplateau = ReduceLROnPlateau(monitor="val_acc", verbose=1, mode="max", factor=0.5,
                                          patience=2)  # fmt: skip
    checkpoint = ModelCheckpoint(filepath=model_weight_filepath, monitor="val_acc", verbose=0,
                                 save_best_only=True, save_weights_only=True, mode="max",
                                 period=1)  # fmt: skip
    snap = _Snap()
    history = model.fit_generator(
        train_D.__iter__(), steps_per_epoch=len(train_D), epochs=epochs,
        validation_data=valid_D.__iter__(), validation_steps=len(valid_D),
        callbacks=[snap, earlystopping, reducelronplateau, checkpoint], verbose=0,
    )  # fmt: skip
    val_acc = history.history["val_acc"]
    n = len(val_acc)
    # Replay the three rules on the recorded values (mode max, min_delta 0 / 1e-4).
    best, wait, stop = -np.inf, 0, None
    for epoch, v in enumerate(val_acc):
        wait += 1
        if v > best:
            best, wait = v, 0
        elif wait >= 3 and epoch > 0:
            stop = epoch
            break
    assert n == (stop + 1 if stop is not None else epochs)
    if stop is not None:
        assert f"Epoch {stop + 1}: early stopping" in capsys.readouterr().out
    lrs, lr, best, wait = [], 0.05, None, 0
    for v in val_acc:
        lrs.append(lr)
        if best is None or v - 1e-4 > best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= 2:
                lr, wait = lr * 0.5, 0
    np.testing.assert_allclose(history.history["lr"], lrs, rtol=1e-12)
    assert os.listdir(tmp_path) == ["bert_classfition-test_model1.weight"]
    best_epoch = int(np.argmax(val_acc))
    fresh = fitorch.Sequential([layers.Dense(8, activation="relu", input_shape=(4,)),
                                layers.Dense(2, activation="softmax")])  # fmt: skip
    fresh.load_weights(model_weight_filepath)
    for key, value in snap.snapshots[best_epoch].items():
        assert torch.equal(fresh.state_dict()[key], value)
