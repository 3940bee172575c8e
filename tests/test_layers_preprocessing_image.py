"""Image preprocessing layers: deterministic ones equal Keras 3 (torch backend); random ones
have Keras's ranges and probabilities, repeat for a seed, and are the identity at inference."""

import keras
import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (4, 9, 7, 3)).astype("float32")


def _keras(layer, x, **kwargs):
    return np.asarray(layer(x, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"height": 5, "width": 4},
        {"height": 12, "width": 10, "interpolation": "nearest"},
        {"height": 4, "width": 6, "crop_to_aspect_ratio": True},
        {"height": 4, "width": 6, "pad_to_aspect_ratio": True, "fill_value": 3.0},
        {"height": 6, "width": 6, "interpolation": "bicubic"},
    ],
)
def test_resizing_equals_keras(kwargs):
    ours = layers.Resizing(**kwargs)(IMAGES).numpy()
    np.testing.assert_allclose(ours, _keras(keras.layers.Resizing(**kwargs), IMAGES), atol=1e-3)
    unbatched = layers.Resizing(**kwargs)(IMAGES[0]).numpy()
    np.testing.assert_allclose(unbatched, ours[0], atol=1e-4)


def test_resizing_channels_first_equals_keras():
    x = IMAGES.transpose(0, 3, 1, 2)
    ours = layers.Resizing(5, 3, data_format="channels_first")(x).numpy()
    ref = _keras(keras.layers.Resizing(5, 3, data_format="channels_first"), x)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


@pytest.mark.parametrize("size", [(5, 3), (9, 7), (12, 4), (3, 11)])
def test_center_crop_equals_keras(size):
    ours = layers.CenterCrop(*size)(IMAGES).numpy()
    np.testing.assert_allclose(ours, _keras(keras.layers.CenterCrop(*size), IMAGES), atol=1e-3)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_auto_contrast_equals_keras(value_range):
    lo, hi = value_range
    x = (IMAGES / 255 * 0.5 + 0.2) * (hi - lo) + lo  # a narrow band to be stretched
    x[1, :, :, 2] = lo + 0.3 * (hi - lo)  # a constant channel stays as it is
    ours = layers.AutoContrast(value_range=value_range)(x).numpy()
    ref = _keras(keras.layers.AutoContrast(value_range=value_range), x)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4 * (hi - lo))
    assert np.isclose(ours[0, :, :, 0].min(), lo) and np.isclose(ours[0, :, :, 0].max(), hi)


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1)])
def test_solarization_with_zero_factors_inverts_as_keras(value_range):
    x = IMAGES / 255 * (value_range[1] - value_range[0]) + value_range[0]
    ours = layers.Solarization(value_range=value_range)(x, training=True).numpy()
    ref = _keras(keras.layers.Solarization(value_range=value_range), x, training=True)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(layers.Solarization()(IMAGES, training=False).numpy(), IMAGES)


def test_solarization_threshold_draws():
    x = np.full((400, 1, 1, 1), 100.0, "float32")
    out = layers.Solarization(threshold_factor=(0.5, 0.5), seed=1)(x, training=True).numpy()
    # t ~ U[0.5, 127.5]: pixel 100 is inverted (155) when t <= 100, kept otherwise
    frac = (out == 155.0).mean()
    assert set(np.unique(out)) <= {100.0, 155.0} and abs(frac - 99.5 / 127) < 0.08


def _flipped(out, x, dims):
    return np.allclose(out, np.flip(x, axis=dims))


@pytest.mark.parametrize(
    "mode, dims", [("horizontal", 1), ("vertical", 0), ("horizontal_and_vertical", (0, 1))]
)
def test_random_flip_probability_and_axes(mode, dims):
    x = RNG.uniform(0, 1, (300, 4, 5, 2)).astype("float32")
    out = layers.RandomFlip(mode, seed=3)(x, training=True).numpy()
    flipped = [_flipped(o, xi, dims) for o, xi in zip(out, x)]
    kept = [np.allclose(o, xi) for o, xi in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept))  # every image: exactly one of the two
    assert abs(np.mean(flipped) - 0.5) < 0.1  # 300 draws: 3.5 standard deviations
    again = layers.RandomFlip(mode, seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(out, again)
    np.testing.assert_array_equal(layers.RandomFlip(mode)(x).numpy(), x)  # inference by default
    assert keras.layers.RandomFlip(mode).mode == mode


def test_random_brightness_range_equals_keras_and_clips():
    layer, ref = layers.RandomBrightness(0.2, seed=0), keras.layers.RandomBrightness(0.2)
    assert layer.factor == ref.factor == (-0.2, 0.2)
    x = np.full((500, 2, 2, 3), 128.0, "float32")
    delta = (layer(x, training=True).numpy() - x)[:, 0, 0, 0]
    assert delta.min() >= -51 and delta.max() <= 51 and delta.min() < -40 and delta.max() > 40
    assert abs(delta.mean()) < 5
    out = layers.RandomBrightness((0.9, 1.0))(np.full((3, 2, 2, 3), 200.0), training=True).numpy()
    assert np.all(out == 255.0)  # clipped to value_range
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_random_contrast_factor_follows_keras():
    layer, ref = layers.RandomContrast(0.3, seed=0), keras.layers.RandomContrast(0.3)
    assert layer.factor == tuple(ref.factor) == (0.0, 0.3)  # Keras 3: c in [1, 1.3]
    x = np.stack([np.linspace(100, 140, 12, dtype="float32").reshape(2, 2, 3)] * 400)
    out = layer(x, training=True).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = ((out - mean) / (x - mean))[:, 0, 0, 0]
    assert c.min() >= 1.0 - 1e-5 and c.max() <= 1.3 + 1e-5 and c.max() - c.min() > 0.25
    out = layers.RandomContrast((0.5, 0.5), seed=0)(x, training=True).numpy()
    c = ((out - mean) / (x - mean))[:, 0, 0, 0]
    assert c.min() >= 0.5 - 1e-5 and c.min() < 0.6 and c.max() > 1.4
    np.testing.assert_array_equal(layer(x).numpy(), x)
    with pytest.raises(ValueError, match="RandomContrast factor"):
        layers.RandomContrast(1.5)


def test_random_crop_windows_and_inference_equal_keras():
    x = np.arange(2 * 6 * 5 * 1, dtype="float32").reshape(2, 6, 5, 1)
    layer = layers.RandomCrop(3, 2, seed=4)
    offsets = set()
    for _ in range(200):
        out = layer(x, training=True).numpy()
        top, left = divmod(int(out[0, 0, 0, 0]), 5)
        np.testing.assert_array_equal(out, x[:, top : top + 3, left : left + 2])
        offsets.add((top, left))
    assert offsets == {(t, w) for t in range(4) for w in range(4)}
    np.testing.assert_array_equal(
        layer(x, training=False).numpy(), _keras(keras.layers.RandomCrop(3, 2), x, training=False)
    )
    small = layers.RandomCrop(8, 8)(x, training=True).numpy()  # not larger: crop + resize as Keras
    np.testing.assert_allclose(
        small, _keras(keras.layers.RandomCrop(8, 8), x, training=True), atol=1e-4
    )


def test_random_grayscale_equals_keras_at_factor_one():
    ours = layers.RandomGrayscale(1.0)(IMAGES, training=True).numpy()
    ref = _keras(keras.layers.RandomGrayscale(1.0), IMAGES, training=True)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-3)
    many = RNG.uniform(0, 255, (300, 2, 2, 3)).astype("float32")
    out = layers.RandomGrayscale(0.25, seed=2)(many, training=True).numpy()
    gray = np.isclose(out[..., 0], out[..., 1]).all(axis=(1, 2))
    assert abs(gray.mean() - 0.25) < 0.09
    np.testing.assert_array_equal(layers.RandomGrayscale(1.0)(IMAGES).numpy(), IMAGES)


def test_augmentation_in_a_model_is_off_at_predict_and_round_trips(tmp_path):
    augment = [layers.RandomFlip("horizontal", seed=1), layers.RandomBrightness(0.1, seed=2),
               layers.RandomContrast(0.2, seed=3), layers.RandomGrayscale(0.5, seed=4)]  # fmt: skip
    model = fitorch.Sequential([fitorch.Input((9, 7, 3)), *augment, layers.CenterCrop(6, 6),
                                layers.Resizing(4, 4), layers.AutoContrast()])  # fmt: skip
    plain = fitorch.Sequential([fitorch.Input((9, 7, 3)), layers.CenterCrop(6, 6),
                                layers.Resizing(4, 4), layers.AutoContrast()])  # fmt: skip
    np.testing.assert_allclose(
        model.predict(IMAGES, verbose=0), plain.predict(IMAGES, verbose=0), atol=1e-5
    )
    trained = model(torch.as_tensor(IMAGES), training=True).detach().numpy()
    assert not np.allclose(trained, plain.predict(IMAGES, verbose=0))
    model.save(tmp_path / "aug.keras")
    loaded = fitorch.models.load_model(tmp_path / "aug.keras")
    assert [type(lyr).__name__ for lyr in loaded.layers] == [
        type(lyr).__name__ for lyr in model.layers
    ]
    np.testing.assert_allclose(
        loaded.predict(IMAGES, verbose=0), plain.predict(IMAGES, verbose=0), atol=1e-5
    )
    for layer in model.layers:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
