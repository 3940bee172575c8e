"""ResNet50/101/152 (He et al., 2015) and their V2 forms (pre-activation, 2016), layer for
layer as Keras builds them.

Stem: `conv1_pad` (3 px), `conv1_conv` (7x7/2, 64), [V1: `conv1_bn`, `conv1_relu`],
`pool1_pad`, `pool1_pool` (3x3/2 max). Then stacks `conv2`..`conv5` of bottleneck blocks
`{stack}_block{i}` with 64/128/256/512 filters (outputs 4x that). V1 blocks: 1x1 (stride) ->
3x3 -> 1x1, each conv followed by BatchNormalization (eps 1.001e-5), a projection shortcut
`_0_conv` in the first block, `_add` then `_out` ReLU. V2 blocks: `_preact_bn`/`_preact_relu`
first, convolutions without bias except the last, the stride in the *last* block of a stack,
an unnamed 1x1 max pool as the identity shortcut when strided; `post_bn`/`post_relu` at the end.
Preprocessing: V1 "caffe", V2 "tf".
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.models import Model

__all__ = [
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "ResNet50V2",
    "ResNet101V2",
    "ResNet152V2",
]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
_HASHES = {  # weights name -> (with top, without top) md5
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
_EPS = 1.001e-5
_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _bn_axis() -> int:
    return 3 if backend.image_data_format() == "channels_last" else 1


def _bn(name):
    return layers.BatchNormalization(axis=_bn_axis(), epsilon=_EPS, name=name)


def _block_v1(x, filters, stride=1, conv_shortcut=True, name=""):
    """Bottleneck 1x1/stride -> 3x3 -> 1x1(4*filters), BN after each, added to the shortcut."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _stack_v1(x, filters, blocks, stride1=2, name=""):
    x = _block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = _block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _block_v2(x, filters, stride=1, conv_shortcut=False, name=""):
    """Pre-activation bottleneck: BN-ReLU first, stride on the 3x3, no BN after the last conv."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def _stack_v2(x, filters, blocks, stride1=2, name=""):
    x = _block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = _block_v2(x, filters, name=f"{name}_block{i}")
    return _block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _resnet(
    depth,
    preact,
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
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    blocks = _DEPTHS[depth]
    for stack, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), 2):
        if preact:  # V2: stride 2 at the end of stacks conv2..conv4
            x = _stack_v2(x, filters, n, stride1=1 if stack == 5 else 2, name=f"conv{stack}")
        else:  # V1: stride 2 at the start of stacks conv3..conv5
            x = _stack_v1(x, filters, n, stride1=1 if stack == 2 else 2, name=f"conv{stack}")
    if preact:
        x = _bn("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights,
        top_pool_name="avg_pool", name_prefix="",
    )  # fmt: skip
    model = iu.build_model(img_input, input_tensor, x, name)
    key = f"resnet{depth}" + ("v2" if preact else "")
    suffix = "" if include_top else "_notop"
    fname = f"{key}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    iu.load_weights(model, weights, fname, _BASE + fname, _HASHES[key][0 if include_top else 1])
    return model


_DOC = """{title} as Keras builds it ({params:,} parameters with the 1000-class top).

Args (as Keras): include_top, weights (None | "imagenet" | path), input_tensor,
input_shape (default (224, 224, 3), min 32x32), pooling (None | "avg" | "max" without the
top), classes, classifier_activation, name. Preprocess inputs with `{pre}.preprocess_input`.
"""


def _variant(depth: int, preact: bool, params: int):
    default_name = f"resnet{depth}" + ("v2" if preact else "")

    def build(
        include_top: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = default_name,
    ) -> Model:
        return _resnet(
            depth,
            preact,
            include_top,
            weights,
            input_tensor,
            input_shape,
            pooling,
            classes,
            classifier_activation,
            name,
        )

    title = f"ResNet{depth}" + ("V2" if preact else "")
    build.__name__ = build.__qualname__ = title
    build.__doc__ = _DOC.format(title=title, params=params, pre="resnet_v2" if preact else "resnet")
    return build


ResNet50 = _variant(50, False, 25_636_712)
ResNet101 = _variant(101, False, 44_707_176)
ResNet152 = _variant(152, False, 60_419_944)
ResNet50V2 = _variant(50, True, 25_613_800)
ResNet101V2 = _variant(101, True, 44_675_560)
ResNet152V2 = _variant(152, True, 60_380_648)


def preprocess_input(x, data_format=None):
    """ResNet (V1) preprocessing: "caffe" (RGB -> BGR, minus the ImageNet BGR means)."""
    return iu.preprocess_input(x, data_format=data_format, mode="caffe")


def preprocess_input_v2(x, data_format=None):
    """ResNetV2 preprocessing: "tf" (`x / 127.5 - 1`)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
