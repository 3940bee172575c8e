"""`resize_images`: Keras 3's `ops.image.resize` contract on NCHW float tensors (torch
`interpolate`, half-pixel centres, no antialiasing), with its aspect-ratio crop and pad."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Keras names -> torch modes; "nearest" is torch's "nearest-exact" (half-pixel, as Keras)
INTERPOLATIONS = {
    "bilinear": "bilinear",
    "nearest": "nearest-exact",
    "bicubic": "bicubic",
    "area": "area",
}


def check_interpolation(interpolation: str) -> str:
    name = str(interpolation).lower()
    if name not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}"
        )
    return name


def aspect_crop_box(
    height: int, width: int, target_h: int, target_w: int
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of the largest centred window with the target's aspect ratio."""
    crop_h = max(min(height, int(width * target_h / target_w)), 1)
    crop_w = max(min(width, int(height * target_w / target_h)), 1)
    return int((height - crop_h) / 2), int((width - crop_w) / 2), crop_h, crop_w


def _pad_to_aspect(images: torch.Tensor, target_h: int, target_w: int, fill: float) -> torch.Tensor:
    """Pad both sides by the same `(needed - size) // 2` rows/columns (Keras's rule: an odd
    shortfall leaves the result one short of the exact aspect ratio)."""
    height, width = images.shape[-2:]
    top = int((max(height, int(width * target_h / target_w)) - height) / 2)
    left = int((max(width, int(height * target_w / target_h)) - width) / 2)
    return F.pad(images, (left, left, top, top), value=fill)


def resize_images(
    images: torch.Tensor,
    size: tuple[int, int],
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_value: float = 0.0,
) -> torch.Tensor:
    """`(N, C, H, W)` float -> `(N, C, *size)`; optionally first centre-crop (or zero-pad) to
    the target aspect ratio so the content is not distorted."""
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    mode = INTERPOLATIONS[check_interpolation(interpolation)]
    target_h, target_w = (int(s) for s in size)
    if crop_to_aspect_ratio:
        top, left, h, w = aspect_crop_box(*images.shape[-2:], target_h, target_w)
        images = images[..., top : top + h, left : left + w]
    elif pad_to_aspect_ratio:
        images = _pad_to_aspect(images, target_h, target_w, fill_value)
    corners = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(images, size=(target_h, target_w), mode=mode, **corners)
