"""VGG16 and VGG19 (Simonyan & Zisserman, 2014), layer for layer as Keras builds them.

Five blocks of 3x3 "same" ReLU convolutions (`block{b}_conv{i}`) each ending in a 2x2 max
pool (`block{b}_pool`); VGG16 has (2, 2, 3, 3, 3) convolutions per block, VGG19
(2, 2, 4, 4, 4). The top is `flatten`, `fc1`, `fc2` (4096 ReLU units each) and `predictions`.
Inputs: RGB in [0, 255] through `preprocess_input` ("caffe" mode); default size 224, min 32.
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = ["VGG16", "VGG19", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
_FILES = {  # name -> {include_top: (file name, hash)}
    "vgg16": {
        True: ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
        False: (
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "6d6bbae143d832006294945121d1f1fc",
        ),
    },
    "vgg19": {
        True: ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "cbe5617147190e668d6c5d5026f83318"),
        False: (
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "253f8cb515780f3b799900260a226db6",
        ),
    },
}
_FILTERS = (64, 128, 256, 512, 512)


def _vgg(
    convs_per_block,
    family,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
):
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, 224, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, n) in enumerate(zip(_FILTERS, convs_per_block, strict=True), start=1):
        for i in range(1, n + 1):
            x = layers.Conv2D(
                filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}"
            )(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        iu.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool_features(x, pooling, layers)
    model = iu.build_model(img_input, input_tensor, x, name)
    fname, file_hash = _FILES[family][bool(include_top)]
    iu.load_weights(model, weights, fname, _BASE + f"{family}/{fname}", file_hash)
    return model


def VGG16(  # noqa: N802
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "vgg16",
) -> Model:
    """VGG16 (138,357,544 parameters with the 1000-class top; 14,714,688 without)."""
    return _vgg(
        (2, 2, 3, 3, 3),
        "vgg16",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def VGG19(  # noqa: N802
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "vgg19",
) -> Model:
    """VGG19 (143,667,240 parameters with the 1000-class top; 20,024,384 without)."""
    return _vgg(
        (2, 2, 4, 4, 4),
        "vgg19",
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    )


def preprocess_input(x, data_format=None):
    """ImageNet "caffe" preprocessing: RGB -> BGR, minus the BGR channel means."""
    return iu.preprocess_input(x, data_format=data_format, mode="caffe")


decode_predictions = iu.decode_predictions
