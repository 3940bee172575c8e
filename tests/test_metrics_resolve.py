"""Names, resolution at compile, History aliases, input checks and the seeds' metric usage."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from fitorch import losses, metrics
from fitorch.metrics import resolve


def _batch(kind, n=6, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "binary":
        return torch.randint(0, 2, (n, 1), generator=g).float(), torch.rand(n, 1, generator=g)
    if kind == "multilabel":
        return torch.randint(0, 2, (n, c), generator=g).float(), torch.rand(n, c, generator=g)
    if kind == "sparse":
        return torch.randint(0, c, (n,), generator=g), torch.rand(n, c, generator=g).softmax(-1)
    if kind == "sparse_col":
        return torch.randint(0, c, (n, 1), generator=g), torch.rand(n, c, generator=g).softmax(-1)
    onehot = torch.eye(c)[torch.randint(0, c, (n,), generator=g)]
    return onehot, torch.rand(n, c, generator=g).softmax(-1)


# -- names ----------------------------------------------------------------------------------------
KERAS2_NAMES = {
    "acc": None,
    "accuracy": None,
    "mse": metrics.MeanSquaredError,
    "mae": metrics.MeanAbsoluteError,
    "mape": metrics.MeanAbsolutePercentageError,
    "msle": metrics.MeanSquaredLogarithmicError,
    "logcosh": metrics.LogCoshError,
    "kld": metrics.KLDivergence,
    "rmse": metrics.RootMeanSquaredError,
    "mean_squared_error": metrics.MeanSquaredError,
    "MSE": metrics.MeanSquaredError,
    "binary_accuracy": metrics.BinaryAccuracy,
    "auc": metrics.AUC,
    "AUC": metrics.AUC,
    "precision": metrics.Precision,
    "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
}


@pytest.mark.parametrize("name", sorted(KERAS2_NAMES))
def test_string_resolves_to_a_new_metric_named_as_passed(name):
    y_true, y_pred = _batch("categorical", c=6)
    first, second = resolve(name, y_true, y_pred), resolve(name, y_true, y_pred)
    assert first.name == name and first is not second
    if KERAS2_NAMES[name] is not None:
        assert type(first) is KERAS2_NAMES[name]
    assert name in metrics.METRICS or name.lower() in ("acc", "accuracy")


def test_cosine_keras2_sign_perfect_fit_is_minus_one_and_direction_down():
    x = torch.linspace(0.1, 1.0, 10).reshape(10, 1)
    for name in ("cosine", "cosine_proximity"):
        m = resolve(name, x, x)
        m.update_state(x, x)
        assert float(m.result()) == pytest.approx(-1.0) and m.direction == "down"
        assert m.name == name
    m = resolve("cosine_similarity", x, x)  # Keras 3 metric: +cos
    m.update_state(x, x)
    assert float(m.result()) == pytest.approx(1.0) and m.direction == "up"


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("binary", metrics.BinaryAccuracy),
        ("sparse", metrics.SparseCategoricalAccuracy),
        ("sparse_col", metrics.SparseCategoricalAccuracy),
        ("categorical", metrics.CategoricalAccuracy),
        ("multilabel", metrics.CategoricalAccuracy),  # Keras 3 looks at shapes only
    ],
)
@pytest.mark.parametrize("name", ["acc", "accuracy", "ACC", "Accuracy"])
def test_accuracy_is_picked_from_shapes_as_keras3(kind, expected, name):
    y_true, y_pred = _batch(kind)
    m = resolve(name, y_true, y_pred)
    assert type(m) is expected and m.name == name and m.direction == "up"


@pytest.mark.parametrize(
    "loss", ["binary_crossentropy", "bce", losses.BinaryCrossentropy(), losses.binary_crossentropy]
)
def test_binary_crossentropy_loss_makes_accuracy_and_crossentropy_binary(loss):
    y_true, y_pred = _batch("multilabel")  # 4 sigmoid units: multi-label
    assert type(resolve("acc", y_true, y_pred, loss=loss)) is metrics.BinaryAccuracy
    assert type(resolve("ce", y_true, y_pred, loss=loss)) is metrics.BinaryCrossentropy
    # a categorical loss leaves the Keras 3 shape rule in charge
    cce = losses.CategoricalCrossentropy()
    assert type(resolve("acc", y_true, y_pred, loss=cce)) is metrics.CategoricalAccuracy


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("binary", metrics.BinaryCrossentropy),
        ("sparse", metrics.SparseCategoricalCrossentropy),
        ("categorical", metrics.CategoricalCrossentropy),
    ],
)
def test_crossentropy_is_picked_from_shapes(kind, expected):
    y_true, y_pred = _batch(kind)
    for name in ("crossentropy", "ce"):
        m = resolve(name, y_true, y_pred)
        assert type(m) is expected and m.name == name and m.direction == "down"


def test_objects_classes_functions_and_name_override():
    y_true, y_pred = _batch("categorical")
    auc = metrics.AUC(name="my_auc")
    assert resolve(auc, y_true, y_pred) is auc and auc.name == "my_auc"
    assert type(resolve(metrics.Precision, y_true, y_pred)) is metrics.Precision

    def my_metric(y_true, y_pred):
        return (y_pred - y_true).abs().mean(-1)

    wrapped = resolve(my_metric, y_true, y_pred)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "my_metric"
    assert resolve("mse", y_true, y_pred, name="out_mse").name == "out_mse"
    # seed 003: `metrics=[metrics.mae, metrics.categorical_accuracy]`
    mae = resolve(metrics.mae, y_true, y_pred)
    acc = resolve(metrics.categorical_accuracy, y_true, y_pred)
    assert (mae.name, mae.direction) == ("mean_absolute_error", "down")
    assert (acc.name, acc.direction) == ("categorical_accuracy", "up")


def test_every_loss_function_is_reexported_as_the_same_object():
    for name in losses.LOSSES.names():
        fn = losses.LOSSES.lookup(name)
        if inspect.isfunction(fn) and name.isidentifier():
            assert getattr(metrics, name) is fn, name
    assert metrics.mse is losses.mse and metrics.cosine_proximity is losses.cosine_proximity
    assert metrics.mean_squared_error is losses.mean_squared_error


def test_registry_every_class_declares_direction_and_registers_snake_name():
    for name in metrics.METRICS.names():
        obj = metrics.METRICS.lookup(name)
        if isinstance(obj, type) and obj not in (
            metrics.Mean,
            metrics.Sum,
            metrics.MeanMetricWrapper,
        ):
            assert obj.direction in ("up", "down"), name


def test_get_validates_names_early():
    assert metrics.get("mse") is metrics.MeanSquaredError
    assert metrics.get("acc") is metrics.Accuracy and metrics.get(None) is None
    with pytest.raises(ValueError, match=r"Unknown metric 'msee'\. Did you mean 'mse'\?"):
        metrics.get("msee")
    with pytest.raises(ValueError, match="Did you mean 'accuracy'"):
        resolve("acuracy", *_batch("binary"))
    with pytest.raises(TypeError, match="expected a metric name"):
        metrics.get(3)


def test_history_aliases():
    assert {"mean_squared_error", "MSE"} <= metrics.history_aliases("mse")
    assert "mse" not in metrics.history_aliases("mse")
    assert "mean_absolute_error" in metrics.history_aliases("mae")
    assert "mean_absolute_percentage_error" in metrics.history_aliases("mape")
    assert "mean_squared_logarithmic_error" in metrics.history_aliases("msle")
    assert metrics.history_aliases("cosine") == {"cosine_proximity"}
    assert metrics.history_aliases("cosine_proximity") == {"cosine"}
    assert metrics.history_aliases("acc") == {"accuracy"}
    assert metrics.history_aliases("accuracy") == {"acc"}
    assert "root_mean_squared_error" in metrics.history_aliases("rmse")
    assert "mae" in metrics.history_aliases(metrics.mae)
    assert "cosine_similarity" not in metrics.history_aliases("cosine")  # that one is +cos
    assert metrics.history_aliases(lambda t, p: t) == set()
    assert "mse" in metrics.history_aliases(metrics.MeanSquaredError())
    assert metrics.history_aliases(metrics.MeanSquaredError(name="x")) == set()


# -- bad input: clear errors ----------------------------------------------------------------------
def test_k_larger_than_classes_is_an_error_at_resolve():
    y_true, y_pred = _batch("sparse", c=3)
    with pytest.raises(ValueError, match=r"`k`=5 is larger than the number of classes.*= 3"):
        resolve("sparse_top_k_categorical_accuracy", y_true, y_pred)
    with pytest.raises(ValueError, match="`k`=4"):
        resolve(metrics.TopKCategoricalAccuracy(k=4), *_batch("categorical", c=3))
    with pytest.raises(ValueError, match="`top_k`=6"):
        resolve(metrics.Precision(top_k=6), *_batch("multilabel", c=3))
    with pytest.raises(ValueError, match="`class_id`"):
        resolve(metrics.Recall(class_id=3), *_batch("multilabel", c=3))
    resolve(metrics.TopKCategoricalAccuracy(k=3), *_batch("categorical", c=3))  # k == C is fine


@pytest.mark.parametrize(
    "metric", [metrics.SparseCategoricalAccuracy(), metrics.SparseCategoricalCrossentropy()]
)
def test_sparse_labels_are_checked_once_by_validate(metric):
    y_pred = torch.rand(4, 3).softmax(-1)
    with pytest.raises(ValueError, match="integer class labels.*0.5"):
        metrics.validate(metric, torch.tensor([0.0, 1.5, 2.0, 0.5]), y_pred)
    with pytest.raises(ValueError, match=r"\[0, 3\).*from 0 to 7"):
        metrics.validate(metric, torch.tensor([0, 1, 7, 2]), y_pred)
    metrics.validate(metric, torch.tensor([0, 1, 2, 2]), y_pred)


def test_sparse_function_metric_is_checked_too():
    m = resolve(metrics.sparse_categorical_accuracy, *_batch("sparse"))
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.validate(m, torch.tensor([0.2, 1.0]), torch.rand(2, 4))


@pytest.mark.parametrize(
    "build, arg",
    [
        (lambda: metrics.Precision(thresholds=1.5), "thresholds"),
        (lambda: metrics.Recall(thresholds=[0.2, -0.1]), "thresholds"),
        (lambda: metrics.TruePositives(thresholds=[2.0]), "thresholds"),
        (lambda: metrics.AUC(thresholds=[0.5, 1.2]), "thresholds"),
        (lambda: metrics.SensitivityAtSpecificity(1.5), "specificity"),
        (lambda: metrics.RecallAtPrecision(-0.2), "precision"),
        (lambda: metrics.F1Score(threshold=1.5), "threshold"),
    ],
)
def test_thresholds_outside_unit_interval_raise(build, arg):
    with pytest.raises(ValueError, match=f"`{arg}` must be"):
        build()


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: metrics.AUC(curve="XY"), "curve"),
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
        (lambda: metrics.AUC(num_labels=3), "num_labels"),
        (lambda: metrics.FBetaScore(average="mean"), "average"),
        (lambda: metrics.FBetaScore(beta=0.0), "beta"),
        (lambda: metrics.R2Score(class_aggregation="x"), "class_aggregation"),
        (lambda: metrics.IoU(3, [3]), "target_class_ids"),
        (lambda: metrics.TopKCategoricalAccuracy(k=0), "`k`"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# -- function metrics -----------------------------------------------------------------------------
def test_function_returning_a_scalar_counts_for_every_sample():
    """Seed 001's mean_pred: a scalar per batch; the epoch value is weighted by batch size."""
    from fitorch import backend as K

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    y_pred = torch.arange(1.0, 11.0).reshape(10, 1)  # batches of 4, 4, 2 as in the reference
    m = resolve(mean_pred, y_pred, y_pred)
    for lo, hi in ((0, 4), (4, 8), (8, 10)):
        m.update_state(y_pred[lo:hi], y_pred[lo:hi])
    assert m.name == "mean_pred"
    assert float(m.result()) == pytest.approx(5.5)  # the per-sample mean (Keras 3: 6.1667)


def test_seed000_custom_rmse_in_backend_terms_and_builtin_regression_metrics():
    from fitorch import backend

    def rmse(y_true, y_pred):
        return backend.sqrt(backend.mean(backend.square(y_pred - y_true), axis=-1))

    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]).reshape(10, 1)
    y_pred = x + 0.01 * torch.tensor([1.0, -2, 3, -1, 0, 2, -3, 1, 1, -2]).reshape(10, 1)
    m = resolve(rmse, x, y_pred)
    m.update_state(x, y_pred)
    assert m.name == "rmse" and m.direction is None
    expected = np.abs((y_pred - x).numpy()).mean()  # per-sample sqrt of one squared error
    assert float(m.result()) == pytest.approx(expected, rel=1e-5)
    values = {}
    for name in ("mse", "mae", "mape", "cosine"):
        metric = resolve(name, x, x)
        metric.update_state(x, x)
        values[name] = float(metric.result())
    assert values == pytest.approx({"mse": 0.0, "mae": 0.0, "mape": 0.0, "cosine": -1.0})


def test_metrics_get_no_implicit_weights_but_handle_weight_shapes():
    y_true, y_pred = _batch("multilabel", n=5)
    w = torch.tensor([1.0, 0.0, 2.0, 0.5, 1.0])
    a, b = metrics.MeanSquaredError(), metrics.MeanSquaredError()
    a.update_state(y_true, y_pred, sample_weight=w)
    b.update_state(y_true, y_pred, sample_weight=w.reshape(5, 1))
    per_sample = ((y_true - y_pred) ** 2).mean(-1)
    assert float(a.result()) == pytest.approx(float((per_sample * w).sum() / w.sum()), rel=1e-6)
    assert float(b.result()) == pytest.approx(float(a.result()), rel=1e-6)


# -- merge, device, torchmetrics ------------------------------------------------------------------
@pytest.mark.parametrize(
    "make", [metrics.MeanSquaredError, metrics.AUC, metrics.Precision, metrics.RootMeanSquaredError]
)
def test_merge_state_equals_one_metric_over_everything(make):
    y_true, y_pred = _batch("binary", n=20)
    whole, left, right = make(), make(), make()
    whole.update_state(y_true, y_pred)
    left.update_state(y_true[:7], y_pred[:7])
    right.update_state(y_true[7:], y_pred[7:])
    left.merge_state([right])
    assert float(left.result()) == pytest.approx(float(whole.result()), rel=1e-6)


def test_to_moves_states_and_results_stay_tensors():
    m = metrics.AUC().to("cpu")
    assert all(s.device.type == "cpu" for s in m.states().values())
    m.update_state(*_batch("binary"))
    assert isinstance(m.result(), torch.Tensor) and m.result().ndim == 0


def test_torchmetrics_metric_is_adapted():
    torchmetrics = pytest.importorskip("torchmetrics")
    y_true, y_pred = _batch("sparse", n=12, c=4)
    tm = torchmetrics.classification.MulticlassAccuracy(num_classes=4, average="micro")
    m = resolve(tm, y_true, y_pred)
    assert isinstance(m, metrics.TorchMetric) and m.name == "multiclass_accuracy"
    assert m.direction == "up"
    m.update_state(y_true[:5], y_pred[:5])
    m.update_state(y_true[5:], y_pred[5:])
    expected = (y_pred.argmax(-1) == y_true).float().mean()
    assert float(m.result()) == pytest.approx(float(expected))
    m.reset_state()
    m.update_state(y_true[:3], y_pred[:3])
    assert float(m.result()) == pytest.approx(float(expected_first(y_true, y_pred, 3)))
    assert resolve(tm, y_true, y_pred, name="tm_acc").name == "tm_acc"


def expected_first(y_true, y_pred, n):
    return (y_pred[:n].argmax(-1) == y_true[:n]).float().mean()


@pytest.mark.parametrize(
    "make",
    [
        lambda: metrics.AUC(multi_label=True),
        lambda: metrics.R2Score(),
        lambda: metrics.F1Score(average="macro", threshold=0.5),
    ],
)
def test_merge_state_builds_lazy_states(make):
    y_true, y_pred = _batch("multilabel", n=12)
    whole, empty, left, right = make(), make(), make(), make()
    whole.update_state(y_true, y_pred)
    left.update_state(y_true[:5], y_pred[:5])
    right.update_state(y_true[5:], y_pred[5:])
    empty.merge_state([left, right, make()])
    assert float(empty.result()) == pytest.approx(float(whole.result()), rel=1e-6)


def test_loss_objects_as_metrics_are_wrapped_with_their_names():
    y_true, y_pred = _batch("binary", n=8)
    huber = resolve(losses.Huber(delta=0.5), y_true, y_pred)
    l1 = resolve(torch.nn.L1Loss(), y_true, y_pred)
    assert (huber.name, huber.direction) == ("huber_loss", "down")
    assert (l1.name, l1.direction) == ("l1_loss", "down")
    l1.update_state(y_true, y_pred)
    assert float(l1.result()) == pytest.approx(float((y_true - y_pred).abs().mean()), rel=1e-6)


@pytest.mark.parametrize("make", [metrics.Precision, metrics.Recall, metrics.AUC])
def test_confusion_metrics_refuse_integer_labels_for_score_matrices(make):
    y_true, y_pred = _batch("sparse", c=4)
    with pytest.raises(ValueError, match=r"y_true of shape \(6,\) does not match y_pred"):
        resolve(make(), y_true, y_pred)
    resolve(make(), *_batch("binary"))  # (B, 1) vs (B, 1) and (B,) vs (B, 1) are fine
    resolve(make(), torch.tensor([0.0, 1.0]), torch.tensor([[0.3], [0.8]]))


@pytest.mark.parametrize(
    "loss", [torch.nn.BCEWithLogitsLoss(), losses.BinaryCrossentropy(from_logits=True)]
)
def test_logits_losses_make_accuracy_threshold_at_zero_and_crossentropy_from_logits(loss):
    y_true = torch.tensor([[1.0], [0.0], [1.0], [0.0]])
    logits = torch.tensor([[0.3], [-0.2], [-1.0], [0.1]])
    acc = resolve("acc", y_true, logits, loss=loss)
    ce = resolve("ce", y_true, logits, loss=loss)
    assert acc.threshold == 0.0 and ce.get_config()["from_logits"] is True
    acc.update_state(y_true, logits)
    assert float(acc.result()) == pytest.approx(0.5)
    ce.update_state(y_true, logits)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_true)
    assert float(ce.result()) == pytest.approx(float(expected), rel=1e-5)


def test_cross_entropy_logits_loss_gives_sparse_metrics_from_logits():
    y_true, y_pred = _batch("sparse")
    ce = resolve("crossentropy", y_true, y_pred.log(), loss=torch.nn.CrossEntropyLoss())
    assert type(ce) is metrics.SparseCategoricalCrossentropy and ce.get_config()["from_logits"]
