"""`fitorch.quantizers`: the module path of Keras 3's `keras.quantizers`, without quantization.

Keras 3 quantizes layers (`model.quantize("int8")`, GPTQ, AWQ, float8 training) through these
names. fitorch has no quantized layers, so every Keras name raises `NotImplementedError`
saying so, at `from fitorch.quantizers import Quantizer` as at attribute access; the module
exists so that `import fitorch as keras` code importing it fails at the point of use with
that reason, not with a missing module. torch's own quantization (`torch.ao.quantization`)
applies to a trained fitorch model, which is a `torch.nn.Module`.
"""

from __future__ import annotations

__all__: list[str] = []

# The public names of Keras 3.15's keras.quantizers.
_KERAS_NAMES = (
    "AWQConfig", "AbsMaxQuantizer", "Float8QuantizationConfig", "GPTQConfig",
    "Int4QuantizationConfig", "Int8QuantizationConfig", "QuantizationConfig", "Quantizer",
    "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
    "compute_float8_amax_history", "compute_float8_scale", "deserialize",
    "fake_quant_with_min_max_vars", "get", "pack_int4", "quantize_and_dequantize",
    "serialize", "unpack_int4",
)  # fmt: skip


def __getattr__(name: str):
    if name in _KERAS_NAMES:
        raise NotImplementedError(
            f"fitorch.quantizers.{name}: Keras 3's quantization (int8/int4/float8 layers, "
            "GPTQ, AWQ) is not provided by fitorch. A trained fitorch model is a "
            "torch.nn.Module: torch.ao.quantization can quantize it."
        )
    raise AttributeError(f"module 'fitorch.quantizers' has no attribute {name!r}")
