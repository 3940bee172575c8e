"""Xception (Chollet, 2017), layer for layer as Keras builds it.

Entry flow: `block1_conv1` (3x3/2, 32) and `block1_conv2` (3x3, 64), valid padding, each with
BatchNormalization and ReLU; blocks 2-4 of two separable 3x3 convolutions (128, 256, 728)
and a 3x3/2 max pool, added to a strided 1x1 projection (unnamed Conv2D + BatchNormalization).
Middle flow: blocks 5-12 of three ReLU-separable-BN units around an identity shortcut. Exit
flow: block 13 (728 -> 1024, pool, projection) and block 14 (separable 1536, 2048 with ReLU).
Default input 299x299, min 71. Inputs: `preprocess_input` ("tf" mode, [-1, 1]).
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
_FILES = {
    True: ("xception_weights_tf_dim_ordering_tf_kernels.h5", "0a58e3b7378bc2990ea3b43d5981f1f6"),
    False: (
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97",
    ),
}


def _axis() -> int:
    return -1 if backend.image_data_format() == "channels_last" else 1


def _sep_bn(x, filters, name):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=_axis(), name=f"{name}_bn")(x)


def _projection(x, filters):
    residual = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return layers.BatchNormalization(axis=_axis())(residual)


def _entry_block(x, filters_1, filters_2, block, first_act: bool):
    """[ReLU] sep-BN, ReLU sep-BN, 3x3/2 max pool, + projection shortcut."""
    residual = _projection(x, filters_2)
    if first_act:
        x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sep_bn(x, filters_1, f"block{block}_sepconv1")
    x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sep_bn(x, filters_2, f"block{block}_sepconv2")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
    return layers.Add()([x, residual])


def Xception(  # noqa: N802
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "xception",
) -> Model:
    """Xception as Keras builds it (22,910,480 parameters with the 1000-class top)."""
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, 299, 71, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    axis = _axis()
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=axis, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _entry_block(x, 128, 128, 2, first_act=False)
    x = _entry_block(x, 256, 256, 3, first_act=True)
    x = _entry_block(x, 728, 728, 4, first_act=True)
    for block in range(5, 13):
        residual = x
        for unit in (1, 2, 3):
            x = layers.Activation("relu", name=f"block{block}_sepconv{unit}_act")(x)
            x = _sep_bn(x, 728, f"block{block}_sepconv{unit}")
        x = layers.Add()([x, residual])
    x = _entry_block(x, 728, 1024, 13, first_act=True)
    x = _sep_bn(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sep_bn(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights,
        top_pool_name="avg_pool", name_prefix=None,
    )  # fmt: skip
    model = iu.build_model(img_input, input_tensor, x, name)
    fname, file_hash = _FILES[bool(include_top)]
    iu.load_weights(model, weights, fname, _BASE + fname, file_hash)
    return model


def preprocess_input(x, data_format=None):
    """Xception preprocessing: "tf" (`x / 127.5 - 1`)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
