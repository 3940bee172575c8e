"""ConvNeXtTiny/Small/Base/Large/XLarge (Liu et al., 2022), layer for layer as Keras builds them.

With `include_preprocessing=True` (default) and 3 input channels the model starts with
`{name}_prestem_normalization`: `(x - 255 * mean) / (255 * std)` with the ImageNet mean
(0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), a `Normalization` with fixed statistics
(no weights), so inputs are pixels in [0, 255]. Then four stages, each entered through a
nested `Sequential`:
- stage 0: `{name}_stem` = `{name}_stem_conv` (4x4/4, 'valid') + `{name}_stem_layernorm`;
- stage i > 0: `{name}_downsampling_block_{i-1}` = LayerNormalization + 2x2/2 convolution;
followed by `depths[i]` blocks `{name}_stage_{i}_block_{j}`:
    y = x + drop_path(gamma * Dense(gelu(Dense_4c(LayerNorm(depthwise7x7(x))))))
where the pointwise convolutions are `Dense` layers on the channel axis, `gamma` is a
`LayerScale` (`layer_scale_init_value`, None for none), and `drop_path` is a
`StochasticDepth` layer whose rate grows linearly from 0 to `drop_path_rate` over all blocks
(an identity `Activation('linear')` named `_identity` where the rate is 0, Keras's choice). The
residual `x + ...` is a graph op, not a layer. LayerNormalization epsilon is 1e-6 throughout.
Head: `{name}_head_gap` (global average pool), `{name}_head_layernorm`, `{name}_head_dense`;
without the top, optional global pooling then an automatically named LayerNormalization (on the
4D features too when `pooling=None`, as in Keras). `preprocess_input` is the identity.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from fitorch import backend, layers, serialization
from fitorch.applications import imagenet_utils as iu
from fitorch.layers.base import Layer
from fitorch.models import Model, Sequential

__all__ = [
    "ConvNeXt",
    "ConvNeXtTiny",
    "ConvNeXtSmall",
    "ConvNeXtBase",
    "ConvNeXtLarge",
    "ConvNeXtXLarge",
    "LayerScale",
    "MODEL_CONFIGS",
    "WEIGHTS_HASHES",
    "BASE_WEIGHTS_PATH",
    "StochasticDepth",
    "preprocess_input",
    "decode_predictions",
]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
WEIGHTS_HASHES = {  # weights name -> (with top, without top) sha256, Keras's
    "convnext_tiny": (
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
    ),
    "convnext_small": (
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
        "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
    ),
    "convnext_base": (
        "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
        "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45",
    ),
    "convnext_large": (
        "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
        "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd",
    ),
    "convnext_xlarge": (
        "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05",
    ),
}
# variant -> stage depths and widths, default input size (Keras's table).
MODEL_CONFIGS = {
    variant: {"depths": depths, "projection_dims": dims, "default_size": 224}
    for variant, depths, dims in (
        ("tiny", [3, 3, 9, 3], [96, 192, 384, 768]),
        ("small", [3, 3, 27, 3], [96, 192, 384, 768]),
        ("base", [3, 3, 27, 3], [128, 256, 512, 1024]),
        ("large", [3, 3, 27, 3], [192, 384, 768, 1536]),
        ("xlarge", [3, 3, 27, 3], [256, 512, 1024, 2048]),
    )
}
_EPS = 1e-6
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


# -- layers -------------------------------------------------------------------------------
class LayerScale(Layer):
    """`x * gamma`: a learned per-channel scale on the last axis (Touvron et al., 2021).

    `gamma` has shape `(projection_dim,)`, starts at `init_values` and is the layer's one
    weight (named `variable`, as Keras leaves it unnamed).
    Example: `LayerScale(0.5, 2)(torch.ones(1, 2))` is `[[0.5, 0.5]]`.
    """

    def __init__(self, init_values: float, projection_dim: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(init_values, numbers.Real) or isinstance(init_values, bool):
            raise TypeError(f"LayerScale: init_values must be a number; got {init_values!r}.")
        if not isinstance(projection_dim, int) or isinstance(projection_dim, bool):
            raise TypeError(
                f"LayerScale: projection_dim must be an integer; got {projection_dim!r}."
            )
        if projection_dim <= 0:
            raise ValueError(f"LayerScale: projection_dim must be positive; got {projection_dim}.")
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape) -> None:
        last = input_shape[-1]
        if last is not None and last != self.projection_dim:
            raise ValueError(
                f"LayerScale {self.name!r}: the last input dimension must equal "
                f"projection_dim={self.projection_dim}; got input shape {tuple(input_shape)}."
            )
        from fitorch import initializers

        self.add_weight("variable", (self.projection_dim,), initializers.Constant(self.init_values))

    @property
    def gamma(self) -> torch.nn.Parameter:
        """The scale (Keras's attribute name)."""
        return self.variable

    def call(self, inputs):
        return inputs * self.variable

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }


class StochasticDepth(Layer):
    """Drops whole residual branches per sample in training (Huang et al., 2016).

    Training: `x / keep * floor(keep + u)` with `keep = 1 - drop_path_rate` and one
    `u ~ U[0, 1)` per sample, so each sample's branch is kept with probability `keep` and the
    expectation is `x`. Inference: the identity.
    """

    def __init__(self, drop_path_rate: float, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(drop_path_rate, numbers.Real) or isinstance(drop_path_rate, bool):
            raise TypeError(
                f"StochasticDepth: drop_path_rate must be a number; got {drop_path_rate!r}."
            )
        if not 0.0 <= drop_path_rate < 1.0:
            raise ValueError(
                f"StochasticDepth: drop_path_rate must be in [0, 1); got {drop_path_rate}."
            )
        self.drop_path_rate = drop_path_rate
        self.built = True

    def call(self, inputs, training=None):
        if not training or self.drop_path_rate == 0.0:
            return inputs
        keep = 1.0 - self.drop_path_rate
        shape = (inputs.shape[0],) + (1,) * (inputs.ndim - 1)  # one draw per sample
        kept = torch.floor(keep + torch.rand(shape, dtype=inputs.dtype, device=inputs.device))
        return inputs / keep * kept

    def get_config(self) -> dict:
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}


# Saved models find these classes by name, like the layers of fitorch.layers.
serialization.register_builtin_layers([LayerScale, StochasticDepth])


# -- blocks -------------------------------------------------------------------------------
def _block(x, dim: int, drop_path_rate: float, layer_scale_init_value, name: str):
    """One ConvNeXt block (see the module docstring); `name` prefixes its layers."""
    y = layers.Conv2D(dim, 7, padding="same", groups=dim, name=f"{name}_depthwise_conv")(x)
    y = layers.LayerNormalization(epsilon=_EPS, name=f"{name}_layernorm")(y)
    y = layers.Dense(4 * dim, name=f"{name}_pointwise_conv_1")(y)
    y = layers.Activation("gelu", name=f"{name}_gelu")(y)
    y = layers.Dense(dim, name=f"{name}_pointwise_conv_2")(y)
    if layer_scale_init_value is not None:
        y = LayerScale(layer_scale_init_value, dim, name=f"{name}_layer_scale")(y)
    if drop_path_rate:
        y = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")(y)
    else:
        y = layers.Activation("linear", name=f"{name}_identity")(y)
    return x + y


def _downsampling(stage: int, dims, name: str) -> Sequential:
    """Stage 0's stem (4x4/4 conv + LayerNorm) or stage i's LayerNorm + 2x2/2 conv."""
    if stage == 0:
        return Sequential(
            [
                layers.Conv2D(dims[0], 4, strides=4, name=f"{name}_stem_conv"),
                layers.LayerNormalization(epsilon=_EPS, name=f"{name}_stem_layernorm"),
            ],
            name=f"{name}_stem",
        )
    i = stage - 1
    return Sequential(
        [
            layers.LayerNormalization(epsilon=_EPS, name=f"{name}_downsampling_layernorm_{i}"),
            layers.Conv2D(dims[stage], 2, strides=2, name=f"{name}_downsampling_conv_{i}"),
        ],
        name=f"{name}_downsampling_block_{i}",
    )


def _head(x, include_top, pooling, classes, classifier_activation, weights, name):
    if include_top:
        iu.validate_activation(classifier_activation, weights)
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=_EPS, name=f"{name}_head_layernorm")(x)
        return layers.Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    x = iu.pool_features(x, pooling, layers)
    return layers.LayerNormalization(epsilon=_EPS)(x)


def _check_stages(depths, projection_dims) -> tuple[tuple[int, ...], tuple[int, ...]]:
    depths, dims = tuple(depths), tuple(projection_dims)
    for arg, values in (("depths", depths), ("projection_dims", dims)):
        if len(values) != 4 or not all(isinstance(v, int) and v > 0 for v in values):
            raise ValueError(
                f"ConvNeXt: {arg} must be 4 positive integers (one per stage); got {values}."
            )
    return depths, dims


def _check_pretrained(weights_name, depths, dims) -> None:
    """ImageNet weights exist for the five variants' configurations only."""
    if weights_name not in WEIGHTS_HASHES:
        raise ValueError(
            "ConvNeXt: weights='imagenet' needs weights_name, one of "
            f"{sorted(WEIGHTS_HASHES)}; got weights_name={weights_name!r}."
        )
    config = MODEL_CONFIGS[weights_name.removeprefix("convnext_")]
    if (list(depths), list(dims)) != (config["depths"], config["projection_dims"]):
        raise ValueError(
            f"ConvNeXt: imagenet weights {weights_name!r} need depths={config['depths']} and "
            f"projection_dims={config['projection_dims']}; got depths={list(depths)}, "
            f"projection_dims={list(dims)}."
        )


# -- models -------------------------------------------------------------------------------
def ConvNeXt(
    depths,
    projection_dims,
    drop_path_rate: float = 0.0,
    layer_scale_init_value: float | None = 1e-6,
    default_size: int = 224,
    name: str = "convnext",
    include_preprocessing: bool = True,
    include_top: bool = True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int = 1000,
    classifier_activation="softmax",
    weights_name: str | None = None,
) -> Model:
    """A ConvNeXt of any stage `depths` and widths `projection_dims` (Keras's builder).

    `drop_path_rate` is the stochastic-depth rate of the last block (0 turns it off);
    `layer_scale_init_value` starts each block's LayerScale (None: no LayerScale).
    `weights='imagenet'` needs `weights_name` (`'convnext_tiny'`, ...) and that variant's
    `depths` and `projection_dims`; it loads Keras's file `{weights_name}.h5` (or
    `_notop.h5`).
    """
    if backend.image_data_format() == "channels_first":
        raise ValueError("ConvNeXt is built for channels_last inputs; got channels_first.")
    depths, dims = _check_stages(depths, projection_dims)
    iu.validate_weights_arg(weights, include_top, classes)
    if weights == "imagenet":
        _check_pretrained(weights_name, depths, dims)
    input_shape = iu.obtain_input_shape(
        input_shape, default_size, 32, backend.image_data_format(), include_top, weights
    )
    img_input = iu.image_input(input_tensor, input_shape)
    x = img_input
    if include_preprocessing and input_shape[-1] == 3:
        x = layers.Normalization(
            mean=[255.0 * m for m in _MEAN],
            variance=[(255.0 * s) ** 2 for s in _STD],
            name=f"{name}_prestem_normalization",
        )(x)
    # The linear stochastic-depth schedule of the ConvNeXt paper, over all blocks.
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    for stage, depth in enumerate(depths):
        x = _downsampling(stage, dims, name)(x)
        for j in range(depth):
            rate = rates[sum(depths[:stage]) + j]
            x = _block(
                x, dims[stage], rate, layer_scale_init_value, f"{name}_stage_{stage}_block_{j}"
            )
    x = _head(x, include_top, pooling, classes, classifier_activation, weights, name)
    model = iu.build_model(img_input, input_tensor, x, name)
    if weights == "imagenet":
        fname = weights_name + (".h5" if include_top else "_notop.h5")
        file_hash = WEIGHTS_HASHES[weights_name][0 if include_top else 1]
        iu.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname, file_hash)
    else:
        iu.load_weights(model, weights)
    return model


def _variant(variant: str, params: int):
    def build(
        include_top: bool = True,
        include_preprocessing: bool = True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes: int = 1000,
        classifier_activation="softmax",
        name: str = f"convnext_{variant}",
    ) -> Model:
        config = MODEL_CONFIGS[variant]
        return ConvNeXt(
            config["depths"],
            config["projection_dims"],
            default_size=config["default_size"],
            name=name,
            include_preprocessing=include_preprocessing,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            weights_name=f"convnext_{variant}",
        )

    label = f"ConvNeXt{variant.capitalize() if variant != 'xlarge' else 'XLarge'}"
    build.__name__ = build.__qualname__ = label
    build.__doc__ = (
        f"{label} as Keras builds it ({params:,} parameters with the 1000-class top; default "
        "input 224x224); inputs are pixels in [0, 255] (the ImageNet normalisation is part of "
        "the model unless include_preprocessing=False)."
    )
    return build


ConvNeXtTiny = _variant("tiny", 28_589_128)
ConvNeXtSmall = _variant("small", 50_223_688)
ConvNeXtBase = _variant("base", 88_591_464)
ConvNeXtLarge = _variant("large", 197_767_336)
ConvNeXtXLarge = _variant("xlarge", 350_196_968)


def preprocess_input(x, data_format=None):
    """The identity (ConvNeXt normalises inside the model), as in Keras."""
    del data_format
    return x


decode_predictions = iu.decode_predictions
