"""Dense computes narrow float32 CPU layers (2..11 units) as F.linear on a (units, in) copy
of the kernel (MKL's slow path for a row-major narrow kernel, bench/README.md): the values
and gradients must be those of `inputs @ kernel + bias` in float64, compiled equal eager,
and the other layers keep addmm / matmul."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tracing import compile_counted

import fitorch as keras


def _dense(units: int, in_dim: int, use_bias: bool = True, dtype=torch.float32, seed: int = 0):
    """A built Dense with random kernel and bias (not the zero-bias initializer)."""
    layer = keras.layers.Dense(units, use_bias=use_bias, activation="relu")
    layer(torch.zeros(1, in_dim))  # builds it
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.kernel.copy_(torch.randn(in_dim, units, generator=g))
        if use_bias:
            layer.bias.copy_(torch.randn(units, generator=g))
    return layer.to(dtype)


def _reference(layer, x: torch.Tensor):
    """relu(x @ kernel + bias) in float64 and its gradients (inputs, kernel, bias) for the
    loss sum(out * w) with w = arange % 7 - 3."""
    k = layer.kernel.detach().double().requires_grad_()
    b = layer.bias.detach().double().requires_grad_() if layer.use_bias else None
    xd = x.detach().double().requires_grad_()
    out = xd @ k + (b if b is not None else 0.0)
    out = torch.relu(out)
    (out * (torch.arange(out.numel(), dtype=out.dtype) % 7 - 3).reshape(out.shape)).sum().backward()
    return out, xd.grad, k.grad, (b.grad if b is not None else None)


def _run(layer, x: torch.Tensor, call=None):
    """The layer's output and gradients for the same loss as `_reference`."""
    layer.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    out = (call or layer)(x)
    (out * (torch.arange(out.numel(), dtype=out.dtype) % 7 - 3).reshape(out.shape)).sum().backward()
    return out, x.grad, layer.kernel.grad, (layer.bias.grad if layer.use_bias else None)


@pytest.mark.parametrize("units", [1, 2, 10, 11, 12, 64])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shape", [(16, 37), (3, 5, 37)])
def test_values_and_gradients_match_float64(units, use_bias, shape):
    layer = _dense(units, shape[-1], use_bias)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    got, want = _run(layer, x), _reference(layer, x)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
            continue
        assert g.shape == w.shape and g.dtype == torch.float32
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-5, atol=1e-4)


def test_kernel_gradient_keeps_the_kernel_layout_and_optimizer_step_works():
    layer = _dense(10, 37)
    x = torch.randn(8, 37, generator=torch.Generator().manual_seed(2))
    _, _, kgrad, _ = _run(layer, x)
    assert kgrad.shape == (37, 10)
    before = layer.kernel.detach().clone()
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    np.testing.assert_allclose(
        layer.kernel.detach().numpy(), (before - 0.1 * kgrad).numpy(), rtol=1e-6, atol=1e-6
    )


def _aten_ops(layer, x) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        layer(x)
    return {e.key for e in prof.key_averages()}


@pytest.mark.parametrize(
    ("units", "dtype", "linear"),
    [(2, torch.float32, True), (10, torch.float32, True), (11, torch.float32, True),
     (1, torch.float32, False), (12, torch.float32, False), (512, torch.float32, False),
     (10, torch.float64, False)],
)  # fmt: skip
def test_only_narrow_float32_kernels_take_the_linear_layout(units, dtype, linear):
    layer = _dense(units, 37, dtype=dtype)
    ops = _aten_ops(layer, torch.randn(4, 37, dtype=dtype))
    assert ("aten::linear" in ops) is linear
    assert ("aten::addmm" in ops) is True  # linear itself ends in addmm on 2-D inputs


def test_float64_narrow_layer_matches_its_reference():
    layer = _dense(10, 37, dtype=torch.float64)
    x = torch.randn(6, 37, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for g, w in zip(_run(layer, x), _reference(layer, x)):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-12)


def test_compiled_equals_eager():
    layer = _dense(10, 37)
    compiled, counter = compile_counted(lambda t: layer(t))
    x = torch.randn(16, 37, generator=torch.Generator().manual_seed(4))
    eager = _run(layer, x)
    got = _run(layer, x, call=compiled)
    graphs = counter.graphs
    _run(layer, x * 2, call=compiled)
    assert counter.graphs == graphs  # no recompilation
    for g, e in zip(got, eager):
        np.testing.assert_allclose(g.detach().numpy(), e.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_keras_dense_agrees():
    import keras as real_keras

    layer = _dense(10, 37)
    ref = real_keras.layers.Dense(10, activation="relu")
    ref(np.zeros((1, 37), "float32"))  # builds it
    ref.set_weights([layer.kernel.detach().numpy(), layer.bias.detach().numpy()])
    x = np.random.default_rng(5).normal(size=(9, 37)).astype("float32")
    want = real_keras.ops.convert_to_numpy(ref(x))
    got = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
