"""A functional model's inputs are standardised as Keras does: one missing trailing axis of
size 1 is added, one extra is dropped, other rank mismatches raise naming the input."""

import os

import numpy as np
import pytest

import fitorch
from fitorch import layers

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

IMAGES = np.random.default_rng(0).random((6, 4, 4)).astype("float32")


def _model(lib):
    x = lib.Input((4, 4, 1), name="img")
    return lib.Model(x, lib.layers.Dense(2)(lib.layers.Flatten()(x)))


def test_missing_trailing_axis_is_added_as_keras():
    ours, theirs = _model(fitorch), _model(keras)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(
        ours.predict(IMAGES, verbose=0), theirs.predict(IMAGES, verbose=0), atol=1e-6
    )
    ours.compile("sgd", "mse")
    history = ours.fit(IMAGES, np.zeros((6, 2)), epochs=2, verbose=0).history
    assert len(history["loss"]) == 2


def test_extra_trailing_axis_of_one_is_dropped():
    x = fitorch.Input((3,), name="v")
    model = fitorch.Model(x, layers.Dense(1, kernel_initializer="ones")(x))
    out = model.predict(np.ones((2, 3, 1), "float32"), verbose=0)
    np.testing.assert_allclose(out, [[3.0], [3.0]])


def test_other_rank_mismatch_names_the_input_and_both_shapes():
    with pytest.raises(ValueError, match=r"'img'.*\(None, 4, 4, 1\).*\(6, 16\)"):
        _model(fitorch).predict(IMAGES.reshape(6, 16), verbose=0)
