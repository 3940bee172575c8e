"""Image helpers against keras.utils (KERAS_BACKEND=torch, Pillow)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

from fitorch.preprocessing import image as image_v2
from fitorch.utils import array_to_img, img_to_array, load_img, save_img

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("scale", [True, False])
def test_array_to_img_and_back_equal_keras(channels, scale):
    x = RNG.uniform(0, 200, size=(5, 7, channels)).astype("float32")
    ours = img_to_array(array_to_img(x, scale=scale))
    ref = keras.utils.img_to_array(keras.utils.array_to_img(x, scale=scale))
    assert ours.dtype == ref.dtype and ours.shape == ref.shape == (5, 7, channels)
    np.testing.assert_array_equal(ours, ref)
    first = img_to_array(array_to_img(x, scale=scale), data_format="channels_first")
    np.testing.assert_array_equal(first, ref.transpose(2, 0, 1))


@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("keep", [False, True])
def test_save_and_load_img_equal_keras(tmp_path, color_mode, interpolation, keep):
    path = tmp_path / "a.png"
    x = RNG.integers(0, 256, size=(9, 14, 3)).astype("float32")
    save_img(path, x, scale=False)
    kw = dict(color_mode=color_mode, target_size=(6, 5), interpolation=interpolation)
    ours = img_to_array(load_img(path, keep_aspect_ratio=keep, **kw))
    ref = keras.utils.img_to_array(keras.utils.load_img(path, keep_aspect_ratio=keep, **kw))
    np.testing.assert_array_equal(ours, ref)
    np.testing.assert_array_equal(img_to_array(image_v2.load_img(path)), x)


def test_image_bad_arguments():
    with pytest.raises(ValueError, match="color_mode"):
        load_img("x.png", color_mode="cmyk")
    with pytest.raises(ValueError, match="channels"):
        array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="data_format"):
        img_to_array(array_to_img(np.zeros((2, 2, 3))), data_format="nhwc")
