"""InceptionV3 (Szegedy et al., 2015), layer for layer as Keras builds it.

Every convolution is `conv2d_bn`: Conv2D (no bias) -> BatchNormalization (`scale=False`) ->
ReLU, all three automatically named, as in Keras. Stem of five such units and two 3x3/2 max
pools, then the mixed blocks `mixed0`..`mixed10` (Concatenate layers) joining 1x1, 5x5 /
factorised 7x7 / 3x3 branches and pooled branches; `mixed9_{0,1}` join the split 1x3/3x1
branches. Default input 299x299, min 75. Inputs: `preprocess_input` ("tf" mode, [-1, 1]).
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
_FILES = {
    True: (
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "9a0d58056eeedaa3f26cb7ebd46da564",
    ),
    False: (
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
}


def _axis() -> int:
    return 3 if backend.image_data_format() == "channels_last" else 1


def conv2d_bn(x, filters, rows, cols, padding="same", strides=(1, 1), name=None):
    """Conv2D(rows x cols, no bias) -> BatchNormalization(scale=False) -> ReLU."""
    conv_name, bn_name = (f"{name}_conv", f"{name}_bn") if name is not None else (None, None)
    x = layers.Conv2D(
        filters, (rows, cols), strides=strides, padding=padding, use_bias=False, name=conv_name
    )(x)
    x = layers.BatchNormalization(axis=_axis(), scale=False, name=bn_name)(x)
    return layers.Activation("relu", name=name)(x)


def _avg_branch(x, filters):
    pooled = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(pooled, filters, 1, 1)


def _block_5x5(x, pool_filters, name):
    """mixed0-2: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg pool-1x1."""
    b1 = conv2d_bn(x, 64, 1, 1)
    b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
    bp = _avg_branch(x, pool_filters)
    return layers.Concatenate(axis=_axis(), name=name)([b1, b5, b3, bp])


def _block_7x7(x, mid, name):
    """mixed4-7: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avg pool-1x1 (192 outputs each)."""
    b1 = conv2d_bn(x, 192, 1, 1)
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, mid, 1, 1), mid, 1, 7), 192, 7, 1)
    bd = conv2d_bn(x, mid, 1, 1)
    for filters, (r, c) in ((mid, (7, 1)), (mid, (1, 7)), (mid, (7, 1)), (192, (1, 7))):
        bd = conv2d_bn(bd, filters, r, c)
    bp = _avg_branch(x, 192)
    return layers.Concatenate(axis=_axis(), name=name)([b1, b7, bd, bp])


def _block_split(x, i):
    """mixed9-10: 1x1 | 1x1-(1x3 ++ 3x1) | 1x1-3x3-(1x3 ++ 3x1) | avg pool-1x1."""
    b1 = conv2d_bn(x, 320, 1, 1)
    b3 = conv2d_bn(x, 384, 1, 1)
    b3 = layers.Concatenate(axis=_axis(), name=f"mixed9_{i}")(
        [conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)]
    )
    bd = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
    bd = layers.Concatenate(axis=_axis())([conv2d_bn(bd, 384, 1, 3), conv2d_bn(bd, 384, 3, 1)])
    bp = _avg_branch(x, 192)
    return layers.Concatenate(axis=_axis(), name=f"mixed{9 + i}")([b1, b3, bd, bp])


def InceptionV3(  # noqa: N802
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "inception_v3",
) -> Model:
    """InceptionV3 as Keras builds it (23,851,784 parameters with the 1000-class top)."""
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, 299, 75, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    axis = _axis()
    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _block_5x5(x, 32, "mixed0")
    x = _block_5x5(x, 64, "mixed1")
    x = _block_5x5(x, 64, "mixed2")
    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    bd = conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3)
    bd = conv2d_bn(bd, 96, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=axis, name="mixed3")([b3, bd, bp])
    x = _block_7x7(x, 128, "mixed4")
    x = _block_7x7(x, 160, "mixed5")
    x = _block_7x7(x, 160, "mixed6")
    x = _block_7x7(x, 192, "mixed7")
    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.Concatenate(axis=axis, name="mixed8")([b3, b7, bp])
    x = _block_split(x, 0)
    x = _block_split(x, 1)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights,
        top_pool_name="avg_pool", name_prefix=None,
    )  # fmt: skip
    model = iu.build_model(img_input, input_tensor, x, name)
    fname, file_hash = _FILES[bool(include_top)]
    iu.load_weights(model, weights, fname, _BASE + fname, file_hash)
    return model


def preprocess_input(x, data_format=None):
    """InceptionV3 preprocessing: "tf" (`x / 127.5 - 1`)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
