"""EfficientNetV2B0-B3, S, M, L (Tan & Le, 2021), layer for layer as Keras builds them.

Preprocessing is inside the model when `include_preprocessing=True` (default): the B variants
rescale to [0, 1] and normalise with the ImageNet mean and variance (a `Normalization` with fixed
statistics, no weights); S/M/L map [0, 255] to [-1, 1) (`Rescaling(1/128, offset=-1)`). Stem
`stem_conv` (3x3/2, 'same'), then stages of blocks `block{stage}{a,b,...}_` of two kinds:
- Fused-MBConv (early stages): a k x k `expand_conv` (carrying the stride) then a 1x1
  `project_conv`, or, with expansion ratio 1, one k x k `project_conv` + `project_activation`;
- MBConv: 1x1 `expand_conv`, depthwise `dwconv2`, squeeze-and-excitation `se_*`, 1x1
  `project_conv`.
Identity blocks end with drop-connect `drop` (Dropout, noise shape (None, 1, 1, 1), rate
`0.2 * block_index / total_blocks` where the total counts unscaled repeats, as Keras) and `add`.
Then `top_conv`, `top_bn`, `top_activation`. Widths scale by `width_coefficient` (multiples of
8, at least 8), repeats by `depth_coefficient` (ceil). BatchNormalization momentum is 0.9.
`preprocess_input` is the identity, as in Keras.
"""

from __future__ import annotations

import math

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = [f"EfficientNetV2{v}" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")] + [
    "preprocess_input",
    "decode_predictions",
]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"
_HASHES = {  # variant -> (with top, without top) md5, Keras's
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
# variant -> (width_coefficient, depth_coefficient, default_size)
_SCALING = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 260),
    "b3": (1.2, 1.4, 300),
    "s": (1.0, 1.0, 384),
    "m": (1.0, 1.0, 480),
    "l": (1.0, 1.0, 480),
}
# Stages: (kernel, repeats, filters_in, filters_out, expand_ratio, se_ratio, strides, fused)
_B_STAGES = (
    (3, 1, 32, 16, 1, 0.0, 1, True),
    (3, 2, 16, 32, 4, 0.0, 2, True),
    (3, 2, 32, 48, 4, 0.0, 2, True),
    (3, 3, 48, 96, 4, 0.25, 2, False),
    (3, 5, 96, 112, 6, 0.25, 1, False),
    (3, 8, 112, 192, 6, 0.25, 2, False),
)
_STAGES = {
    **{v: _B_STAGES for v in ("b0", "b1", "b2", "b3")},
    "s": (
        (3, 2, 24, 24, 1, 0.0, 1, True),
        (3, 4, 24, 48, 4, 0.0, 2, True),
        (3, 4, 48, 64, 4, 0.0, 2, True),
        (3, 6, 64, 128, 4, 0.25, 2, False),
        (3, 9, 128, 160, 6, 0.25, 1, False),
        (3, 15, 160, 256, 6, 0.25, 2, False),
    ),
    "m": (
        (3, 3, 24, 24, 1, 0.0, 1, True),
        (3, 5, 24, 48, 4, 0.0, 2, True),
        (3, 5, 48, 80, 4, 0.0, 2, True),
        (3, 7, 80, 160, 4, 0.25, 2, False),
        (3, 14, 160, 176, 6, 0.25, 1, False),
        (3, 18, 176, 304, 6, 0.25, 2, False),
        (3, 5, 304, 512, 6, 0.25, 1, False),
    ),
    "l": (
        (3, 4, 32, 32, 1, 0.0, 1, True),
        (3, 7, 32, 64, 4, 0.0, 2, True),
        (3, 7, 64, 96, 4, 0.0, 2, True),
        (3, 10, 96, 192, 4, 0.25, 2, False),
        (3, 19, 192, 224, 6, 0.25, 1, False),
        (3, 25, 224, 384, 6, 0.25, 2, False),
        (3, 7, 384, 640, 6, 0.25, 1, False),
    ),
}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_VARIANCE = (0.229**2, 0.224**2, 0.225**2)
_BN_MOMENTUM = 0.9
_ACTIVATION = "swish"
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


def round_filters(filters: float, width_coefficient: float, divisor: int = 8) -> int:
    """`filters * width_coefficient` to the nearest multiple of `divisor`, at least `divisor`
    (EfficientNetV2's rule: no 10% correction, unlike EfficientNet)."""
    filters *= width_coefficient
    return int(max(divisor, int(filters + divisor / 2) // divisor * divisor))


def _conv(filters, kernel, name, strides=1, activation=None, use_bias=False):
    from fitorch import initializers

    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=initializers.get(_CONV_INIT),
        name=name,
    )


def _bn_act(x, name_bn, name_act):
    x = layers.BatchNormalization(axis=3, momentum=_BN_MOMENTUM, name=name_bn)(x)
    return layers.Activation(_ACTIVATION, name=name_act)(x) if name_act else x


def _squeeze_excite(x, filters, filters_in, se_ratio, name):
    """x * sigmoid(1x1 conv(swish(1x1 conv(global mean of x)))), reduced to
    `max(1, int(filters_in * se_ratio))` channels."""
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    reduced = max(1, int(filters_in * se_ratio))
    se = _conv(reduced, 1, f"{name}se_reduce", activation=_ACTIVATION, use_bias=True)(se)
    se = _conv(filters, 1, f"{name}se_expand", activation="sigmoid", use_bias=True)(se)
    return layers.Multiply(name=f"{name}se_excite")([x, se])


def _block(inputs, spec, filters_in, strides, drop_rate, name):
    """One Fused-MBConv or MBConv block (see the module docstring)."""
    kernel, _, _, filters_out, expand, se_ratio, _, fused = spec
    filters = filters_in * expand
    x = inputs
    if fused:
        if expand != 1:
            x = _conv(filters, kernel, f"{name}expand_conv", strides=strides)(x)
            x = _bn_act(x, f"{name}expand_bn", f"{name}expand_activation")
    else:
        if expand != 1:
            x = _conv(filters, 1, f"{name}expand_conv")(x)
            x = _bn_act(x, f"{name}expand_bn", f"{name}expand_activation")
        from fitorch import initializers

        x = layers.DepthwiseConv2D(
            kernel,
            strides=strides,
            padding="same",
            use_bias=False,
            depthwise_initializer=initializers.get(_CONV_INIT),
            name=f"{name}dwconv2",
        )(x)
        x = _bn_act(x, f"{name}bn", f"{name}activation")
    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, filters, filters_in, se_ratio, name)
    project_alone = fused and expand == 1  # one k x k convolution does the whole block
    x = _conv(
        filters_out,
        kernel if project_alone else 1,
        f"{name}project_conv",
        strides=strides if project_alone else 1,
    )(x)
    x = _bn_act(x, f"{name}project_bn", f"{name}project_activation" if project_alone else None)
    if strides == 1 and filters_in == filters_out:
        if drop_rate:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.Add(name=f"{name}add")([x, inputs])
    return x


def _preprocessing(x, variant):
    if variant.startswith("b"):
        x = layers.Rescaling(1.0 / 255.0)(x)
        return layers.Normalization(mean=_IMAGENET_MEAN, variance=_IMAGENET_VARIANCE, axis=3)(x)
    return layers.Rescaling(1.0 / 128.0, offset=-1.0)(x)


def _efficientnet_v2(variant, include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, include_preprocessing, name):  # fmt: skip
    if backend.image_data_format() == "channels_first":
        raise ValueError("EfficientNetV2 is built for channels_last inputs; got channels_first.")
    width, depth, default_size = _SCALING[variant]
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    x = img_input
    if include_preprocessing:
        x = _preprocessing(x, variant if input_shape[-1] == 3 else "s")
    stages = _STAGES[variant]
    x = _conv(round_filters(stages[0][2], width), 3, "stem_conv", strides=2)(x)
    x = _bn_act(x, "stem_bn", "stem_activation")
    total, b = float(sum(stage[1] for stage in stages)), 0
    for i, spec in enumerate(stages):
        f_in, f_out = round_filters(spec[2], width), round_filters(spec[3], width)
        spec = (*spec[:3], f_out, *spec[4:])
        for j in range(int(math.ceil(depth * spec[1]))):
            first = j == 0
            x = _block(x, spec, f_in if first else f_out, spec[6] if first else 1,
                       0.2 * b / total, f"block{i + 1}{chr(j + 97)}_")  # fmt: skip
            b += 1
    x = _conv(round_filters(1280, width), 1, "top_conv")(x)
    x = _bn_act(x, "top_bn", "top_activation")
    if include_top:
        from fitorch import initializers

        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        iu.validate_activation(classifier_activation, weights)
        x = layers.Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=initializers.get(_DENSE_INIT),
            name="predictions",
        )(x)
    else:
        x = iu.pool_features(x, pooling, layers, name_prefix="")
    model = iu.build_model(img_input, input_tensor, x, name)
    fname = f"efficientnetv2-{variant}" + (".h5" if include_top else "_notop.h5")
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
        include_preprocessing: bool = True,
        name: str = f"efficientnetv2-{variant}",
    ) -> Model:
        return _efficientnet_v2(
            variant,
            include_top,
            weights,
            input_tensor,
            input_shape,
            pooling,
            classes,
            classifier_activation,
            include_preprocessing,
            name,
        )

    label = f"EfficientNetV2{variant.upper()}"
    build.__name__ = build.__qualname__ = label
    size = _SCALING[variant][2]
    build.__doc__ = (
        f"{label} as Keras builds it ({params:,} parameters with the 1000-class top; default "
        f"input {size}x{size}); inputs are pixels in [0, 255] (preprocessing is part of the "
        "model unless include_preprocessing=False)."
    )
    return build


EfficientNetV2B0 = _variant("b0", 7_200_312)
EfficientNetV2B1 = _variant("b1", 8_212_124)
EfficientNetV2B2 = _variant("b2", 10_178_374)
EfficientNetV2B3 = _variant("b3", 14_467_622)
EfficientNetV2S = _variant("s", 21_612_360)
EfficientNetV2M = _variant("m", 54_431_388)
EfficientNetV2L = _variant("l", 119_027_848)


def preprocess_input(x, data_format=None):
    """The identity (EfficientNetV2 preprocesses inside the model), as in Keras."""
    del data_format
    return x


decode_predictions = iu.decode_predictions
