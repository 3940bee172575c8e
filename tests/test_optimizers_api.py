"""Optimizer API the trainer and callbacks rely on: construction forms, binding, get/bind,
learning-rate access, validation errors, state_dict resume, config round-trip, EMA, weight
decay exclusions, param groups, LossScaleOptimizer, and no host sync inside step()."""

from __future__ import annotations

import contextlib
import copy
import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O
from fitorch.optimizers import adam as adam_module

ALL = [
    O.SGD,
    O.Adam,
    O.AdamW,
    O.Adamax,
    O.Nadam,
    O.RMSprop,
    O.Adagrad,
    O.Adadelta,
    O.Ftrl,
    O.Lion,
    O.Lamb,
    O.Adafactor,
]


def make_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def train(model, opt, steps, seed=1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 4, generator=gen)
        opt.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        opt.step()


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


# ------------------------------------------------------------------------- construction
def test_lazy_then_build():
    opt = O.Adam(learning_rate=1e-3)
    assert not opt.built and opt.param_groups == []  # torch code may look before build
    opt.zero_grad()
    model = make_model()
    opt.build(model.parameters())
    assert opt.built and len(opt.param_groups[0]["params"]) == 4
    opt.build(model.parameters())  # same parameters: no-op
    with pytest.raises(ValueError, match="already built"):
        opt.build(make_model().parameters())


def test_torch_style_binds_at_once_and_accepts_lr():
    model = make_model()
    opt = O.Adam(model.parameters(), lr=0.05)
    assert opt.built and opt.learning_rate == 0.05
    opt = O.SGD(model.parameters(), 0.2)  # positional lr after the params, as torch
    assert opt.learning_rate == 0.2
    opt = O.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}])
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.5]


def test_keras2_spellings():
    opt = O.SGD(lr=0.01, clipvalue=0.5)
    assert opt.learning_rate == 0.01 and opt.clipvalue == 0.5
    assert O.SGD(1).learning_rate == 1.0  # integer learning rate
    assert O.RMSprop(lr=0.001, rho=0.9, epsilon=None, decay=0.0).epsilon == 1e-7
    assert O.Nadam(lr=0.002, schedule_decay=0.004).schedule_decay == 0.004
    assert O.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False)


def test_keras3_defaults():
    assert O.SGD().learning_rate == 0.01
    assert O.Adadelta().learning_rate == 0.001
    assert O.AdamW().weight_decay == 0.004
    assert O.Adam().epsilon == 1e-7
    assert O.Adagrad().initial_accumulator_value == 0.1


@pytest.mark.parametrize(
    "make,error,pattern",
    [
        (lambda: O.SGD(learning_rate=-0.1), ValueError, r"learning_rate.*>= 0.*-0.1"),
        (lambda: O.SGD(momentum=1.5), ValueError, r"momentum.*\[0.0, 1.0\].*1.5"),
        (lambda: O.RMSprop(momentum=-0.1), ValueError, r"momentum"),
        (lambda: O.Adam(beta_1=2), ValueError, r"beta_1"),
        (lambda: O.SGD(clipnorm=1.0, clipvalue=0.5), ValueError, r"clipnorm=1.0, clipvalue=0.5"),
        (lambda: O.Adam(global_clipnorm=1, clipnorm=1), ValueError, r"Only one of"),
        (
            lambda: O.Adam(learning_rte=0.1),
            TypeError,
            r"learning_rte.*Valid arguments.*learning_rate",
        ),
        (lambda: O.Adam(learning_rate="fast"), TypeError, r"learning_rate"),
        (lambda: O.AdamW(weight_decay=None), ValueError, r"weight_decay"),
        (lambda: O.get("adamm"), ValueError, r"Unknown optimizer 'adamm'. Did you mean"),
        (lambda: O.get(3), ValueError, r"optimizer identifier"),
        (lambda: O.Adam(gradient_accumulation_steps=1), ValueError, r"gradient_accumulation"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


# -------------------------------------------------------------------------- get / bind
def test_get_by_name_is_case_insensitive_and_new():
    a, b = O.get("ADAM"), O.get("adam")
    assert isinstance(a, O.Adam) and a is not b
    assert isinstance(O.get("RMSprop"), O.RMSprop) and isinstance(O.get("sgd"), O.SGD)


def test_get_passes_instances_and_torch_classes_through():
    opt = O.SGD()
    assert O.get(opt) is opt
    torch_opt = torch.optim.SGD(make_model().parameters(), lr=0.1)
    assert O.get(torch_opt) is torch_opt
    assert O.get(torch.optim.AdamW) is torch.optim.AdamW
    opt = O.get({"class_name": "Adam", "config": {"learning_rate": 0.5}})
    assert isinstance(opt, O.Adam) and opt.learning_rate == 0.5


def test_bind():
    model = make_model()
    opt = O.bind("adam", model.parameters())
    assert isinstance(opt, O.Adam) and opt.built
    torch_opt = O.bind(torch.optim.AdamW, model.parameters())
    assert isinstance(torch_opt, torch.optim.AdamW)
    assert O.bind(torch_opt, model.parameters()) is torch_opt


# -------------------------------------------------------------------- learning rate
def test_zero_grad_clears_every_group_like_torch():
    model = make_model()
    first, second = list(model.parameters())[:2], list(model.parameters())[2:]
    opt = O.Adam([{"params": first}, {"params": second, "lr": 0.1}])
    model(torch.randn(3, 4)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(torch.randn(3, 4)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in model.parameters())


def test_learning_rate_get_set_fitorch_and_torch():
    model = make_model()
    opt = O.Adam(model.parameters(), learning_rate=0.01)
    O.set_learning_rate(opt, 0.003)
    assert opt.learning_rate == 0.003 and O.get_learning_rate(opt) == pytest.approx(0.003)
    opt.learning_rate = 0.25
    assert opt.param_groups[0]["lr"] == 0.25
    torch_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert O.get_learning_rate(torch_opt) == pytest.approx(0.1)
    O.set_learning_rate(torch_opt, 0.02)
    assert torch_opt.param_groups[0]["lr"] == 0.02


def test_learning_rate_assign_and_numpy_as_on_a_keras_variable():
    """Keras 3 code: `opt.learning_rate.assign(v)`, `opt.learning_rate.numpy()`."""
    opt = O.Adam(learning_rate=0.01)
    opt.learning_rate.assign(0.02)  # before build
    model = make_model()
    opt.build(model.parameters())
    assert opt.learning_rate.numpy() == np.float32(0.02)
    opt.learning_rate.assign(opt.learning_rate * 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert type(opt.get_config()["learning_rate"]) is float


def test_learning_rate_with_schedule_reads_current_value_and_refuses_assignment():
    schedule = O.schedules.ExponentialDecay(0.1, 1, 0.5)
    model = make_model()
    opt = O.SGD(model.parameters(), learning_rate=schedule)
    assert opt.learning_rate is schedule
    train(model, opt, 2)
    assert O.get_learning_rate(opt) == pytest.approx(0.025)
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.1


def test_keras2_lr_attribute_works_with_backend_get_set_value():
    from fitorch import backend as K

    opt = O.SGD(make_model().parameters(), lr=0.01)
    assert K.get_value(opt.lr) == np.float32(0.01) and float(opt.lr) == 0.01
    K.set_value(opt.lr, 0.5)
    assert opt.learning_rate == 0.5 and opt.param_groups[0]["lr"] == 0.5
    opt.lr = opt.lr * 0.1
    assert opt.learning_rate == pytest.approx(0.05)


def test_callable_learning_rate_and_keras2_decay():
    model = make_model()
    opt = O.SGD(model.parameters(), learning_rate=lambda: 0.5)
    assert O.get_learning_rate(opt) == 0.5
    opt = O.SGD(model.parameters(), lr=0.1, decay=1.0)
    train(model, opt, 3)
    assert O.get_learning_rate(opt) == pytest.approx(0.1 / 4)


def test_torch_lr_scheduler_drives_fitorch_optimizer():
    model = make_model()
    opt = O.SGD(model.parameters(), learning_rate=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train(model, opt, 1)
    sched.step()
    assert opt.learning_rate == pytest.approx(0.05)
    before = flat(model)
    p = next(model.parameters())
    train(model, opt, 1)
    grads_step = (before - flat(model))[: p.numel()]
    np.testing.assert_allclose(
        grads_step.numpy(), 0.05 * p.grad.reshape(-1).numpy(), rtol=1e-4, atol=1e-7
    )


# ----------------------------------------------------------------- state / config
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize(
    "extra",
    [{}, {"use_ema": True}, {"gradient_accumulation_steps": 2}],
    ids=["plain", "ema", "accum"],
)
def test_state_dict_resume_is_bit_identical(cls, extra):
    schedule = O.schedules.CosineDecay(0.01, 20)
    model = make_model()
    opt = cls(model.parameters(), learning_rate=schedule, **extra)
    train(model, opt, 3, seed=1)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, 4, seed=2)
    opt.finalize_variable_values()

    resumed = make_model(seed=5)
    resumed.load_state_dict(saved_model)
    opt2 = cls(resumed.parameters(), learning_rate=schedule, **extra)
    opt2.load_state_dict(saved_opt)
    train(resumed, opt2, 4, seed=2)
    opt2.finalize_variable_values()
    assert torch.equal(flat(model), flat(resumed))
    assert int(opt.iterations) == int(opt2.iterations)


@pytest.mark.parametrize("cls", [O.Adam, O.Nadam, O.SGD])
def test_deepcopy_with_the_model_trains_identically(cls):
    model = make_model()
    opt = cls(model.parameters(), learning_rate=0.01, use_ema=True)
    train(model, opt, 2)
    model2, opt2 = copy.deepcopy((model, opt))
    assert opt2.get_config() == opt.get_config()
    train(model, opt, 3)
    train(model2, opt2, 3)
    assert torch.equal(flat(model), flat(model2))


@pytest.mark.parametrize("cls", ALL)
def test_config_round_trip_gives_same_updates(cls):
    opt = cls(learning_rate=O.schedules.InverseTimeDecay(0.01, 2, 0.5), clipnorm=1.0)
    config = opt.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    again2 = O.deserialize(O.serialize(opt))
    assert again2.get_config() == config
    m1, m2 = make_model(), make_model()
    opt.build(m1.parameters())
    again.build(m2.parameters())
    train(m1, opt, 3)
    train(m2, again, 3)
    assert torch.equal(flat(m1), flat(m2))


def test_keras3_config_is_accepted():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    for name in ["SGD", "Adam", "RMSprop", "Nadam", "Adagrad", "Lion"]:
        config = getattr(keras.optimizers, name)(learning_rate=0.02).get_config()
        opt = O.get({"class_name": name, "config": config})
        assert type(opt).__name__ == name and opt.learning_rate == pytest.approx(0.02)


# ------------------------------------------------------------------- base behaviours
def test_keras_apply_gradients_equals_step():
    m1, m2 = make_model(), make_model()
    opt1 = O.Adam(m1.parameters(), learning_rate=0.1)
    opt2 = O.Adam(learning_rate=0.1)
    x = torch.randn(8, 4)
    for _ in range(3):
        opt1.zero_grad()
        m1(x).square().mean().backward()
        opt1.step()
        grads = torch.autograd.grad(m2(x).square().mean(), list(m2.parameters()))
        opt2.apply_gradients(zip(grads, m2.parameters()))
    assert torch.equal(flat(m1), flat(m2)) and int(opt2.iterations) == 3
    assert all(p.grad is None for p in m2.parameters())


def test_scale_loss_with_loss_scale_factor_is_transparent():
    m1, m2 = make_model(), make_model()
    plain = O.SGD(m1.parameters(), learning_rate=0.1)
    scaled = O.SGD(m2.parameters(), learning_rate=0.1, loss_scale_factor=256.0)
    x = torch.randn(8, 4)
    for model, opt in ((m1, plain), (m2, scaled)):
        for _ in range(3):  # the trainer's step: zero_grad, scale_loss(loss).backward(), step
            opt.zero_grad()
            opt.scale_loss(model(x).square().mean()).backward()
            opt.step()
    torch.testing.assert_close(flat(m1), flat(m2))
    assert plain.scale_loss(torch.tensor(2.0)) == 2.0


def test_none_grads_are_skipped():
    model = make_model()
    opt = O.Adam(model.parameters(), learning_rate=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    model[2].weight.grad = torch.ones_like(model[2].weight)
    opt.step()
    after = list(model.parameters())
    assert torch.equal(before[0], after[0]) and not torch.equal(before[2], after[2])
    assert int(opt.iterations) == 1


def test_finalize_copies_ema_and_is_noop_without_ema():
    model = make_model()
    opt = O.SGD(model.parameters(), learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    train(model, opt, 3)
    ema = torch.cat([opt.state[p]["ema"].reshape(-1) for p in model.parameters()])
    assert not torch.equal(ema, flat(model))
    opt.finalize_variable_values()
    assert torch.equal(ema, flat(model))
    model = make_model()
    opt = O.SGD(model.parameters(), learning_rate=0.1)
    train(model, opt, 2)
    before = flat(model)
    opt.finalize_variable_values()
    assert torch.equal(before, flat(model))


def test_exclude_from_weight_decay_by_name_and_by_tensor():
    model = make_model()
    opt = O.AdamW(learning_rate=0.0, weight_decay=0.5)  # lr 0: updates are pure decay * 0
    opt = O.SGD(learning_rate=1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"], var_list=[model[2].weight])
    opt.build(model.named_parameters())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(model.named_parameters())
    assert torch.allclose(after["0.weight"], before["0.weight"] * 0.5)
    for name in ["0.bias", "2.weight", "2.bias"]:
        assert torch.equal(after[name], before[name])


def test_exclude_from_weight_decay_searches_keras_weight_names_as_regex():
    """Keras 3: `re.search(pattern, variable.name)`, the weight's own name, not its path."""
    import fitorch

    model = fitorch.Sequential([fitorch.Input((2,)), fitorch.layers.Dense(3, name="first")])
    opt = O.SGD(learning_rate=1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["^bi.s$", "first"])  # "first" is in no name
    kernel, bias = model.layers[0].kernel, model.layers[0].bias
    bias.data.fill_(1.0)
    before = [kernel.detach().clone(), bias.detach().clone()]
    opt.apply([torch.zeros_like(kernel), torch.zeros_like(bias)], [kernel, bias])
    assert torch.allclose(kernel, before[0] * 0.5)
    assert torch.equal(bias, before[1])


def test_iterations_is_a_device_tensor_counting_updates():
    model = make_model()
    opt = O.Adam(model.parameters(), gradient_accumulation_steps=3)
    train(model, opt, 7)
    assert isinstance(opt.iterations, torch.Tensor) and int(opt.iterations) == 2


# ------------------------------------------------------------------ loss scale
def test_loss_scale_skips_non_finite_steps_and_adjusts_scale():
    model = make_model()
    opt = O.LossScaleOptimizer(O.Adam(learning_rate=0.1), initial_scale=8.0, dynamic_growth_steps=2)
    opt.build(model.parameters())
    x = torch.randn(4, 4)
    opt.scale_loss(model(x).square().mean()).backward()
    opt.step()
    assert float(opt.dynamic_scale) == 8.0 and int(opt.iterations) == 1
    state = copy.deepcopy(opt.state_dict())
    before = flat(model)
    for p in model.parameters():
        p.grad = torch.full_like(p, float("inf"))
    opt.step()
    assert torch.equal(before, flat(model)), "a non-finite step must leave the weights"
    assert float(opt.dynamic_scale) == 4.0 and int(opt.iterations) == 1
    for key, value in opt.state_dict()["state"][0].items():
        assert torch.equal(value, state["state"][0][key]), key
    for _ in range(2):
        opt.zero_grad()
        opt.scale_loss(model(x).square().mean()).backward()
        opt.step()
    assert float(opt.dynamic_scale) == 8.0 and int(opt.iterations) == 3


def test_loss_scale_state_dict_resume_is_bit_identical():
    def make(model):
        opt = O.LossScaleOptimizer(O.Nadam(learning_rate=0.01), initial_scale=4.0)
        opt.build(model.parameters())
        return opt

    def run(model, opt, steps, seed):
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            opt.zero_grad()
            opt.scale_loss(model(torch.randn(8, 4, generator=gen)).square().mean()).backward()
            opt.step()

    model = make_model()
    opt = make(model)
    run(model, opt, 3, 1)
    saved = copy.deepcopy((model.state_dict(), opt.state_dict()))
    run(model, opt, 3, 2)
    model2 = make_model(seed=9)
    model2.load_state_dict(saved[0])
    opt2 = make(model2)
    opt2.load_state_dict(saved[1])
    run(model2, opt2, 3, 2)
    assert torch.equal(flat(model), flat(model2))
    assert float(opt.dynamic_scale) == float(opt2.dynamic_scale)
    assert int(opt.step_counter) == int(opt2.step_counter) == 6


def test_loss_scale_matches_unscaled_training_and_round_trips_config():
    m1, m2 = make_model(), make_model()
    plain = O.Adam(m1.parameters(), learning_rate=0.01)
    scaled = O.LossScaleOptimizer(O.Adam(learning_rate=0.01), initial_scale=1024.0)
    scaled.build(m2.parameters())
    x = torch.randn(8, 4)
    for _ in range(3):
        plain.zero_grad()
        m1(x).square().mean().backward()
        plain.step()
        scaled.zero_grad()
        scaled.scale_loss(m2(x).square().mean()).backward()
        scaled.step()
    torch.testing.assert_close(flat(m1), flat(m2))
    again = O.get({"class_name": "LossScaleOptimizer", "config": scaled.get_config()})
    assert again.get_config() == scaled.get_config()
    assert O.get_learning_rate(scaled) == pytest.approx(0.01)


# ------------------------------------------------------------------------ no host sync
@contextlib.contextmanager
def forbid_host_reads():
    """Make every Tensor -> Python conversion raise (a CPU stand-in for a CUDA sync check)."""
    names = ["item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__"]
    saved = {n: getattr(torch.Tensor, n) for n in names}

    def refuse(self, *args, **kwargs):
        raise AssertionError("host read of a tensor inside step()")

    try:
        for n in names:
            setattr(torch.Tensor, n, refuse)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.Tensor, n, f)


@pytest.mark.parametrize("cls", ALL)
def test_step_never_reads_tensors_on_the_host(cls, monkeypatch):
    # Adam's fused CPU kernel reads the step count on the host, which on the CPU is no sync;
    # it never runs on an accelerator, so this stand-in for a CUDA check runs without it
    # (tests/test_optimizers_fused.py covers the fused pass).
    monkeypatch.setattr(adam_module, "fused_kernel_applies", lambda *tensor_lists: False)
    model = make_model()
    opt = cls(
        model.parameters(),
        learning_rate=O.schedules.CosineDecay(0.01, 10, warmup_target=0.02, warmup_steps=2),
        global_clipnorm=1.0,
        weight_decay=0.01,
        use_ema=True,
        ema_overwrite_frequency=2,
        decay=0.1,
    )
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 4)).square().mean().backward()
        with forbid_host_reads():
            opt.step()


def test_loss_scale_step_never_reads_tensors_on_the_host():
    model = make_model()
    opt = O.LossScaleOptimizer(O.Nadam(learning_rate=0.01))
    opt.build(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        opt.scale_loss(model(torch.randn(4, 4)).square().mean()).backward()
        with forbid_host_reads():
            opt.step()


@pytest.mark.parametrize("module", ["sgd", "adam", "schedules"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"fitorch.optimizers.{module}")
    result = doctest.testmod(mod, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
