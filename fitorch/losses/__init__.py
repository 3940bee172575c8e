"""Losses: per-sample functions, `Loss` classes, aliases and resolution (Keras 3 semantics).

    from fitorch import losses
    losses.mse is losses.mean_squared_error        # Keras 2 aliases are module attributes
    losses.MeanSquaredError()(y_true, y_pred, sample_weight=w)
    losses.get("huber_loss"), losses.resolve("crossentropy", y_true, y_pred)

Families: `regression`, `hinge`, `probabilistic`, `segmentation`, `similarity`; the `Loss`
base and reductions in `base`; `torch.nn` loss modules in `torch_loss`; `get`/`resolve` in
`resolve`.

Where fitorch deliberately differs from Keras 3 (numbers are otherwise Keras 3's):
- sample_weight broadcasts from the batch axis: a (B,) weight scales every timestep of a
  (B, T) loss (Keras broadcasts it against T, an error or, when B == T, a wrong number), and
  `mean_with_sample_weight` divides by the weights broadcast to the loss's shape (Keras
  divides by the sum of (B, 1) weights, T times too little);
- the compute dtype keeps float64 inputs in float64 (Keras casts them to floatx);
- probability crossentropies of an all-zero row give a finite loss (Keras: 0/0 = NaN);
- label smoothing divides by the size of `axis` (Keras uses the last axis whatever `axis`);
- `get_config` also holds arguments Keras forgets (Huber's `delta`, CosineSimilarity's and
  SparseCategoricalCrossentropy's `axis`);
- the hinge 0/1 -> -1/1 label switch is a `torch.where` (Keras' torch backend branches on the
  host); Circle's logsumexp uses a finite fill, so rows without pairs have finite gradients.
"""

from fitorch.losses.base import (
    LOSSES,
    Loss,
    LossFunctionWrapper,
    Reduction,
    get_mask,
    reduce_weighted_values,
    set_mask,
    squeeze_or_expand_to_same_rank,
)
from fitorch.losses.hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from fitorch.losses.probabilistic import (
    CTC,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    crossentropy,
    ctc,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from fitorch.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from fitorch.losses.resolve import (
    binary_like,
    crossentropy_for,
    deserialize,
    get,
    resolve,
    serialize,
    validate_targets,
)
from fitorch.losses.segmentation import Dice, Tversky, dice, tversky
from fitorch.losses.similarity import Circle, circle
from fitorch.losses.torch_loss import TorchLoss

# Keras 2 / Keras 3 legacy spellings, the same objects (`losses.mse is losses.mean_squared_error`).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh
huber_loss = huber
cosine_proximity = cosine = cosine_similarity

__all__ = [
    "LOSSES",
    "Loss",
    "LossFunctionWrapper",
    "Reduction",
    "TorchLoss",
    "get",
    "resolve",
    "serialize",
    "deserialize",
    "crossentropy_for",
    "binary_like",
    "validate_targets",
    "get_mask",
    "set_mask",
    "reduce_weighted_values",
    "squeeze_or_expand_to_same_rank",
    # functions
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
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
    "dice",
    "tversky",
    "circle",
    # classes
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "Huber",
    "LogCosh",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "KLDivergence",
    "Poisson",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CTC",
    "Dice",
    "Tversky",
    "Circle",
    # aliases
    "mse",
    "MSE",
    "mae",
    "MAE",
    "mape",
    "MAPE",
    "msle",
    "MSLE",
    "kld",
    "KLD",
    "kullback_leibler_divergence",
    "bce",
    "BCE",
    "logcosh",
    "huber_loss",
    "cosine_proximity",
    "cosine",
]
