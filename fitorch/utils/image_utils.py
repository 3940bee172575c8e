"""Pillow image helpers with Keras's contracts: load_img, img_to_array, array_to_img, save_img.

Arrays are channels-last `(height, width, channels)` float32 unless `data_format` says
"channels_first". Pillow is needed (`pip install pillow`, extra `fitorch[image]`).
"""

from __future__ import annotations

import numpy as np

_RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3, "lanczos": 1, "box": 4, "hamming": 5}
_MODES = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}


def _pil():
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("image utilities need Pillow: pip install pillow") from err
    return Image


def _data_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        )
    return data_format


def img_to_array(img, data_format: str | None = None, dtype: str | None = None) -> np.ndarray:
    """PIL image -> array `(H, W, C)` (or `(C, H, W)`), dtype float32 by default; L -> C=1."""
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array expects a 2D or 3D image, got shape {x.shape}")
    return x.transpose(2, 0, 1) if _data_format(data_format) == "channels_first" else x


def array_to_img(x, data_format: str | None = None, scale: bool = True, dtype=None):
    """3D array -> PIL image (1 channel L, 3 RGB, 4 RGBA). With `scale`, `x` is mapped to
    [0, 255] by `(x - min) / max(x - min) * 255`."""
    x = np.asarray(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img expects a 3D array (H, W, C), got shape {x.shape}")
    if _data_format(data_format) == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x = x / peak
        x = x * 255
    channels = x.shape[2]
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    if channels not in modes:
        raise ValueError(f"array_to_img expects 1, 3 or 4 channels, got {channels}")
    x = x.astype("uint8")
    return _pil().fromarray(x[:, :, 0] if channels == 1 else x, modes[channels])


def load_img(
    path,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
):
    """Open an image file as a PIL image in `color_mode`, resized to `target_size=(h, w)`.

    `keep_aspect_ratio` centre-crops to the target aspect ratio before resizing."""
    if color_mode not in _MODES:
        raise ValueError(f"color_mode must be one of {sorted(_MODES)}, got {color_mode!r}")
    if interpolation not in _RESAMPLE:
        raise ValueError(f"interpolation must be one of {sorted(_RESAMPLE)}, got {interpolation!r}")
    with open(path, "rb") as f:
        img = _pil().open(f)
        img.load()
    img = img.convert(_MODES[color_mode]) if img.mode != _MODES[color_mode] else img
    if target_size is not None:
        height, width = target_size
        if (img.size[0], img.size[1]) != (width, height):
            box = None
            if keep_aspect_ratio:  # resample from the centred box (neighbours feed filters)
                w, h = img.size
                crop_w, crop_h = min(w, h * width // height), min(h, w * height // width)
                left, top = (w - crop_w) // 2, (h - crop_h) // 2
                box = (left, top, left + crop_w, top + crop_h)
            img = img.resize((width, height), _RESAMPLE[interpolation], box=box)
    return img


def save_img(path, x, data_format: str | None = None, file_format=None, scale=True, **kwargs):
    """Write an array as an image file (RGBA -> RGB for JPEG)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and (file_format == "jpg" or file_format == "jpeg"):
        img = img.convert("RGB")
    img.save(path, format={"jpg": "jpeg"}.get(file_format, file_format), **kwargs)
