"""MobileNetV2 (Sandler et al., 2018), layer for layer as Keras builds it.

`Conv1` (3x3/2, `bn_Conv1`, ReLU6 `Conv1_relu`), then 17 inverted residual blocks
(`expanded_conv_` then `block_{1..16}_`): 1x1 expansion (x6, none in the first), 3x3 depthwise
(stride 2 after `correct_pad` zero padding), 1x1 linear projection, each with
BatchNormalization (momentum 0.999, eps 1e-3); `_add` when shape allows. Then `Conv_1`
(1280, or 1280 * alpha for alpha > 1), `Conv_1_bn`, `out_relu`. `alpha` scales every width,
rounded to multiples of 8. Inputs: `preprocess_input` ("tf" mode, [-1, 1]).
"""

from __future__ import annotations

import warnings

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
# (filters, stride, expansion) of blocks 0..16
_BLOCKS = (
    [(16, 1, 1), (24, 2, 6), (24, 1, 6)]
    + [(32, 2, 6)]
    + [(32, 1, 6)] * 2
    + [(64, 2, 6)]
    + [(64, 1, 6)] * 3
    + [(96, 1, 6)] * 3
    + [(160, 2, 6)]
    + [(160, 1, 6)] * 2
    + [(320, 1, 6)]
)


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """`v` rounded to the nearest multiple of `divisor` (at least `min_value`, default
    `divisor`), rounded up one step when rounding lost more than 10%."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def correct_pad(x, kernel_size: int):
    """Zero padding ((top, bottom), (left, right)) that makes a strided "valid" convolution
    cover the input as TensorFlow's "same" does: one less at the start for even sizes."""
    size = x.shape[1:3] if backend.image_data_format() == "channels_last" else x.shape[2:4]
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = kernel_size // 2
    return ((half - adjust[0], half), (half - adjust[1], half))


def _bn(name):
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    in_channels = inputs.shape[axis]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(
            expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(
        pointwise_filters, 1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def default_size_for(input_shape, input_tensor, sizes) -> int:
    """Keras's pick of the weights' input size: the given square size when it is one of
    `sizes`, else 224."""
    last = backend.image_data_format() == "channels_last"
    if input_shape is not None:
        rows, cols = (input_shape[0], input_shape[1]) if last else (input_shape[1], input_shape[2])
    elif input_tensor is not None:
        shape = input_tensor.shape
        rows, cols = (shape[1], shape[2]) if last else (shape[2], shape[3])
    else:
        return 224
    return rows if rows == cols and rows in sizes else 224


def imagenet_rows(rows, cols, sizes) -> int:
    """The size of the ImageNet file to load: `rows`, or 224 (with Keras's warning)."""
    if rows != cols or rows not in sizes:
        warnings.warn(
            f"input_shape is undefined or non-square, or rows is not in {list(sizes)}. "
            "Weights for input shape (224, 224) will be loaded as the default.",
            stacklevel=3,
        )
        return 224
    return rows


def MobileNetV2(  # noqa: N802
    input_shape=None,
    alpha: float = 1.0,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str | None = None,
) -> Model:
    """MobileNetV2 as Keras builds it (3,538,984 parameters for alpha=1 with the top).

    `alpha` (width multiplier) must be one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4 for ImageNet
    weights, whose files exist for square inputs of 96, 128, 160, 192 or 224 pixels (other
    sizes load the 224 weights, with a warning). Default name `mobilenetv2_{alpha:.2f}_{rows}`.
    """
    iu.validate_weights_arg(weights, include_top, classes)
    default_size = default_size_for(input_shape, input_tensor, _SIZES)
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    last = backend.image_data_format() == "channels_last"
    rows, cols = (input_shape[0], input_shape[1]) if last else (input_shape[1], input_shape[2])
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError(
                f"With weights='imagenet', alpha must be one of {list(_ALPHAS)}; got {alpha!r}."
            )
        rows = imagenet_rows(rows, cols, _SIZES)
    img_input = iu.image_input(input_tensor, input_shape)
    x = layers.Conv2D(
        make_divisible(32 * alpha, 8),
        3,
        strides=(2, 2),
        padding="same",
        use_bias=False,
        name="Conv1",
    )(img_input)
    x = _bn("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights,
        top_pool_name=None, name_prefix=None,
    )  # fmt: skip
    model = iu.build_model(img_input, input_tensor, x, name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    top = "" if include_top else "_no_top"
    fname = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5"
    iu.load_weights(model, weights, fname, _BASE + fname)
    return model


def preprocess_input(x, data_format=None):
    """MobileNetV2 preprocessing: "tf" (`x / 127.5 - 1`)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
