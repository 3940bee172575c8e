"""Layers: the `Layer` base and the Keras layer catalogue (one module per family)."""

from fitorch import serialization as _serialization
from fitorch.layers.activation import ELU, Identity, LeakyReLU, PReLU, ReLU, Softmax
from fitorch.layers.adaptive_pooling import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from fitorch.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from fitorch.layers.base import Layer
from fitorch.layers.conv import (
    Conv1D,
    Conv2D,
    Conv3D,
    Convolution1D,
    Convolution2D,
    Convolution3D,
)
from fitorch.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from fitorch.layers.conv_variants import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    Convolution1DTranspose,
    Convolution2DTranspose,
    Convolution3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from fitorch.layers.core import Activation, Dense, Dropout, Flatten, Lambda, Reshape
from fitorch.layers.einsum_dense import EinsumDense
from fitorch.layers.embedding import Embedding, Masking
from fitorch.layers.index_lookup import IntegerLookup, StringLookup
from fitorch.layers.input import Input, InputLayer, KerasTensor
from fitorch.layers.input_spec import InputSpec
from fitorch.layers.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from fitorch.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from fitorch.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AvgPool1D,
    AvgPool2D,
    AvgPool3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalAvgPool3D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPool3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPool1D,
    MaxPool2D,
    MaxPool3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from fitorch.layers.preprocessing import Normalization, Rescaling
from fitorch.layers.preprocessing_hashing import HashedCrossing, Hashing
from fitorch.layers.preprocessing_image import (
    AutoContrast,
    CenterCrop,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomGrayscale,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Resizing,
    Solarization,
)
from fitorch.layers.preprocessing_numeric import Discretization
from fitorch.layers.preprocessing_text import CategoryEncoding
from fitorch.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
)
from fitorch.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from fitorch.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from fitorch.layers.text_vectorization import TextVectorization
from fitorch.layers.torch_module import TorchModuleWrapper
from fitorch.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "Layer", "Input", "InputLayer", "InputSpec", "KerasTensor", "TorchModuleWrapper",
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
    "Dense", "EinsumDense", "Activation", "Dropout", "Flatten", "Reshape", "Lambda",
    "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
    "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
    "Conv1D", "Conv2D", "Conv3D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D",
    "AvgPool3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalAvgPool1D",
    "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D",
    "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "BatchNormalization", "GroupNormalization", "LayerNormalization", "UnitNormalization",
    "Embedding", "Masking", "RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell",
    "LSTMCell",
    "GRUCell", "Bidirectional", "TimeDistributed",
    "ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax",
    "ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D",
    "AdditiveAttention", "Attention", "MultiHeadAttention",
    "Identity", "Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose",
    "Convolution2DTranspose", "Convolution3DTranspose", "SeparableConvolution1D",
    "SeparableConvolution2D", "RMSNormalization", "Normalization", "Rescaling",
    "StackedRNNCells",
    "CategoryEncoding",
    "AutoContrast", "CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop",
    "RandomFlip", "RandomGrayscale", "Resizing", "Solarization", "TextVectorization",
    "RandomRotation", "RandomTranslation", "RandomZoom",
    "IntegerLookup", "StringLookup",
    "Discretization", "HashedCrossing", "Hashing",
    "deserialize", "serialize",
]  # fmt: skip

# Loading a file finds these classes by name (fitorch.serialization never imports this module).
_serialization.register_builtin_layers(
    v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, Layer)
)


def serialize(layer) -> dict:
    """The `{"module", "class_name", "config", "registered_name"}` record of `layer`."""
    return _serialization.serialize_object(layer)


def deserialize(config: dict, custom_objects=None):
    """A new layer (or model) from a `serialize` record or a Keras layer config."""
    record = _serialization.sanitize_keras(config)
    return _serialization.deserialize_object(record, kind="layer", custom_objects=custom_objects)
