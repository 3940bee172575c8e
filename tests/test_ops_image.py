"""fitorch.ops.image against keras.ops.image (Keras 3, torch backend)."""

import inspect

import keras
import numpy as np
import pytest
import torch

from fitorch.ops import image as oi
from tests._opsnn_oracle import agree, missing, rand

ki = keras.ops.image


def pixels(*shape, dtype="float32", seed=0):
    return rand(*shape, dtype=dtype, seed=seed, low=0.0, high=1.0)


COLOUR_CASES = [((2, 5, 6, 3), "channels_last"), ((3, 5, 6), "channels_first"),
                ((5, 6, 3), "channels_last")]  # fmt: skip


@pytest.mark.parametrize("shape,fmt", COLOUR_CASES)
def test_colour_spaces_match_keras(shape, fmt):
    x = pixels(*shape)
    agree(oi.rgb_to_grayscale, ki.rgb_to_grayscale, x, data_format=fmt, grad=True)
    agree(oi.rgb_to_hsv, ki.rgb_to_hsv, x, data_format=fmt, atol=1e-6)
    agree(oi.hsv_to_rgb, ki.hsv_to_rgb, x, data_format=fmt, grad=True, atol=1e-6)


def test_hsv_round_trip_and_known_colours():
    rgb = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5]]])
    hsv = oi.rgb_to_hsv(rgb)
    assert torch.allclose(hsv, torch.tensor([[[0.0, 1, 1], [1 / 3, 1, 1], [0.0, 0, 0.5]]]))
    assert torch.allclose(oi.hsv_to_rgb(hsv), rgb, atol=1e-6)
    with pytest.raises(ValueError, match="float"):
        oi.rgb_to_hsv(torch.ones(2, 2, 3, dtype=torch.int32))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("size", [(4, 9), (10, 3)])
def test_resize_matches_keras(interpolation, size):
    x = pixels(2, 6, 7, 3)
    agree(oi.resize, ki.resize, x, size, interpolation=interpolation, grad=True, atol=1e-5)
    agree(oi.resize, ki.resize, x[0], size, interpolation=interpolation, atol=1e-5)


@pytest.mark.parametrize("kw", [
    {"antialias": True}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True},
    {"pad_to_aspect_ratio": True, "fill_value": 0.5}, {"data_format": "channels_first"},
])  # fmt: skip
def test_resize_options_match_keras(kw):
    x = pixels(2, 6, 9, 3) if kw.get("data_format") is None else pixels(2, 3, 6, 9)
    agree(oi.resize, ki.resize, x, (4, 4), atol=1e-5, **kw)
    agree(oi.resize, ki.resize, x, (8, 3), atol=1e-5, **kw)


def test_resize_integer_images_match_keras():
    x = rand(1, 5, 5, 2, dtype="uint8", low=0, high=255)
    for interpolation in ("bilinear", "nearest", "bicubic"):
        agree(oi.resize, ki.resize, x, (7, 3), interpolation=interpolation)


def test_resize_errors():
    with pytest.raises(ValueError, match="interpolation"):
        oi.resize(torch.ones(4, 4, 1), (2, 2), interpolation="lanczos3")
    with pytest.raises(ValueError, match="size"):
        oi.resize(torch.ones(4, 4, 1), (2, 2, 2))


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("fill_mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
def test_map_coordinates_matches_keras(order, fill_mode):
    x = rand(5, 6, dtype="float64")
    coords = rand(2, 4, 3, dtype="float64", seed=1, low=-4.0, high=9.0)
    agree(oi.map_coordinates, ki.map_coordinates, x, coords, order, fill_mode=fill_mode,
          fill_value=-1.0, grad=True)  # fmt: skip


def test_map_coordinates_by_hand():
    x = torch.tensor([0.0, 10.0, 20.0])
    assert oi.map_coordinates(x, [torch.tensor([0.5, 1.25, 3.0])], 1).tolist() == [5.0, 12.5, 0.0]
    ints = oi.map_coordinates(torch.tensor([0, 10]), [torch.tensor([0.5])], 1)
    assert ints.dtype == torch.int64 and ints.tolist() == [5]
    with pytest.raises(ValueError, match="one entry per dim"):
        oi.map_coordinates(torch.ones(3, 3), [torch.zeros(2)], 1)


TRANSFORMS = [
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],  # identity
    [1.0, 0.0, 1.5, 0.0, 1.0, -2.0, 0.0, 0.0],  # translation
    [0.8, -0.3, 1.0, 0.3, 0.8, -0.5, 0.0, 0.0],  # rotation + scale
]


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill_mode", ["constant", "reflect", "wrap", "nearest", "mirror"])
def test_affine_transform_matches_keras(interpolation, fill_mode):
    x = pixels(3, 6, 7, 2)
    t = np.array(TRANSFORMS, dtype="float32")
    agree(oi.affine_transform, ki.affine_transform, x, t, interpolation=interpolation,
          fill_mode=fill_mode, fill_value=0.5, atol=1e-5)  # fmt: skip
    agree(oi.affine_transform, ki.affine_transform, x[0], t[2], interpolation=interpolation,
          fill_mode=fill_mode, atol=1e-5)  # fmt: skip


def test_affine_transform_channels_first_and_projective():
    x = pixels(2, 2, 6, 7)
    t = np.array(TRANSFORMS[1:], dtype="float32")
    agree(oi.affine_transform, ki.affine_transform, x, t, data_format="channels_first", atol=1e-5)
    # Projective terms: output (x, y) reads ((x + 1) / k, y / k), k = 0.1 x + 1 (formula check).
    img = torch.arange(20.0).reshape(4, 5, 1)
    out = oi.affine_transform(img, torch.tensor([1.0, 0, 1, 0, 1, 0, 0.1, 0]), "nearest")
    for y in range(4):
        for x_ in range(5):
            k = 0.1 * x_ + 1
            sx, sy = round((x_ + 1) / k), round(y / k)
            expected = img[sy, sx, 0] if 0 <= sx < 5 and 0 <= sy < 4 else 0.0
            assert out[y, x_, 0] == expected


@pytest.mark.parametrize("kw", [
    {"size": 2}, {"size": (2, 3), "strides": 1}, {"size": 3, "strides": 2, "padding": "same"},
    {"size": 2, "strides": 1, "dilation_rate": 2},
])  # fmt: skip
def test_extract_patches_matches_keras(kw):
    agree(oi.extract_patches, ki.extract_patches, pixels(2, 7, 8, 3), grad=True, **kw)
    agree(oi.extract_patches, ki.extract_patches, pixels(7, 8, 3), **kw)


@pytest.mark.parametrize("kw", [{"size": 2}, {"size": (2, 3, 2), "strides": 1}])
def test_extract_patches_3d_matches_keras(kw):
    volumes = pixels(2, 4, 5, 6, 2)
    agree(oi.extract_patches_3d, ki.extract_patches_3d, volumes, grad=True, **kw)
    agree(oi.extract_patches_3d, ki.extract_patches_3d, volumes[0], **kw)
    size3 = kw["size"] if not isinstance(kw["size"], int) else (2, 2, 2)
    agree(oi.extract_patches, ki.extract_patches, volumes, size3, kw.get("strides"))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_perspective_transform_matches_keras(interpolation):
    x = pixels(2, 8, 9, 3)
    start = np.array([[0, 0], [8, 0], [0, 7], [8, 7]], dtype="float32")
    end = np.array([[[1, 0], [7, 1], [0, 6], [8, 7]], [[0, 1], [8, 0], [1, 7], [7, 6]]],
                   dtype="float32")  # fmt: skip
    agree(oi.perspective_transform, ki.perspective_transform, x, np.stack([start, start]), end,
          interpolation=interpolation, fill_value=0.25, atol=1e-4)  # fmt: skip
    agree(oi.perspective_transform, ki.perspective_transform, x[0], start, end[0],
          interpolation=interpolation, atol=1e-4)  # fmt: skip


def test_perspective_transform_identity_and_errors():
    x = torch.from_numpy(pixels(5, 6, 2))
    corners = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 4.0], [5.0, 4.0]])
    assert torch.allclose(oi.perspective_transform(x, corners, corners), x, atol=1e-5)
    with pytest.raises(ValueError, match="start_points"):
        oi.perspective_transform(x, corners[:3], corners[:3])


def test_extract_patches_channels_first():
    agree(oi.extract_patches, ki.extract_patches, pixels(2, 3, 6, 6), size=3,
          data_format="channels_first")  # fmt: skip


@pytest.mark.parametrize("kw", [
    {"top_padding": 1, "bottom_padding": 2, "left_padding": 0, "right_padding": 3},
    {"top_padding": 1, "target_height": 8, "right_padding": 2, "target_width": 9},
    {"bottom_padding": 1, "target_height": 7, "left_padding": 2, "target_width": 9},
])  # fmt: skip
def test_pad_images_matches_keras(kw):
    agree(oi.pad_images, ki.pad_images, pixels(2, 5, 6, 3), grad=True, **kw)
    agree(oi.pad_images, ki.pad_images, pixels(3, 5, 6), data_format="channels_first", **kw)


@pytest.mark.parametrize("kw", [
    {"top_cropping": 1, "bottom_cropping": 2, "left_cropping": 0, "right_cropping": 3},
    {"top_cropping": 1, "target_height": 3, "right_cropping": 2, "target_width": 2},
    {"bottom_cropping": 1, "target_height": 2, "left_cropping": 2, "target_width": 4},
])  # fmt: skip
def test_crop_images_matches_keras(kw):
    agree(oi.crop_images, ki.crop_images, pixels(2, 6, 7, 3), grad=True, **kw)
    agree(oi.crop_images, ki.crop_images, pixels(3, 6, 7), data_format="channels_first", **kw)


def test_pad_and_crop_argument_errors():
    with pytest.raises(ValueError, match="exactly two"):
        oi.pad_images(torch.ones(4, 4, 1), top_padding=1, left_padding=1, right_padding=1)
    with pytest.raises(ValueError, match="larger than the target"):
        oi.pad_images(torch.ones(4, 4, 1), top_padding=1, target_height=3, left_padding=0,
                      right_padding=0)  # fmt: skip
    with pytest.raises(ValueError, match="does not fit"):
        oi.crop_images(torch.ones(4, 4, 1), top_cropping=3, target_height=3, left_cropping=0,
                       right_cropping=0)  # fmt: skip


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_filters_match_keras(fmt):
    x = pixels(2, 6, 7, 3) if fmt == "channels_last" else pixels(2, 3, 6, 7)
    agree(oi.gaussian_blur, ki.gaussian_blur, x, (3, 3), (1.5, 1.5), data_format=fmt, grad=True,
          atol=1e-6)  # fmt: skip
    agree(oi.gaussian_blur, ki.gaussian_blur, x, (5, 5), (0.8, 0.8), data_format=fmt, atol=1e-6)
    ints = oi.gaussian_blur(torch.from_numpy(x), 5, 0.8, data_format=fmt)  # ints mean (n, n)
    assert torch.equal(ints, oi.gaussian_blur(torch.from_numpy(x), (5, 5), (0.8, 0.8), fmt))
    agree(oi.sobel_edges, ki.sobel_edges, x, data_format=fmt, grad=True, atol=1e-5)


def test_gaussian_blur_keeps_a_constant_interior():
    out = oi.gaussian_blur(torch.ones(1, 7, 7, 1), (3, 3), (2.0, 0.5))
    assert torch.allclose(out[0, 1:-1, 1:-1, 0], torch.ones(5, 5))


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_ssim_matches_keras(fmt):
    a = pixels(2, 16, 15, 3) if fmt == "channels_last" else pixels(2, 3, 16, 15)
    b = np.clip(a + rand(*a.shape, seed=4, low=-0.2, high=0.2), 0, 1).astype("float32")
    agree(oi.ssim, ki.ssim, a, b, data_format=fmt, grad=True, atol=1e-5)
    agree(oi.ssim, ki.ssim, a[0], b[0], data_format=fmt, filter_size=5, filter_sigma=1.0,
          max_val=2.0, atol=1e-5)  # fmt: skip


def test_ssim_of_identical_images_is_one():
    x = torch.from_numpy(pixels(1, 12, 12, 1))
    assert oi.ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        oi.ssim(x, x[:, :6])


@pytest.mark.parametrize("method", ["linear", "bicubic", "lanczos3", "lanczos5"])
@pytest.mark.parametrize("antialias", [True, False])
def test_scale_and_translate_matches_keras(method, antialias):
    x = pixels(2, 7, 8, 3)
    # Tensors (not arrays) for scale/shift: the gradient check is taken w.r.t. the images.
    scale, shift = torch.tensor([0.6, 1.7]), torch.tensor([0.5, -1.25])
    agree(oi.scale_and_translate, ki.scale_and_translate, x, (2, 4, 13, 3), scale, shift,
          (1, 2), method, antialias=antialias, grad=True, atol=1e-5)  # fmt: skip
    ints = rand(7, 8, dtype="int32", low=0, high=100)
    agree(oi.scale_and_translate, ki.scale_and_translate, ints, (5, 11), scale, shift, (0, 1),
          method, antialias=antialias)  # fmt: skip


def test_scale_and_translate_identity_and_errors():
    x = torch.from_numpy(pixels(5, 6))
    same = oi.scale_and_translate(x, (5, 6), torch.ones(2), torch.zeros(2), (0, 1), "cubic")
    assert torch.allclose(same, x, atol=1e-6)
    with pytest.raises(ValueError, match="method"):
        oi.scale_and_translate(x, (5, 6), torch.ones(2), torch.zeros(2), (0, 1), "area")


# ---------------------------------------------------------------------------------- coverage
NOT_PROVIDED = {
    "elastic_transform": "a data-augmentation op with its own seeded noise field",
}


def test_every_keras_image_op_is_provided_or_listed():
    names = [n for n, _ in inspect.getmembers(ki, inspect.isfunction) if not n.startswith("_")]
    assert missing(oi, names) == sorted(NOT_PROVIDED)


def test_signatures_match_keras():
    for name in oi.__all__:
        ours = list(inspect.signature(getattr(oi, name)).parameters)
        assert ours == list(inspect.signature(getattr(ki, name)).parameters), name
