"""Transposed, depthwise and separable convolutions vs Keras 3 (torch backend)."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from fitorch.layers.conv_variants import _transpose_window
from tests._layer_oracle import check_layer

CASES = [
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3}, [(2, 5, 4)]),
    (
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"},
        [(2, 5, 4)],
    ),
    (
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
        [(2, 5, 4)],
    ),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 2, "strides": 3}, [(2, 5, 4)]),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3}, [(2, 5, 4, 3)]),
    (
        "Conv2DTranspose",
        {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
        [(2, 5, 4, 3)],
    ),
    (
        "Conv2DTranspose",
        {"filters": 4, "kernel_size": (2, 3), "strides": (2, 1), "activation": "relu"},
        [(2, 5, 4, 3)],
    ),
    (
        "Conv2DTranspose",
        {"filters": 4, "kernel_size": 3, "strides": 2, "output_padding": 1},
        [(2, 5, 4, 3)],
    ),
    (
        "Conv2DTranspose",
        {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
        [(2, 5, 4, 3)],
    ),
    (
        "Conv2DTranspose",
        {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
        [(2, 3, 5, 4)],
    ),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, [(2, 3, 2, 3, 2)]),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, [(2, 7, 3)]),
    ("DepthwiseConv2D", {"kernel_size": 3}, [(2, 6, 5, 3)]),
    (
        "DepthwiseConv2D",
        {"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same"},
        [(2, 6, 5, 3)],
    ),
    (
        "DepthwiseConv2D",
        {"kernel_size": 2, "data_format": "channels_first", "use_bias": False},
        [(2, 3, 5, 4)],
    ),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 3}, [(2, 7, 3)]),
    ("SeparableConv2D", {"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, [(2, 6, 5, 3)]),
    (
        "SeparableConv2D",
        {"filters": 4, "kernel_size": 3, "padding": "same", "strides": 2, "activation": "relu"},
        [(2, 6, 5, 3)],
    ),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", CASES)
def test_matches_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes)


@pytest.mark.parametrize(
    "n,k,s,padding,output_padding,expected",
    [
        (5, 3, 2, "valid", None, 11),  # (n-1)*s + max(k, s)
        (5, 2, 3, "valid", None, 15),
        (5, 3, 2, "same", None, 10),  # n * s
        (5, 3, 2, "valid", 1, 12),  # (n-1)*s + k + output_padding
        (5, 3, 2, "same", 1, 10),  # (n-1)*s + k - 2*(k//2) + output_padding
        (5, 4, 2, "same", 0, 8),
    ],
)
def test_transpose_output_length_formula(n, k, s, padding, output_padding, expected):
    left, right = _transpose_window(n, k, s, 1, padding, output_padding)
    assert (n - 1) * s + 1 + left + right - k + 1 == expected
    layer = fl.Conv1DTranspose(2, k, strides=s, padding=padding, output_padding=output_padding)
    assert layer(torch.zeros(1, n, 3)).shape == (1, expected, 2)


def test_depthwise_output_channel_order_is_channel_major():
    layer = fl.DepthwiseConv1D(1, depth_multiplier=2, use_bias=False)
    layer(torch.zeros(1, 3, 2))
    layer.set_weights([np.array([[[1.0, 10.0], [100.0, 1000.0]]], "float32")])  # (k, in, mult)
    out = layer(torch.tensor([[[1.0, 2.0]]]))
    np.testing.assert_allclose(out.detach().numpy().ravel(), [1.0, 10.0, 200.0, 2000.0])


def test_transpose_gradcheck_float64():
    layer = fl.Conv2DTranspose(2, 3, strides=2, padding="same", dtype="float64")
    x = torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    layer(x)
    assert torch.autograd.gradcheck(lambda v: layer(v), (x,))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: fl.Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
        (lambda: fl.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
        (lambda: fl.SeparableConv2D(0, 3), "filters must be a positive integer"),
        (lambda: fl.DepthwiseConv2D(3, padding="causal"), "padding must be one of"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_depthwise_kernel_larger_than_input_raises_at_build():
    with pytest.raises(ValueError, match="larger than the input"):
        fl.DepthwiseConv2D(5)(fitorch.Input(shape=(3, 3, 2)))
