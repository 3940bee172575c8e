"""Every metric class against a float64 reference and against Keras 3, streamed.

Each case streams batches of sizes 5, 1, 8, 3 (with and without sample_weight), and checks:
the result equals the float64 reference on the concatenation (a formula, or scikit-learn),
equals the one-shot result, is the same after `reset_state()`, and equals Keras 3 on the same
float32 batches. Then a get_config/from_config round trip gives the same numbers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from fitorch import metrics

SIZES = (5, 1, 8, 3)
EPS = 1e-7


# -- data ---------------------------------------------------------------------------------------
def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reg(rng, n):
    yt = rng.normal(size=(n, 3))
    return yt, yt + rng.normal(scale=0.7, size=(n, 3))


def positive(rng, n):
    return rng.uniform(0.1, 2.0, (n, 3)), rng.uniform(0.1, 2.0, (n, 3))


def probs(rng, n):
    return _softmax(rng.normal(size=(n, 4))), _softmax(rng.normal(size=(n, 4)))


def binary(rng, n):
    return rng.integers(0, 2, (n, 1)).astype(float), rng.uniform(size=(n, 1))


def multilabel(rng, n):
    return rng.integers(0, 2, (n, 4)).astype(float), rng.uniform(size=(n, 4))


def grid_multilabel(rng, n):  # scores on the 200-threshold grid: thresholded AUC is exact
    return rng.integers(0, 2, (n, 3)).astype(float), rng.integers(0, 200, (n, 3)) / 199


def onehot(rng, n):
    return np.eye(5)[rng.integers(0, 5, n)], _softmax(rng.normal(size=(n, 5)) * 2)


def sparse(rng, n):
    return rng.integers(0, 5, n).astype(float), _softmax(rng.normal(size=(n, 5)) * 2)


def sparse_col(rng, n):
    return rng.integers(0, 5, (n, 1)).astype(float), _softmax(rng.normal(size=(n, 5)) * 2)


def ints(rng, n):
    return rng.integers(0, 3, (n, 2)).astype(float), rng.integers(0, 3, (n, 2)).astype(float)


def signs(rng, n):
    return rng.choice([-1.0, 1.0], (n, 3)), rng.normal(size=(n, 3))


def logits_multilabel(rng, n):
    return rng.integers(0, 2, (n, 4)).astype(float), rng.normal(scale=2.0, size=(n, 4))


def labels3(rng, n):
    return rng.integers(0, 3, n).astype(float), rng.integers(0, 3, n).astype(float)


# -- float64 references ---------------------------------------------------------------------------
def mean_of(per_sample):
    def ref(yt, yp, w):
        v = per_sample(yt, yp)
        w = np.ones(len(v)) if w is None else w
        return np.sum(v * w) / np.sum(w)

    return ref


def _w(w, n):
    return np.ones(n) if w is None else w


def _cos(yt, yp):
    return np.sum(yt * yp, -1) / (np.linalg.norm(yt, axis=-1) * np.linalg.norm(yp, axis=-1))


def _top_k(labels, yp, k):
    score = np.take_along_axis(yp, labels.astype(int)[:, None], -1)
    return ((yp > score).sum(-1) < k).astype(float)


def _pearson(yt, yp):
    return np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(yt, yp)])


def _ccc(yt, yp):
    mt, mp = yt.mean(-1), yp.mean(-1)
    cov = ((yt - mt[:, None]) * (yp - mp[:, None])).mean(-1)
    return 2 * cov / (yt.var(-1) + yp.var(-1) + (mt - mp) ** 2 + EPS)


def _flat(yt, yp, w):
    w = np.broadcast_to(_w(w, len(yt))[:, None], yt.shape)
    return yt.ravel() != 0, yp.ravel(), w.ravel()


def counts(yt, yp, w, thresholds):
    """Brute force TP, FP, TN, FN at each threshold (p > t)."""
    labels, scores, w = _flat(yt, yp, w)
    pred = scores[None, :] > np.asarray(thresholds)[:, None]
    tp = (pred & labels) @ w
    fp = (pred & ~labels) @ w
    fn = (~pred & labels) @ w
    tn = (~pred & ~labels) @ w
    return tp, fp, tn, fn


def _div(a, b):
    return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


def at_constraint(constrained, dependent, value):
    def ref(yt, yp, w):
        t = [i / 199 for i in range(200)]
        tp, fp, tn, fn = counts(yt, np.clip(yp, 0, 1), w, t)
        rates = {
            "recall": _div(tp, tp + fn),
            "specificity": _div(tn, tn + fp),
            "precision": _div(tp, tp + fp),
        }
        c, d = rates[constrained], rates[dependent]
        return max(0.0, np.max(np.where(c >= value, d, 0.0)))

    return ref


def pr_auc_interpolated(yt, yp, w):
    n = 200
    t = [-EPS] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + EPS]
    tp, fp, _, fn = counts(yt, np.clip(yp, 0, 1), w, t)
    p = tp + fp
    dtp, dp = tp[:-1] - tp[1:], p[:-1] - p[1:]
    slope = _div(dtp, np.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
    return np.sum(_div(slope * (dtp + intercept * np.log(ratio)), tp[1:] + fn[1:]))


def precision_ref(yt, yp, w, threshold=0.5):
    labels, scores, w = _flat(yt, yp, w)
    return skm.precision_score(labels, scores > threshold, sample_weight=w, zero_division=0)


def recall_ref(yt, yp, w, threshold=0.5):
    labels, scores, w = _flat(yt, yp, w)
    return skm.recall_score(labels, scores > threshold, sample_weight=w, zero_division=0)


def top_k_precision(yt, yp, w, k=2):
    keep = np.zeros_like(yp, bool)
    np.put_along_axis(keep, np.argsort(-yp, -1, kind="stable")[:, :k], True, -1)
    return precision_ref(yt, np.where(keep, 1.0, 0.0), w, threshold=0.5)


def f_ref(average, beta=1.0, threshold=None):
    def ref(yt, yp, w):
        if threshold is None:
            pred = (yp == yp.max(-1, keepdims=True)).astype(int)
        else:
            pred = (yp > threshold).astype(int)
        return skm.fbeta_score(
            yt.astype(int), pred, beta=beta, average=average, sample_weight=w, zero_division=0
        )

    return ref


def r2_ref(multioutput):
    def ref(yt, yp, w):
        return skm.r2_score(yt, yp, sample_weight=w, multioutput=multioutput)

    return ref


def iou_ref(targets, num_classes=3, one_hot=False):
    def ref(yt, yp, w):
        if one_hot:
            yt, yp = yt.argmax(-1), yp.argmax(-1)
        cm = skm.confusion_matrix(yt, yp, labels=range(num_classes), sample_weight=w)
        tp = np.diag(cm)
        den = (cm.sum(0) + cm.sum(1) - tp)[targets]
        valid = den > 0
        return np.sum(np.where(valid, tp[targets] / np.where(valid, den, 1), 0)) / valid.sum()

    return ref


def _bce(yt, yp):
    p = np.clip(yp, EPS, 1 - EPS)
    return -np.mean(yt * np.log(p) + (1 - yt) * np.log(1 - p), -1)


def _cce(yt, yp):
    p = np.clip(yp / yp.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(yt * np.log(p), -1)


def _scce(yt, yp):
    p = np.clip(yp / yp.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(np.take_along_axis(p, yt.astype(int).reshape(-1, 1), -1)[:, 0])


def _kld(yt, yp):
    t, p = np.clip(yt, EPS, 1), np.clip(yp, EPS, 1)
    return np.sum(t * np.log(t / p), -1)


def _cat_hinge(yt, yp):
    pos = np.sum(yt * yp, -1)
    neg = np.max((1 - yt) * yp, -1)
    return np.maximum(neg - pos + 1, 0)


@dataclass
class Case:
    cls: str
    kwargs: dict
    data: object
    ref: object
    keras: bool = True  # compare with Keras 3
    weighted: bool = True  # also stream with sample_weight
    # which streams to compare with Keras: its IoU truncates float weights to int, and its
    # unweighted mean counts ignore_class entries as zeros (fitorch leaves them out)
    keras_weights: tuple = (False, True)

    @property
    def id(self):
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.cls}({args})"


CASES = [
    # accuracy
    Case("Accuracy", {}, ints, mean_of(lambda t, p: (t == p).mean(-1))),
    Case("BinaryAccuracy", {}, binary, mean_of(lambda t, p: (t == (p > 0.5)).mean(-1))),
    Case(
        "BinaryAccuracy",
        {"threshold": 0.7},
        multilabel,
        mean_of(lambda t, p: (t == (p > 0.7)).mean(-1)),
    ),
    Case("CategoricalAccuracy", {}, onehot, mean_of(lambda t, p: t.argmax(-1) == p.argmax(-1))),
    Case("SparseCategoricalAccuracy", {}, sparse, mean_of(lambda t, p: t == p.argmax(-1))),
    Case(
        "SparseCategoricalAccuracy", {}, sparse_col, mean_of(lambda t, p: t[:, 0] == p.argmax(-1))
    ),
    Case(
        "TopKCategoricalAccuracy",
        {"k": 2},
        onehot,
        mean_of(lambda t, p: _top_k(t.argmax(-1), p, 2)),
    ),
    Case("SparseTopKCategoricalAccuracy", {"k": 3}, sparse, mean_of(lambda t, p: _top_k(t, p, 3))),
    Case(
        "SparseTopKCategoricalAccuracy", {}, sparse_col, mean_of(lambda t, p: _top_k(t[:, 0], p, 5))
    ),
    # regression
    Case("MeanSquaredError", {}, reg, mean_of(lambda t, p: ((t - p) ** 2).mean(-1))),
    Case("MeanAbsoluteError", {}, reg, mean_of(lambda t, p: np.abs(t - p).mean(-1))),
    Case(
        "MeanAbsolutePercentageError",
        {},
        reg,
        mean_of(lambda t, p: 100 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPS), -1)),
    ),
    Case(
        "MeanSquaredLogarithmicError",
        {},
        positive,
        mean_of(lambda t, p: np.mean((np.log(p + 1) - np.log(t + 1)) ** 2, -1)),
    ),
    Case("LogCoshError", {}, reg, mean_of(lambda t, p: np.mean(np.log(np.cosh(p - t)), -1))),
    Case("CosineSimilarity", {}, reg, mean_of(_cos)),
    Case(
        "RootMeanSquaredError",
        {},
        reg,
        lambda t, p, w: np.sqrt(mean_of(lambda a, b: ((a - b) ** 2).mean(-1))(t, p, w)),
    ),
    Case("R2Score", {}, reg, r2_ref("uniform_average")),
    Case(
        "R2Score",
        {"class_aggregation": "variance_weighted_average"},
        reg,
        r2_ref("variance_weighted"),
    ),
    Case("R2Score", {"class_aggregation": None}, reg, r2_ref("raw_values")),
    # probabilistic and hinge
    Case("BinaryCrossentropy", {}, multilabel, mean_of(_bce)),
    Case("CategoricalCrossentropy", {}, onehot, mean_of(_cce)),
    Case("SparseCategoricalCrossentropy", {}, sparse, mean_of(_scce)),
    Case("KLDivergence", {}, probs, mean_of(_kld)),
    Case("Poisson", {}, positive, mean_of(lambda t, p: np.mean(p - t * np.log(p + EPS), -1))),
    Case("Hinge", {}, signs, mean_of(lambda t, p: np.mean(np.maximum(1 - t * p, 0), -1))),
    Case(
        "SquaredHinge", {}, signs, mean_of(lambda t, p: np.mean(np.maximum(1 - t * p, 0) ** 2, -1))
    ),
    Case("CategoricalHinge", {}, onehot, mean_of(_cat_hinge)),
    # confusion family
    Case("TruePositives", {}, multilabel, lambda t, p, w: counts(t, p, w, [0.5])[0][0]),
    Case("FalsePositives", {}, multilabel, lambda t, p, w: counts(t, p, w, [0.5])[1][0]),
    Case("TrueNegatives", {}, multilabel, lambda t, p, w: counts(t, p, w, [0.5])[2][0]),
    Case("FalseNegatives", {}, multilabel, lambda t, p, w: counts(t, p, w, [0.5])[3][0]),
    Case(
        "TruePositives",
        {"thresholds": [0.7, 0.2, 0.5]},
        multilabel,
        lambda t, p, w: counts(t, p, w, [0.7, 0.2, 0.5])[0],
    ),
    Case("Precision", {}, multilabel, precision_ref),
    Case("Recall", {}, multilabel, recall_ref),
    Case(
        "Precision",
        {"thresholds": [0.3, 0.8]},
        multilabel,
        lambda t, p, w: np.array([precision_ref(t, p, w, 0.3), precision_ref(t, p, w, 0.8)]),
    ),
    Case("Precision", {"top_k": 2}, multilabel, top_k_precision),
    Case(
        "Recall",
        {"class_id": 2},
        multilabel,
        lambda t, p, w: recall_ref(t[:, 2:3], p[:, 2:3], w),
    ),
    Case(
        "SensitivityAtSpecificity",
        {"specificity": 0.6},
        multilabel,
        at_constraint("specificity", "recall", 0.6),
    ),
    Case(
        "SpecificityAtSensitivity",
        {"sensitivity": 0.5},
        multilabel,
        at_constraint("recall", "specificity", 0.5),
    ),
    Case(
        "PrecisionAtRecall", {"recall": 0.4}, multilabel, at_constraint("recall", "precision", 0.4)
    ),
    Case(
        "RecallAtPrecision",
        {"precision": 0.5},
        multilabel,
        at_constraint("precision", "recall", 0.5),
    ),
    Case(
        "AUC",
        {},
        grid_multilabel,
        lambda t, p, w: skm.roc_auc_score(*_flat(t, p, w)[:2], sample_weight=_flat(t, p, w)[2]),
    ),
    Case(
        "AUC",
        {"multi_label": True},
        grid_multilabel,
        lambda t, p, w: np.mean(
            [skm.roc_auc_score(t[:, j], p[:, j], sample_weight=w) for j in range(t.shape[1])]
        ),
    ),
    Case("AUC", {"curve": "PR"}, multilabel, pr_auc_interpolated),
    Case("AUC", {"curve": "PR", "summation_method": "majoring"}, multilabel, None),
    Case("AUC", {"curve": "PRGAIN"}, multilabel, None),
    Case("AUC", {"summation_method": "minoring", "num_thresholds": 50}, multilabel, None),
    Case("AUC", {"thresholds": [0.25, 0.5, 0.75], "from_logits": True}, reg, None, weighted=False),
    Case("AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.5, 1.0]}, multilabel, None),
    Case("AUC", {"multi_label": True, "num_labels": 4, "curve": "PR"}, multilabel, None),
    Case("AUC", {"label_weights": [1.0, 2.0, 0.5, 1.0]}, multilabel, None),
    Case("SensitivityAtSpecificity", {"specificity": 0.5, "class_id": 1}, multilabel, None),
    Case("PrecisionAtRecall", {"recall": 0.3, "num_thresholds": 1}, multilabel, None),
    Case("Recall", {"top_k": 1, "class_id": 0}, multilabel, None),
    Case("BinaryCrossentropy", {"from_logits": True}, logits_multilabel, None),
    Case("BinaryCrossentropy", {"label_smoothing": 0.1}, multilabel, None),
    Case("CategoricalCrossentropy", {"label_smoothing": 0.2}, onehot, None),
    Case(
        "SparseCategoricalCrossentropy",
        {"ignore_class": 0},
        sparse,
        lambda t, p, w: mean_of(_scce)(t[t != 0], p[t != 0], None if w is None else w[t != 0]),
        keras_weights=(True,),
    ),
    Case("R2Score", {"num_regressors": 1}, reg, None),
    Case(
        "IoU",
        {"num_classes": 3, "target_class_ids": [1, 2], "ignore_class": 0},
        labels3,
        None,
        keras_weights=(False,),
    ),
    # F-scores
    Case("F1Score", {}, onehot, f_ref(None)),
    Case(
        "F1Score", {"average": "micro", "threshold": 0.5}, multilabel, f_ref("micro", threshold=0.5)
    ),
    Case(
        "F1Score", {"average": "macro", "threshold": 0.4}, multilabel, f_ref("macro", threshold=0.4)
    ),
    Case("FBetaScore", {"average": "weighted", "beta": 2.0}, onehot, f_ref("weighted", beta=2.0)),
    # IoU
    Case(
        "IoU",
        {"num_classes": 3, "target_class_ids": [0, 2]},
        labels3,
        iou_ref([0, 2]),
        keras_weights=(False,),
    ),
    Case("MeanIoU", {"num_classes": 3}, labels3, iou_ref([0, 1, 2]), keras_weights=(False,)),
    Case("BinaryIoU", {}, binary, None, keras_weights=(False,)),
    Case(
        "OneHotMeanIoU",
        {"num_classes": 5},
        onehot,
        iou_ref(list(range(5)), 5, one_hot=True),
        keras_weights=(False,),
    ),
    Case(
        "OneHotIoU",
        {"num_classes": 5, "target_class_ids": [1]},
        onehot,
        iou_ref([1], 5, True),
        keras_weights=(False,),
    ),
    # correlation
    Case("PearsonCorrelation", {}, reg, mean_of(_pearson)),
    Case("ConcordanceCorrelation", {}, reg, mean_of(_ccc)),
]


def _batches(case, weighted, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in SIZES:
        yt, yp = case.data(rng, n)
        w = rng.uniform(0.1, 2.0, n) if weighted else None
        out.append((yt.astype(np.float32), yp.astype(np.float32), w))
    return out


def _cat(batches, weighted):
    yt = np.concatenate([b[0] for b in batches]).astype(np.float64)
    yp = np.concatenate([b[1] for b in batches]).astype(np.float64)
    w = np.concatenate([b[2] for b in batches]) if weighted else None
    return yt, yp, w


def _stream(metric, batches):
    for yt, yp, w in batches:
        sw = None if w is None else torch.tensor(w, dtype=torch.float32)
        metric.update_state(torch.from_numpy(yt), torch.from_numpy(yp), sample_weight=sw)
    return metric.result().detach().double().numpy()


def _weight_options(case):
    return (False, True) if case.weighted else (False,)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_streaming_matches_reference_one_shot_and_reset(case):
    cls = getattr(metrics, case.cls)
    for weighted in _weight_options(case):
        batches = _batches(case, weighted)
        metric = cls(**case.kwargs)
        streamed = _stream(metric, batches)
        if case.ref is not None:
            expected = case.ref(*_cat(batches, weighted))
            np.testing.assert_allclose(streamed, expected, rtol=2e-5, atol=2e-6)
        yt, yp, w = _cat(batches, weighted)
        one = cls(**case.kwargs)
        one_shot = _stream(one, [(yt.astype(np.float32), yp.astype(np.float32), w)])
        np.testing.assert_allclose(streamed, one_shot, rtol=2e-5, atol=2e-6)
        metric.reset_state()
        np.testing.assert_allclose(_stream(metric, batches), streamed, rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def keras_metrics():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.metrics


@pytest.mark.parametrize("case", [c for c in CASES if c.keras], ids=lambda c: c.id)
def test_equals_keras3(case, keras_metrics):
    for weighted in [w for w in _weight_options(case) if w in case.keras_weights]:
        batches = _batches(case, weighted, seed=1)
        ours = _stream(getattr(metrics, case.cls)(**case.kwargs), batches)
        theirs = getattr(keras_metrics, case.cls)(**case.kwargs)
        for yt, yp, w in batches:
            theirs.update_state(yt, yp, sample_weight=w)
        expected = np.asarray(theirs.result().detach().cpu().numpy(), dtype=np.float64)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_config_round_trip(case):
    cls = getattr(metrics, case.cls)
    metric = cls(**case.kwargs, name="custom_name")
    config = metric.get_config()
    clone = cls.from_config(config)
    assert clone.name == "custom_name"
    assert clone.get_config() == config
    batches = _batches(case, False, seed=2)
    np.testing.assert_allclose(_stream(clone, batches), _stream(metric, batches), rtol=1e-6)
    rebuilt = metrics.deserialize(metrics.serialize(metric))
    assert type(rebuilt) is cls and rebuilt.get_config() == config


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_declared_states_direction_and_default_name(case, keras_metrics):
    metric = getattr(metrics, case.cls)(**case.kwargs)
    _stream(metric, _batches(case, False))
    assert metric.direction in ("up", "down")
    assert metric.states() and set(metric.state_reductions().values()) <= {"sum"}
    # Keras uniquifies auto names process-wide (auc, auc_1, ...); fitorch never does
    keras_name = re.sub(r"_\d+$", "", getattr(keras_metrics, case.cls)(**case.kwargs).name)
    assert metric.name == keras_name


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_update_reads_nothing_back_from_the_device(case, monkeypatch):
    """update_state is tensor math only: no .item(), bool(tensor), .tolist(), .cpu(), numpy."""
    batches = [(torch.from_numpy(yt), torch.from_numpy(yp), torch.tensor(w, dtype=torch.float32))
               for yt, yp, w in _batches(case, True)]  # fmt: skip
    metric = getattr(metrics, case.cls)(**case.kwargs)
    metric.update_state(*batches[0][:2], sample_weight=batches[0][2])  # lazy build may inspect

    def forbidden(*args, **kwargs):
        raise AssertionError("host read in update_state")

    for name in ("item", "__bool__", "tolist", "cpu", "numpy", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    for yt, yp, w in batches[1:]:
        metric.update_state(yt, yp, sample_weight=w)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_update_builds_no_autograd_graph(case):
    yt, yp, w = _batches(case, True)[0]
    y_pred = torch.from_numpy(yp).requires_grad_(True)
    metric = getattr(metrics, case.cls)(**case.kwargs)
    metric.update_state(torch.from_numpy(yt), y_pred, sample_weight=torch.from_numpy(w))
    assert all(not s.requires_grad for s in metric.states().values())
    assert not metric.result().requires_grad
