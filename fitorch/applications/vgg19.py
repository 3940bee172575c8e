"""`keras.applications.vgg19`: VGG19 and its ImageNet pre/post-processing."""

from fitorch.applications.vgg import VGG19, decode_predictions, preprocess_input

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]
