"""Update rules: five steps from fixed parameters and gradients, for every optimizer and
argument variant, against (1) a float64 NumPy transcription of the Keras rule written here,
(2) the per-tensor reference path (foreach == reference), (3) Keras 3 itself as an oracle.
Plus convergence on a quadratic and on the Rosenbrock function."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O

STEPS = 5
SHAPES = [(3,), (2, 2)]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s) for s in SHAPES]
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


# ----------------------------------------------------------------- float64 NumPy rules
# Each takes (p, g, slots dict, lr, t) for one tensor and updates p / slots in place.
def np_sgd(momentum=0.0, nesterov=False):
    def rule(p, g, s, lr, t):
        if not momentum:
            p -= lr * g
            return
        m = s.setdefault("m", np.zeros_like(p))
        m[:] = momentum * m - lr * g
        p += momentum * m - lr * g if nesterov else m

    return rule


def np_adam(b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    def rule(p, g, s, lr, t):
        m = s.setdefault("m", np.zeros_like(p))
        v = s.setdefault("v", np.zeros_like(p))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        if amsgrad:
            vh = s.setdefault("vh", np.zeros_like(p))
            vh[:] = np.maximum(vh, v)
            v = vh
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        p -= alpha * m / (np.sqrt(v) + eps)

    return rule


def np_adamax(b1=0.9, b2=0.999, eps=1e-7):
    def rule(p, g, s, lr, t):
        m = s.setdefault("m", np.zeros_like(p))
        u = s.setdefault("u", np.zeros_like(p))
        m += (g - m) * (1 - b1)
        u[:] = np.maximum(b2 * u, np.abs(g))
        p -= lr * m / ((1 - b1**t) * (u + eps))

    return rule


def np_nadam(b1=0.9, b2=0.999, eps=1e-7, schedule_decay=1.0):
    state = {"prod": 1.0, "t": 0}

    def u(t):
        return b1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))

    def rule(p, g, s, lr, t):
        if state["t"] != t:  # the product advances once per step, not per tensor
            state["t"] = t
            state["prod"] *= u(t)
        prod = state["prod"]
        m = s.setdefault("m", np.zeros_like(p))
        v = s.setdefault("v", np.zeros_like(p))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u(t + 1) * m / (1 - prod * u(t + 1)) + (1 - u(t)) * g / (1 - prod)
        p -= lr * m_hat / (np.sqrt(v / (1 - b2**t)) + eps)

    return rule


def np_rmsprop(rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def rule(p, g, s, lr, t):
        v = s.setdefault("v", np.zeros_like(p))
        v[:] = rho * v + (1 - rho) * g * g
        denom = v + eps
        if centered:
            a = s.setdefault("a", np.zeros_like(p))
            a[:] = rho * a + (1 - rho) * g
            denom = v - a * a + eps
        inc = lr * g / np.sqrt(denom)
        if momentum:
            m = s.setdefault("m", np.zeros_like(p))
            m[:] = momentum * m + inc
            p -= m
        else:
            p -= inc

    return rule


def np_adagrad(init=0.1, eps=1e-7):
    def rule(p, g, s, lr, t):
        a = s.setdefault("a", np.full_like(p, init))
        a += g * g
        p -= lr * g / np.sqrt(a + eps)

    return rule


def np_adadelta(rho=0.95, eps=1e-7):
    def rule(p, g, s, lr, t):
        a = s.setdefault("a", np.zeros_like(p))
        d = s.setdefault("d", np.zeros_like(p))
        a[:] = rho * a + (1 - rho) * g * g
        delta = -np.sqrt(d + eps) / np.sqrt(a + eps) * g
        d[:] = rho * d + (1 - rho) * delta * delta
        p += lr * delta

    return rule


def np_ftrl(power=-0.5, init=0.1, l1=0.0, l2=0.0, shrink=0.0, beta=0.0):
    def rule(p, g, s, lr, t):
        n = s.setdefault("n", np.full_like(p, init))
        z = s.setdefault("z", np.zeros_like(p))
        g2 = g + 2 * shrink * p
        n_new = n + g * g
        z += g2 - (n_new ** (-power) - n ** (-power)) / lr * p
        quad = n_new ** (-power) / lr + 2 * (l2 + beta / (2 * lr))
        p[:] = (np.clip(z, -l1, l1) - z) / quad
        n[:] = n_new

    return rule


def np_lion(b1=0.9, b2=0.99):
    def rule(p, g, s, lr, t):
        m = s.setdefault("m", np.zeros_like(p))
        p -= lr * np.sign(b1 * m + (1 - b1) * g)
        m[:] = b2 * m + (1 - b2) * g

    return rule


def np_lamb(b1=0.9, b2=0.999, eps=1e-7):
    def rule(p, g, s, lr, t):
        m = s.setdefault("m", np.zeros_like(p))
        v = s.setdefault("v", np.zeros_like(p))
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(u)
        ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        p -= lr * ratio * u

    return rule


def np_adafactor(decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    def rms(x):
        return np.sqrt(np.mean(x * x))

    def rule(p, g, s, lr, t):
        rho = min(lr, 1 / np.sqrt(t))
        alpha = max(eps2, rms(p)) * rho
        beta = 1 - t**decay
        g2 = g * g + eps1
        if p.ndim >= 2:
            r = s.setdefault("r", np.zeros(p.shape[:-1]))
            c = s.setdefault("c", np.zeros(p.shape[:-2] + p.shape[-1:]))
            r[:] = beta * r + (1 - beta) * g2.mean(-1)
            c[:] = beta * c + (1 - beta) * g2.mean(-2)
            v = (r / r.mean(-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v = s.setdefault("v", np.zeros_like(p))
            v[:] = beta * v + (1 - beta) * g2
        u = g / np.sqrt(v)
        p -= alpha * u / max(1.0, rms(u) / clip)

    return rule


# (fitorch class, kwargs, NumPy rule, learning rate used by the rule)
CASES = {
    "sgd": (O.SGD, {}, np_sgd(), 0.01),
    "sgd_momentum": (O.SGD, {"momentum": 0.9}, np_sgd(0.9), 0.01),
    "sgd_nesterov": (O.SGD, {"momentum": 0.9, "nesterov": True}, np_sgd(0.9, True), 0.01),
    "sgd_int_lr": (O.SGD, {"learning_rate": 1}, np_sgd(), 1.0),
    "adam": (O.Adam, {"learning_rate": 0.1}, np_adam(), 0.1),
    "adam_amsgrad": (O.Adam, {"learning_rate": 0.1, "amsgrad": True}, np_adam(amsgrad=True), 0.1),
    "adam_eps_none": (O.Adam, {"lr": 0.1, "epsilon": None}, np_adam(), 0.1),
    "adam_betas": (
        O.Adam,
        {"learning_rate": 0.05, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
        np_adam(0.5, 0.9, 1e-3),
        0.05,
    ),
    "adamax": (O.Adamax, {"learning_rate": 0.1}, np_adamax(), 0.1),
    "nadam": (O.Nadam, {"learning_rate": 0.1}, np_nadam(), 0.1),
    "nadam_keras2": (
        O.Nadam,
        {"lr": 0.002, "schedule_decay": 0.004},
        np_nadam(schedule_decay=0.004),
        0.002,
    ),
    "rmsprop": (O.RMSprop, {"learning_rate": 0.01}, np_rmsprop(), 0.01),
    "rmsprop_momentum": (
        O.RMSprop,
        {"learning_rate": 0.01, "momentum": 0.5},
        np_rmsprop(momentum=0.5),
        0.01,
    ),
    "rmsprop_centered": (
        O.RMSprop,
        {"learning_rate": 0.01, "centered": True, "momentum": 0.5},
        np_rmsprop(momentum=0.5, centered=True),
        0.01,
    ),
    "adagrad": (O.Adagrad, {"learning_rate": 0.1}, np_adagrad(), 0.1),
    "adagrad_init": (
        O.Adagrad,
        {"learning_rate": 0.1, "initial_accumulator_value": 1.0},
        np_adagrad(1.0),
        0.1,
    ),
    "adadelta": (O.Adadelta, {"learning_rate": 1.0}, np_adadelta(), 1.0),
    "ftrl": (O.Ftrl, {"learning_rate": 0.1}, np_ftrl(), 0.1),
    "ftrl_reg": (
        O.Ftrl,
        {
            "learning_rate": 0.1,
            "l1_regularization_strength": 0.01,
            "l2_regularization_strength": 0.02,
            "l2_shrinkage_regularization_strength": 0.03,
            "beta": 0.1,
        },
        np_ftrl(l1=0.01, l2=0.02, shrink=0.03, beta=0.1),
        0.1,
    ),
    "lion": (O.Lion, {"learning_rate": 0.01}, np_lion(), 0.01),
    "lion_betas": (
        O.Lion,
        {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.8},
        np_lion(0.5, 0.8),
        0.01,
    ),
    "lamb": (O.Lamb, {"learning_rate": 0.01}, np_lamb(), 0.01),
    "adafactor": (O.Adafactor, {"learning_rate": 0.01}, np_adafactor(), 0.01),
    "adafactor_clip": (
        O.Adafactor,
        {"learning_rate": 0.5, "clip_threshold": 0.5, "beta_2_decay": -0.5},
        np_adafactor(decay=-0.5, clip=0.5),
        0.5,
    ),
}


def run_fitorch(cls, kwargs, params, grads, dtype=torch.float64, foreach=True):
    ps = [torch.nn.Parameter(torch.tensor(p, dtype=dtype)) for p in params]
    opt = cls(ps, foreach=foreach, **kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    return [p.detach().numpy() for p in ps], opt


def run_numpy(rule, params, grads, lr, decay=0.0, weight_decay=None):
    ps = [p.copy() for p in params]
    slots = [{} for _ in ps]
    for i, step_grads in enumerate(grads):
        lr_t = lr / (1 + decay * i)
        for p, g, s in zip(ps, step_grads, slots):
            if weight_decay:
                p -= p * weight_decay * lr_t
            rule(p, g, s, lr_t, i + 1)
    return ps


@pytest.mark.parametrize("case", sorted(CASES))
def test_five_steps_match_float64_rule(case):
    cls, kwargs, rule, lr = CASES[case]
    params, grads = _data()
    got, opt = run_fitorch(cls, kwargs, params, grads)
    want = run_numpy(rule, params, grads, lr)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert int(opt.iterations) == STEPS


@pytest.mark.parametrize("case", sorted(CASES))
def test_foreach_matches_reference(case):
    cls, kwargs, _, _ = CASES[case]
    params, grads = _data(1)
    fast, _ = run_fitorch(cls, kwargs, params, grads, foreach=True)
    slow, _ = run_fitorch(cls, kwargs, params, grads, foreach=False)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "cls,kwargs,rule,lr",
    [
        (O.AdamW, {"learning_rate": 0.1}, np_adam(), 0.1),  # default weight_decay=0.004
        (O.SGD, {"learning_rate": 0.1, "weight_decay": 0.5}, np_sgd(), 0.1),
    ],
)
def test_decoupled_weight_decay_before_update(cls, kwargs, rule, lr):
    params, grads = _data(2)
    got, opt = run_fitorch(cls, kwargs, params, grads)
    want = run_numpy(rule, params, grads, lr, weight_decay=opt.weight_decay)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("cls", [O.SGD, O.Adam, O.RMSprop])
def test_keras2_decay_is_inverse_time_per_step(cls):
    params, grads = _data(3)
    base = {O.SGD: np_sgd(), O.Adam: np_adam(), O.RMSprop: np_rmsprop()}[cls]
    got, _ = run_fitorch(cls, {"lr": 0.05, "decay": 0.3}, params, grads)
    want = run_numpy(base, params, grads, 0.05, decay=0.3)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_float32_params_match_float64_rule_closely():
    params, grads = _data(4)
    got, _ = run_fitorch(O.Adam, {"learning_rate": 0.1}, params, grads, dtype=torch.float32)
    want = run_numpy(np_adam(), params, grads, 0.1)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------- Keras 3 oracle
KERAS_CASES = [
    "sgd",
    "sgd_momentum",
    "sgd_nesterov",
    "adam",
    "adam_amsgrad",
    "adam_betas",
    "adamax",
    "nadam",
    "rmsprop",
    "rmsprop_momentum",
    "rmsprop_centered",
    "adagrad",
    "adagrad_init",
    "adadelta",
    "ftrl",
    "ftrl_reg",
    "lion",
    "lamb",
    "adafactor",
    "adafactor_clip",
]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize("case", KERAS_CASES)
def test_matches_keras3(keras, case):
    cls, kwargs, _, _ = CASES[case]
    params, grads = _data(5)
    got, _ = run_fitorch(cls, kwargs, params, grads, dtype=torch.float32)
    k_opt = getattr(keras.optimizers, cls.__name__)(**kwargs)
    k_vars = [keras.Variable(p.astype("float32")) for p in params]
    for step_grads in grads:
        k_opt.apply([keras.ops.convert_to_tensor(g.astype("float32")) for g in step_grads], k_vars)
    for a, v in zip(got, k_vars):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clipnorm": 0.5},
        {"global_clipnorm": 0.5},
        {"clipvalue": 0.3},
        {"weight_decay": 0.1},
        {"use_ema": True, "ema_momentum": 0.9},
        {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 2},
        {"gradient_accumulation_steps": 2},
        {"loss_scale_factor": 4.0},
    ],
    ids=lambda kw: "-".join(kw),
)
def test_base_arguments_match_keras3(keras, kwargs):
    params, grads = _data(6)
    got, opt = run_fitorch(O.Adam, {"learning_rate": 0.1, **kwargs}, params, grads, torch.float32)
    k_opt = keras.optimizers.Adam(learning_rate=0.1, **kwargs)
    k_vars = [keras.Variable(p.astype("float32")) for p in params]
    for step_grads in grads:
        k_opt.apply([keras.ops.convert_to_tensor(g.astype("float32")) for g in step_grads], k_vars)
    opt.finalize_variable_values()
    if kwargs.get("use_ema"):
        k_opt.finalize_variable_values(k_vars)
        got = [p.detach().numpy() for g in opt.param_groups for p in g["params"]]
    for a, v in zip(got, k_vars):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6)
    assert int(opt.iterations) == int(keras.ops.convert_to_numpy(k_opt.iterations))


@pytest.mark.parametrize("cls", [O.Adagrad, O.Ftrl], ids=lambda c: c.__name__)
def test_gradient_accumulation_keeps_an_accumulator_slot(keras, cls):
    """Adagrad's and Ftrl's own `accumulator` slot survives gradient accumulation."""
    params, grads = _data(7)
    kwargs = {"learning_rate": 0.1, "gradient_accumulation_steps": 2}
    got, _ = run_fitorch(cls, kwargs, params, grads, torch.float32)
    k_opt = getattr(keras.optimizers, cls.__name__)(**kwargs)
    k_vars = [keras.Variable(p.astype("float32")) for p in params]
    for step_grads in grads:
        k_opt.apply([keras.ops.convert_to_tensor(g.astype("float32")) for g in step_grads], k_vars)
    for a, v in zip(got, k_vars):
        np.testing.assert_allclose(a, keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6)


# ------------------------------------------------------------------------- convergence
CONVERGE = [
    (O.SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    (O.Adam, {"learning_rate": 0.1}),
    (O.AdamW, {"learning_rate": 0.1, "weight_decay": 1e-4}),
    (O.Adamax, {"learning_rate": 0.1}),
    (O.Nadam, {"learning_rate": 0.1}),
    (O.RMSprop, {"learning_rate": 0.05}),
    (O.Adagrad, {"learning_rate": 0.5}),
    (O.Adadelta, {"learning_rate": 1.0, "epsilon": 1e-3}),
    (O.Ftrl, {"learning_rate": 1.0}),
    (O.Lion, {"learning_rate": 0.02}),
    (O.Lamb, {"learning_rate": O.schedules.ExponentialDecay(0.05, 100, 0.5)}),
    (O.Adafactor, {"learning_rate": 0.5, "epsilon_2": 0.1}),
]


@pytest.mark.parametrize("cls,kwargs", CONVERGE, ids=lambda x: getattr(x, "__name__", ""))
def test_converges_on_quadratic(cls, kwargs):
    target = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    x = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = cls([x], **kwargs)
    for _ in range(500):
        opt.zero_grad()
        ((x - target) ** 2).sum().backward()
        opt.step()
    assert torch.allclose(x.detach(), target, atol=0.05), x


ROSENBROCK = [
    (O.SGD, {"learning_rate": 1e-3, "momentum": 0.9}),
    (O.Adam, {"learning_rate": 0.02}),
    (O.Nadam, {"learning_rate": 0.02}),
    (O.RMSprop, {"learning_rate": 1e-3, "momentum": 0.9}),
]


@pytest.mark.parametrize("cls,kwargs", ROSENBROCK, ids=lambda x: getattr(x, "__name__", ""))
def test_converges_on_rosenbrock(cls, kwargs):
    xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = cls([xy], **kwargs)
    for _ in range(4000):
        opt.zero_grad()
        x, y = xy
        ((1 - x) ** 2 + 100 * (y - x * x) ** 2).backward()
        opt.step()
    assert torch.allclose(xy.detach(), torch.ones(2, dtype=torch.float64), atol=0.05), xy


@pytest.mark.parametrize("via_apply", [False, True], ids=["step", "apply"])
@pytest.mark.parametrize(
    "inner_kwargs", [{}, {"use_ema": True, "ema_momentum": 0.5}], ids=["plain", "ema"]
)
def test_loss_scale_optimizer_matches_keras3(keras, inner_kwargs, via_apply):
    """`step()` on scaled `.grad`s, or Keras' `apply(scaled grads, variables)`."""
    params, grads = _data(7)
    grads[0][1][0, 0] = np.inf  # the very first step overflows, as fp16 training often does
    grads[3][0][1] = np.nan
    scale0, growth = 64.0, 2

    ps = [torch.nn.Parameter(torch.tensor(p, dtype=torch.float32)) for p in params]
    opt = O.LossScaleOptimizer(
        O.Adam(learning_rate=0.1, **inner_kwargs), initial_scale=scale0, dynamic_growth_steps=growth
    )
    opt.build(ps)
    k_opt = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(learning_rate=0.1, **inner_kwargs),
        initial_scale=scale0,
        dynamic_growth_steps=growth,
    )
    k_vars = [keras.Variable(p.astype("float32")) for p in params]
    k_opt.build(k_vars)
    for step_grads in grads:
        scale = float(opt.dynamic_scale)
        assert scale == float(keras.ops.convert_to_numpy(k_opt.dynamic_scale))
        scaled = [torch.tensor(g * scale, dtype=torch.float32) for g in step_grads]
        if via_apply:
            opt.apply(scaled, ps)
        else:
            for p, g in zip(ps, scaled):
                p.grad = g
            opt.step()
        k_grads = [keras.ops.convert_to_tensor((g * scale).astype("float32")) for g in step_grads]
        k_opt.apply(k_grads, k_vars)
    opt.finalize_variable_values()
    k_opt.finalize_variable_values(k_vars)
    for p, v in zip(ps, k_vars):
        np.testing.assert_allclose(
            p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
        )
    assert int(opt.iterations) == int(keras.ops.convert_to_numpy(k_opt.iterations))


TORCH_TWINS = [
    # Where Keras' and torch's rules coincide (epsilon 0, constant learning rate).
    (O.Adam, {"learning_rate": 0.1, "epsilon": 0}, torch.optim.Adam, {"lr": 0.1, "eps": 0}),
    (
        O.Adam,
        {"learning_rate": 0.1, "epsilon": 0, "amsgrad": True},
        torch.optim.Adam,
        {"lr": 0.1, "eps": 0, "amsgrad": True},
    ),
    (O.SGD, {"learning_rate": 0.1, "momentum": 0.9}, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (
        O.SGD,
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        torch.optim.SGD,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    ),
    (
        O.RMSprop,
        {"learning_rate": 0.01, "epsilon": 0, "momentum": 0.5, "centered": True},
        torch.optim.RMSprop,
        {"lr": 0.01, "alpha": 0.9, "eps": 0, "momentum": 0.5, "centered": True},
    ),
    (
        O.Adagrad,
        {"learning_rate": 0.1, "epsilon": 0},
        torch.optim.Adagrad,
        {"lr": 0.1, "eps": 0, "initial_accumulator_value": 0.1},
    ),
    (O.Adamax, {"learning_rate": 0.1, "epsilon": 0}, torch.optim.Adamax, {"lr": 0.1, "eps": 0}),
]


@pytest.mark.parametrize("cls,kwargs,torch_cls,torch_kwargs", TORCH_TWINS)
def test_matches_torch_optim_where_rules_coincide(cls, kwargs, torch_cls, torch_kwargs):
    params, grads = _data(8)
    got, _ = run_fitorch(cls, kwargs, params, grads)
    ps = [torch.nn.Parameter(torch.tensor(p)) for p in params]
    ref = torch_cls(ps, **torch_kwargs)
    for step_grads in grads:
        for p, g in zip(ps, step_grads):
            p.grad = torch.tensor(g)
        ref.step()
    for a, p in zip(got, ps):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-10, atol=1e-12)
