"""MobileNetV3Small and MobileNetV3Large (Howard et al., 2019), layer for layer as Keras
builds them.

Optional in-model preprocessing `Rescaling(1/127.5, offset=-1)` (`include_preprocessing`),
stem `conv` (16, 3x3/2) + `conv_bn` + hard-swish, inverted residual blocks
`expanded_conv_{i}_` (expand 1x1, depthwise k x k, optional squeeze-excite
`squeeze_excite_*` gated by hard-sigmoid `relu6(x + 3) / 6`, project 1x1, `add`), `conv_1`,
then the top: pooled `conv_2`, `Dropout`, `logits` (1x1 conv), `Flatten`, `predictions`.
`minimalistic` swaps hard-swish for ReLU, 5x5 kernels for 3x3 and drops squeeze-excite.
`preprocess_input` is the identity, as in Keras (inputs are pixels in [0, 255]).
"""

from __future__ import annotations

import warnings

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.applications.mobilenet_v2 import correct_pad, make_divisible
from fitorch.models import Model

__all__ = ["MobileNetV3Small", "MobileNetV3Large", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"
_HASHES = {  # model name -> (with top, without top) md5
    "large_224_0.75_float": (
        "765b44a33ad4005b3ac83185abf1d0eb",
        "40af19a13ebea4e2ee0c676887f69a2e",
    ),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": (
        "675e7b876c45c57e9e63e6d90a36599c",
        "ec5221f64a2f6d1ef965a614bdae7973",
    ),
    "small_224_0.75_float": (
        "cb65d4e5be93758266aa0a7f2c6708b7",
        "ebdb5cc8e0b497cd13a7c275d475c819",
    ),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": (
        "99cd97fb2fcdad2bf028eb838de69e37",
        "cde8136e733e811080d9fcd8a252f7e4",
    ),
}
# (expansion, filters, kernel ("k" = the model's kernel), stride, squeeze-excite, activation
# ("relu" or "act" = the model's activation)) per block.
_SMALL = (
    (1, 16, 3, 2, True, "relu"),
    (72.0 / 16, 24, 3, 2, False, "relu"),
    (88.0 / 24, 24, 3, 1, False, "relu"),
    (4, 40, "k", 2, True, "act"),
    (6, 40, "k", 1, True, "act"),
    (6, 40, "k", 1, True, "act"),
    (3, 48, "k", 1, True, "act"),
    (3, 48, "k", 1, True, "act"),
    (6, 96, "k", 2, True, "act"),
    (6, 96, "k", 1, True, "act"),
    (6, 96, "k", 1, True, "act"),
)
_LARGE = (
    (1, 16, 3, 1, False, "relu"),
    (4, 24, 3, 2, False, "relu"),
    (3, 24, 3, 1, False, "relu"),
    (3, 40, "k", 2, True, "relu"),
    (3, 40, "k", 1, True, "relu"),
    (3, 40, "k", 1, True, "relu"),
    (6, 80, 3, 2, False, "act"),
    (2.5, 80, 3, 1, False, "act"),
    (2.3, 80, 3, 1, False, "act"),
    (2.3, 80, 3, 1, False, "act"),
    (6, 112, 3, 1, True, "act"),
    (6, 112, 3, 1, True, "act"),
    (6, 160, "k", 2, True, "act"),
    (6, 160, "k", 1, True, "act"),
    (6, 160, "k", 1, True, "act"),
)


def _relu(x):
    return layers.ReLU()(x)


def _hard_swish(x):
    return layers.Activation("hard_swish")(x)


def _hard_sigmoid(x):
    """relu6(x + 3) / 6 -- the two arithmetic steps are graph ops, not layers, as in Keras."""
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _bn(name):
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name=name)


def _se_block(inputs, filters, se_ratio, prefix):
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(
        inputs
    )
    x = layers.Conv2D(
        make_divisible(filters * se_ratio, 8),
        1,
        padding="same",
        name=f"{prefix}squeeze_excite_conv",
    )(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id):
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    shortcut, infilters = x, x.shape[axis]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(
            make_divisible(infilters * expansion, 8),
            1,
            padding="same",
            use_bias=False,
            name=f"{prefix}expand",
        )(x)
        x = _bn(f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(
            padding=correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad"
        )(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding="same" if stride == 1 else "valid",
        use_bias=False,
        name=f"{prefix}depthwise",
    )(x)
    x = _bn(f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, make_divisible(infilters * expansion, 8), se_ratio, prefix)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_bn")(x)
    if stride == 1 and infilters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


def _input_shape(input_shape, input_tensor):
    """Keras's MobileNetV3 rule: the tensor's spatial shape, else any size; min 32."""
    last = backend.image_data_format() == "channels_last"
    if input_shape is None and input_tensor is not None:
        s = input_tensor.shape
        input_shape = (s[2], s[1], 3) if last else (3, s[3], s[2])
    if input_shape is None:
        input_shape = (None, None, 3) if last else (3, None, None)
    rows, cols = (input_shape[0], input_shape[1]) if last else (input_shape[1], input_shape[2])
    if rows and cols and (rows < 32 or cols < 32):
        raise ValueError(
            f"Input size must be at least 32x32; got input_shape={tuple(input_shape)}."
        )
    return tuple(input_shape), rows, cols


def _mobilenet_v3(
    blocks,
    last_point_ch,
    model_type,
    input_shape,
    alpha,
    minimalistic,
    include_top,
    weights,
    input_tensor,
    classes,
    pooling,
    dropout_rate,
    classifier_activation,
    include_preprocessing,
    name,
):
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape, rows, cols = _input_shape(input_shape, input_tensor)
    if weights == "imagenet":
        if (not minimalistic and alpha not in (0.75, 1.0)) or (minimalistic and alpha != 1.0):
            raise ValueError(
                "With weights='imagenet', alpha must be 0.75 or 1.0 (1.0 when minimalistic); "
                f"got alpha={alpha!r}, minimalistic={minimalistic!r}."
            )
        if rows != cols or rows != 224:
            warnings.warn(
                "input_shape is undefined or non-square, or rows is not 224. Weights for "
                "input shape (224, 224) will be loaded as the default.",
                stacklevel=3,
            )
    img_input = iu.image_input(input_tensor, input_shape)
    axis = -1 if backend.image_data_format() == "channels_last" else 1
    kernel, activation, se_ratio = (3, _relu, None) if minimalistic else (5, _hard_swish, 0.25)
    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, 3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = _bn("conv_bn")(x)
    x = activation(x)
    for block_id, (expansion, filters, k, stride, se, act) in enumerate(blocks):
        x = _inverted_res_block(
            x,
            expansion,
            make_divisible(filters * alpha, 8),
            kernel if k == "k" else k,
            stride,
            se_ratio if se else None,
            _relu if act == "relu" else activation,
            block_id,
        )
    last_conv_ch = make_divisible(x.shape[axis] * 6, 8)
    if alpha > 1.0:
        last_point_ch = make_divisible(last_point_ch * alpha, 8)
    x = layers.Conv2D(last_conv_ch, 1, padding="same", use_bias=False, name="conv_1")(x)
    x = _bn("conv_1_bn")(x)
    x = activation(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, 1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, 1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        iu.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool_features(x, pooling, layers, name_prefix="")
    model = iu.build_model(img_input, input_tensor, x, name)
    if weights == "imagenet":
        key = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
        fname = f"weights_mobilenet_v3_{key}" + (".h5" if include_top else "_no_top_v2.h5")
        iu.load_weights(model, weights, fname, _BASE + fname, _HASHES[key][0 if include_top else 1])
    else:
        iu.load_weights(model, weights)
    return model


def MobileNetV3Small(  # noqa: N802
    input_shape=None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    classes: int = 1000,
    pooling=None,
    dropout_rate: float = 0.2,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    name: str = "MobileNetV3Small",
) -> Model:
    """MobileNetV3Small as Keras builds it (2,554,968 parameters with the 1000-class top)."""
    return _mobilenet_v3(
        _SMALL,
        1024,
        "small",
        input_shape,
        alpha,
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name,
    )


def MobileNetV3Large(  # noqa: N802
    input_shape=None,
    alpha: float = 1.0,
    minimalistic: bool = False,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    classes: int = 1000,
    pooling=None,
    dropout_rate: float = 0.2,
    classifier_activation="softmax",
    include_preprocessing: bool = True,
    name: str = "MobileNetV3Large",
) -> Model:
    """MobileNetV3Large as Keras builds it (5,507,432 parameters with the 1000-class top)."""
    return _mobilenet_v3(
        _LARGE,
        1280,
        "large",
        input_shape,
        alpha,
        minimalistic,
        include_top,
        weights,
        input_tensor,
        classes,
        pooling,
        dropout_rate,
        classifier_activation,
        include_preprocessing,
        name,
    )


def preprocess_input(x, data_format=None):
    """The identity (MobileNetV3 rescales inside the model), as in Keras."""
    del data_format
    return x


decode_predictions = iu.decode_predictions
