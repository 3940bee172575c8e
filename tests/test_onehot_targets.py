"""Boolean and integer one-hot targets: accuracy metrics and crossentropy losses cast them as
Keras does, so they give the float targets' values (Keras 3 as the oracle)."""

import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers, losses, metrics

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

Y = np.eye(3)[[0, 2, 1, 1]]
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]], "float32")


@pytest.mark.parametrize("dtype", [bool, np.int64, np.int32, np.float32])
@pytest.mark.parametrize(
    "name", ["categorical_accuracy", "top_k_categorical_accuracy", "binary_accuracy"]
)
def test_accuracy_functions_accept_one_hot_of_any_dtype(name, dtype):
    y = Y.astype(dtype)
    kwargs = {"k": 1} if name.startswith("top_k") else {}
    got = getattr(metrics, name)(torch.from_numpy(y), torch.from_numpy(P), **kwargs)
    want = getattr(keras.metrics, name)(Y.astype("float32"), P, **kwargs)
    np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(want))


@pytest.mark.parametrize("dtype", [bool, np.int64])
@pytest.mark.parametrize(
    "name", ["categorical_crossentropy", "binary_crossentropy", "categorical_focal_crossentropy"]
)
def test_crossentropy_losses_accept_one_hot_of_any_dtype(name, dtype):
    got = getattr(losses, name)(torch.from_numpy(Y.astype(dtype)), torch.from_numpy(P))
    want = getattr(keras.losses, name)(Y.astype("float32"), P)
    np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(want), rtol=1e-5)


def test_fit_with_boolean_one_hot_targets_and_accuracy():
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = np.eye(3, dtype=bool)[[0, 1, 2, 0, 1, 2, 0, 1]]
    model = fitorch.Sequential([layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    probs = model.predict(x, verbose=0)
    assert acc == pytest.approx(np.mean(probs.argmax(-1) == y.argmax(-1)))
    expected = -np.mean(np.log(np.clip(probs[y], 1e-7, 1)))
    assert loss == pytest.approx(expected, rel=1e-5)
