"""Learning-rate schedules: values against their formulas, against Keras 3, on device
tensors, serialization, and the step an optimizer passes (iterations before the update)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O
from fitorch.optimizers import schedules as S

STEPS = [0, 1, 5, 9, 10, 11, 25, 40, 100]


def cosine(frac, alpha):
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * frac)) + alpha


FORMULAS = [
    (S.ExponentialDecay(0.1, 10, 0.5), lambda s: 0.1 * 0.5 ** (s / 10)),
    (S.ExponentialDecay(0.1, 10, 0.5, staircase=True), lambda s: 0.1 * 0.5 ** (s // 10)),
    (
        S.PiecewiseConstantDecay([10, 25], [1.0, 0.5, 0.1]),
        lambda s: 1.0 if s <= 10 else 0.5 if s <= 25 else 0.1,
    ),
    (
        S.PolynomialDecay(0.1, 20, 0.01, power=2.0),
        lambda s: 0.09 * (1 - min(s, 20) / 20) ** 2 + 0.01,
    ),
    (
        S.PolynomialDecay(0.1, 20, 0.01, cycle=True),
        lambda s: 0.09 * (1 - s / (20 * max(1, math.ceil(s / 20)))) + 0.01,
    ),
    (S.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
    (S.InverseTimeDecay(0.1, 10, 0.5, staircase=True), lambda s: 0.1 / (1 + 0.5 * (s // 10))),
    (S.CosineDecay(0.1, 40, alpha=0.1), lambda s: 0.1 * cosine(min(s, 40) / 40, 0.1)),
    (
        S.CosineDecay(0.0, 30, warmup_target=0.2, warmup_steps=10),
        lambda s: 0.2 * s / 10 if s < 10 else 0.2 * cosine((min(s, 40) - 10) / 30, 0.0),
    ),
    (
        S.CosineDecayRestarts(0.1, 10, t_mul=1.0, m_mul=0.5),
        lambda s: 0.1 * 0.5 ** (s // 10) * cosine((s % 10) / 10, 0),
    ),
]


def restarts_t2(s, first=10):
    # Periods of 10, 20, 40, ... steps; the peak stays at 0.1.
    start, length = 0, first
    while s >= start + length:
        start, length = start + length, length * 2
    return 0.1 * cosine((s - start) / length, 0)


FORMULAS.append((S.CosineDecayRestarts(0.1, 10), restarts_t2))


@pytest.mark.parametrize("schedule,formula", FORMULAS, ids=lambda x: repr(x)[:40])
def test_schedule_matches_formula(schedule, formula):
    for s in STEPS:
        assert float(schedule(s)) == pytest.approx(formula(s), rel=1e-9, abs=1e-12), s


@pytest.mark.parametrize("schedule,formula", FORMULAS, ids=lambda x: repr(x)[:40])
def test_schedule_on_device_tensor_returns_0d_tensor(schedule, formula):
    out = schedule(torch.tensor(7, dtype=torch.int64))
    assert isinstance(out, torch.Tensor) and out.dim() == 0
    assert float(out) == pytest.approx(formula(7), rel=1e-9)


@pytest.mark.parametrize("schedule,formula", FORMULAS, ids=lambda x: repr(x)[:40])
def test_schedule_serialization_round_trip(schedule, formula):
    record = S.serialize(schedule)
    assert record["class_name"] == type(schedule).__name__
    again = S.deserialize(record)
    assert again == schedule
    assert type(schedule).from_config(schedule.get_config()) == schedule
    assert float(again(13)) == float(schedule(13))


def test_keras_schedule_record_is_accepted():
    record = {
        "class_name": "ExponentialDecay",
        "config": {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.9},
    }
    assert float(S.deserialize(record)(5)) == pytest.approx(0.09)
    opt = O.get({"class_name": "SGD", "config": {"learning_rate": record}})
    assert isinstance(opt.learning_rate, S.ExponentialDecay)


def test_schedule_matches_keras3():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    for schedule, _ in FORMULAS:
        k_schedule = getattr(keras.optimizers.schedules, type(schedule).__name__)(
            **schedule.get_config()
        )
        for s in STEPS:
            want = float(keras.ops.convert_to_numpy(k_schedule(s)))
            assert float(schedule(s)) == pytest.approx(want, rel=1e-5), (schedule, s)


def test_optimizer_calls_schedule_with_iterations_before_update():
    schedule = S.PiecewiseConstantDecay([0, 1, 2], [1.0, 0.1, 0.01, 0.001])
    p = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    opt = O.SGD([p], learning_rate=schedule)
    deltas = []
    for _ in range(4):
        before = float(p.detach())
        p.grad = torch.ones((), dtype=torch.float64)
        opt.step()
        deltas.append(before - float(p.detach()))
    np.testing.assert_allclose(deltas, [1.0, 0.1, 0.01, 0.001])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="decay_steps"):
        S.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="one more element"):
        S.PiecewiseConstantDecay([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="Did you mean 'CosineDecay'"):
        S.get("CosineDecy")
