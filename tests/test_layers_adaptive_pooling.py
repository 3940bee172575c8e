"""Adaptive pooling layers against Keras 3 (torch backend): outputs, shapes in a functional
model, and configs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402

RNG = np.random.default_rng(0)
CASES = [  # (layer, output_size, data_format, input shape)
    ("AdaptiveAveragePooling1D", 3, None, (2, 10, 4)),
    ("AdaptiveMaxPooling1D", 4, "channels_first", (2, 3, 9)),
    ("AdaptiveAveragePooling2D", (2, 3), None, (2, 7, 8, 3)),
    ("AdaptiveMaxPooling2D", 3, None, (2, 7, 5, 2)),
    ("AdaptiveAveragePooling2D", 2, "channels_first", (2, 3, 5, 5)),
    ("AdaptiveAveragePooling3D", (2, 2, 3), None, (1, 5, 4, 7, 2)),
    ("AdaptiveMaxPooling3D", 2, "channels_first", (1, 2, 5, 3, 4)),
]


@pytest.mark.parametrize("name, size, data_format, shape", CASES)
def test_outputs_equal_keras(name, size, data_format, shape):
    x = RNG.normal(size=shape).astype("float32")
    want = getattr(keras.layers, name)(size, data_format=data_format)(x)
    got = getattr(fitorch.layers, name)(size, data_format=data_format)(torch.as_tensor(x))
    np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(want), rtol=1e-6)


def test_any_image_size_gives_the_same_map_in_a_functional_model():
    inp = fitorch.Input((None, None, 3))
    model = fitorch.Model(inp, fitorch.layers.AdaptiveAveragePooling2D((4, 4))(inp))
    assert model.output_shape == (None, 4, 4, 3)
    for size in ((9, 11), (16, 16)):
        assert tuple(model(torch.ones(2, *size, 3)).shape) == (2, 4, 4, 3)


def test_config_matches_keras_and_bad_input_is_refused():
    theirs = keras.layers.AdaptiveMaxPooling2D((2, 3), name="pool")
    ours = fitorch.layers.deserialize(keras.layers.serialize(theirs))
    assert isinstance(ours, fitorch.layers.AdaptiveMaxPooling2D)
    assert ours.get_config() == {**theirs.get_config(), "dtype": ours.get_config()["dtype"]}
    with pytest.raises(ValueError, match="output_size"):
        fitorch.layers.AdaptiveAveragePooling2D((2, 3, 4))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        fitorch.layers.AdaptiveAveragePooling2D(2)(torch.ones(2, 5, 3))
