"""EfficientNetB0-B7 (Tan & Le, 2019), layer for layer as Keras builds them.

Preprocessing is inside the model: `Rescaling(1/255)`, a `Normalization` whose mean and
variance come with the weights, and (ImageNet weights only, as Keras) a second `Rescaling` by
1/sqrt(std). Stem `stem_conv` (3x3/2 after `stem_conv_pad`), then 7 stages of MBConv blocks
`block{stage}{a,b,...}_`: 1x1 expansion, depthwise k x k, squeeze-and-excitation (`se_*`),
1x1 projection, drop-connect `drop` (Dropout with noise shape (None, 1, 1, 1)) and `add` on
identity blocks; then `top_conv`, `top_bn`, `top_activation`. Widths scale by
`width_coefficient` (rounded to multiples of 8), repeats by `depth_coefficient` (ceil).
`preprocess_input` is the identity, as in Keras; inputs are pixels in [0, 255].
"""

from __future__ import annotations

import math

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.applications.mobilenet_v2 import correct_pad
from fitorch.models import Model

__all__ = [f"EfficientNetB{i}" for i in range(8)] + ["preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/keras-applications/"
_HASHES = {  # variant -> (with top, without top) md5
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
# variant -> (width_coefficient, depth_coefficient, default_size, dropout_rate)
_SCALING = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
# (kernel, repeats, filters_in, filters_out, expand_ratio, strides); se_ratio 0.25, id_skip
_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
# Keras's initializers: VarianceScaling(2, fan_out, truncated normal) for convolutions,
# VarianceScaling(1/3, fan_out, uniform) for the classifier.
_CONV_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
_DENSE_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


def _initializer(spec):
    from fitorch import initializers

    return initializers.get(spec)


def _block(
    inputs,
    activation,
    drop_rate,
    name,
    filters_in,
    filters_out,
    kernel_size,
    strides,
    expand_ratio,
    se_ratio=0.25,
):
    """MBConv: expand 1x1 -> depthwise -> squeeze-excite -> project 1x1 (+ drop-connect add)."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(
            filters,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=_initializer(_CONV_INIT),
            name=f"{name}expand_conv",
        )(x)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(padding=correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
    x = layers.DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding="valid" if strides == 2 else "same",
        use_bias=False,
        depthwise_initializer=_initializer(_CONV_INIT),
        name=f"{name}dwconv",
    )(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    filters_se = max(1, int(filters_in * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = layers.Conv2D(
        filters_se,
        1,
        padding="same",
        activation=activation,
        kernel_initializer=_initializer(_CONV_INIT),
        name=f"{name}se_reduce",
    )(se)
    se = layers.Conv2D(
        filters,
        1,
        padding="same",
        activation="sigmoid",
        kernel_initializer=_initializer(_CONV_INIT),
        name=f"{name}se_expand",
    )(se)
    x = layers.Multiply(name=f"{name}se_excite")([x, se])
    x = layers.Conv2D(
        filters_out,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=_initializer(_CONV_INIT),
        name=f"{name}project_conv",
    )(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.Add(name=f"{name}add")([x, inputs])
    return x


def round_filters(filters: float, width_coefficient: float, divisor: int = 8) -> int:
    """`filters * width_coefficient` to the nearest multiple of `divisor`, not 10% below."""
    filters *= width_coefficient
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * filters else new)


def _efficientnet(
    variant,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
    drop_connect_rate=0.2,
    activation="swish",
):
    if backend.image_data_format() == "channels_first":
        raise ValueError("EfficientNet is built for channels_last inputs; got channels_first.")
    width, depth, default_size, dropout_rate = _SCALING[variant]
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":  # Keras's correction for the files' stored variance
        x = layers.Rescaling([1.0 / math.sqrt(s) for s in _IMAGENET_STD_RGB])(x)
    x = layers.ZeroPadding2D(padding=correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(
        round_filters(32, width),
        3,
        strides=2,
        padding="valid",
        use_bias=False,
        kernel_initializer=_initializer(_CONV_INIT),
        name="stem_conv",
    )(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    repeats = [int(math.ceil(depth * stage[1])) for stage in _STAGES]
    total, b = float(sum(repeats)), 0
    for i, ((kernel, _, f_in, f_out, expand, strides), n) in enumerate(
        zip(_STAGES, repeats, strict=True)
    ):
        f_in, f_out = round_filters(f_in, width), round_filters(f_out, width)
        for j in range(n):
            x = _block(
                x,
                activation,
                drop_connect_rate * b / total,
                f"block{i + 1}{chr(j + 97)}_",
                f_in if j == 0 else f_out,
                f_out,
                kernel,
                strides if j == 0 else 1,
                expand,
            )
            b += 1
    x = layers.Conv2D(
        round_filters(1280, width),
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=_initializer(_CONV_INIT),
        name="top_conv",
    )(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        iu.validate_activation(classifier_activation, weights)
        x = layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=_initializer(_DENSE_INIT),
            name="predictions",
        )(x)
    else:
        x = iu.pool_features(x, pooling, layers, name_prefix="")
    model = iu.build_model(img_input, input_tensor, x, name)
    fname = name + (".h5" if include_top else "_notop.h5")  # Keras names the file after `name`
    iu.load_weights(model, weights, fname, _BASE + fname, _HASHES[variant][0 if include_top else 1])
    return model


def _variant(variant: str, params: int):
    def build(
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"efficientnet{variant}",
    ) -> Model:
        return _efficientnet(
            variant,
            include_top,
            weights,
            input_tensor,
            input_shape,
            pooling,
            classes,
            classifier_activation,
            name,
        )

    build.__name__ = build.__qualname__ = f"EfficientNet{variant.upper()}"
    build.__doc__ = (
        f"EfficientNet{variant.upper()} as Keras builds it ({params:,} parameters with the "
        f"1000-class top; default input {_SCALING[variant][2]}x{_SCALING[variant][2]}); "
        "inputs are pixels in [0, 255] (preprocessing is part of the model)."
    )
    return build


EfficientNetB0 = _variant("b0", 5_330_571)
EfficientNetB1 = _variant("b1", 7_856_239)
EfficientNetB2 = _variant("b2", 9_177_569)
EfficientNetB3 = _variant("b3", 12_320_535)
EfficientNetB4 = _variant("b4", 19_466_823)
EfficientNetB5 = _variant("b5", 30_562_527)
EfficientNetB6 = _variant("b6", 43_265_143)
EfficientNetB7 = _variant("b7", 66_658_687)


def preprocess_input(x, data_format=None):
    """The identity (EfficientNet preprocesses inside the model), as in Keras."""
    del data_format
    return x


decode_predictions = iu.decode_predictions
