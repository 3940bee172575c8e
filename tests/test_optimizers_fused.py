"""Adam's eager CPU update as one pass of torch's fused kernel (`adam.fused_kernel_applies`):
it runs where it applies, equals the foreach rule (float64) under every base argument, equals
Keras 3's Adam/AdamW step by step (bias correction at t = 1..N, a learning-rate schedule),
leaves the gradients and the state dict's form as they were, and steps aside where it cannot
run exactly (non-contiguous tensors, float16)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O
from fitorch.optimizers import adam as adam_module

STEPS = 8
SHAPES = [(3, 4), (4,), (2, 3, 2)]


def _grads(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES] for _ in range(STEPS)]


def _params(dtype=torch.float64):
    gen = torch.Generator().manual_seed(99)
    return [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=dtype)) for s in SHAPES]


def _train(make, grads, dtype=torch.float64, after_each=None):
    params = _params(dtype)
    opt = make(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        if after_each is not None:
            after_each(params)
    return params, opt


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of torch's fused Adam kernel (still running it)."""
    one = [torch.ones(1)]
    assert adam_module.fused_kernel_applies(one, one, {})  # (its one-time probe runs here)
    calls = []
    kernel = torch._fused_adam_

    def counted(*args, **kwargs):
        calls.append(len(args[0]))
        return kernel(*args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", counted)
    return calls


def _without_fused(monkeypatch):
    monkeypatch.setattr(adam_module, "fused_kernel_applies", lambda *tensor_lists: False)


VARIANTS = {
    "adam": (O.Adam, {"learning_rate": 0.05}),
    "amsgrad": (O.Adam, {"learning_rate": 0.05, "amsgrad": True}),
    "betas": (O.Adam, {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    "adamw": (O.AdamW, {"learning_rate": 0.05, "weight_decay": 0.1}),
    "adamw_amsgrad": (O.AdamW, {"learning_rate": 0.05, "amsgrad": True}),
    "schedule": (
        O.Adam,
        {"learning_rate": O.schedules.CosineDecay(0.05, 6, warmup_target=0.1, warmup_steps=3)},
    ),
    "callable_lr": (O.Adam, {"learning_rate": lambda: 0.02}),
    "keras2_decay": (O.Adam, {"lr": 0.05, "decay": 0.3}),
    "clipnorm": (O.Adam, {"learning_rate": 0.05, "clipnorm": 0.5}),
    "global_clipnorm": (O.Adam, {"learning_rate": 0.05, "global_clipnorm": 0.5}),
    "clipvalue": (O.Adam, {"learning_rate": 0.05, "clipvalue": 0.3}),
    "ema": (O.Adam, {"learning_rate": 0.05, "use_ema": True, "ema_overwrite_frequency": 3}),
    "accumulation": (O.Adam, {"learning_rate": 0.05, "gradient_accumulation_steps": 3}),
    "loss_scale_factor": (O.Adam, {"learning_rate": 0.05, "loss_scale_factor": 8.0}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fused_pass_equals_the_foreach_rule(variant, monkeypatch, fused_calls):
    cls, kwargs = VARIANTS[variant]
    grads = _grads(1)
    fused, fused_opt = _train(lambda ps: cls(ps, **kwargs), grads)
    updates = STEPS // kwargs.get("gradient_accumulation_steps", 1)
    assert fused_calls == [len(SHAPES)] * updates  # one kernel call per step, all tensors
    _without_fused(monkeypatch)
    plain, plain_opt = _train(lambda ps: cls(ps, **kwargs), grads)
    assert len(fused_calls) == updates  # the foreach run did not call the kernel
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-14)
    fused_sd, plain_sd = fused_opt.state_dict(), plain_opt.state_dict()
    assert fused_sd.keys() == plain_sd.keys()
    assert fused_sd["param_groups"] == plain_sd["param_groups"]
    assert fused_sd["fitorch"]["calls"] == plain_sd["fitorch"]["calls"]
    assert torch.equal(fused_sd["fitorch"]["iterations"], plain_sd["fitorch"]["iterations"])
    assert fused_sd["state"].keys() == plain_sd["state"].keys()
    for index, slots in fused_sd["state"].items():
        assert slots.keys() == plain_sd["state"][index].keys()
        for name, value in slots.items():
            torch.testing.assert_close(value, plain_sd["state"][index][name], rtol=1e-12, atol=0)


def test_fused_pass_leaves_gradients_unchanged(fused_calls):
    params = _params(torch.float32)
    opt = O.Adam(params, learning_rate=0.1, amsgrad=True)
    for step_grads in _grads(2, torch.float32)[:3]:
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        opt.step()
        for p, g in zip(params, step_grads):
            assert torch.equal(p.grad, g)
    assert len(fused_calls) == 3


def test_non_contiguous_and_float16_tensors_take_the_foreach_rule(monkeypatch, fused_calls):
    # A transposed parameter: the kernel would pair its memory with a differently laid out
    # gradient; float16: the kernel computes in float32, not the foreach rule's float16.
    base = torch.randn(4, 3, dtype=torch.float64)
    transposed = [torch.nn.Parameter(base.t())]
    contiguous = [torch.nn.Parameter(base.t().contiguous())]
    opts = [O.Adam(ps, learning_rate=0.1) for ps in (transposed, contiguous)]
    for g in _grads(3)[:4]:
        transposed[0].grad = g[0].t().contiguous().t()  # the parameter's strides
        contiguous[0].grad = g[0].clone()
        for opt in opts:
            opt.step()
    assert len(fused_calls) == 4  # the contiguous copy only
    torch.testing.assert_close(transposed[0].detach(), contiguous[0].detach(), rtol=1e-12, atol=0)
    half = [torch.nn.Parameter(torch.ones(3, dtype=torch.float16))]
    half[0].grad = torch.full((3,), 0.5, dtype=torch.float16)
    O.Adam(half, learning_rate=0.1).step()
    assert len(fused_calls) == 4
    torch.testing.assert_close(half[0].detach(), torch.full((3,), 0.9, dtype=torch.float16))


def test_fused_pass_is_not_traced_into_a_compiled_update():
    params = _params(torch.float32)
    assert adam_module.fused_kernel_applies(params, [torch.zeros_like(p) for p in params], {})

    def applies_while_compiling(x):
        return x + float(adam_module.fused_kernel_applies(params, params, {}))

    compiled = torch.compile(applies_while_compiling, backend="eager", fullgraph=True)
    assert float(compiled(torch.zeros(()))) == 0.0


# ----------------------------------------------------------------------- Keras 3 oracle
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _keras_schedule(keras):
    return keras.optimizers.schedules.CosineDecay(0.05, 6, warmup_target=0.1, warmup_steps=3)


KERAS_VARIANTS = {
    "adam": ("Adam", {"learning_rate": 0.05}),
    "amsgrad": ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    "betas": ("Adam", {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    "adamw": ("AdamW", {"learning_rate": 0.05, "weight_decay": 0.1}),
    "adamw_amsgrad_schedule": ("AdamW", {"amsgrad": True, "schedule": True}),
    "adam_schedule": ("Adam", {"schedule": True}),
}


@pytest.mark.parametrize("variant", sorted(KERAS_VARIANTS))
def test_fused_pass_matches_keras3_at_every_step(keras, variant, fused_calls):
    name, kwargs = KERAS_VARIANTS[variant]
    kwargs = dict(kwargs)
    scheduled = kwargs.pop("schedule", False)
    ours_lr = O.schedules.CosineDecay(0.05, 6, warmup_target=0.1, warmup_steps=3)
    k_opt = getattr(keras.optimizers, name)(
        **({"learning_rate": _keras_schedule(keras)} if scheduled else {}), **kwargs
    )
    grads = _grads(4, torch.float32)
    k_vars = [keras.Variable(p.detach().numpy()) for p in _params(torch.float32)]
    k_steps = iter(grads)
    # Keras computes the scheduled rate in float32, fitorch in float64: a 1e-6 drift per step
    atol = 1e-5 if scheduled else 2e-6

    def compare_with_keras(params):
        k_opt.apply([keras.ops.convert_to_tensor(g.numpy()) for g in next(k_steps)], k_vars)
        for p, v in zip(params, k_vars):
            want = keras.ops.convert_to_numpy(v)
            np.testing.assert_allclose(p.detach().numpy(), want, rtol=2e-5, atol=atol)

    make = getattr(O, name)
    ours = {"learning_rate": ours_lr} if scheduled else {}
    _train(lambda ps: make(ps, **ours, **kwargs), grads, torch.float32, compare_with_keras)
    assert len(fused_calls) == STEPS
