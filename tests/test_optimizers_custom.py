"""A Keras 3 custom optimizer (`build` + `update_step`) runs unchanged on fitorch."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import fitorch

SHAPES = [(3, 2), (2,)]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def momentum_adam(M):
    """The same Keras-style source for `M` = keras or fitorch."""
    ops = M.ops

    class MomentumAdam(M.optimizers.Optimizer):
        def __init__(self, learning_rate=0.01, beta_1=0.9, beta_2=0.999, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)
            self.beta_1, self.beta_2 = beta_1, beta_2

        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self.ms, self.vs = self.add_optimizer_variables(var_list, ["m", "v"])
            self.count = self.add_variable((), initializer="zeros", name="count")

        def update_step(self, gradient, variable, learning_rate):
            m = self.ms[self._get_variable_index(variable)]
            v = self.vs[self._get_variable_index(variable)]
            lr = ops.cast(learning_rate, variable.dtype)
            t = ops.cast(self.iterations + 1, variable.dtype)
            self.assign_add(m, (gradient - m) * (1 - self.beta_1))
            self.assign_add(v, (ops.square(gradient) - v) * (1 - self.beta_2))
            alpha = lr * ops.sqrt(1 - ops.power(self.beta_2, t)) / (1 - ops.power(self.beta_1, t))
            self.assign_sub(variable, alpha * m / (ops.sqrt(v) + 1e-7))
            self.assign_add(self.count, 1.0)

    return MomentumAdam


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"use_ema": True, "ema_overwrite_frequency": 2}, {"clipnorm": 0.3, "weight_decay": 0.1}],
    ids=["plain", "ema", "clip-decay"],
)
def test_keras_custom_optimizer_matches_keras3(keras, kwargs):
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(4)]
    k_vars = [keras.Variable(v) for v in init]
    k_opt = momentum_adam(keras)(learning_rate=0.05, **kwargs)
    params = [torch.nn.Parameter(torch.tensor(v)) for v in init]
    opt = momentum_adam(fitorch)(learning_rate=0.05, **kwargs)
    for step in grads:
        k_opt.apply([keras.ops.convert_to_tensor(g) for g in step], k_vars)
        opt.apply([torch.tensor(g) for g in step], params)
    for v, p in zip(k_vars, params):
        np.testing.assert_allclose(
            p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
        )
    assert float(opt.count) == 8.0  # two variables, four steps


def test_slots_live_in_the_torch_state():
    params = [torch.nn.Parameter(torch.ones(s)) for s in SHAPES]
    opt = momentum_adam(fitorch)()
    opt.build(params)
    assert opt.ms[1] is opt.state[params[1]]["m"]
    params[0].grad, params[1].grad = torch.ones(SHAPES[0]), torch.ones(SHAPES[1])
    opt.step()
    saved = opt.state_dict()["state"]
    assert set(saved[0]) == {"m", "v"} and torch.equal(saved[1]["m"], opt.ms[1])
