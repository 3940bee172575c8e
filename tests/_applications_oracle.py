"""Keras 3 (torch backend) as the oracle for fitorch.applications: the same architecture built
by both must have the same layers (types, names, order), weights (names, shapes, count) and,
with Keras's weights copied in, the same outputs."""

from __future__ import annotations

import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

from fitorch.layers.input import OpLayer  # noqa: E402


def auto_name(name: str, layer) -> bool:
    """Whether `name` is an automatic name for `layer` ('re_lu', 'add_3'): Keras numbers these
    per session, so only the pattern can be compared."""
    base = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)
    base = re.sub(r"([a-z])([A-Z])", r"\1_\2", base).lower()
    return re.fullmatch(rf"{base}(_\d+)?", name) is not None


def _weight_name(weight, layer_type: str) -> str:
    # Keras makes unnamed variables unique per session ('variable_17'); compare the stem.
    name = re.sub(r"^variable_\d+$", "variable", weight.name)
    # Known difference: Keras 3's DepthwiseConv2D calls its kernel 'kernel', fitorch keeps
    # Keras 2's 'depthwise_kernel' (layers/conv_variants.py).
    if layer_type == "DepthwiseConv2D" and name == "depthwise_kernel":
        return "kernel"
    return name


def _weight_names(model) -> list[str]:
    return [_weight_name(w, type(layer).__name__) for layer in model.layers for w in layer.weights]


def compare_structure(fit_model, ker_model) -> None:
    """Same layer types and names in the same order (automatic names by pattern), model name,
    weight names and shapes, and parameter count."""
    # Arithmetic on symbolic tensors (MobileNetV3's `x + 3.0`, ConvNeXt's residual `x + y`)
    # is a graph op in Keras but a weightless op layer in fitorch's list.
    fit_layers = [x for x in fit_model.layers if not isinstance(x, OpLayer)]
    ker_layers = ker_model.layers
    assert len(fit_layers) == len(ker_layers)
    for f, k in zip(fit_layers, ker_layers, strict=True):
        assert type(f).__name__ == type(k).__name__, (f.name, k.name)
        if auto_name(k.name, k):
            assert auto_name(f.name, f), (f.name, k.name)
        else:
            assert f.name == k.name
    assert fit_model.name == ker_model.name
    assert fit_model.count_params() == ker_model.count_params()
    assert _weight_names(fit_model) == _weight_names(ker_model)
    # Shapes in Keras layout (fitorch stores convolution kernels in torch's).
    assert [w.shape for w in fit_model.get_weights()] == [w.shape for w in ker_model.get_weights()]


def compare(fit_model, ker_model, x, atol=1e-4):
    """`compare_structure`, then Keras's weights copied in and equal outputs (inference)."""
    compare_structure(fit_model, ker_model)
    fit_model.set_weights(ker_model.get_weights())
    want = np.asarray(ker_model(x, training=False).detach().cpu())
    got = fit_model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-4)
    return got


def images(shape, seed=0):
    """Two images of `shape` with values uniform in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1, 1, (2, *shape)).astype("float32")
