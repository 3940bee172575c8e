"""EinsumDense against Keras 3 (torch backend): weight shapes, outputs on the same weights,
fans of its kernel initializer, training in `fit`, and configs."""

import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402

RNG = np.random.default_rng(0)
CASES = [  # (equation, output_shape, bias_axes, input shape)
    ("ab,bc->ac", 4, "c", (3, 5)),
    ("abc,cd->abd", (None, 6), "d", (2, 3, 5)),
    ("abc,cde->abde", (None, 2, 3), "de", (2, 4, 5)),
    ("abc,cd->abd", (3, 6), "bd", (2, 3, 5)),
    ("...b,bc->...c", 4, "c", (2, 3, 4, 5)),
    ("...ab,bc->...ac", (3, 4), "c", (2, 6, 3, 5)),
    ("ab...,bc->ac...", (4, None, None), "c", (2, 5, 3, 2)),
    ("abcd,cde->abe", (3, 7), None, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", CASES)
def test_weights_and_outputs_equal_keras(equation, output_shape, bias_axes, shape):
    kwargs = {"output_shape": output_shape, "bias_axes": bias_axes, "activation": "tanh"}
    theirs = keras.layers.EinsumDense(equation, **kwargs)
    ours = fitorch.layers.EinsumDense(equation, **kwargs)
    x = RNG.normal(size=shape).astype("float32")
    theirs(x)
    ours(torch.as_tensor(x))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    weights = [w + 0.1 for w in theirs.get_weights()]  # a nonzero bias too
    theirs.set_weights(weights)
    ours.set_weights(weights)
    want = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(ours(torch.as_tensor(x)).detach().numpy(), want, atol=1e-6)


def test_the_kernel_initializer_takes_its_fans_over_the_kernel_axes():
    layer = fitorch.layers.EinsumDense("abc,cde->abde", (None, 40, 50), bias_axes="de")
    layer(torch.ones(2, 3, 30))
    kernel = layer.get_weights()[0]  # (30, 40, 50): fan_in 30, fan_out 2000
    limit = math.sqrt(6 / (30 + 40 * 50))
    assert 0.95 * limit < np.abs(kernel).max() <= limit
    assert layer.kernel_initializer.get_config()["input_axes"] is None  # the argument is kept


def _model(lib):
    inp = lib.Input((4, 6))
    h = lib.layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")(inp)
    h = lib.layers.Reshape((4, 6))(h)
    return lib.Model(inp, lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h)))


def test_a_model_with_einsum_dense_trains_as_in_keras():
    x = RNG.normal(size=(16, 4, 6)).astype("float32")
    y = RNG.normal(size=(16, 1)).astype("float32")
    theirs, ours = _model(keras), _model(fitorch)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, fitorch)):
        model.compile(lib.optimizers.SGD(0.05), "mse")
    want = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_configs_round_trip_and_bad_equations_are_refused():
    theirs = keras.layers.EinsumDense("abc,cd->abd", (None, 6), bias_axes="d", name="proj")
    ours = fitorch.layers.deserialize(keras.layers.serialize(theirs))
    assert isinstance(ours, fitorch.layers.EinsumDense) and ours.name == "proj"
    config = ours.get_config()
    assert config["equation"] == "abc,cd->abd" and config["output_shape"] == [None, 6]
    assert fitorch.layers.EinsumDense.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="invalid equation 'ab->b'"):
        fitorch.layers.EinsumDense("ab->b", 3)
    with pytest.raises(ValueError, match="bias axis 'z' is not in the output spec"):
        fitorch.layers.EinsumDense("ab,bc->ac", 3, bias_axes="z")(torch.ones(2, 4))
