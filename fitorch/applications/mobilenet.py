"""MobileNet (Howard et al., 2017), layer for layer as Keras builds it.

`conv1` (3x3/2, `conv1_bn`, ReLU6 `conv1_relu`), then 13 depthwise-separable blocks
`conv_dw_{i}` (3x3 depthwise, stride 2 after `conv_pad_{i}` zero padding ((0, 1), (0, 1)))
and `conv_pw_{i}` (1x1), each with BatchNormalization (Keras defaults) and ReLU6. The top is
global average pooling (keepdims), `dropout`, `conv_preds` (1x1), `reshape_2`,
`predictions` (activation). `alpha` scales widths, `depth_multiplier` the depthwise channels.
Inputs: `preprocess_input` ("tf" mode, [-1, 1]).
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.applications.mobilenet_v2 import default_size_for, imagenet_rows
from fitorch.models import Model

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_SIZES = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.50: "5_0", 0.25: "2_5"}
# (pointwise filters, stride) of blocks 1..13
_BLOCKS = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    + [(512, 1)] * 5
    + [(1024, 2), (1024, 1)]
)


def _bn(name):
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, name=name)


def _depthwise_block(x, filters, alpha, depth_multiplier, stride, block_id):
    if stride != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(
        (3, 3),
        padding="same" if stride == 1 else "valid",
        depth_multiplier=depth_multiplier,
        strides=stride,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(x)
    x = _bn(f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(
        int(filters * alpha), (1, 1), padding="same", use_bias=False, name=f"conv_pw_{block_id}"
    )(x)
    x = _bn(f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def MobileNet(  # noqa: N802
    input_shape=None,
    alpha: float = 1.0,
    depth_multiplier: int = 1,
    dropout: float = 1e-3,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str | None = None,
) -> Model:
    """MobileNet as Keras builds it (4,253,864 parameters for alpha=1 with the top).

    ImageNet weights exist for alpha 0.25, 0.5, 0.75, 1.0, depth_multiplier 1 and square
    inputs of 128, 160, 192 or 224 pixels. Default name `mobilenet_{alpha:.2f}_{rows}`.
    """
    iu.validate_weights_arg(weights, include_top, classes)
    default_size = default_size_for(input_shape, None, _SIZES)
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    last = backend.image_data_format() == "channels_last"
    rows, cols = (input_shape[0], input_shape[1]) if last else (input_shape[1], input_shape[2])
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError(
                f"With weights='imagenet', depth_multiplier must be 1; got {depth_multiplier!r}."
            )
        if alpha not in _ALPHA_TEXT:
            raise ValueError(
                "With weights='imagenet', alpha must be one of 0.25, 0.5, 0.75, 1.0; "
                f"got {alpha!r}."
            )
        rows = imagenet_rows(rows, cols, _SIZES)
    img_input = iu.image_input(input_tensor, input_shape)
    x = layers.Conv2D(
        int(32 * alpha), (3, 3), padding="same", use_bias=False, strides=(2, 2), name="conv1"
    )(img_input)
    x = _bn("conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_block(x, filters, alpha, depth_multiplier, stride, block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        iu.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool_features(x, pooling, layers)
    model = iu.build_model(img_input, input_tensor, x, name or f"mobilenet_{alpha:0.2f}_{rows}")
    if weights == "imagenet":
        top = "" if include_top else "_no_top"
        fname = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{top}.h5"
        iu.load_weights(model, weights, fname, _BASE + fname)
    else:
        iu.load_weights(model, weights)
    return model


def preprocess_input(x, data_format=None):
    """MobileNet preprocessing: "tf" (`x / 127.5 - 1`)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
