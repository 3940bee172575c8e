"""Activations by Keras name against Keras 3 (torch backend)."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import activations
from tests._layer_oracle import keras

X = np.random.default_rng(0).normal(size=(3, 4)).astype("float32") * 2

NEWER = ["celu", "glu", "hard_shrink", "soft_shrink", "sparse_plus", "sparse_sigmoid",
         "squareplus", "tanh_shrink"]  # fmt: skip


@pytest.mark.parametrize("name", NEWER)
def test_newer_keras_activations_resolve_by_name_and_match_keras(name):
    got = fitorch.layers.Activation(name)(torch.as_tensor(X))
    want = keras.ops.convert_to_numpy(keras.layers.Activation(name)(X))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    assert activations.serialize(activations.get(name)) == name


def test_threshold_and_sparsemax_are_the_ops_functions():
    x = torch.as_tensor(X)
    torch.testing.assert_close(
        activations.get("threshold")(x, 0.5, -1.0), fitorch.ops.threshold(x, 0.5, -1.0)
    )
    torch.testing.assert_close(activations.get("sparsemax")(x), fitorch.ops.sparsemax(x))
