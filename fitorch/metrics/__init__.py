"""Metrics: stateful `Metric` objects, metric functions, and how compile resolves them.

Public surface (Keras 3 names): every metric class, the function forms
(`binary_accuracy`, `categorical_accuracy`, `sparse_categorical_accuracy`,
`top_k_categorical_accuracy`, `sparse_top_k_categorical_accuracy`, ...), and every loss
function of `fitorch.losses` re-exported as the same object (`metrics.mse is losses.mse`).

For compile and History:
- `METRICS`: the registry of names (class names, snake_case, Keras 3 and Keras 2 aliases).
- `get(identifier)`: validate an identifier early (unknown names raise with a did-you-mean).
- `resolve(identifier, y_true, y_pred, loss=None, name=None)`: build the `Metric` for one
  output from the first batch ('acc'/'accuracy' and 'crossentropy'/'ce' pick their variant
  from the shapes, or binary when the loss is binary crossentropy-like).
- `validate(metric, y_true, y_pred)`: the once-per-fit checks that read values.
- `history_aliases(identifier)`: other names History answers for that metric.
"""

from __future__ import annotations

import inspect

import torch

from fitorch import losses as _losses
from fitorch.metrics._utils import as_tensor as _as_tensor
from fitorch.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from fitorch.metrics.auc import AUC
from fitorch.metrics.base import METRICS, Metric, register_metric, synced_states
from fitorch.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    PrecisionAtRecall,
    Recall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from fitorch.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from fitorch.metrics.fscore import F1Score, FBetaScore
from fitorch.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from fitorch.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from fitorch.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from fitorch.metrics.reduction import Mean, MeanMetricWrapper, Sum
from fitorch.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)
from fitorch.metrics.torchmetrics_adapter import TorchMetric, is_torchmetric
from fitorch.utils.naming import to_snake_case as _snake

__all__ = [
    "METRICS",
    "Metric",
    "Mean",
    "Sum",
    "MeanMetricWrapper",
    "TorchMetric",
    "get",
    "resolve",
    "validate",
    "history_aliases",
    "synced_states",
    "serialize",
    "deserialize",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "LogCoshError",
    "R2Score",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "Precision",
    "Recall",
    "AUC",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "F1Score",
    "FBetaScore",
    "IoU",
    "MeanIoU",
    "BinaryIoU",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "ConcordanceCorrelation",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "pearson_correlation",
    "concordance_correlation",
]

register_metric(Mean)
register_metric(Sum)
register_metric(MeanMetricWrapper)

# -- names whose metric depends on the first batch, and Keras 2 spellings ----------------------
_ACCURACY_NAMES = ("acc", "accuracy")
_CROSSENTROPY_NAMES = ("crossentropy", "ce")
METRICS.register(Accuracy, "acc")  # `get` validates it; `resolve` picks the variant from shapes
METRICS.register(CategoricalCrossentropy, *_CROSSENTROPY_NAMES)  # ditto
# Keras 2 `cosine`/`cosine_proximity`: the negative cosine (a perfect fit logs -1.0), the loss.
METRICS.register(_losses.cosine_proximity, "cosine", name="cosine_proximity")


def _export_loss_functions() -> None:
    """Every loss function: a metric name (unless a metric class holds it) and an attribute."""
    namespace = globals()
    for name in _losses.LOSSES.names():
        fn = _losses.LOSSES.lookup(name)
        if not inspect.isfunction(fn):
            continue
        if name not in METRICS:
            METRICS.register(fn, name=name)
        if name.isidentifier() and name not in namespace:
            namespace[name] = fn
            __all__.append(name)


_export_loss_functions()


# -- compile-time API ---------------------------------------------------------------------------
def get(identifier):
    """Resolve an identifier without data: a registered class or function, or the object itself.

    None -> None; str -> the registered class/function (unknown names raise ValueError with
    the closest names); `{"class_name", "config"}` -> an instance; a Metric, Metric class,
    torchmetrics metric or callable -> unchanged. Anything else raises TypeError.
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        low = identifier.lower()
        if low in _ACCURACY_NAMES:
            return Accuracy
        if low in _CROSSENTROPY_NAMES:
            return CategoricalCrossentropy
        return METRICS.lookup(identifier)
    if isinstance(identifier, dict):
        return METRICS.get(identifier)
    if isinstance(identifier, Metric) or is_torchmetric(identifier) or callable(identifier):
        return identifier
    raise TypeError(
        f"metrics: expected a metric name, Metric, Metric class, torchmetrics Metric or "
        f"function f(y_true, y_pred); got {identifier!r} of type {type(identifier).__name__}."
    )


def _variant(y_true, y_pred, loss) -> str:
    """'binary', 'sparse' or 'categorical' as Keras 3 decides from shapes (Keras 2 for BCE)."""
    if loss is not None and _losses.binary_like(loss):
        return "binary"
    y_true, y_pred = _as_tensor(y_true), _as_tensor(y_pred)
    if y_pred.ndim <= 1 or y_pred.shape[-1] == 1:
        return "binary"
    if y_true.ndim < y_pred.ndim or (y_true.ndim and y_true.shape[-1] == 1):
        return "sparse"
    return "categorical"


def _from_logits(loss) -> bool:
    """True when the output the loss reads holds logits (from_logits=True, nn.*WithLogits)."""
    if loss is None or isinstance(loss, str):
        return False
    loss = getattr(loss, "module", loss)  # a wrapped torch.nn loss
    if isinstance(loss, (torch.nn.BCEWithLogitsLoss, torch.nn.CrossEntropyLoss)):
        return True
    fn_kwargs = getattr(loss, "fn_kwargs", None)
    from_kwargs = fn_kwargs.get("from_logits", False) if isinstance(fn_kwargs, dict) else False
    return bool(getattr(loss, "from_logits", False) or from_kwargs)


def _shape_resolved(family: str, name: str, y_true, y_pred, loss) -> Metric:
    """'acc'/'crossentropy' for this output: variant from shapes (or the loss), logits-aware.

    With a loss that reads logits, binary accuracy thresholds at 0 and the crossentropy is
    computed from logits (Keras keeps 0.5 and probabilities, which gives wrong numbers there).
    """
    variant = _variant(y_true, y_pred, loss)
    cls = _BY_VARIANT[family][variant]
    if not _from_logits(loss):
        return cls(name=name)
    if family == "accuracy":
        return cls(name=name, threshold=0.0) if variant == "binary" else cls(name=name)
    return cls(name=name, from_logits=True)


_BY_VARIANT = {
    "accuracy": {
        "binary": BinaryAccuracy,
        "sparse": SparseCategoricalAccuracy,
        "categorical": CategoricalAccuracy,
    },
    "crossentropy": {
        "binary": BinaryCrossentropy,
        "sparse": SparseCategoricalCrossentropy,
        "categorical": CategoricalCrossentropy,
    },
}


def _instantiate(obj, name: str | None) -> Metric:
    if isinstance(obj, Metric):
        return obj
    if is_torchmetric(obj):
        return TorchMetric(obj)
    if isinstance(obj, type) and issubclass(obj, Metric):
        if name is None:
            return obj()
        try:
            return obj(name=name)
        except TypeError:  # a custom class without a `name` argument
            metric = obj()
            metric.name = name
            return metric
    if callable(obj):
        return MeanMetricWrapper(obj, name=name)  # named by __name__ (or a Loss' .name)
    raise TypeError(
        f"metrics: cannot build a metric from {obj!r} of type {type(obj).__name__}; expected a "
        f"Metric, Metric class, torchmetrics Metric or function f(y_true, y_pred)."
    )


def resolve(identifier, y_true, y_pred, loss=None, name: str | None = None) -> Metric:
    """The `Metric` that compile uses for one output, built from its first batch.

    A string gives a new metric named exactly as passed ('mse' -> MeanSquaredError named
    'mse'); 'acc'/'accuracy' and 'crossentropy'/'ce' (any case) choose binary, sparse or
    categorical from the shapes (binary whenever `losses.binary_like(loss)`). A Metric is used
    as is; a class is instantiated; a function is wrapped in `MeanMetricWrapper` named by its
    `__name__`; a torchmetrics metric is adapted. `name` overrides the name. The metric is moved
    to `y_pred`'s device and its shape checks run (no device sync).
    """
    if isinstance(identifier, str):
        low = identifier.lower()
        if low in _ACCURACY_NAMES or low in _CROSSENTROPY_NAMES:
            family = "accuracy" if low in _ACCURACY_NAMES else "crossentropy"
            metric = _shape_resolved(family, identifier, y_true, y_pred, loss)
        else:
            metric = _instantiate(METRICS.lookup(identifier), identifier)
    elif isinstance(identifier, dict):
        metric = get(identifier)
    else:
        get(identifier)  # TypeError for unsupported kinds
        metric = _instantiate(identifier, None)
    if name is not None:
        metric.name = name
    if isinstance(y_pred, torch.Tensor):
        metric.to(y_pred.device)
    metric.check_shapes(y_true, y_pred)
    return metric


def validate(metric: Metric, y_true, y_pred) -> None:
    """First-batch checks: shapes, then values (may read the device once; never per step)."""
    metric.check_shapes(y_true, y_pred)
    metric.check_values(y_true, y_pred)


def _class_aliases(cls) -> set[str]:
    # the shape-resolved names are aliases of the string, never of a class
    return set(METRICS.aliases_of(cls)) - {*_ACCURACY_NAMES, *_CROSSENTROPY_NAMES}


def _wraps(cls, fn) -> bool:
    """True if the built-in class `cls` is the epoch mean of exactly `fn` (same numbers)."""
    try:
        return getattr(cls(), "fn", None) is fn
    except TypeError:
        return False


def history_aliases(identifier) -> set[str]:
    """Other names under which History answers for the metric compiled from `identifier`.

    'mse' -> {'mean_squared_error', 'MSE', 'MeanSquaredError'}; 'cosine' -> {'cosine_proximity'};
    'acc' <-> 'accuracy'; a function -> the names registered for it (possibly none).
    """
    if isinstance(identifier, str):
        low = identifier.lower()
        for group in (_ACCURACY_NAMES, _CROSSENTROPY_NAMES):
            if low in group:
                return set(group) - {identifier}
        if identifier not in METRICS:
            return set()
        obj = METRICS.lookup(identifier)
        names = _class_aliases(obj) if isinstance(obj, type) else set(METRICS.aliases_of(obj))
        return names - {identifier}
    if isinstance(identifier, MeanMetricWrapper) and type(identifier) is MeanMetricWrapper:
        return history_aliases(identifier.fn) - {identifier.name}
    if isinstance(identifier, Metric):
        names = _class_aliases(type(identifier))
        return names - {identifier.name} if identifier.name in names else set()
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        try:
            key = identifier().name
        except TypeError:
            key = _snake(identifier.__name__)
        return _class_aliases(identifier) - {key}
    if callable(identifier):
        key = getattr(identifier, "__name__", "")
        names = set(METRICS.aliases_of(identifier))
        holder = METRICS._by_name.get(key)
        if isinstance(holder, type) and _wraps(holder, identifier):
            names |= _class_aliases(holder)
        return names - {key}
    return set()


def serialize(metric: Metric) -> dict:
    """`{"class_name", "config"}` record of a metric."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict) -> Metric:
    """Inverse of `serialize` (registered and custom classes)."""
    return METRICS.get(config)
