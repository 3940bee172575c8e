"""DenseNet121/169/201 (Huang et al., 2016), layer for layer as Keras builds them.

Stem: zero padding 3, `conv1_conv` (7x7/2, 64, no bias), `conv1_bn`, `conv1_relu`, zero
padding 1, `pool1` (3x3/2 max). Four dense blocks `conv2`..`conv5` of (6, 12, 24, 16) /
(6, 12, 32, 32) / (6, 12, 48, 32) building blocks `{block}_block{i}`: BN-ReLU-1x1 conv (128),
BN-ReLU-3x3 conv (32, the growth rate), concatenated to the block input. Transitions
`pool2`..`pool4`: BN-ReLU-1x1 conv halving the channels, 2x2 average pool. Then `bn`, `relu`.
BatchNormalization epsilon 1.001e-5. Inputs: `preprocess_input` ("torch" mode).
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_HASHES = {  # depth -> (with top, without top) md5
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
_EPS = 1.001e-5
_GROWTH = 32


def _bn(name):
    return layers.BatchNormalization(axis=3, epsilon=_EPS, name=name)


def _conv_block(x, name):
    """x ++ conv3x3(relu(bn(conv1x1(relu(bn(x))))))  (concatenated along channels)."""
    h = _bn(f"{name}_0_bn")(x)
    h = layers.Activation("relu", name=f"{name}_0_relu")(h)
    h = layers.Conv2D(4 * _GROWTH, 1, use_bias=False, name=f"{name}_1_conv")(h)
    h = _bn(f"{name}_1_bn")(h)
    h = layers.Activation("relu", name=f"{name}_1_relu")(h)
    h = layers.Conv2D(_GROWTH, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(h)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, h])


def _transition(x, name):
    x = _bn(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * 0.5), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _densenet(
    depth,
    include_top,
    weights,
    input_tensor,
    input_shape,
    pooling,
    classes,
    classifier_activation,
    name,
):
    if backend.image_data_format() == "channels_first":
        raise ValueError(
            "DenseNet supports only the channels_last image data format; got channels_first."
        )
    iu.validate_weights_arg(weights, include_top, classes)
    input_shape = iu.obtain_input_shape(
        input_shape, 224, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, n in enumerate(_BLOCKS[depth], start=2):
        for i in range(1, n + 1):
            x = _conv_block(x, f"conv{stage}_block{i}")
        if stage < 5:
            x = _transition(x, f"pool{stage}")
    x = _bn("bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights,
        top_pool_name="avg_pool", name_prefix="",
    )  # fmt: skip
    model = iu.build_model(img_input, input_tensor, x, name)
    fname = (
        f"densenet{depth}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    )
    iu.load_weights(model, weights, fname, _BASE + fname, _HASHES[depth][0 if include_top else 1])
    return model


def _variant(depth: int, params: int):
    def build(
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"densenet{depth}",
    ) -> Model:
        return _densenet(
            depth,
            include_top,
            weights,
            input_tensor,
            input_shape,
            pooling,
            classes,
            classifier_activation,
            name,
        )

    build.__name__ = build.__qualname__ = f"DenseNet{depth}"
    build.__doc__ = (
        f"DenseNet{depth} as Keras builds it ({params:,} parameters with the 1000-class top); "
        "Keras's arguments (include_top, weights, input_tensor, input_shape (min 32x32), "
        "pooling, classes, classifier_activation, name)."
    )
    return build


DenseNet121 = _variant(121, 8_062_504)
DenseNet169 = _variant(169, 14_307_880)
DenseNet201 = _variant(201, 20_242_984)


def preprocess_input(x, data_format=None):
    """DenseNet preprocessing: "torch" (`(x / 255 - mean) / std`, ImageNet statistics)."""
    return iu.preprocess_input(x, data_format=data_format, mode="torch")


decode_predictions = iu.decode_predictions
