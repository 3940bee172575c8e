"""`keras.applications.resnet_v2`: the pre-activation ResNets; inputs scaled to [-1, 1]."""

from fitorch.applications.resnet import (
    ResNet50V2,
    ResNet101V2,
    ResNet152V2,
    decode_predictions,
)
from fitorch.applications.resnet import preprocess_input_v2 as preprocess_input

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions", "preprocess_input"]
