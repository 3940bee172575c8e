"""Normalization layers vs Keras 3: outputs in training and inference, moving statistics,
trainable=False inference mode, config round trip, errors."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import check_layer, keras

CASES = [
    ("BatchNormalization", {}, [(8, 3)]),
    ("BatchNormalization", {"momentum": 0.9, "epsilon": 1e-5}, [(6, 4, 5, 3)]),
    ("BatchNormalization", {"axis": 1}, [(6, 3, 4, 5)]),
    ("BatchNormalization", {"axis": 2, "center": False}, [(6, 4, 5, 3)]),
    ("BatchNormalization", {"scale": False, "momentum": 0.5}, [(5, 7, 2)]),
    ("LayerNormalization", {}, [(4, 6)]),
    ("LayerNormalization", {"axis": [1, 2]}, [(4, 3, 5)]),
    ("LayerNormalization", {"center": False, "scale": False}, [(4, 3, 5)]),
    ("LayerNormalization", {"rms_scaling": True}, [(4, 3, 5)]),
    ("GroupNormalization", {"groups": 2}, [(4, 5, 6)]),
    ("GroupNormalization", {"groups": 3, "axis": 1}, [(4, 6, 3, 2)]),
    ("GroupNormalization", {"groups": -1}, [(4, 4)]),
    ("UnitNormalization", {}, [(4, 6)]),
    ("UnitNormalization", {"axis": [1, 2]}, [(4, 3, 5)]),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", CASES)
def test_matches_keras_training_and_inference(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes, training=(True, False, True))


def test_layernorm_middle_axis_formula():
    # Keras 3.15 on torch fails on a non-trailing axis, so this one is checked by formula.
    x = np.random.default_rng(0).normal(size=(4, 3, 5))
    layer = fl.LayerNormalization(axis=1, epsilon=1e-6, dtype="float64")
    layer(torch.as_tensor(x))
    gamma = np.arange(1.0, 4.0)
    layer.set_weights([gamma, np.full(3, 0.5)])
    mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-6) * gamma[:, None] + 0.5
    np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), expected, rtol=1e-10)


def test_batchnorm_moving_stats_formula():
    layer = fl.BatchNormalization(momentum=0.8)
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    layer(x, training=True)
    mean, var = np.array([2.0, 4.0]), np.array([1.0, 4.0])  # biased variance
    np.testing.assert_allclose(layer.get_weights()[2], 0.2 * mean, rtol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[3], 0.8 + 0.2 * var, rtol=1e-6)
    layer(x, training=False)  # inference leaves the statistics alone
    np.testing.assert_allclose(layer.get_weights()[2], 0.2 * mean, rtol=1e-6)


def test_batchnorm_not_trainable_runs_in_inference_mode_like_keras():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(16, 3)).astype("float32")
    ours, theirs = fl.BatchNormalization(), keras.layers.BatchNormalization()
    ours(torch.as_tensor(x), training=False)
    theirs(x, training=False)
    ours.trainable = theirs.trainable = False
    got = ours(torch.as_tensor(x), training=True)
    expected = theirs(x, training=True)
    np.testing.assert_allclose(
        got.detach().numpy(), keras.ops.convert_to_numpy(expected), rtol=1e-5
    )
    np.testing.assert_allclose(ours.get_weights()[2], np.zeros(3))
    assert len(ours.trainable_weights) == 0 and len(ours.non_trainable_weights) == 4


def test_batchnorm_in_fit_updates_stats_and_summary_counts_match_keras():
    def build(lib):
        return lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(3),
                               lib.layers.BatchNormalization(), lib.layers.Dense(1)])  # fmt: skip

    ours, theirs = build(fitorch), build(keras)
    assert ours.count_params() == theirs.count_params() == 31
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = x[:, :1]
    ours.compile(optimizer=fitorch.optimizers.SGD(0.05), loss="mse")
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-6
    )


def test_batchnorm_gradcheck_float64():
    layer = fl.BatchNormalization(dtype="float64")
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    layer(x)
    assert torch.autograd.gradcheck(lambda v: layer(v, training=True), (x,))


@pytest.mark.parametrize(
    "make,shape,match",
    [
        (lambda: fl.BatchNormalization(axis=3), (4, 5), "axis=3 is out of bounds"),
        (lambda: fl.LayerNormalization(axis=0), (4,), "batch axis"),
        (lambda: fl.GroupNormalization(groups=4), (6,), "divisible by groups=4"),
    ],
)
def test_bad_axes_raise_at_build(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(fitorch.Input(shape=shape))


def test_bad_momentum():
    with pytest.raises(ValueError, match="momentum must be in"):
        fl.BatchNormalization(momentum=1.5)


def test_batchnorm_masked_moments_match_keras():
    ids = np.array([[3, 5, 0, 0], [1, 2, 3, 4], [7, 0, 0, 0]])
    ours_emb, theirs_emb = (
        fl.Embedding(10, 3, mask_zero=True),
        keras.layers.Embedding(10, 3, mask_zero=True),
    )
    theirs_emb(ids)
    ours_emb(torch.as_tensor(ids))
    ours_emb.set_weights(theirs_emb.get_weights())
    ours, theirs = (
        fl.BatchNormalization(momentum=0.5),
        keras.layers.BatchNormalization(momentum=0.5),
    )
    expected = theirs(theirs_emb(ids), training=True)
    got = ours(ours_emb(torch.as_tensor(ids)), training=True)
    np.testing.assert_allclose(
        got.detach().numpy(), keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-5
    )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
