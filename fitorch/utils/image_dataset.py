"""`image_dataset_from_directory`: a folder of class subfolders -> batches of resized images."""

from __future__ import annotations

import functools

import numpy as np
import torch

from fitorch import backend
from fitorch.utils import dataset_utils as du
from fitorch.utils.image_resize import check_interpolation, resize_images

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"rgb": ("RGB", 3), "rgba": ("RGBA", 4), "grayscale": ("L", 1)}


def load_image(path, image_size, color_mode, interpolation, data_format, crop, pad) -> torch.Tensor:
    """One file -> float32 `(H, W, C)` (or `(C, H, W)`) tensor resized to `image_size`, pixels
    0-255 as decoded by Pillow (first frame of a GIF)."""
    from PIL import Image

    mode = _CHANNELS[color_mode][0]
    with Image.open(path) as img:
        if not (mode == "L" and img.mode in ("L", "I;16", "I")) and img.mode != mode:
            img = img.convert(mode)
        array = np.asarray(img, dtype="float32")
    image = torch.from_numpy(array.reshape(array.shape[0], array.shape[1], -1).copy())
    image = resize_images(image.permute(2, 0, 1)[None], image_size, interpolation, crop, pad)[0]
    return image if data_format == "channels_first" else image.permute(1, 2, 0).contiguous()


def _image_size(image_size) -> tuple[int, int]:
    if isinstance(image_size, int):
        return (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")
    return tuple(int(s) for s in image_size)


def image_dataset_from_directory(
    directory: str,
    labels="inferred",
    label_mode: str | None = "int",
    class_names=None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size=(256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    verbose: bool = True,
    num_workers: int = 0,
):
    """Batches `(images, labels)` from `directory/<class>/*.{bmp,gif,jpeg,jpg,png}` (Keras 3).

    Files and labels are indexed as Keras indexes them (`dataset_utils.index_directory`: same
    order, same seeded shuffle, same `file_paths`), the last `int(validation_split * n)` files
    form the validation subset (`subset='both'` returns `[train, val]`, val unshuffled). Images
    are float32 `(batch, *image_size, channels)`; labels int32 `(batch,)`, float32 `(batch, 1)`
    for `binary`, one-hot float32 for `categorical`. Each training pass draws a new order from a
    generator seeded with `seed` (Keras's tf.data buffer shuffle cannot be reproduced without
    TensorFlow). `num_workers` > 0 decodes in DataLoader worker processes.
    """
    du.check_labels_arg(labels, class_names, label_mode, "image")
    if color_mode not in _CHANNELS:
        raise ValueError(f"color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
    image_size = _image_size(image_size)
    interpolation = check_interpolation(interpolation)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    data_format = data_format or backend.image_data_format()
    load = functools.partial(
        load_image, image_size=image_size, color_mode=color_mode, interpolation=interpolation,
        data_format=data_format, crop=crop_to_aspect_ratio, pad=pad_to_aspect_ratio,
    )  # fmt: skip
    return du.directory_datasets(
        directory, labels=labels, label_mode=label_mode, class_names=class_names,
        formats=ALLOWLIST_FORMATS, what="images", load=load, collate=du.stack_collate,
        batch_size=batch_size,
        shuffle=shuffle, seed=seed, validation_split=validation_split, subset=subset,
        follow_links=follow_links, verbose=verbose, num_workers=num_workers,
    )  # fmt: skip
