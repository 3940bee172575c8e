"""Keras 2 spellings: `keras.preprocessing.image.load_img` and friends."""

from fitorch.utils.image_utils import array_to_img, img_to_array, load_img, save_img

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]
