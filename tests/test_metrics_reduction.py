"""Mean, Sum and MeanMetricWrapper: Keras 3 weighting rules, sequences, serialization, doctests."""

from __future__ import annotations

import doctest
import importlib
import os

import numpy as np
import pytest
import torch

from fitorch import metrics


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


RNG = np.random.default_rng(3)
VALUES_AND_WEIGHTS = [
    (RNG.normal(size=(6,)), None),
    (RNG.normal(size=(6,)), RNG.uniform(size=(6,))),
    (RNG.normal(size=(6, 3)), RNG.uniform(size=(6,))),
    (RNG.normal(size=(6, 3)), RNG.uniform(size=(6, 1))),
    (RNG.normal(size=(6, 3)), RNG.uniform(size=(6, 3))),
    (RNG.normal(size=(6, 4, 2)), RNG.uniform(size=(6, 4))),
    (RNG.normal(size=(6, 1)), RNG.uniform(size=(6,))),
    (np.float64(2.5), None),
]


@pytest.mark.parametrize("cls", ["Mean", "Sum"])
@pytest.mark.parametrize("case", range(len(VALUES_AND_WEIGHTS)))
def test_mean_and_sum_follow_keras_weighting(cls, case, keras):
    values, weight = VALUES_AND_WEIGHTS[case]
    ours, theirs = getattr(metrics, cls)(), getattr(keras.metrics, cls)()
    for _ in range(2):  # twice: accumulation
        ours.update_state(torch.tensor(values, dtype=torch.float32), sample_weight=weight)
        theirs.update_state(values.astype(np.float32), sample_weight=weight)
    np.testing.assert_allclose(
        float(ours.result()), float(theirs.result().cpu()), rtol=1e-5, atol=1e-6
    )


def _seq_batch(seed):
    g = torch.Generator().manual_seed(seed)
    y_true = torch.randint(0, 4, (5, 3), generator=g)
    y_pred = torch.rand(5, 3, 4, generator=g).softmax(-1)
    weight = torch.rand(5, 3, generator=g)
    return y_true, y_pred, weight


@pytest.mark.parametrize(
    "cls",
    ["SparseCategoricalAccuracy", "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy"],
)
def test_sequence_outputs_with_per_timestep_weights_match_keras(cls, keras):
    kwargs = {"k": 2} if "TopK" in cls else {}
    ours, theirs = getattr(metrics, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    for seed in (0, 1):
        y_true, y_pred, w = _seq_batch(seed)
        ours.update_state(y_true, y_pred, sample_weight=w)
        theirs.update_state(y_true.numpy(), y_pred.numpy(), sample_weight=w.numpy())
    np.testing.assert_allclose(float(ours.result()), float(theirs.result().cpu()), rtol=1e-5)


def test_wrapper_of_a_registered_function_round_trips(tmp_path):
    from fitorch.registry import register_serializable

    @register_serializable("Tests")
    def half_error(y_true, y_pred):
        return (y_true - y_pred).abs().mean(-1) / 2

    metric = metrics.MeanMetricWrapper(half_error, name="half")
    config = metric.get_config()
    assert config["fn"] == "Tests>half_error"
    clone = metrics.MeanMetricWrapper.from_config(config)
    assert clone.fn is half_error and clone.name == "half"


def test_wrapper_of_a_builtin_function_round_trips_and_unknown_function_is_an_error():
    metric = metrics.MeanMetricWrapper(metrics.mae)
    clone = metrics.MeanMetricWrapper.from_config(metric.get_config())
    assert clone.fn is metrics.mae and clone.direction == "down"
    with pytest.raises(ValueError, match="not registered"):
        metrics.MeanMetricWrapper.from_config({"fn": "no_such_function", "name": "x"})
    with pytest.raises(TypeError, match="needs a callable"):
        metrics.MeanMetricWrapper(3)


def test_wrapper_kwargs_reach_the_function():
    y_true = torch.tensor([[1.0], [0.0], [1.0]])
    y_pred = torch.tensor([[0.6], [0.4], [0.3]])
    m = metrics.MeanMetricWrapper(metrics.binary_accuracy, threshold=0.35)
    m.update_state(y_true, y_pred)
    assert float(m.result()) == pytest.approx(1 / 3)


def test_reset_keeps_device_and_dtype_and_empty_mean_is_zero():
    m = metrics.Mean(dtype="float64")
    assert float(m.result()) == 0.0
    m.update_state(torch.tensor([1.0, 2.0]))
    m.reset_state()
    assert m.total.dtype == torch.float64 and float(m.result()) == 0.0


@pytest.mark.parametrize(
    "module", ["accuracy", "regression", "confusion", "auc", "iou", "fscore", "correlation"]
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(f"fitorch.metrics.{module}"))
    assert result.failed == 0


def test_synced_states_reduces_with_one_collective_per_dtype_and_restores():
    calls = []

    def fake_all_reduce(tensor, op):  # two identical processes
        calls.append((op, tensor.dtype, tensor.numel()))
        if op == "sum":
            tensor.mul_(2)

    y_true = torch.tensor([[1.0], [0.0], [1.0], [1.0]])
    y_pred = torch.tensor([[0.9], [0.2], [0.4], [0.7]])
    mse, total, auc = metrics.MeanSquaredError(), metrics.Sum(), metrics.AUC(num_thresholds=5)
    iou = metrics.BinaryIoU()  # float64 states: a second buffer
    mse.update_state(y_true, y_pred)
    total.update_state(y_pred)
    auc.update_state(y_true, y_pred)
    iou.update_state(y_true, y_pred)
    before = [float(m.result()) for m in (mse, total, auc, iou)]
    with metrics.synced_states([mse, total, auc, iou], all_reduce=fake_all_reduce):
        inside = [float(m.result()) for m in (mse, total, auc, iou)]
    assert sorted(str(c[1]) for c in calls) == ["torch.float32", "torch.float64"]
    assert inside == pytest.approx([before[0], 2 * before[1], before[2], before[3]])
    assert [float(m.result()) for m in (mse, total, auc, iou)] == pytest.approx(before)
    with metrics.synced_states([mse]):  # no process group: nothing happens
        assert float(mse.result()) == pytest.approx(before[0])


def _sync_worker(rank, world, port, out):
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    g = torch.Generator().manual_seed(rank)
    y_true = torch.randint(0, 2, (5 + rank, 1), generator=g).float()
    y_pred = torch.rand(5 + rank, 1, generator=g)
    ms = [metrics.MeanSquaredError(), metrics.AUC(num_thresholds=20), metrics.Precision()]
    for m in ms:
        m.update_state(y_true, y_pred)
    with metrics.synced_states(ms):
        out[rank] = [float(m.result()) for m in ms]
    dist.destroy_process_group()


@pytest.mark.slow
def test_synced_states_over_two_gloo_processes_equals_one_metric_over_all_data():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    # fork: the workers inherit the imported modules (spawn would re-import torch twice)
    mp.start_processes(_sync_worker, args=(2, port, out), nprocs=2, start_method="fork")
    ms = [metrics.MeanSquaredError(), metrics.AUC(num_thresholds=20), metrics.Precision()]
    for rank in range(2):
        g = torch.Generator().manual_seed(rank)
        y_true = torch.randint(0, 2, (5 + rank, 1), generator=g).float()
        y_pred = torch.rand(5 + rank, 1, generator=g)
        for m in ms:
            m.update_state(y_true, y_pred)
    expected = [float(m.result()) for m in ms]
    assert out[0] == pytest.approx(expected, rel=1e-6) and out[1] == pytest.approx(
        expected, rel=1e-6
    )


def test_serialize_round_trip_of_wrappers_and_reductions():
    for metric in (metrics.MeanMetricWrapper(metrics.mae, name="m"), metrics.Mean(), metrics.Sum()):
        clone = metrics.deserialize(metrics.serialize(metric))
        assert type(clone) is type(metric) and clone.get_config() == metric.get_config()
