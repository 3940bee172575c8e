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


UNIT = RNG.uniform(0, 1, (3, 9, 7, 3)).astype("float32")
WARPS = [  # (name, kwargs making the draw deterministic)
    ("RandomRotation", {"factor": (0.25, 0.25)}),  # exactly 90 degrees
    ("RandomRotation", {"factor": (0.1, 0.1), "fill_mode": "constant", "fill_value": 0.5}),
    ("RandomRotation", {"factor": (-0.05, -0.05), "interpolation": "nearest", "fill_mode": "wrap"}),
    ("RandomZoom", {"height_factor": (0.3, 0.3)}),
    (
        "RandomZoom",
        {"height_factor": (-0.4, -0.4), "width_factor": (0.2, 0.2), "fill_mode": "nearest"},
    ),  # fmt: skip
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.3, -0.3)}),
    (
        "RandomTranslation",
        {
            "height_factor": (0.15, 0.15),
            "width_factor": (0.1, 0.1),
            "fill_mode": "constant",
            "interpolation": "nearest",
        },
    ),  # fmt: skip
]


@pytest.mark.parametrize(("name", "kwargs"), WARPS)
def test_affine_warps_equal_keras_for_a_fixed_draw(name, kwargs):
    ours = getattr(layers, name)(**kwargs)(UNIT, training=True).numpy()
    ref = _keras(getattr(keras.layers, name)(**kwargs), UNIT, training=True)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    one = getattr(layers, name)(**kwargs)(UNIT[0], training=True).numpy()  # unbatched
    np.testing.assert_allclose(one, ref[0], atol=1e-4)


def test_affine_warps_channels_first_equal_keras():
    x = UNIT.transpose(0, 3, 1, 2)
    for name, kwargs in WARPS[:1] + WARPS[3:4] + WARPS[5:6]:
        ours = getattr(layers, name)(**kwargs, data_format="channels_first")(x, training=True)
        ref = getattr(keras.layers, name)(**kwargs, data_format="channels_first")
        np.testing.assert_allclose(ours.numpy(), _keras(ref, x, training=True), atol=1e-4)


def test_rotation_by_a_quarter_turn_is_rot90():
    x = RNG.uniform(0, 1, (2, 5, 5, 1)).astype("float32")
    out = layers.RandomRotation((0.25, 0.25))(x, training=True).numpy()
    np.testing.assert_allclose(out, np.rot90(x, k=1, axes=(1, 2)), atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "ref"),
    [
        (lambda: layers.RandomRotation(0.2, seed=5), lambda: keras.layers.RandomRotation(0.2)),
        (
            lambda: layers.RandomZoom(0.3, (-0.2, 0.4), seed=5),
            lambda: keras.layers.RandomZoom(0.3, (-0.2, 0.4)),
        ),  # fmt: skip
        (
            lambda: layers.RandomTranslation(0.1, (0.2, -0.3), seed=5),
            lambda: keras.layers.RandomTranslation(0.1, (0.2, -0.3)),
        ),  # fmt: skip
    ],
)
def test_affine_warps_identity_at_inference_and_config_round_trip(layer, ref, tmp_path):
    lyr = layer()
    np.testing.assert_array_equal(lyr(UNIT).numpy(), UNIT)
    np.testing.assert_array_equal(lyr(UNIT, training=False).numpy(), UNIT)
    model = fitorch.Sequential([fitorch.Input((9, 7, 3)), lyr])
    np.testing.assert_allclose(model.predict(UNIT, verbose=0), UNIT, atol=0)
    assert not np.allclose(lyr(UNIT, training=True).numpy(), UNIT)
    config = lyr.get_config()
    clone = type(lyr).from_config(config)
    assert clone.get_config() == config
    keras_config = ref().get_config()
    for key in ("fill_mode", "interpolation", "fill_value", "seed", "data_format"):
        assert key in config and key in keras_config
    for key in ("factor", "height_factor", "width_factor"):
        if key in keras_config:
            got = config[key] if config[key] is None else tuple(config[key])
            want = keras_config[key]
            want = sorted(want) if isinstance(want, (tuple, list)) else (-want, want)
            assert got == tuple(want)


def _angles(out, x):
    """Rotation angle (degrees) of each image, from where the bright centre-right dot moved."""
    ys, xs = np.unravel_index(out[..., 0].reshape(len(out), -1).argmax(axis=1), out.shape[1:3])
    c = (x.shape[1] - 1) / 2
    return np.degrees(np.arctan2(-(ys - c), xs - c))


def test_random_draws_within_range_and_repeat_for_a_seed():
    x = np.zeros((300, 21, 21, 1), "float32")
    x[:, 10, 18] = 1.0  # 8 pixels right of the centre
    angles = _angles(layers.RandomRotation(0.1, fill_mode="constant", seed=3)(
        x, training=True).numpy(), x)  # fmt: skip
    assert angles.min() >= -36 - 8 and angles.max() <= 36 + 8  # +-0.1 turn, pixel rounding
    assert angles.min() < -25 and angles.max() > 25 and abs(angles.mean()) < 5
    for make in (lambda: layers.RandomRotation(0.2, seed=7),
                 lambda: layers.RandomZoom(0.3, seed=7),
                 lambda: layers.RandomTranslation(0.2, 0.2, seed=7)):  # fmt: skip
        a, b = make()(UNIT, training=True).numpy(), make()(UNIT, training=True).numpy()
        np.testing.assert_array_equal(a, b)
    x = np.zeros((300, 11, 11, 1), "float32")
    x[:, 5, 5] = 1.0
    shift = layers.RandomTranslation(
        (0.0, 0.3), (-0.2, 0.0), fill_mode="constant", interpolation="nearest", seed=1
    )
    out = shift(x, training=True).numpy()
    ys, xs = np.unravel_index(out[..., 0].reshape(300, -1).argmax(axis=1), (11, 11))
    assert ys.min() >= 5 and ys.max() <= 5 + 4 and xs.min() >= 5 - 3 and xs.max() <= 5
    assert ys.max() >= 8 and xs.min() <= 3
    x = np.ones((300, 21, 21, 1), "float32")
    out = layers.RandomZoom((0.0, 0.5), fill_mode="constant", interpolation="nearest",
                            seed=2)(x, training=True).numpy()  # fmt: skip
    width = out[:, 10, :, 0].sum(axis=1)  # zoom out by z: the image covers about 21 / z columns
    assert width.min() >= 21 / 1.5 - 2 and width.max() == 21 and width.min() < 16


def test_affine_warp_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="RandomRotation factor"):
        layers.RandomRotation(1.5)
    with pytest.raises(ValueError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="interpolation"):
        layers.RandomZoom(0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match="height_factor"):
        layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="width_factor"):
        layers.RandomZoom(0.1, (0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="width_factor"):
        layers.RandomTranslation(0.1, 1.5)
    with pytest.raises(ValueError, match="height_factor"):
        layers.RandomTranslation("a", 0.1)
