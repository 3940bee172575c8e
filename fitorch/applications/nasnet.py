"""NASNetMobile and NASNetLarge (Zoph et al., 2018, NASNet-A), layer for layer as Keras builds
them.

Stem `stem_conv1` (3x3/2 'valid', no bias) + `stem_bn1`, two reduction cells `stem_1`,
`stem_2`, then three stacks of `num_blocks` normal cells separated by reduction cells
`reduce_{n}` and `reduce_{2n}`, a ReLU and the top (global average pool + `predictions`).
Each cell takes the previous output `ip` and the one before, `p`; `p` is first matched to
`ip` (adjust block): halved spatially by two offset 1x1/2 average-pool + conv paths
(`adjust_*_1/2_{id}`, concatenated, `adjust_bn_{id}`) when the sizes differ, or projected by a
1x1 conv (`adjust_conv_projection_{id}`) when only the channels differ. Then `h = BN(conv1x1(
relu(ip)))` and five pairwise-summed branches of separable blocks (relu, separable conv, BN,
twice; `separable_conv_{1,2}[_bn]_{id}`), average and max pools; normal cells concatenate
`p` and the five sums, reduction cells four sums at half the size. Widths: `filters =
penultimate_filters // 24`, divided or multiplied by `filter_multiplier` per stage.
BatchNormalization momentum 0.9997, epsilon 1e-3; convolutions use `he_normal`.
`preprocess_input` uses "tf" mode (`x / 127.5 - 1`).
"""

from __future__ import annotations

from fitorch import backend, layers
from fitorch.applications import imagenet_utils as iu
from fitorch.applications.mobilenet_v2 import correct_pad
from fitorch.models import Model

__all__ = ["NASNet", "NASNetMobile", "NASNetLarge", "preprocess_input", "decode_predictions"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
# default size -> (with top, without top) as (file name, URL file name, md5), Keras's files.
_FILES = {
    224: (
        ("nasnet_mobile.h5", "NASNet-mobile.h5", "020fb642bf7360b370c678b08e0adf61"),
        ("nasnet_mobile_no_top.h5", "NASNet-mobile-no-top.h5", "1ed92395b5b598bdda52abe5c0dbfd63"),
    ),
    331: (
        ("nasnet_large.h5", "NASNet-large.h5", "11577c9a518f0070763c2b964a382f17"),
        ("nasnet_large_no_top.h5", "NASNet-large-no-top.h5", "d81d89dc07e6e56530c4e77faddd61b5"),
    ),
}


def _bn(name=None):
    return layers.BatchNormalization(axis=-1, momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(filters, name, strides=1):
    return layers.Conv2D(
        filters, 1, strides=strides, padding="same", use_bias=False,
        kernel_initializer="he_normal", name=name,
    )  # fmt: skip


def _separable_block(x, filters, kernel, block_id, strides=1):
    """relu, separable k x k conv (strided: TF-'same' padding then 'valid'), BN, then relu,
    separable k x k conv, BN."""
    x = layers.Activation("relu")(x)
    padding = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(correct_pad(x, kernel), name=f"separable_conv_1_pad_{block_id}")(x)
        padding = "valid"
    x = layers.SeparableConv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False,
        name=f"separable_conv_1_{block_id}",
    )(x)  # fmt: skip
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(
        filters, kernel, padding="same", use_bias=False, name=f"separable_conv_2_{block_id}"
    )(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust(p, ip, filters, block_id):
    """`p` matched to `ip`'s spatial size and `filters` channels (see the module docstring)."""
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv1x1(filters // 2, f"adjust_conv_1_{block_id}")(p1)
        # The second path sees the input shifted by one pixel (pad bottom/right, crop top/left).
        p2 = layers.ZeroPadding2D(((0, 1), (0, 1)))(p)
        p2 = layers.Cropping2D(((1, 0), (1, 0)))(p2)
        p2 = layers.AveragePooling2D(1, strides=2, name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv1x1(filters // 2, f"adjust_conv_2_{block_id}")(p2)
        p = layers.concatenate([p1, p2], axis=-1)
        return _bn(f"adjust_bn_{block_id}")(p)
    if p.shape[-1] != filters:
        p = layers.Activation("relu")(p)
        p = _conv1x1(filters, f"adjust_conv_projection_{block_id}")(p)
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _cell_input(ip, filters, kind, block_id):
    """`h = BN(conv1x1(relu(ip)))`, the cell's view of its latest input."""
    h = layers.Activation("relu")(ip)
    h = _conv1x1(filters, f"{kind}_conv_1_{block_id}")(h)
    return _bn(f"{kind}_bn_1_{block_id}")(h)


def _normal_cell(ip, p, filters, block_id):
    """NASNet-A normal cell; returns (output, ip)."""
    p = _adjust(p, ip, filters, block_id)
    h = _cell_input(ip, filters, "normal", block_id)

    def pair(a, b, n):
        return layers.add([a, b], name=f"normal_add_{n}_{block_id}")

    def pool(x, side):
        return layers.AveragePooling2D(
            3, strides=1, padding="same", name=f"normal_{side}_{block_id}"
        )(x)

    x1 = pair(
        _separable_block(h, filters, 5, f"normal_left1_{block_id}"),
        _separable_block(p, filters, 3, f"normal_right1_{block_id}"),
        1,
    )
    x2 = pair(
        _separable_block(p, filters, 5, f"normal_left2_{block_id}"),
        _separable_block(p, filters, 3, f"normal_right2_{block_id}"),
        2,
    )
    x3 = pair(pool(h, "left3"), p, 3)
    x4 = pair(pool(p, "left4"), pool(p, "right4"), 4)
    x5 = pair(_separable_block(h, filters, 3, f"normal_left5_{block_id}"), h, 5)
    x = layers.concatenate([p, x1, x2, x3, x4, x5], axis=-1, name=f"normal_concat_{block_id}")
    return x, ip


def _reduction_cell(ip, p, filters, block_id):
    """NASNet-A reduction cell (half the spatial size); returns (output, ip)."""
    p = _adjust(p, ip, filters, block_id)
    h = _cell_input(ip, filters, "reduction", block_id)
    h3 = layers.ZeroPadding2D(correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)

    def sep(x, kernel, side, strides=2):
        return _separable_block(x, filters, kernel, f"reduction_{side}_{block_id}", strides)

    def max_pool(name):
        return layers.MaxPooling2D(3, strides=2, name=f"reduction_{name}_{block_id}")(h3)

    x1 = layers.add([sep(h, 5, "left1"), sep(p, 7, "right1")], name=f"reduction_add_1_{block_id}")
    x2 = layers.add([max_pool("left2"), sep(p, 7, "right2")], name=f"reduction_add_2_{block_id}")
    x3_1 = layers.AveragePooling2D(3, strides=2, name=f"reduction_left3_{block_id}")(h3)
    x3 = layers.add([x3_1, sep(p, 5, "right3")], name=f"reduction_add3_{block_id}")
    x4 = layers.AveragePooling2D(3, strides=1, padding="same", name=f"reduction_left4_{block_id}")(
        x1
    )
    x4 = layers.add([x2, x4])
    x5 = layers.add(
        [sep(x1, 3, "left4", strides=1), max_pool("right5")], name=f"reduction_add4_{block_id}"
    )
    x = layers.concatenate([x2, x3, x4, x5], axis=-1, name=f"reduction_concat_{block_id}")
    return x, ip


def NASNet(
    input_shape=None,
    penultimate_filters: int = 4032,
    num_blocks: int = 6,
    stem_block_filters: int = 96,
    skip_reduction: bool = True,
    filter_multiplier: int = 2,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    default_size: int | None = None,
    classifier_activation="softmax",
    name: str = "NASNet",
) -> Model:
    """A NASNet-A (N @ P: `num_blocks` normal cells per stack, `penultimate_filters`) as
    Keras's builder makes it. With `skip_reduction` the cell after a reduction cell sees the
    cell before it (not the reduction cell's input). ImageNet weights exist for the Mobile
    (`default_size=224`) and Large (331) configurations only.
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError("NASNet is built for channels_last inputs; got channels_first.")
    iu.validate_weights_arg(weights, include_top, classes)
    if weights == "imagenet" and input_shape is not None and None in tuple(input_shape):
        raise ValueError(
            "NASNet with weights='imagenet' needs a static input_shape (no None entries); got "
            f"input_shape={input_shape}."
        )
    if penultimate_filters % (24 * filter_multiplier**2):
        raise ValueError(
            "NASNet: penultimate_filters must be a multiple of 24 * filter_multiplier**2 = "
            f"{24 * filter_multiplier**2}; got {penultimate_filters}."
        )
    default_size = 331 if default_size is None else default_size
    if weights == "imagenet" and default_size not in _FILES:
        raise ValueError(
            "NASNet: ImageNet weights exist for NASNetMobile (default_size=224) and "
            f"NASNetLarge (331) only; got default_size={default_size}."
        )
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    filters = penultimate_filters // 24
    x = layers.Conv2D(
        stem_block_filters, 3, strides=2, use_bias=False, kernel_initializer="he_normal",
        name="stem_conv1",
    )(img_input)  # fmt: skip
    x = _bn("stem_bn1")(x)
    x, p = _reduction_cell(x, None, filters // filter_multiplier**2, "stem_1")
    x, p = _reduction_cell(x, p, filters // filter_multiplier, "stem_2")
    for stack in range(3):  # cells 0..n-1, reduce_n, n+1..2n, reduce_2n, 2n+1..3n
        width = filters * filter_multiplier**stack
        if stack:
            x, p_reduced = _reduction_cell(x, p, width, f"reduce_{stack * num_blocks}")
            p = p if skip_reduction else p_reduced
        for j in range(num_blocks):
            x, p = _normal_cell(x, p, width, str(stack * num_blocks + j + (stack > 0)))
    x = layers.Activation("relu")(x)
    x = iu.average_pool_classifier(
        x, include_top, pooling, classes, classifier_activation, weights, None, None
    )
    model = iu.build_model(img_input, input_tensor, x, name)
    if weights == "imagenet":
        fname, url_name, md5 = _FILES[default_size][0 if include_top else 1]
        iu.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + url_name, md5)
    else:
        iu.load_weights(model, weights)
    return model


def NASNetMobile(
    input_shape=None,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "nasnet_mobile",
) -> Model:
    """NASNet-A Mobile (4 @ 1056, 5,326,716 parameters with the 1000-class top; default input
    224x224, also without the top). Inputs: `preprocess_input` ("tf" mode). Keras 3 refuses
    this model on its torch backend (an open bug there); fitorch builds it."""
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(
        input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
        skip_reduction=False, filter_multiplier=2, include_top=include_top, weights=weights,
        input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=224,
        classifier_activation=classifier_activation, name=name,
    )  # fmt: skip


def NASNetLarge(
    input_shape=None,
    include_top: bool = True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    name: str = "nasnet_large",
) -> Model:
    """NASNet-A Large (6 @ 4032, 88,949,818 parameters with the 1000-class top; default input
    331x331). Inputs: `preprocess_input` ("tf" mode)."""
    return NASNet(
        input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
        skip_reduction=True, filter_multiplier=2, include_top=include_top, weights=weights,
        input_tensor=input_tensor, pooling=pooling, classes=classes, default_size=331,
        classifier_activation=classifier_activation, name=name,
    )  # fmt: skip


def preprocess_input(x, data_format=None):
    """`x / 127.5 - 1` (pixels in [0, 255] to [-1, 1]), as Keras's NASNet."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")


decode_predictions = iu.decode_predictions
