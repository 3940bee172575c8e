"""Every metric's `update_state`, and the compile containers the training step calls, trace
into one graph (`torch.compile(fullgraph=True, dynamic=True)`) and keep it across batches.

Each test updates metrics inside a compiled function on three batches (sizes 8, 8, 6, other
values each time), updates fresh copies eagerly on the same batches, and asserts equal states
and results and that no graph was made after the first call. Metrics sharing an input kind
share one compiled function (a compilation costs about a second on this machine).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402
import torch  # noqa: E402
from _tracing import compile_counted  # noqa: E402

import fitorch  # noqa: E402
from fitorch import losses  # noqa: E402
from fitorch import metrics as M  # noqa: E402

SIZES = (8, 8, 6)


def _inputs(kind: str, n: int, g: torch.Generator):
    """(y_true, y_pred) of one kind for a batch of `n`."""
    if kind.startswith("binary"):
        return (torch.rand(n, 1, generator=g) > 0.5).float(), torch.rand(n, 1, generator=g)
    if kind == "multilabel":
        return (torch.rand(n, 3, generator=g) > 0.5).float(), torch.rand(n, 3, generator=g)
    labels = torch.randint(0, 4, (n,), generator=g)
    scores = torch.softmax(torch.randn(n, 4, generator=g), -1)
    if kind == "categorical":
        return torch.nn.functional.one_hot(labels, 4).float(), scores
    if kind == "sparse":
        return labels.float(), scores
    if kind == "labels":
        return labels.float(), torch.randint(0, 4, (n,), generator=g).float()
    if kind == "positive":
        return torch.rand(n, 3, generator=g) * 3, torch.rand(n, 3, generator=g) * 3
    return torch.randn(n, 3, generator=g), torch.randn(n, 3, generator=g)  # "real"


GROUPS = {
    "binary": lambda: [
        M.BinaryAccuracy(), M.BinaryCrossentropy(from_logits=False, label_smoothing=0.1),
        M.TruePositives(), M.FalsePositives(thresholds=[0.3, 0.6]), M.TrueNegatives(),
        M.FalseNegatives(), M.BinaryIoU(), M.Hinge(), M.SquaredHinge(),
    ],
    "binary_curves": lambda: [
        M.Precision(), M.Recall(thresholds=[0.2, 0.5]), M.PrecisionAtRecall(0.5),
        M.RecallAtPrecision(0.5), M.SensitivityAtSpecificity(0.5),
        M.SpecificityAtSensitivity(0.5),
    ],
    "binary_auc": lambda: [
        M.AUC(), M.AUC(curve="PR", summation_method="minoring"), M.AUC(from_logits=True),
    ],
    "categorical": lambda: [
        M.CategoricalAccuracy(), M.TopKCategoricalAccuracy(k=2),
        M.CategoricalCrossentropy(label_smoothing=0.1), M.KLDivergence(), M.CategoricalHinge(),
        M.Precision(top_k=2, class_id=1), M.Recall(class_id=2),
        M.OneHotIoU(num_classes=4, target_class_ids=[1, 3]), M.OneHotMeanIoU(num_classes=4),
    ],
    "sparse": lambda: [
        M.SparseCategoricalAccuracy(), M.SparseTopKCategoricalAccuracy(k=2),
        M.SparseCategoricalCrossentropy(), M.SparseCategoricalCrossentropy(ignore_class=0),
    ],
    "labels": lambda: [
        M.Accuracy(), M.IoU(num_classes=4, target_class_ids=[0, 2]), M.MeanIoU(num_classes=4),
    ],
    "real": lambda: [
        M.MeanSquaredError(), M.MeanAbsoluteError(), M.MeanAbsolutePercentageError(),
        M.CosineSimilarity(), M.LogCoshError(), M.RootMeanSquaredError(), M.R2Score(),
        M.R2Score(class_aggregation="variance_weighted_average", num_regressors=1),
        M.PearsonCorrelation(), M.ConcordanceCorrelation(),
        M.MeanMetricWrapper(losses.huber, delta=0.5),
    ],
    "positive": lambda: [M.MeanSquaredLogarithmicError(), M.Poisson()],
    "multilabel": lambda: [
        M.F1Score(), M.F1Score(average="weighted"), M.FBetaScore(beta=2.0, average="micro"),
        M.FBetaScore(average=None, threshold=0.4), M.AUC(multi_label=True),
        M.AUC(multi_label=True, num_labels=3, label_weights=[1.0, 2.0, 0.5]),
    ],
}  # fmt: skip


def _batches(kind: str, weighted: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in SIZES:
        y_true, y_pred = _inputs(kind, n, g)
        out.append((y_true, y_pred, torch.rand(n, generator=g) + 0.1 if weighted else None))
    return out


def _assert_updates_trace(make_metrics, batches):
    """Compiled updates of `make_metrics()` equal eager ones on `batches`; no recompile."""
    traced, eager = make_metrics(), make_metrics()
    y_true, y_pred, _ = batches[0]
    for m in traced + eager:
        m.build_states(y_true, y_pred)  # what compile does on the first batch

    def update(yt, yp, sw):
        for m in traced:
            m.update_state(yt, yp, sample_weight=sw)

    compiled, counter = compile_counted(update)
    first = None
    for yt, yp, sw in batches:
        compiled(yt, yp, sw)
        first = counter.graphs if first is None else first
        for m in eager:
            m.update_state(yt, yp, sample_weight=sw)
    for t, e in zip(traced, eager):
        for name, value in e.states().items():
            torch.testing.assert_close(t.states()[name], value, msg=f"{e.name}.{name}")
        torch.testing.assert_close(t.result(), e.result(), equal_nan=True, msg=e.name)
    assert counter.graphs - first == 0


# Two groups run without sample_weight: the unweighted fast path of `Mean` (one sum for the
# mean of per-sample means), which the wrapped metrics take on plain `metrics=[...]`.
UNWEIGHTED = ("positive", "labels")


@pytest.mark.parametrize("kind", list(GROUPS))
def test_metric_updates_trace(kind):
    _assert_updates_trace(GROUPS[kind], _batches(kind, weighted=kind not in UNWEIGHTED))


def test_mean_and_sum_trace():
    def make():
        return [M.Mean(), M.Sum()]

    def as_values(batches):
        return [(v, v, w) for v, _, w in batches]

    traced, eager = make(), make()
    # Mean and Sum take (values, sample_weight): wrap them in the (y_true, y_pred, w) form.
    for weighted in (True, False):
        compiled, counter = compile_counted(
            lambda v, w: [m.update_state(v, sample_weight=w) for m in traced]
        )
        first = None
        for v, _, w in as_values(_batches("real", weighted, seed=3)):
            compiled(v, w)
            first = counter.graphs if first is None else first
            for m in eager:
                m.update_state(v, sample_weight=w)
        assert counter.graphs - first == 0
    for t, e in zip(traced, eager):
        torch.testing.assert_close(t.result(), e.result())


def test_masked_y_pred_traces():
    """A Masking-layer mask on y_pred gives masked entries weight 0 in a wrapped metric."""

    def batches():
        g = torch.Generator().manual_seed(5)
        out = []
        for n in SIZES:
            y_pred = torch.randn(n, 5, 2, generator=g)
            y_pred._keras_mask = torch.rand(n, 5, generator=g) > 0.3
            out.append((torch.randn(n, 5, 2, generator=g), y_pred, torch.rand(n, generator=g)))
        return out

    _assert_updates_trace(lambda: [M.MeanSquaredError(), M.MeanAbsoluteError()], batches())


# -- the containers the training step calls ---------------------------------------------------
def _compiled_state(loss, metrics, weighted_metrics=None):
    inputs = fitorch.Input((3,))
    outputs = [fitorch.layers.Dense(1, name="a")(inputs), fitorch.layers.Dense(2, name="b")(inputs)]
    model = fitorch.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=loss, metrics=metrics, weighted_metrics=weighted_metrics,
                  loss_weights=[1.0, 0.5])  # fmt: skip
    return model


def test_compile_containers_trace():
    """`state.loss(y, preds, sw)`, `loss_tracker.update(total, n)`, the per-output trackers
    and `state.metrics.update(y, preds, sw)`, as the step calls them."""
    models = [
        _compiled_state(["mse", "sparse_categorical_crossentropy"], [["mae", "mape"], ["acc"]],
                        weighted_metrics=[["mse"], ["acc"]])
        for _ in range(2)
    ]  # fmt: skip
    g = torch.Generator().manual_seed(7)
    batches = []
    for n in SIZES:
        x = torch.randn(n, 3, generator=g)
        y = [torch.randn(n, 1, generator=g), torch.randint(0, 2, (n,), generator=g).float()]
        batches.append((x, y, [torch.rand(n, generator=g), torch.rand(n, generator=g)]))
    for model in models:
        x, y, _ = batches[0]
        model.trainer.build(model, y, list(model(x)))

    def step(state, preds, y, sw):
        total, parts = state.loss(y, preds, sw)
        n = preds[0].shape[0]
        state.loss_tracker.update(total, n)
        for (_, tracker), part in zip(state.output_trackers, parts):
            tracker.update(part, n)
        state.metrics.update(y, preds, sw)
        return total

    traced, eager = models[0].trainer, models[1].trainer
    compiled, counter = compile_counted(lambda p, y, sw: step(traced, p, y, sw))
    first = None
    for x, y, sw in batches:
        with torch.no_grad():
            preds = list(models[0](x))
        torch.testing.assert_close(compiled(preds, y, sw), step(eager, preds, y, sw))
        first = counter.graphs if first is None else first
    assert counter.graphs - first == 0
    got, want = traced.results(), eager.results()
    assert list(got) == list(want) == traced.log_keys()
    assert {"loss", "a_loss", "b_loss", "a_mae", "a_mape"} <= set(got)
    for key in want:
        torch.testing.assert_close(got[key], want[key], msg=key)


def test_compile_builds_data_shaped_states_before_the_first_update():
    """CompileMetrics.build calls build_states, so the step's first (traced) update finds
    F1Score's per-class and R2Score's per-column states already there, at zero."""
    inputs = fitorch.Input((2,))
    model = fitorch.Model(inputs, fitorch.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss="mse", metrics=[M.F1Score(), M.R2Score()])
    x, y = torch.randn(4, 2), (torch.rand(4, 3) > 0.5).float()
    model.trainer.build(model, [y], [model(x).detach()])
    f1, r2 = (entry[2] for entry in model.trainer.metrics.entries)
    assert f1.true_positives.shape == (3,) and r2.residual.shape == (3,)
    assert float(f1.true_positives.abs().sum() + r2.count.abs().sum()) == 0.0
