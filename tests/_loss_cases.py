"""Loss cases for tests/test_losses.py: one row per loss (and argument set).

Each case names the fitorch function and class, the keyword arguments, an input maker
`make(rng, shape) -> (y_true, y_pred)` (float64 NumPy) and an independent float64 NumPy
reference `ref(y_true, y_pred, **kwargs) -> per-sample values` written from the formula.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

EPS = 1e-7


# ------------------------------------------------------------------------------ inputs
def _normal(rng, shape):
    return rng.normal(size=shape), rng.normal(size=shape)


def _positive(rng, shape):
    return rng.uniform(0.0, 3.0, size=shape), rng.uniform(0.0, 3.0, size=shape)


def _binary_probs(rng, shape):
    yt = (rng.uniform(size=shape) > 0.5).astype(float)
    return yt, rng.uniform(0.01, 0.99, size=shape)


def _binary_logits(rng, shape):
    yt = (rng.uniform(size=shape) > 0.5).astype(float)
    return yt, rng.normal(scale=3.0, size=shape)


def _soft_labels(rng, shape):
    return rng.uniform(size=shape), rng.uniform(0.01, 0.99, size=shape)


def _onehot(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1])[labels], rng.uniform(0.05, 1.0, size=shape)


def _onehot_logits(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1])[labels], rng.normal(scale=3.0, size=shape)


def _distributions(rng, shape):
    a, b = rng.uniform(0.01, 1.0, size=shape), rng.uniform(0.01, 1.0, size=shape)
    return a / a.sum(-1, keepdims=True), b / b.sum(-1, keepdims=True)


def _sparse(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(float)
    probs = rng.uniform(0.05, 1.0, size=shape)
    return labels, probs / probs.sum(-1, keepdims=True)


def _sparse_logits(rng, shape):
    labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(float)
    return labels, rng.normal(scale=3.0, size=shape)


def _sparse_ignore(rng, shape):
    labels, logits = _sparse_logits(rng, shape)
    labels[..., 0] = -1  # the first entry of every row is padding
    return labels, logits


def _pm_one(rng, shape):
    return np.where(rng.uniform(size=shape) > 0.5, 1.0, -1.0), rng.normal(size=shape)


def _masks(rng, shape):
    return (rng.uniform(size=shape) > 0.5).astype(float), rng.uniform(size=shape)


# -------------------------------------------------------------------------- references
def _mean(x):
    return x.mean(-1)


def _clip(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def ref_mse(t, p):
    return _mean((t - p) ** 2)


def ref_mae(t, p):
    return _mean(np.abs(t - p))


def ref_mape(t, p):
    return 100.0 * _mean(np.abs(t - p) / np.maximum(np.abs(t), EPS))


def ref_msle(t, p):
    return _mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2)


def ref_cosine(t, p, axis=-1):
    def unit(x):
        return x / np.maximum(np.sqrt((x**2).sum(axis, keepdims=True)), EPS)

    return -(unit(t) * unit(p)).sum(axis)


def ref_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return _mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2))


def ref_log_cosh(t, p):
    return _mean(np.log(np.cosh(p - t)))


def _to_pm(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


def ref_hinge(t, p):
    return _mean(np.maximum(1 - _to_pm(t) * p, 0))


def ref_squared_hinge(t, p):
    return _mean(np.maximum(1 - _to_pm(t) * p, 0) ** 2)


def ref_categorical_hinge(t, p):
    return np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)


def ref_kld(t, p):
    t, p = _clip(t, EPS, 1), _clip(p, EPS, 1)
    return (t * np.log(t / p)).sum(-1)


def ref_poisson(t, p):
    return _mean(p - t * np.log(p + EPS))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _bce_elems(t, p, from_logits):
    if from_logits:  # log(1 + e^-x) written stably
        return np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    p = _clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def ref_bce(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    return _bce_elems(t, p, from_logits).mean(axis)


def ref_bfce(
    t,
    p,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    t = t * (1 - label_smoothing) + 0.5 * label_smoothing
    p = _sigmoid(p) if from_logits else p
    p_t = t * p + (1 - t) * (1 - p)
    out = (1 - p_t) ** gamma * _bce_elems(t, p, False)
    if apply_class_balancing:
        out = out * (t * alpha + (1 - t) * (1 - alpha))
    return out.mean(axis)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _probs(p, from_logits, axis=-1):
    if from_logits:
        return _softmax(p, axis)
    return _clip(p / p.sum(axis, keepdims=True), EPS, 1 - EPS)


def ref_cce(t, p, from_logits=False, label_smoothing=0.0, axis=-1):
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[axis]
    if from_logits:
        logp = p - p.max(axis, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(axis, keepdims=True))
    else:
        logp = np.log(_probs(p, False, axis))
    return -(t * logp).sum(axis)


def ref_cfce(t, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    t = t * (1 - label_smoothing) + label_smoothing / t.shape[axis]
    q = _softmax(p, axis) if from_logits else p
    q = _clip(q / q.sum(axis, keepdims=True), EPS, 1 - EPS)
    return (alpha * (1 - q) ** gamma * -t * np.log(q)).sum(axis)


def ref_scce(t, p, from_logits=False, ignore_class=None, axis=-1):
    onehot = np.eye(p.shape[-1])[np.where(t == ignore_class, 0, t).astype(int)]
    out = ref_cce(onehot, p, from_logits=from_logits)
    return np.where(t == ignore_class, 0.0, out) if ignore_class is not None else out


def ref_cgce(t, p, q=0.5):
    p_true = np.take_along_axis(p, t.astype(int)[..., None], -1)[..., 0]
    return (1 - p_true**q) / q


def ref_dice(t, p, axis=None):
    inter = (t * p).sum(axis)
    return 1 - 2 * inter / (t.sum(axis) + p.sum(axis) + EPS)


def ref_tversky(t, p, alpha=0.5, beta=0.5, axis=None):
    inter = (t * p).sum(axis)
    a, b = ((1 - p) * t).sum(axis), (p * (1 - t)).sum(axis)
    return 1 - inter / (inter + alpha * a + beta * b + EPS)


def ref_ctc(labels, logits):
    """-log of the summed probability of every alignment path that collapses to the labels."""
    b, steps, classes = logits.shape
    probs = _softmax(logits)
    out = np.zeros(b)
    for i in range(b):
        target = [int(c) for c in labels[i] if c != 0]
        total = 0.0
        for path in itertools.product(range(classes), repeat=steps):
            collapsed = [c for j, c in enumerate(path) if c != 0 and (j == 0 or c != path[j - 1])]
            if collapsed == target:
                total += np.prod([probs[i, s, c] for s, c in enumerate(path)])
        out[i] = -np.log(total)
    return out


def ref_circle(labels, emb, gamma=80.0, margin=0.4, remove_diagonal=True):
    n = len(labels)
    out = np.zeros(n)
    for i in range(n):
        pos, neg = [], []
        for j in range(n):
            d = max(1 - emb[i] @ emb[j], 0.0)
            if labels[i] == labels[j] and not (remove_diagonal and i == j):
                pos.append(-gamma * max(margin + d, 0) * (margin - d))
            elif labels[i] != labels[j]:
                neg.append(gamma * max(1 + margin - d, 0) * (1 - margin - d))
        lse = [np.logaddexp.reduce(v) if v else -np.inf for v in (pos, neg)]
        out[i] = np.logaddexp(0.0, lse[0] + lse[1])
    return out


def _circle_inputs(rng, shape):
    emb = rng.normal(size=(shape[0], 4))
    emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
    return rng.integers(0, 2, size=shape[0]).astype(float), emb


def _ctc_inputs(rng, shape):
    labels = np.array([[1, 2, 0], [2, 0, 0], [1, 1, 0], [2, 1, 2]], dtype=float)[: shape[0]]
    return labels, rng.normal(size=(labels.shape[0], 5, 3))


# --------------------------------------------------------------------------------- table
@dataclass
class Case:
    id: str
    fn: str  # fitorch.losses function name (also keras.losses')
    cls: str  # class name (fitorch and keras)
    make: Callable
    ref: Callable
    kwargs: dict = field(default_factory=dict)
    sparse: bool = False  # y_true drops the last axis
    batch_scalar: bool = False  # axis=None: one value for the batch
    shapes: tuple = ((4, 5), (3, 2, 4))


CASES = [
    Case("mse", "mean_squared_error", "MeanSquaredError", _normal, ref_mse),
    Case("mae", "mean_absolute_error", "MeanAbsoluteError", _normal, ref_mae),
    Case(
        "mape", "mean_absolute_percentage_error", "MeanAbsolutePercentageError", _normal, ref_mape
    ),
    Case(
        "msle", "mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", _normal, ref_msle
    ),
    Case("cosine", "cosine_similarity", "CosineSimilarity", _normal, ref_cosine),
    Case("huber", "huber", "Huber", _normal, ref_huber),
    Case("huber_delta", "huber", "Huber", _normal, ref_huber, {"delta": 0.3}),
    Case("log_cosh", "log_cosh", "LogCosh", _normal, ref_log_cosh),
    Case("hinge_pm", "hinge", "Hinge", _pm_one, ref_hinge),
    Case("hinge_01", "hinge", "Hinge", _binary_logits, ref_hinge),
    Case("hinge_real", "hinge", "Hinge", _normal, ref_hinge),
    Case("squared_hinge_01", "squared_hinge", "SquaredHinge", _binary_logits, ref_squared_hinge),
    Case("squared_hinge_pm", "squared_hinge", "SquaredHinge", _pm_one, ref_squared_hinge),
    Case(
        "categorical_hinge",
        "categorical_hinge",
        "CategoricalHinge",
        _onehot_logits,
        ref_categorical_hinge,
    ),
    Case("kld", "kl_divergence", "KLDivergence", _distributions, ref_kld),
    Case("poisson", "poisson", "Poisson", _positive, ref_poisson),
    Case("bce", "binary_crossentropy", "BinaryCrossentropy", _soft_labels, ref_bce),
    Case(
        "bce_logits",
        "binary_crossentropy",
        "BinaryCrossentropy",
        _binary_logits,
        ref_bce,
        {"from_logits": True},
    ),
    Case(
        "bce_smooth",
        "binary_crossentropy",
        "BinaryCrossentropy",
        _binary_probs,
        ref_bce,
        {"label_smoothing": 0.2},
    ),
    Case(
        "bce_logits_smooth",
        "binary_crossentropy",
        "BinaryCrossentropy",
        _binary_logits,
        ref_bce,
        {"from_logits": True, "label_smoothing": 0.1},
    ),
    Case("bfce", "binary_focal_crossentropy", "BinaryFocalCrossentropy", _binary_probs, ref_bfce),
    Case(
        "bfce_all",
        "binary_focal_crossentropy",
        "BinaryFocalCrossentropy",
        _binary_logits,
        ref_bfce,
        {
            "apply_class_balancing": True,
            "alpha": 0.4,
            "gamma": 1.5,
            "from_logits": True,
            "label_smoothing": 0.1,
        },
    ),
    Case("cce", "categorical_crossentropy", "CategoricalCrossentropy", _onehot, ref_cce),
    Case(
        "cce_logits",
        "categorical_crossentropy",
        "CategoricalCrossentropy",
        _onehot_logits,
        ref_cce,
        {"from_logits": True},
    ),
    Case(
        "cce_smooth",
        "categorical_crossentropy",
        "CategoricalCrossentropy",
        _onehot,
        ref_cce,
        {"label_smoothing": 0.1},
    ),
    Case(
        "cce_axis0",
        "categorical_crossentropy",
        "CategoricalCrossentropy",
        _onehot_logits,
        ref_cce,
        {"from_logits": True, "axis": 0},
        shapes=((4, 4),),
    ),
    Case(
        "cfce", "categorical_focal_crossentropy", "CategoricalFocalCrossentropy", _onehot, ref_cfce
    ),
    Case(
        "cfce_logits",
        "categorical_focal_crossentropy",
        "CategoricalFocalCrossentropy",
        _onehot_logits,
        ref_cfce,
        {"from_logits": True, "alpha": 0.5, "gamma": 1.0, "label_smoothing": 0.1},
    ),
    Case(
        "cfce_class_alpha",  # one alpha per class (Keras accepts a list)
        "categorical_focal_crossentropy",
        "CategoricalFocalCrossentropy",
        _onehot,
        ref_cfce,
        {"alpha": [0.1, 0.2, 0.4, 0.3]},
        shapes=((5, 4), (3, 2, 4)),
    ),
    Case(
        "scce",
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        _sparse,
        ref_scce,
        sparse=True,
    ),
    Case(
        "scce_logits",
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        _sparse_logits,
        ref_scce,
        {"from_logits": True},
        sparse=True,
    ),
    Case(
        "scce_ignore",
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        _sparse_ignore,
        ref_scce,
        {"from_logits": True, "ignore_class": -1},
        sparse=True,
        shapes=((4, 5), (3, 4, 6)),
    ),
    Case(
        "cgce",
        "categorical_generalized_cross_entropy",
        "CategoricalGeneralizedCrossEntropy",
        _sparse,
        ref_cgce,
        {"q": 0.5},
        sparse=True,
        shapes=((4, 5),),
    ),
    Case(
        "cgce_q",
        "categorical_generalized_cross_entropy",
        "CategoricalGeneralizedCrossEntropy",
        _sparse,
        ref_cgce,
        {"q": 0.2},
        sparse=True,
        shapes=((4, 5),),
    ),
    Case("dice", "dice", "Dice", _masks, ref_dice, batch_scalar=True),
    Case("dice_axis", "dice", "Dice", _masks, ref_dice, {"axis": -1}),
    Case(
        "tversky",
        "tversky",
        "Tversky",
        _masks,
        ref_tversky,
        {"alpha": 0.3, "beta": 0.7},
        batch_scalar=True,
    ),
    Case(
        "tversky_axis", "tversky", "Tversky", _masks, ref_tversky, {"axis": (1,)}, shapes=((4, 5),)
    ),
    Case("ctc", "ctc", "CTC", _ctc_inputs, ref_ctc, sparse=True, shapes=((4, 5),)),
    Case("circle", "circle", "Circle", _circle_inputs, ref_circle, sparse=True, shapes=((6, 4),)),
    Case(
        "circle_args",
        "circle",
        "Circle",
        _circle_inputs,
        ref_circle,
        {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False},
        sparse=True,
        shapes=((6, 4),),
    ),
]
