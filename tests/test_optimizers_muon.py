"""Muon equals Keras 3's: Muon steps on matrices, AdamW steps on the rest (by shape and path)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O

# name (Keras variable path / fitorch build name) -> shape: a wide and a tall matrix take the
# Muon step; a vector, an embedding and an excluded layer take the AdamW step.
SHAPES = {
    "embedding_table": (6, 3),
    "hidden_kernel": (3, 5),
    "tall_kernel": (5, 2),
    "hidden_bias": (5,),
    "out_kernel": (2, 2),
}


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _data(steps=6):
    rng = np.random.default_rng(0)
    params = {n: rng.normal(size=s).astype("float32") for n, s in SHAPES.items()}
    grads = [
        {n: rng.normal(size=s).astype("float32") for n, s in SHAPES.items()} for _ in range(steps)
    ]
    return params, grads


@pytest.mark.parametrize(
    "kwargs",
    [
        {"exclude_layers": ["out"], "weight_decay": 0.1, "adam_weight_decay": 0.05},
        {"learning_rate": 0.01, "nesterov": False, "rms_rate": None, "adam_lr_ratio": 0.5},
        {"exclude_embeddings": False, "momentum": 0.8, "ns_steps": 3, "epsilon": 1e-3},
    ],
    ids=["exclude", "plain", "embeddings"],
)
def test_matches_keras3(keras, kwargs):
    params, grads = _data()
    k_vars = [keras.Variable(v, name=n) for n, v in params.items()]
    k_opt = keras.optimizers.Muon(**kwargs)
    ps = {n: torch.nn.Parameter(torch.tensor(v)) for n, v in params.items()}
    opt = O.Muon(**kwargs)
    opt.build(list(ps.items()))
    for step in grads:
        k_opt.apply([keras.ops.convert_to_tensor(step[n]) for n in SHAPES], k_vars)
        opt.apply([torch.tensor(step[n]) for n in SHAPES], list(ps.values()))
    for v, p in zip(k_vars, ps.values()):
        np.testing.assert_allclose(
            p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
        )


def test_adamw_parameters_by_shape_and_path():
    opt = O.Muon(exclude_layers=["^out"])
    ps = {n: torch.nn.Parameter(torch.zeros(s)) for n, s in SHAPES.items()}
    opt.build(list(ps.items()))
    adamw = {n for n, p in ps.items() if opt.uses_adamw(p)}
    assert adamw == {"embedding_table", "hidden_bias", "out_kernel"}


def test_config_round_trip_and_get():
    opt = O.Muon(learning_rate=0.02, exclude_layers=["out"], ns_steps=3, rms_rate=None)
    clone = O.Muon.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert isinstance(O.get("muon"), O.Muon)
    with pytest.raises(ValueError, match="ns_steps"):
        O.Muon(ns_steps=-1)
