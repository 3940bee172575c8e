"""Every fitorch loss traces into one graph (`torch.compile(fullgraph=True, dynamic=True)`)
and keeps that graph across batches of other values and another batch size.

The compiled training step calls the losses inside one graph, so a graph break or a
recompilation per step would undo it. Each test compiles a small function calling losses,
runs it on three batches (sizes 8, 8, 6) and asserts the values equal the eager call and that
no graph was made after the first call. Losses sharing an input kind share one compiled
function (each compilation costs about a second on this machine).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from _loss_cases import CASES  # noqa: E402
from _tracing import compile_counted, run_compiled_and_eager  # noqa: E402
from torch import nn  # noqa: E402

from fitorch import losses  # noqa: E402

SIZES = (8, 8, 6)
# One case per loss class, the one with the most options (from_logits with label smoothing,
# class balancing, a non-default delta or axis): compiling costs about a second per loss.
# MeanAbsoluteError is traced in every reduction below, SparseCategoricalCrossentropy with
# ignore_class and CategoricalCrossentropy over axis 0 in their own tests, and CTC cannot be
# traced (test_ctc_is_not_traceable).
TRACED_IDS = (
    "mse", "mape", "msle", "cosine", "huber_delta", "log_cosh", "hinge_01", "squared_hinge_pm",
    "categorical_hinge", "kld", "poisson", "bce_logits_smooth", "bfce_all", "cce_smooth",
    "cfce_logits", "scce", "cgce_q", "dice", "tversky_axis", "circle_args",
)  # fmt: skip
TRACED = [c for c in CASES if c.id in TRACED_IDS]


def _groups():
    groups = {}
    for case in TRACED:
        groups.setdefault((case.make.__name__, case.shapes[0][1:]), []).append(case)
    return [pytest.param(cases, id=f"{key[0]}-{'+'.join(c.id for c in cases)}") for key, cases
            in groups.items()]  # fmt: skip


def _batch(make, tail, size, seed, weights=True):
    rng = np.random.default_rng(seed)
    y_true, y_pred = make(rng, (size, *tail))
    as_t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    if not weights:
        return as_t(y_true), as_t(y_pred)
    return as_t(y_true), as_t(y_pred), as_t(rng.uniform(0.1, 2.0, size=size))


def _assert_traced(fn, batches):
    compiled, counter = compile_counted(fn)
    pairs, recompiles = run_compiled_and_eager(compiled, fn, counter, batches)
    for got, want in pairs:
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert recompiles == 0


@pytest.mark.parametrize("cases", _groups())
def test_loss_classes_trace_with_sample_weight(cases):
    objs = [getattr(losses, c.cls)(**c.kwargs) for c in cases]
    tail = cases[0].shapes[0][1:]
    batches = [_batch(cases[0].make, tail, n, seed) for seed, n in enumerate(SIZES)]
    _assert_traced(lambda t, p, w: [o(t, p, sample_weight=w) for o in objs], batches)


def test_every_reduction_traces():
    objs = [losses.MeanAbsoluteError(reduction=r) for r in losses.base.REDUCTIONS]
    objs.append(losses.MeanAbsoluteError(reduction=losses.Reduction.AUTO))
    case = next(c for c in CASES if c.id == "mae")
    batches = [_batch(case.make, (3,), n, seed) for seed, n in enumerate(SIZES)]
    _assert_traced(lambda t, p, w: [o(t, p, sample_weight=w) for o in objs], batches)


def test_functions_and_unweighted_calls_trace():
    """The per-sample functions (what metrics wrap) and a call without sample_weight."""
    fns = [losses.mse, losses.mae, losses.huber]
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    case = next(c for c in CASES if c.id == "mse")
    batches = [_batch(case.make, (4,), n, seed, weights=False) for seed, n in enumerate(SIZES)]
    _assert_traced(lambda t, p: [f(t, p) for f in fns] + [cce(t.softmax(-1), p)], batches)


def test_mask_on_y_pred_traces():
    """A Masking-layer mask (`_keras_mask` on y_pred) re-weights the mean over valid steps."""
    loss = losses.MeanSquaredError()
    summed = losses.MeanSquaredError(reduction="sum")

    def batch(n, seed):
        g = torch.Generator().manual_seed(seed)
        y_pred = torch.randn(n, 5, 3, generator=g)
        y_pred._keras_mask = torch.rand(n, 5, generator=g) > 0.3
        return torch.randn(n, 5, 3, generator=g), y_pred, torch.rand(n, generator=g)

    _assert_traced(
        lambda t, p, w: [loss(t, p, sample_weight=w), summed(t, p), loss(t, p)],
        [batch(n, seed) for seed, n in enumerate(SIZES)],
    )


def test_ignore_class_over_timesteps_traces():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)

    def batch(n, seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 4, (n, 5), generator=g).float()
        return labels, torch.randn(n, 5, 4, generator=g), torch.rand(n, 5, generator=g)

    _assert_traced(
        lambda t, p, w: [loss(t, p, sample_weight=w), loss(t, p)],
        [batch(n, seed) for seed, n in enumerate(SIZES)],
    )


def test_class_weight_like_sample_weight_traces():
    """class_weight reaches the loss as sample_weight = weights[label] (gathered per batch)."""
    loss = losses.SparseCategoricalCrossentropy()
    class_weight = torch.tensor([1.0, 3.0, 0.5, 2.0])

    def fn(labels, probs):
        return loss(labels, probs, sample_weight=class_weight[labels.long()])

    case = next(c for c in CASES if c.id == "scce")
    batches = [_batch(case.make, (4,), n, seed, weights=False) for seed, n in enumerate(SIZES)]
    _assert_traced(fn, batches)


def test_axis0_crossentropy_traces():
    case = next(c for c in CASES if c.id == "cce_axis0")
    loss = losses.CategoricalCrossentropy(**case.kwargs)
    batches = [_batch(case.make, (4,), n, seed, weights=False) for seed, n in enumerate(SIZES)]
    _assert_traced(lambda t, p: loss(t, p), batches)


def test_torch_loss_modules_trace():
    """Wrapped `torch.nn` losses, weighted and not."""
    mse = losses.TorchLoss(nn.MSELoss())
    ce = losses.TorchLoss(nn.CrossEntropyLoss())

    def batch(n, seed):
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(n, 4, generator=g), torch.randint(0, 4, (n,), generator=g),
                torch.randn(n, 4, generator=g), torch.rand(n, generator=g))  # fmt: skip

    def fn(y, labels, p, w):
        return [mse(y, p, sample_weight=w), ce(labels, p, sample_weight=w), mse(y, p)]

    _assert_traced(fn, [batch(n, seed) for seed, n in enumerate(SIZES)])


def test_ctc_is_not_traceable():
    """Documented gap: aten's ctc_loss has no traceable (fake tensor) implementation, so a
    model with a CTC loss runs the step eagerly. This test fails once torch can trace it."""
    case = next(c for c in CASES if c.id == "ctc")
    loss = losses.CTC()
    compiled, _ = compile_counted(lambda t, p: loss(t, p))
    with pytest.raises(torch._dynamo.exc.Unsupported, match="Dynamic shape operator"):
        compiled(*_batch(case.make, (5,), 4, 0, weights=False))


@pytest.mark.parametrize("shape", [(8, 1), (8, 3), (2, 4, 1)])
def test_lean_regression_functions_equal_the_formula_bit_for_bit(shape):
    """The regression functions skip the mean kernel over a length-1 last axis; the values
    stay exactly `mean(..., axis=-1)` (torch.equal, not a tolerance)."""
    g = torch.Generator().manual_seed(11)
    t, p = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    pairs = [
        (losses.mse(t, p), torch.mean(torch.square(t - p), dim=-1)),
        (losses.mae(t, p), torch.mean(torch.abs(t - p), dim=-1)),
        (
            losses.mape(t, p),
            100.0 * torch.mean(torch.abs((t - p) / torch.clamp(torch.abs(t), min=1e-7)), dim=-1),
        ),
    ]
    for got, want in pairs:
        assert torch.equal(got, want)
