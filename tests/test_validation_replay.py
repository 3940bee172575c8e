"""validation_steps=k on a generator or a one-shot iterator: the same first k batches are
validated every epoch (Keras 3), read from the source only once."""

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from fitorch import layers, optimizers
from fitorch.callbacks import Callback
from fitorch.models import Sequential

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 2)).astype("float32")
Y = RNG.normal(size=(12, 1)).astype("float32")


def model_with(lr):
    model = Sequential([layers.Dense(1, input_dim=2)])
    model.set_weights([np.array([[0.3], [0.2]], "float32"), np.array([0.1], "float32")])
    model.compile(optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def batches(log):
    while True:  # endless: batch i of 4 rows, logged when drawn
        for i in range(3):
            log.append(i)
            yield X[4 * i : 4 * i + 4], Y[4 * i : 4 * i + 4]


class WeightsAtEpochEnd(Callback):
    def __init__(self):
        super().__init__()
        self.kernels = []

    def on_epoch_end(self, epoch, logs=None):
        self.kernels.append([w.copy() for w in self.model.get_weights()])


def _mse(weights, rows):
    kernel, bias = weights
    return float(np.mean((X[rows] @ kernel + bias - Y[rows]) ** 2))


def test_generator_validation_uses_its_first_k_batches_every_epoch():
    drawn, weights = [], WeightsAtEpochEnd()
    model = model_with(0.05)
    hist = model.fit(X, Y, batch_size=4, epochs=3, validation_data=batches(drawn),
                     validation_steps=2, callbacks=[weights], verbose=0)  # fmt: skip
    assert drawn == [0, 1]  # read once, replayed afterwards
    first_two = slice(0, 8)  # batches 0 and 1, equal sizes: the mean over their rows
    expected = [_mse(w, first_two) for w in weights.kernels]
    np.testing.assert_allclose(hist.history["val_loss"], expected, rtol=1e-5)
    assert len(set(np.round(hist.history["val_loss"], 6))) == 3  # the model moved


def test_one_shot_dataloader_iterator_seed004_pattern():
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=4)
    model = model_with(0.0)  # frozen weights: every epoch must give the same value
    hist = model.fit(X, Y, batch_size=4, epochs=3, validation_data=loader.__iter__(),
                     validation_steps=1, verbose=0)  # fmt: skip
    w = model.get_weights()
    np.testing.assert_allclose(hist.history["val_loss"], [_mse(w, slice(0, 4))] * 3, rtol=1e-5)
