"""`Optimizer.step_in_fit`, the step `fit`'s eager train step takes: the same update as
`step()`, and torch's step wrapper still runs whenever it has work (step hooks on the
optimizer or global, the profiler recording, a subclass overriding `step`, a `step` set on
the instance, as torch's LR schedulers do)."""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.optim.optimizer import register_optimizer_step_pre_hook  # noqa: E402

import fitorch  # noqa: E402
from fitorch.optimizers.base import torch_step_wrapper_has_work  # noqa: E402

X = np.linspace(0.5, 1.5, 40, dtype="float32").reshape(40, 1)
Y = 2 * X + 1  # 40 rows in batches of 16: 3 steps per epoch


def _params(seed: int) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(3, 2, generator=gen, dtype=torch.float64))]


def _model(optimizer) -> fitorch.Model:
    model = fitorch.Sequential([fitorch.Input((1,)), fitorch.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def test_step_in_fit_equals_step():
    for make in (
        lambda p: fitorch.optimizers.Adam(params=p, learning_rate=0.1),
        lambda p: fitorch.optimizers.SGD(params=p, learning_rate=0.1, momentum=0.9),
    ):
        by_step, by_fit = make(_params(0)), make(_params(0))
        for k in range(3):
            grad = torch.full((3, 2), 0.5 * (k + 1), dtype=torch.float64)
            for opt in (by_step, by_fit):
                opt.param_groups[0]["params"][0].grad = grad.clone()
            by_step.step()
            by_fit.step_in_fit()
        (a,), (b,) = by_step.param_groups[0]["params"], by_fit.param_groups[0]["params"]
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert int(by_step.iterations) == int(by_fit.iterations) == 3
        for sa, sb in zip(by_step.state.values(), by_fit.state.values()):
            for key in sa:
                torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0)


def test_the_wrapper_has_work_only_with_hooks_or_the_profiler():
    opt = fitorch.optimizers.Adam(params=_params(0))
    assert not torch_step_wrapper_has_work(opt)
    handle = opt.register_step_post_hook(lambda *args: None)
    assert torch_step_wrapper_has_work(opt)
    handle.remove()
    handle = register_optimizer_step_pre_hook(lambda *args: None)
    try:
        assert torch_step_wrapper_has_work(opt)
    finally:
        handle.remove()
    with torch.profiler.profile():
        assert torch_step_wrapper_has_work(opt)
    assert not torch_step_wrapper_has_work(opt)


def test_fit_runs_the_optimizers_and_the_global_step_hooks():
    optimizer = fitorch.optimizers.Adam()
    model = _model(optimizer)
    calls = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: calls.append("pre"))
    optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append("post"))
    handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: calls.append("global"))
    try:
        model.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    finally:
        handle.remove()
    assert calls == ["global", "pre", "post"] * 6
    assert int(optimizer.iterations) == 6


def test_fit_under_the_profiler_records_the_step_range():
    model = _model(fitorch.optimizers.Adam())
    with torch.profiler.profile() as prof:
        model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    names = [event.name for event in prof.events()]
    assert names.count("Optimizer.step#Adam.step") == 3


class _CountingAdam(fitorch.optimizers.Adam):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def test_fit_calls_a_subclass_overriding_step():
    optimizer = _CountingAdam()
    model = _model(optimizer)
    model.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert optimizer.steps == 6
    assert int(optimizer.iterations) == 6


def test_fit_with_step_in_fit_equals_keras():
    import keras

    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(1, 1)).astype("float32")
    ours = _model(fitorch.optimizers.Adam(learning_rate=0.05))
    theirs = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    theirs.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05), loss="mse")
    for model in (ours, theirs):
        model.set_weights([kernel, np.zeros(1, "float32")])
    kw = dict(batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(
        ours.fit(X, Y, **kw).history["loss"], theirs.fit(X, Y, **kw).history["loss"], rtol=1e-5
    )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_calls_a_step_set_on_the_instance():
    optimizer = fitorch.optimizers.Adam(learning_rate=0.1)
    model = _model(optimizer)
    calls = []
    class_step = optimizer.step

    def counting_step(*args, **kwargs):
        calls.append(int(optimizer.iterations))
        return class_step(*args, **kwargs)

    optimizer.step = counting_step
    model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert calls == [0, 1, 2]


def test_a_torch_lr_scheduler_sees_fits_steps():
    optimizer = fitorch.optimizers.Adam(learning_rate=0.1)
    model = _model(optimizer)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    with warnings.catch_warnings():
        # torch warns "lr_scheduler.step() before optimizer.step()" if fit's steps bypassed
        # the step the scheduler set on the optimizer.
        warnings.simplefilter("error")
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.05
