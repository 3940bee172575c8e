"""Probabilistic losses: crossentropies (binary, categorical, sparse, focal, generalized),
KL divergence, Poisson and CTC.

Probabilities are clipped to [ε, 1 - ε] (ε = `K.epsilon()`); logits go through log-sigmoid /
log-softmax, so nothing is NaN or inf at probabilities 0 or 1 or logits of ±100.
The crossentropy kernels are the backend's (`K.binary_crossentropy`, ...), shared with `K`.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from fitorch import backend as K
from fitorch.losses.base import (
    LossFunctionWrapper,
    prepare,
    register_loss,
    set_mask,
    symbolic_loss,
)

__all__ = [
    "kl_divergence",
    "poisson",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "categorical_generalized_cross_entropy",
    "ctc",
    "crossentropy",
    "crossentropy_for",
    "KLDivergence",
    "Poisson",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CTC",
]

_SOBS = "sum_over_batch_size"


def _check_axis(axis, fn: str) -> None:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"{fn}: `axis` must be an int; received axis={axis!r}.")


def _warn_one_class(y_pred: torch.Tensor, fn: str) -> None:
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(
            f"In loss {fn}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1; received y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=3,
        )


@symbolic_loss
def kl_divergence(y_true, y_pred) -> torch.Tensor:
    """Kullback-Leibler divergence: sum(t * log(t / p), axis=-1), t and p clipped to [ε, 1].

    Example:
        >>> kl_divergence(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    eps = K.epsilon()
    y_true = torch.clamp(y_true, eps, 1.0)
    y_pred = torch.clamp(y_pred, eps, 1.0)
    return torch.sum(y_true * torch.log(y_true / y_pred), dim=-1)


@symbolic_loss
def poisson(y_true, y_pred) -> torch.Tensor:
    """Poisson loss: mean(y_pred - y_true * log(y_pred + ε), axis=-1).

    Example:
        >>> poisson(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
        tensor([1.0000])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    return torch.mean(y_pred - y_true * torch.log(y_pred + K.epsilon()), dim=-1)


@symbolic_loss
def binary_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    """Binary crossentropy: mean(-(t log p + (1 - t) log(1 - p)), axis).

    t = y_true·(1 - s) + s/2 with s = label_smoothing; p = clip(y_pred, ε, 1 - ε), or
    sigmoid(y_pred) computed stably when `from_logits`.

    Args:
        from_logits: y_pred holds logits instead of probabilities.
        label_smoothing: s in [0, 1]; squeezes the targets towards 0.5.
        axis: the axis averaged over (default -1).

    Example:
        >>> binary_crossentropy(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    values = K.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    return torch.mean(values, dim=axis)


@symbolic_loss
def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Binary focal crossentropy: mean((1 - p_t)**gamma * bce, axis).

    p = y_pred (sigmoid(y_pred) when `from_logits`), p_t = t·p + (1 - t)(1 - p), bce the
    elementwise binary crossentropy of the clipped p. With `apply_class_balancing` each term is
    also multiplied by t·alpha + (1 - t)(1 - alpha).

    Args:
        apply_class_balancing: weight positives by alpha and negatives by 1 - alpha.
        alpha: the balancing weight (default 0.25); gamma: the focusing exponent (default 2).
        from_logits, label_smoothing, axis: as `binary_crossentropy`.

    Example:
        >>> binary_focal_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.5]]))
        tensor([0.1733])
    """
    y_true, y_pred = prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = torch.sigmoid(y_pred)
    bce = K.binary_crossentropy(y_true, y_pred)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = torch.pow(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return torch.mean(focal, dim=axis)


@symbolic_loss
def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> torch.Tensor:
    """Categorical crossentropy: -sum(t * log p, axis) for one-hot (or soft) targets.

    t = y_true·(1 - s) + s/C (C classes, s = label_smoothing); p = y_pred renormalized to sum
    to 1 and clipped to [ε, 1 - ε], or log_softmax(y_pred) when `from_logits`.

    Args:
        from_logits: y_pred holds logits; label_smoothing: s in [0, 1]; axis: the class axis.

    Example:
        >>> categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    _check_axis(axis, "categorical_crossentropy")
    y_true, y_pred = prepare(y_true, y_pred)
    _warn_one_class(y_pred, "categorical_crossentropy")
    if label_smoothing:
        num_classes = y_true.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    return K.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


@symbolic_loss
def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Categorical focal crossentropy: sum(alpha * (1 - p)**gamma * (-t log p), axis).

    p = y_pred (softmax(y_pred) when `from_logits`) renormalized and clipped to [ε, 1 - ε];
    t label-smoothed as `categorical_crossentropy`. `alpha` is a float or one weight per
    class (a list, broadcast against the last axis as in Keras).

    Example:
        >>> categorical_focal_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.0433])
    """
    _check_axis(axis, "categorical_focal_crossentropy")
    y_true, y_pred = prepare(y_true, y_pred)
    _warn_one_class(y_pred, "categorical_focal_crossentropy")
    if label_smoothing:
        num_classes = y_true.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    p = K._clipped_probs(y_pred, axis)
    if not isinstance(alpha, (int, float)):  # per-class weights
        alpha = torch.as_tensor(alpha, dtype=p.dtype, device=p.device)
    focal = alpha * torch.pow(1.0 - p, gamma) * (-y_true * torch.log(p))
    return torch.sum(focal, dim=axis)


@symbolic_loss
def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1
) -> torch.Tensor:
    """Crossentropy with integer class targets: -log p[y_true].

    y_true has y_pred's shape without the class `axis` (a trailing length-1 axis is squeezed).
    Entries equal to `ignore_class` get loss 0 and are masked out, so the `Loss` mean is over
    the other entries only.

    Args:
        from_logits: y_pred holds logits; ignore_class: a label to skip (e.g. padding -1);
        axis: the class axis of y_pred.

    Example:
        >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    y_pred = K._floating(K._t(y_pred))
    y_true = K._t(y_true, like=y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = torch.where(valid, y_true, torch.zeros_like(y_true))
        y_pred = torch.where(valid.unsqueeze(axis), y_pred, torch.zeros_like(y_pred))
    values = K.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        values = torch.where(valid, values, torch.zeros_like(values))
        set_mask(values, valid)
    return values


@symbolic_loss
def categorical_generalized_cross_entropy(y_true, y_pred, q: float = 0.5) -> torch.Tensor:
    """Generalized crossentropy (noise-robust): (1 - p_true**q) / q for integer labels.

    p_true = y_pred[..., y_true]: the predicted probability of the labelled class; q in (0, 1)
    moves from crossentropy (q -> 0) to MAE (q = 1).

    Example:
        >>> categorical_generalized_cross_entropy(torch.tensor([1]), torch.tensor([[0.75, 0.25]]))
        tensor([1.])
    """
    y_pred = K._floating(K._t(y_pred))
    y_true = K._t(y_true, like=y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    p = torch.gather(y_pred, -1, y_true.long().unsqueeze(-1)).squeeze(-1)
    # p**q has an infinite slope at 0; the clamp keeps gradients finite.
    p = torch.clamp(p, min=torch.finfo(p.dtype).tiny)
    return (1.0 - torch.pow(p, q)) / q


def _shape(x) -> tuple:
    if isinstance(x, (tuple, list, torch.Size)) and all(isinstance(d, int) for d in x):
        return tuple(x)
    return tuple(getattr(x, "shape", None) or K._t(x).shape)


def crossentropy_for(y_true, y_pred):
    """The crossentropy matching the shapes (Keras compile's `"crossentropy"`/`"ce"`).

    Binary if y_pred's last dim is 1; sparse if y_true has a lower rank than y_pred, or a last
    dim of 1 while y_pred's is larger; categorical otherwise. Arguments are tensors, arrays
    or shapes.
    """
    if y_true is None or y_pred is None:
        raise ValueError(
            "loss='crossentropy' is resolved from the shapes of y_true and y_pred; "
            "pass them (compile resolves it at the first batch)."
        )
    t_shape, p_shape = _shape(y_true), _shape(y_pred)
    if p_shape and p_shape[-1] == 1:
        return binary_crossentropy
    if len(t_shape) < len(p_shape) or (t_shape and t_shape[-1] == 1 and p_shape[-1] > 1):
        return sparse_categorical_crossentropy
    return categorical_crossentropy


@symbolic_loss
def crossentropy(y_true, y_pred) -> torch.Tensor:
    """Keras compile's `"crossentropy"`/`"ce"`: the crossentropy that fits the shapes.

    Binary, sparse or categorical as `crossentropy_for` decides from the (static) shapes, so
    the choice costs no device sync. `resolve("crossentropy", y_true, y_pred)` picks the
    concrete function once instead.

    Example:
        >>> crossentropy(torch.tensor([1]), torch.tensor([[0.5, 0.5]]))
        tensor([0.6931])
    """
    return crossentropy_for(y_true, y_pred)(y_true, y_pred)


@symbolic_loss
def ctc(y_true, y_pred) -> torch.Tensor:
    """Connectionist temporal classification loss per sample: -log p(labels | logits).

    y_true: (B, L) integer labels, 0 = blank and padding (labels first, then zeros);
    y_pred: (B, T, C) logits (log_softmax is applied here). Every sequence uses all T steps.

    Example:
        >>> ctc(torch.tensor([[1, 0]]), torch.zeros(1, 2, 3)).shape
        torch.Size([1])
    """
    y_pred = K._floating(K._t(y_pred))
    y_true = K._t(y_true, like=y_pred)
    if y_true.ndim != 2:
        raise ValueError(
            "ctc: `y_true` must be (batch_size, max_length) integer labels; received "
            f"y_true.shape={tuple(y_true.shape)}."
        )
    if y_pred.ndim != 3:
        raise ValueError(
            "ctc: `y_pred` must be (batch_size, max_length, num_classes) logits; received "
            f"y_pred.shape={tuple(y_pred.shape)}."
        )
    y_pred = y_pred.to(torch.promote_types(y_pred.dtype, torch.float32))
    batch, steps = y_pred.shape[0], y_pred.shape[1]
    labels = y_true.long()
    label_length = torch.sum(labels != 0, dim=-1)
    input_length = torch.full((batch,), steps, dtype=torch.long, device=y_pred.device)
    log_probs = torch.log_softmax(y_pred.transpose(0, 1), dim=-1)  # (T, B, C)
    return F.ctc_loss(log_probs, labels, input_length, label_length, blank=0, reduction="none")


class KLDivergence(LossFunctionWrapper):
    """`kl_divergence` as a Loss."""

    def __init__(self, reduction=_SOBS, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """`poisson` as a Loss."""

    def __init__(self, reduction=_SOBS, name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """`binary_crossentropy` as a Loss; arguments as the function.

    Example:
        >>> round(float(BinaryCrossentropy()([[1.0], [0.0]], [[0.5], [0.5]])), 4)
        0.6931
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SOBS,
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """`binary_focal_crossentropy` as a Loss; arguments as the function."""

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SOBS,
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    """`categorical_crossentropy` as a Loss; arguments as the function."""

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SOBS,
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """`categorical_focal_crossentropy` as a Loss; arguments as the function."""

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SOBS,
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """`sparse_categorical_crossentropy` as a Loss; `ignore_class` entries are masked out.

    Example:
        >>> loss = SparseCategoricalCrossentropy(ignore_class=-1)
        >>> round(float(loss([[1], [-1]], [[0.5, 0.5], [0.9, 0.1]])), 4)
        0.6931
    """

    targets = "sparse"

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=_SOBS,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """`categorical_generalized_cross_entropy` as a Loss; `q` in (0, 1), default 0.5."""

    def __init__(
        self, q=0.5, reduction=_SOBS, name="categorical_generalized_cross_entropy", dtype=None
    ):
        if not 0.0 < q < 1.0:
            raise ValueError(
                f"CategoricalGeneralizedCrossEntropy: `q` must be in (0, 1); received q={q!r}."
            )
        super().__init__(
            categorical_generalized_cross_entropy, reduction=reduction, name=name, dtype=dtype, q=q
        )


class CTC(LossFunctionWrapper):
    """`ctc` as a Loss."""

    def __init__(self, reduction=_SOBS, name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)


register_loss(kl_divergence, "kld", "KLD", "kullback_leibler_divergence")
register_loss(poisson)
register_loss(binary_crossentropy, "bce", "BCE")
register_loss(binary_focal_crossentropy)
register_loss(categorical_crossentropy)
register_loss(categorical_focal_crossentropy)
register_loss(sparse_categorical_crossentropy, targets="sparse")
register_loss(categorical_generalized_cross_entropy, targets="sparse")
register_loss(ctc, targets="any")
register_loss(crossentropy, "ce", targets="any")
for _cls in (
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    SparseCategoricalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    CTC,
):
    register_loss(_cls)
