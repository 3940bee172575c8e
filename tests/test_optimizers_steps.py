"""The small transformations in `fitorch.optimizers.steps`, against their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from fitorch.optimizers import steps


def grads64():
    return [
        torch.tensor([3.0, 4.0], dtype=torch.float64),
        torch.tensor([[0.3, -0.4]], dtype=torch.float64),
    ]


def test_clip_by_norm_is_per_tensor():
    out = steps.clip_by_norm(grads64(), 1.0)
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8], dtype=torch.float64))
    torch.testing.assert_close(out[1], grads64()[1])  # norm 0.5 < 1: unchanged


def test_clip_by_global_norm():
    g = grads64()
    total = math.sqrt(25 + 0.25)
    out = steps.clip_by_global_norm(g, 1.0)
    for a, b in zip(out, g):
        torch.testing.assert_close(a, b / total)
    nan = steps.clip_by_global_norm([torch.tensor([float("inf"), 1.0])], 1.0)[0]
    assert torch.isnan(nan).all()  # non-finite norm poisons the step, as Keras


def test_clip_by_value_and_inputs_untouched():
    g = grads64()
    out = steps.clip_by_value(g, 0.35)
    torch.testing.assert_close(out[0], torch.tensor([0.35, 0.35], dtype=torch.float64))
    torch.testing.assert_close(out[1], torch.tensor([[0.3, -0.35]], dtype=torch.float64))
    assert g[0][0] == 3.0


def test_clip_gradients_spans_dtypes_for_the_global_norm():
    g = [torch.tensor([3.0]), torch.tensor([4.0], dtype=torch.float64)]
    out = steps.clip_gradients(g, global_clipnorm=1.0)
    assert out[0].dtype == torch.float32 and out[1].dtype == torch.float64
    torch.testing.assert_close(out[0], torch.tensor([0.6]))
    torch.testing.assert_close(out[1], torch.tensor([0.8], dtype=torch.float64))
    assert steps.clip_gradients(g) is g


@pytest.mark.parametrize("momentum", [0.9, torch.tensor(0.9, dtype=torch.float64)])
def test_ema_update(momentum):
    avg, p = [torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 6.0])]
    steps.ema_update(avg, p, momentum)
    torch.testing.assert_close(avg[0], torch.tensor([1.2, 2.4]))


def test_decay_and_ratio_with_tensor_factors_keep_dtype():
    p = [torch.tensor([1.0, 2.0])]
    steps.decay_weights(p, 0.5, torch.tensor(0.1, dtype=torch.float64))
    torch.testing.assert_close(p[0], torch.tensor([0.95, 1.9]))
    steps.add_ratio(p, [torch.tensor([1.0, 1.0])], [torch.tensor([2.0, 4.0])], torch.tensor(-0.1))
    torch.testing.assert_close(p[0], torch.tensor([0.9, 1.875]))
    assert p[0].dtype == torch.float32


def test_all_finite_and_buckets():
    assert bool(steps.all_finite(grads64()))
    assert not bool(steps.all_finite([torch.tensor([1.0, float("nan")])]))
    ts = [torch.zeros(1), torch.zeros(1, dtype=torch.float64), torch.zeros(2)]
    assert steps.bucket_indices(ts) == [[0, 2], [1]]
