"""Reshaping, activation and noise/dropout layers vs Keras 3 (torch backend) and formulas."""

import math

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import check_layer, keras

CASES = [
    ("Permute", {"dims": (2, 1)}, [(3, 4, 5)]),
    ("Permute", {"dims": (3, 1, 2)}, [(3, 4, 5, 2)]),
    ("RepeatVector", {"n": 3}, [(2, 4)]),
    ("UpSampling1D", {"size": 3}, [(2, 4, 3)]),
    ("UpSampling2D", {"size": (2, 3)}, [(2, 3, 4, 2)]),
    ("UpSampling2D", {"size": 2, "data_format": "channels_first"}, [(2, 2, 3, 4)]),
    ("UpSampling2D", {"size": 2, "interpolation": "bilinear"}, [(2, 3, 4, 2)]),
    ("UpSampling3D", {"size": (1, 2, 2)}, [(2, 2, 3, 2, 2)]),
    ("ZeroPadding1D", {"padding": (1, 2)}, [(2, 4, 3)]),
    ("ZeroPadding2D", {"padding": 1}, [(2, 3, 4, 2)]),
    ("ZeroPadding2D", {"padding": ((1, 0), (2, 3))}, [(2, 3, 4, 2)]),
    ("ZeroPadding2D", {"padding": (1, 2), "data_format": "channels_first"}, [(2, 2, 3, 4)]),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}, [(2, 2, 3, 2, 2)]),
    ("Cropping1D", {"cropping": (1, 2)}, [(2, 6, 3)]),
    ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, [(2, 5, 6, 2)]),
    ("Cropping2D", {"cropping": 1, "data_format": "channels_first"}, [(2, 2, 5, 6)]),
    ("Cropping3D", {"cropping": (1, 0, 1)}, [(2, 4, 3, 4, 2)]),
    ("ReLU", {}, [(3, 5)]),
    ("ReLU", {"max_value": 0.5, "negative_slope": 0.1, "threshold": 0.2}, [(3, 5)]),
    ("LeakyReLU", {}, [(3, 5)]),
    ("LeakyReLU", {"negative_slope": 0.05}, [(3, 5)]),
    ("PReLU", {"alpha_initializer": "ones"}, [(3, 4, 5)]),
    ("PReLU", {"shared_axes": [1]}, [(3, 4, 5)]),
    ("ELU", {"alpha": 0.7}, [(3, 5)]),
    ("Softmax", {}, [(3, 5)]),
    ("Softmax", {"axis": 1}, [(3, 4, 5)]),
    ("Softmax", {"axis": [1, 2]}, [(3, 4, 5)]),
    ("SpatialDropout1D", {"rate": 0.3}, [(3, 4, 5)]),
    ("SpatialDropout2D", {"rate": 0.3}, [(3, 4, 5, 2)]),
    ("GaussianNoise", {"stddev": 0.3}, [(3, 5)]),
    ("GaussianDropout", {"rate": 0.3}, [(3, 5)]),
    ("AlphaDropout", {"rate": 0.3}, [(3, 5)]),
    ("ActivityRegularization", {"l1": 0.1, "l2": 0.2}, [(3, 5)]),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", CASES)
def test_matches_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes)


def test_prelu_weights_are_trained_values():
    x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype("float32")
    theirs = keras.layers.PReLU()
    theirs(x)
    alpha = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    theirs.set_weights([alpha])
    ours = fl.PReLU()
    ours(torch.as_tensor(x))
    ours.set_weights([alpha])
    np.testing.assert_allclose(
        ours(torch.as_tensor(x)).detach().numpy(), theirs(x).detach().numpy(), rtol=1e-6
    )


def test_softmax_mask_matches_keras():
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    mask = np.array([[True, False, True, True], [False, False, False, False]])
    expected = keras.layers.Softmax()(x, mask=mask).numpy()
    got = fl.Softmax()(torch.as_tensor(x), mask=torch.as_tensor(mask)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[1].tolist() == [0.0] * 4


@pytest.mark.parametrize(
    "layer",
    [
        fl.SpatialDropout2D(0.4),
        fl.GaussianDropout(0.4),
        fl.GaussianNoise(0.4),
    ],
)
def test_noise_statistics_in_training(layer):
    torch.manual_seed(0)
    x = (
        torch.ones(4000, 2, 2, 8)
        if isinstance(layer, fl.SpatialDropout2D)
        else torch.ones(200, 1000)
    )
    y = layer(x, training=True)
    assert abs(y.mean().item() - 1.0) < 0.05  # every variant keeps the mean of its input
    if isinstance(layer, fl.SpatialDropout2D):  # one draw per (sample, channel)
        assert torch.all(y.amax(dim=(1, 2)) == y.amin(dim=(1, 2)))
        assert abs((y[:, 0, 0] == 0).float().mean().item() - 0.4) < 0.02
    if isinstance(layer, fl.GaussianDropout):
        assert abs(y.std().item() - math.sqrt(0.4 / 0.6)) < 0.02
    torch.testing.assert_close(layer(x, training=False), x)


def test_alpha_dropout_keeps_selu_statistics():
    torch.manual_seed(0)
    x = torch.selu(torch.randn(400, 1000))
    y = fl.AlphaDropout(0.2)(x, training=True)
    assert abs(y.mean().item()) < 0.02 and abs(y.std().item() - 1.0) < 0.02


def test_activity_regularization_loss_in_fit():
    model = fitorch.Sequential([fitorch.Input(shape=(3,)), fl.ActivityRegularization(l1=0.5)])
    model.compile("sgd", "mse")
    x = np.full((4, 3), 2.0, "float32")
    loss = model.evaluate(x, x, verbose=0)
    assert loss == pytest.approx(0.5 * 2.0 * 3)  # mse 0 + l1 * sum|x| per sample


@pytest.mark.parametrize(
    "make,shape,match",
    [
        (lambda: fl.Cropping2D(3), (5, 6, 2), "removes every cell"),
        (lambda: fl.Permute((2, 1)), (4, 5, 6), "rank 3"),
        (lambda: fl.RepeatVector(2), (4, 5), "rank 2"),
        (lambda: fl.PReLU(shared_axes=[3]), (4, 5), "shared_axes"),
    ],
)
def test_bad_shapes_raise_at_build(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(fitorch.Input(shape=shape))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: fl.Permute((1, 3)), "permutation"),
        (lambda: fl.ZeroPadding2D(((1, 2, 3), (1, 1))), "padding must be"),
        (lambda: fl.UpSampling2D(interpolation="area"), "interpolation must be one of"),
        (lambda: fl.LeakyReLU(-1.0), "negative_slope must be >= 0"),
        (lambda: fl.GaussianDropout(1.0), r"rate must be in \[0, 1\)"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


EXTRA_CASES = [
    ("Identity", {}, [(3, 5)]),
    ("Rescaling", {"scale": 1 / 255.0, "offset": -0.5}, [(3, 4, 4, 2)]),
    ("Normalization", {"mean": [1.0, 2.0], "variance": [4.0, 9.0]}, [(3, 2)]),
    ("Normalization", {"mean": 0.5, "variance": 2.0, "invert": True}, [(3, 4)]),
    ("RMSNormalization", {}, [(3, 5)]),
    ("RMSNormalization", {"axis": [1, 2], "epsilon": 1e-3}, [(3, 4, 5)]),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", EXTRA_CASES)
def test_extra_layers_match_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes)


def test_normalization_adapt_matches_keras():
    data = np.random.default_rng(3).normal(2.0, 3.0, size=(50, 4, 3)).astype("float32")
    theirs, ours = keras.layers.Normalization(), fl.Normalization()
    theirs.adapt(data)
    ours.adapt(data)
    for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):  # mean, variance
        np.testing.assert_allclose(a, b, rtol=1e-5)
    assert ours.get_weights()[2] == 200  # samples seen (Keras 3.15 leaves its count at 0)
    x = data[:5]
    np.testing.assert_allclose(
        ours(torch.as_tensor(x)).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-6
    )
    batches = [data[i : i + 7] for i in range(0, 50, 7)]
    again = fl.Normalization(axis=(1, 2))
    again.adapt(iter(batches))
    np.testing.assert_allclose(again.get_weights()[0], data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(again.get_weights()[1], data.var(0), rtol=1e-4)


def test_keras_long_spellings():
    assert fl.Convolution2D is fl.Conv2D and fl.SeparableConvolution2D is fl.SeparableConv2D
    assert fl.Convolution3DTranspose is fl.Conv3DTranspose
