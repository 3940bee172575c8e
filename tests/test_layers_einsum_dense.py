"""EinsumDense vs Keras 3: weight shapes, outputs, output shapes, config, initial scale."""

import numpy as np
import pytest
import torch

import fitorch.layers as fl
from tests._layer_oracle import check_layer, keras

CASES = [
    ("ab,bc->ac", 4, "c", (2, 3)),
    ("abc,cd->abd", (5, 4), "d", (2, 5, 3)),
    ("abc,cde->abde", (5, 2, 4), "de", (2, 5, 3)),
    ("...b,bc->...c", 4, "c", (2, 5, 6, 3)),
    ("abc,cd->abd", (None, 4), None, (2, 5, 3)),
    ("bc...,cd->bd...", (4, 7), "d", (2, 3, 7)),
    ("abcd,cde->abe", (5, 6), "be", (2, 5, 3, 4)),
    ("btd,ndh->btnh", (None, 2, 3), "nh", (2, 5, 4)),
]


@pytest.mark.parametrize("equation,output_shape,bias_axes,shape", CASES)
def test_einsum_dense_matches_keras(equation, output_shape, bias_axes, shape):
    kwargs = {"equation": equation, "output_shape": output_shape, "bias_axes": bias_axes,
              "activation": "relu"}  # fmt: skip
    ours, theirs = check_layer("EinsumDense", kwargs, [shape])
    assert tuple(ours.compute_output_shape(shape)) == tuple(theirs.compute_output_shape(shape))


def test_kernel_initial_scale_follows_the_kernel_axes_as_keras():
    ours = fl.EinsumDense("abc,cde->abde", (5, 20, 30))
    theirs = keras.layers.EinsumDense("abc,cde->abde", (5, 20, 30))
    ours(torch.zeros(2, 5, 40)), theirs(np.zeros((2, 5, 40), "float32"))
    want = np.std(theirs.get_weights()[0])  # glorot over fan_in 40, fan_out 600
    assert abs(np.std(ours.get_weights()[0]) - want) < 0.05 * want


def test_bad_equations_and_bias_axes_raise():
    with pytest.raises(ValueError, match="invalid equation"):
        fl.EinsumDense("ab->b", 3)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="bias axis 'z'"):
        fl.EinsumDense("ab,bc->ac", 3, bias_axes="z")(torch.zeros(2, 3))
