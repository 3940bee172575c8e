"""ScheduleFreeAdamW equals Keras 3's (torch backend) step by step."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O

SHAPES = [(3, 4), (5,)]


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"learning_rate": 0.01, "warmup_steps": 3, "beta_1": 0.8, "epsilon": 1e-3},
        {"weight_decay": 0.1, "clipnorm": 0.5},
    ],
    ids=["defaults", "warmup", "decay-clip"],
)
def test_matches_keras3_every_step(keras, kwargs):
    rng = np.random.default_rng(0)
    init = [rng.normal(size=s).astype("float32") for s in SHAPES]
    k_vars = [keras.Variable(v) for v in init]
    k_opt = keras.optimizers.ScheduleFreeAdamW(**kwargs)
    params = [torch.nn.Parameter(torch.tensor(v)) for v in init]
    opt = O.ScheduleFreeAdamW(params, **kwargs)
    for _ in range(6):
        grads = [rng.normal(size=s).astype("float32") for s in SHAPES]
        k_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
        opt.apply([torch.tensor(g) for g in grads])
        for v, p in zip(k_vars, params):
            np.testing.assert_allclose(
                p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
            )


def test_config_round_trip_get_and_argument_checks():
    opt = O.ScheduleFreeAdamW(learning_rate=0.01, warmup_steps=4, beta_2=0.99)
    assert O.ScheduleFreeAdamW.from_config(opt.get_config()).get_config() == opt.get_config()
    assert isinstance(O.get("schedulefreeadamw"), O.ScheduleFreeAdamW)
    with pytest.raises(ValueError, match="warmup_steps"):
        O.ScheduleFreeAdamW(warmup_steps=-1)
