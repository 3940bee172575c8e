"""fitorch.config: Keras 3's settings, each one shared with the module that reads it."""

import os

import pytest
import torch

import fitorch
from fitorch import backend as K
from fitorch import config, layers, losses, mixed_precision, serialization

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


def test_defaults_equal_keras():
    assert config.backend() == "torch" == keras.config.backend()
    assert config.floatx() == keras.config.floatx() == "float32"
    assert config.epsilon() == keras.config.epsilon() == 1e-7
    assert config.image_data_format() == keras.config.image_data_format() == "channels_last"
    assert config.dtype_policy().name == keras.config.dtype_policy().name == "float32"


def test_epsilon_is_the_one_losses_read():
    y = torch.tensor([[0.0]])
    p = torch.tensor([[0.0]])  # log(epsilon) after clipping: -log(eps) per sample
    try:
        config.set_epsilon(1e-3)
        assert K.epsilon() == 1e-3
        value = float(losses.binary_crossentropy(1 - y, p)[0])
        assert value == pytest.approx(-torch.log(torch.tensor(1e-3)).item(), rel=1e-4)
    finally:
        config.set_epsilon(1e-7)


def test_floatx_and_image_data_format_are_the_backends():
    try:
        config.set_floatx("float64")
        assert K.floatx() == "float64" and K.constant([1.0]).dtype == torch.float64
        config.set_image_data_format("channels_first")
        assert K.image_data_format() == "channels_first"
    finally:
        config.set_floatx("float32")
        config.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="received 'float8'"):
        config.set_floatx("float8")
    with pytest.raises(ValueError, match="received 'nhwc'"):
        config.set_image_data_format("nhwc")


def test_dtype_policy_reaches_new_layers():
    try:
        config.set_dtype_policy("mixed_bfloat16")
        assert mixed_precision.global_policy().name == "mixed_bfloat16"
        layer = layers.Dense(2)
        layer.build((None, 3))
        assert layer.kernel.dtype == torch.float32  # variables stay float32
        assert layer.compute_dtype == "bfloat16"
    finally:
        config.set_dtype_policy(None)
    assert config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="Did you mean 'mixed_float16'"):
        config.set_dtype_policy("mixed_floa16")


def test_enable_unsafe_deserialization_is_the_serialization_switch(monkeypatch):
    monkeypatch.setattr(serialization, "_UNSAFE_GLOBAL", [False])
    assert serialization.in_safe_mode()
    fitorch.config.enable_unsafe_deserialization()
    assert not serialization.in_safe_mode()
