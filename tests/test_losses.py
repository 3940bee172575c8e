"""fitorch.losses: every loss against a float64 formula and against Keras 3 (torch backend).

The table of losses is tests/_loss_cases.py; generic tests iterate it. Keras is only the
oracle here (skipped when it is not installed).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import inspect  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from _loss_cases import CASES  # noqa: E402
from torch import nn  # noqa: E402

from fitorch import backend as K  # noqa: E402
from fitorch import losses, objectives  # noqa: E402
from fitorch.losses import LOSSES, Loss, LossFunctionWrapper, TorchLoss  # noqa: E402

REDUCTIONS = ["sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight"]
SHAPED = [pytest.param(c, s, id=f"{c.id}-{'x'.join(map(str, s))}") for c in CASES for s in c.shapes]
BY_CASE = [pytest.param(c, id=c.id) for c in CASES]


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _inputs(case, shape, seed=0):
    y_true, y_pred = case.make(np.random.default_rng(seed), shape)
    return np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)


def _keras_true(case, y_true):
    return torch.tensor(
        y_true, dtype=torch.int32 if case.fn in ("ctc", "circle") else torch.float32
    )


def _f32(x):
    return None if x is None else torch.tensor(x, dtype=torch.float32)


# ------------------------------------------------------------------ per-sample functions
@pytest.mark.parametrize("case, shape", SHAPED)
def test_function_matches_float64_reference(case, shape):
    y_true, y_pred = _inputs(case, shape)
    got = getattr(losses, case.fn)(torch.tensor(y_true), torch.tensor(y_pred), **case.kwargs)
    want = case.ref(y_true, y_pred, **case.kwargs)
    assert got.dtype == torch.float64
    assert tuple(got.shape) == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("case, shape", SHAPED)
def test_function_matches_keras(case, shape, keras):
    y_true, y_pred = _inputs(case, shape, seed=1)
    want = getattr(keras.losses, case.fn)(_keras_true(case, y_true), _f32(y_pred), **case.kwargs)
    got = getattr(losses, case.fn)(
        torch.tensor(y_true, dtype=torch.float32),
        torch.tensor(y_pred, dtype=torch.float32),
        **case.kwargs,
    )
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), keras.ops.convert_to_numpy(want), rtol=2e-5, atol=2e-6)


def _weight_forms(values_shape):
    batch = values_shape[0] if values_shape else 4
    forms = {"unweighted": None, "B": (batch,), "B1": (batch, 1)}
    if len(values_shape) == 2:
        forms["BT"] = values_shape
    return forms


@pytest.mark.parametrize("reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", BY_CASE)
def test_class_matches_keras_for_every_reduction_and_weight(case, reduction, keras):
    """Loss classes: every reduction x sample_weight (B,), (B,1), (B,T) equals Keras 3."""
    shape = case.shapes[-1]
    y_true, y_pred = _inputs(case, shape, seed=2)
    ours = getattr(losses, case.cls)(reduction=reduction, **case.kwargs)
    theirs = getattr(keras.losses, case.cls)(reduction=reduction, **case.kwargs)
    values_shape = tuple(
        getattr(losses, case.fn)(torch.tensor(y_true), torch.tensor(y_pred), **case.kwargs).shape
    )
    rng = np.random.default_rng(3)
    for form, w_shape in _weight_forms(values_shape).items():
        weight = None if w_shape is None else rng.uniform(0.0, 2.0, size=w_shape)
        # Keras broadcasts a (B,) weight against the last axis (and fails on (B, 1) weights
        # with a mask): give it the equivalent (B, T) weight.
        k_weight = weight
        if form in ("B", "B1") and len(values_shape) == 2:
            k_weight = np.broadcast_to(weight.reshape(-1, 1), values_shape).copy()
        want = theirs(_keras_true(case, y_true), _f32(y_pred), sample_weight=_f32(k_weight))
        got = ours(
            y_true.astype("float32"),
            torch.tensor(y_pred, dtype=torch.float32),
            sample_weight=weight,
        )
        np.testing.assert_allclose(
            got.numpy(),
            keras.ops.convert_to_numpy(want),
            rtol=2e-5,
            atol=2e-6,
            err_msg=f"sample_weight {form}",
        )


def _ref_reduce(values, weight, mask, reduction):
    """Float64 reference of the Keras reduction (mask: mean over the valid entries)."""
    if values.ndim == 0:  # a batch scalar (Dice, axis=None) is weighted into a (B,) vector
        values, mask = np.full(weight.shape, values), np.ones(weight.shape)
    w = (
        np.broadcast_to(
            weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim)), values.shape
        )
        * mask
    )
    total = (values * w).sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight":
        return total / w.sum()
    return total / mask.sum()  # sum_over_batch_size: / number of (valid) elements


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("case", BY_CASE)
def test_class_matches_float64_reference(case, reduction):
    y_true, y_pred = _inputs(case, case.shapes[-1], seed=4)
    values = case.ref(y_true, y_pred, **case.kwargs)
    weight = np.random.default_rng(5).uniform(0.5, 2.0, size=np.shape(values)[:1] or (4,))
    mask = np.ones(np.shape(values))
    if case.kwargs.get("ignore_class") is not None:
        mask = (y_true != case.kwargs["ignore_class"]).astype(float)
    elif case.fn == "circle":
        mask = (values > 0).astype(float)
    loss = getattr(losses, case.cls)(reduction=reduction, **case.kwargs)
    got = loss(torch.tensor(y_true), torch.tensor(y_pred), sample_weight=torch.tensor(weight))
    assert got.dtype == torch.float64
    want = _ref_reduce(np.asarray(values), weight, mask, reduction)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


# ------------------------------------------------------------------- reductions by formula
def _mse_loss(**kwargs):
    yt = torch.tensor([[0.0, 2.0, -1.0], [1.5, 0.5, 3.0]], dtype=torch.float64)
    yp = torch.tensor([[0.5, 1.0, -3.0], [1.0, -0.5, 2.5]], dtype=torch.float64)
    return losses.MeanSquaredError(**kwargs)(yt, yp, sample_weight=torch.tensor([1.0, 3.0]))


@pytest.mark.parametrize(
    "reduction, expected",
    [
        ("sum_over_batch_size", (1.75 + 1.5) / 2),  # divided by 2 elements, not by sum(w)=4
        ("mean", (1.75 + 1.5) / 2),
        ("sum", 1.75 + 1.5),
        ("mean_with_sample_weight", (1.75 + 1.5) / 4),
        ("none", [1.75, 1.5]),
        (None, [1.75, 1.5]),
    ],
)
def test_reduction_formulas(reduction, expected):
    np.testing.assert_allclose(_mse_loss(reduction=reduction).numpy(), expected, rtol=1e-12)


def test_per_timestep_weights_and_batch_weights():
    yt, yp = torch.zeros(2, 3, 4, dtype=torch.float64), torch.ones(2, 3, 4, dtype=torch.float64)
    w_bt = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    loss = losses.MeanSquaredError()
    assert float(loss(yt, yp, sample_weight=w_bt)) == pytest.approx(6.0 / 6)
    # A (B,) weight scales every timestep of its sample; (B,1) is the same.
    w_b = torch.tensor([2.0, 0.0])
    assert float(loss(yt, yp, sample_weight=w_b)) == pytest.approx(6.0 / 6)
    assert float(loss(yt, yp, sample_weight=w_b[:, None])) == pytest.approx(6.0 / 6)


def test_ignore_class_reweights_mean_over_valid_entries():
    labels = torch.tensor([[1.0, -1.0, 0.0, -1.0]])
    logits = torch.randn(1, 4, 3, dtype=torch.float64)
    per_step = nn.functional.cross_entropy(
        logits[0], labels[0].clamp(min=0).long(), reduction="none"
    )
    valid = labels[0] != -1
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert float(loss(labels, logits)) == pytest.approx(float(per_step[valid].mean()))
    summed = losses.SparseCategoricalCrossentropy(True, -1, reduction="sum")(labels, logits)
    assert float(summed) == pytest.approx(float(per_step[valid].sum()))
    none = losses.SparseCategoricalCrossentropy(True, -1, reduction="none")(labels, logits)
    assert torch.equal(none[0] == 0, ~valid)


def test_mask_on_y_pred_is_honoured():
    y_pred = torch.ones(2, 3)
    losses.set_mask(y_pred, torch.tensor([[True, True, False], [True, False, False]]))
    # per-element MAE values are 1; the mean is over the 3 valid entries
    value = losses.MeanAbsoluteError()(torch.zeros(2, 3, 1), y_pred[..., None])
    assert float(value) == pytest.approx(1.0)


def test_tf_keras_auto_reduction():
    assert losses.MeanSquaredError(reduction=losses.Reduction.AUTO).reduction == (
        "sum_over_batch_size"
    )


def test_invalid_reduction_names_the_argument():
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        losses.MeanSquaredError(reduction="avg")


# ------------------------------------------------------------------------ stability
EDGE = [
    ("binary_crossentropy", {}, [[0.0, 1.0, 1.0, 0.0]], [[0.0, 1.0, 0.0, 1.0]]),
    ("binary_crossentropy", {"label_smoothing": 0.1}, [[0.0, 1.0]], [[0.0, 1.0]]),
    ("binary_crossentropy", {"from_logits": True}, [[0.0, 1.0, 1.0]], [[100.0, -100.0, 0.0]]),
    ("binary_focal_crossentropy", {}, [[0.0, 1.0]], [[1.0, 0.0]]),
    ("binary_focal_crossentropy", {"from_logits": True}, [[0.0, 1.0]], [[100.0, -100.0]]),
    ("categorical_crossentropy", {}, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]),
    ("categorical_crossentropy", {}, [[0.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]]),
    ("categorical_crossentropy", {"from_logits": True}, [[0.0, 1.0]], [[100.0, -100.0]]),
    ("categorical_focal_crossentropy", {}, [[0.0, 1.0]], [[1.0, 0.0]]),
    ("categorical_focal_crossentropy", {"from_logits": True}, [[0.0, 1.0]], [[100.0, -100.0]]),
    ("sparse_categorical_crossentropy", {}, [1.0], [[1.0, 0.0]]),
    ("sparse_categorical_crossentropy", {"from_logits": True}, [1.0], [[100.0, -100.0]]),
    ("kl_divergence", {}, [[0.0, 1.0]], [[1.0, 0.0]]),
    ("poisson", {}, [[0.0, 2.0]], [[0.0, 0.0]]),
    ("mean_absolute_percentage_error", {}, [[0.0, 0.0]], [[0.0, 1.0]]),
    ("mean_squared_logarithmic_error", {}, [[0.0, -1.0]], [[0.0, 0.0]]),
    ("cosine_similarity", {}, [[0.0, 0.0]], [[0.0, 0.0]]),
    ("log_cosh", {}, [[0.0, 0.0]], [[1e4, -1e4]]),
    ("hinge", {}, [[0.0, 1.0]], [[100.0, -100.0]]),
    ("dice", {}, [[0.0, 0.0]], [[0.0, 0.0]]),
    ("tversky", {}, [[0.0, 0.0]], [[0.0, 0.0]]),
    ("categorical_generalized_cross_entropy", {}, [0.0], [[0.0, 1.0]]),
    ("circle", {}, [0.0, 1.0, 2.0], [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]),
]


@pytest.mark.parametrize("name, kwargs, y_true, y_pred", EDGE, ids=lambda v: str(v)[:40])
def test_edge_inputs_give_finite_values_and_gradients(name, kwargs, y_true, y_pred):
    y_pred = torch.tensor(y_pred, requires_grad=True)
    values = getattr(losses, name)(torch.tensor(y_true), y_pred, **kwargs)
    assert torch.isfinite(values).all(), values
    values.sum().backward()
    assert torch.isfinite(y_pred.grad).all(), y_pred.grad


def test_log_cosh_is_linear_for_large_errors():
    value = losses.log_cosh(torch.zeros(1, 1), torch.tensor([[1e4]]))
    assert float(value) == pytest.approx(1e4 - np.log(2.0), rel=1e-6)


def test_hinge_label_conversion():
    y_pred = torch.tensor([[0.3, -0.2]])
    assert float(losses.hinge([[0.0, 1.0]], y_pred)) == pytest.approx((1.3 + 1.2) / 2)
    assert float(losses.hinge([[0.5, 1.0]], y_pred)) == pytest.approx((0.85 + 1.2) / 2)
    assert float(losses.hinge([[-1.0, 1.0]], y_pred)) == pytest.approx((1.3 + 1.2) / 2)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight"])
@pytest.mark.parametrize("case", BY_CASE)
def test_no_host_sync(case, reduction):
    """Every loss runs on the meta device, where reading a value (a sync) is impossible.

    CTC is left out: torch's ctc_loss has no meta kernel (and reads the lengths on the host).
    """
    if case.fn == "ctc":
        pytest.skip("torch.ctc_loss has no meta kernel")
    y_true, y_pred = (
        torch.tensor(a, dtype=torch.float32, device="meta") for a in _inputs(case, case.shapes[-1])
    )
    values = getattr(losses, case.fn)(y_true, y_pred, **case.kwargs)
    assert values.device.type == "meta"
    loss = getattr(losses, case.cls)(reduction=reduction, **case.kwargs)
    weight = torch.ones(y_pred.shape[0], device="meta")
    assert loss(y_true, y_pred, sample_weight=weight).device.type == "meta"


@pytest.mark.parametrize(
    "loss, y_true",
    [
        (losses.MeanSquaredError(), torch.randn(8, 5)),
        (losses.Hinge(), (torch.randn(8, 5) > 0).float()),
        (losses.SparseCategoricalCrossentropy(True, -1), torch.tensor([-1.0, 0, 1, 2, 3, 4, 0, 1])),
    ],
    ids=["mse", "hinge", "scce_ignore"],
)
def test_loss_call_captures_in_one_graph(loss, y_true):
    """torch.compile(fullgraph=True) captures weighting, masks and reduction without breaks."""
    y_pred, weight = torch.randn(8, 5), torch.rand(8)
    compiled = torch.compile(lambda t, p, w: loss(t, p, w), backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(y_true, y_pred, weight), loss(y_true, y_pred, weight))


def test_trailing_one_axis_is_matched_not_broadcast():
    y_pred = torch.rand(6, 1)
    y_true = (torch.rand(6) > 0.5).float()
    bce = losses.BinaryCrossentropy()
    torch.testing.assert_close(bce(y_true, y_pred), bce(y_true[:, None], y_pred))
    mse = losses.MeanSquaredError(reduction="none")
    assert mse(y_true, y_pred).shape == (6,)


def test_epsilon_is_read_at_call_time():
    yt, yp = torch.tensor([[0.0]]), torch.tensor([[1.0]])
    old = K.epsilon()
    try:
        K.set_epsilon(1e-3)
        assert float(losses.mape(yt, yp)) == pytest.approx(100.0 / 1e-3)
    finally:
        K.set_epsilon(old)
    assert float(losses.mape(yt, yp)) == pytest.approx(100.0 / 1e-7, rel=1e-6)


def test_compute_dtype():
    half = torch.ones(2, 3, dtype=torch.float16)
    assert losses.MeanSquaredError()(half, half).dtype == torch.float32
    double = torch.ones(2, 3, dtype=torch.float64)
    assert losses.MeanSquaredError()(double, double).dtype == torch.float64
    assert losses.MeanSquaredError(dtype="float64")(half, half).dtype == torch.float64
    # NumPy and list inputs work too
    assert float(losses.MeanSquaredError()([[1.0]], np.zeros((1, 1)))) == 1.0


# ------------------------------------------------------------------- names and registry
KERAS2_ALIASES = {
    "mse": "mean_squared_error",
    "MSE": "mean_squared_error",
    "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "KLD": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "bce": "binary_crossentropy",
    "BCE": "binary_crossentropy",
    "logcosh": "log_cosh",
    "huber_loss": "huber",
    "cosine_proximity": "cosine_similarity",
    "cosine": "cosine_similarity",
}


@pytest.mark.parametrize("alias, name", KERAS2_ALIASES.items())
def test_aliases_are_the_same_objects(alias, name):
    assert getattr(losses, alias) is getattr(losses, name)
    assert LOSSES.lookup(alias) is getattr(losses, name)
    assert getattr(objectives, alias) is getattr(losses, name)


def test_every_keras_name_resolves(keras):
    from keras.src.losses import ALL_OBJECTS_DICT

    for name in ALL_OBJECTS_DICT:
        obj = losses.get(name)
        assert obj is getattr(losses, name), name


@pytest.mark.parametrize("case", BY_CASE)
def test_class_signature_and_default_name_match_keras(case, keras):
    ours, theirs = getattr(losses, case.cls), getattr(keras.losses, case.cls)
    params = inspect.signature(ours).parameters
    for name, param in inspect.signature(theirs).parameters.items():
        assert name in params, name
        assert params[name].default == param.default, name
    assert ours().name == theirs().name
    # Same config entries as Keras (ours may hold more: Keras drops Huber's delta, ...), and
    # Keras can build its class from ours.
    config = ours(**case.kwargs).get_config()
    assert theirs(**case.kwargs).get_config().items() <= config.items()
    assert theirs.from_config(config).get_config().items() <= config.items()
    assert LOSSES.lookup(case.cls) is ours and LOSSES.lookup(case.fn) is getattr(losses, case.fn)
    assert getattr(losses, case.fn).direction == "down"


@pytest.mark.parametrize("case", BY_CASE)
def test_config_round_trip(case):
    loss = getattr(losses, case.cls)(reduction="sum", name="custom", **case.kwargs)
    config = loss.get_config()
    assert config["name"] == "custom" and config["reduction"] == "sum"
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    y_true, y_pred = _inputs(case, case.shapes[0])
    torch.testing.assert_close(
        clone(y_true, torch.tensor(y_pred)), loss(y_true, torch.tensor(y_pred))
    )
    assert losses.deserialize(losses.serialize(loss)).get_config() == config


def test_wrapper_config_names_its_function():
    loss = LossFunctionWrapper(losses.huber, name="h", delta=2.0)
    config = loss.get_config()
    assert config == {"name": "h", "reduction": "sum_over_batch_size", "fn": "huber", "delta": 2.0}
    assert LossFunctionWrapper.from_config(config).fn is losses.huber


def test_wrapper_config_of_a_registered_custom_function():
    from fitorch.registry import register_serializable

    @register_serializable("test_losses")
    def scaled_error(y_true, y_pred, scale=1.0):
        return scale * torch.mean(torch.abs(y_true - y_pred), dim=-1)

    loss = LossFunctionWrapper(scaled_error, scale=3.0)
    config = loss.get_config()
    assert config["fn"] == "test_losses>scaled_error" and config["name"] == "scaled_error"
    clone = LossFunctionWrapper.from_config(config)
    assert clone.fn is scaled_error and float(clone([[0.0]], [[1.0]])) == 3.0


# ------------------------------------------------------------------------- get / resolve
def test_get():
    assert losses.get(None) is None
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("Huber") is losses.Huber
    made = losses.get({"class_name": "Huber", "config": {"delta": 2.0}})
    assert isinstance(made, losses.Huber) and made.fn_kwargs["delta"] == 2.0
    fn = lambda t, p: t  # noqa: E731
    assert losses.get(fn) is fn
    with pytest.raises(ValueError, match="Unknown loss 'msee'. Did you mean 'mse'"):
        losses.get("msee")
    with pytest.raises(TypeError, match="loss identifier"):
        losses.get(3)


def test_resolve_names_classes_functions_and_instances():
    assert losses.resolve(None) is None
    wrapped = losses.resolve("mse")
    assert isinstance(wrapped, LossFunctionWrapper) and wrapped.name == "mse"
    assert wrapped.fn is losses.mean_squared_error
    assert isinstance(losses.resolve("Huber"), losses.Huber)
    assert losses.resolve("Huber").name == "huber_loss"
    assert isinstance(losses.resolve(losses.Huber), losses.Huber)
    instance = losses.Huber(delta=3.0)
    assert losses.resolve(instance) is instance

    def my_loss(y_true, y_pred):
        return torch.mean(torch.abs(y_true - y_pred), dim=-1)

    resolved = losses.resolve(my_loss)
    assert resolved.name == "my_loss" and resolved.fn is my_loss
    assert isinstance(losses.resolve(nn.MSELoss()), TorchLoss)
    assert isinstance(losses.resolve(nn.L1Loss), TorchLoss)
    with pytest.raises(TypeError, match="Could not interpret loss"):
        losses.resolve(42)


@pytest.mark.parametrize(
    "t_shape, p_shape, expected",
    [
        ((8, 1), (8, 1), "binary_crossentropy"),
        ((8,), (8, 1), "binary_crossentropy"),
        ((8,), (8, 5), "sparse_categorical_crossentropy"),
        ((8, 1), (8, 5), "sparse_categorical_crossentropy"),
        ((8, 5), (8, 5), "categorical_crossentropy"),
        ((8, 3, 5), (8, 3, 5), "categorical_crossentropy"),
    ],
)
def test_crossentropy_resolved_from_shapes(t_shape, p_shape, expected):
    for alias in ("crossentropy", "ce"):
        loss = losses.resolve(alias, torch.zeros(t_shape), torch.zeros(p_shape))
        assert loss.fn is getattr(losses, expected) and loss.name == alias


def test_crossentropy_name_passes_get_and_works_as_a_function():
    assert (
        losses.get("crossentropy") is losses.crossentropy
        and losses.get("ce") is losses.crossentropy
    )
    labels, probs = torch.tensor([0.0, 2.0]), torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    torch.testing.assert_close(
        losses.crossentropy(labels, probs), losses.sparse_categorical_crossentropy(labels, probs)
    )
    onehot = torch.eye(3)[[0, 2]]
    torch.testing.assert_close(
        losses.crossentropy(onehot, probs), losses.categorical_crossentropy(onehot, probs)
    )


def test_crossentropy_without_shapes_is_a_clear_error():
    with pytest.raises(ValueError, match="resolved from the shapes"):
        losses.resolve("crossentropy")


def test_binary_like():
    for loss in (
        "binary_crossentropy",
        "bce",
        losses.BinaryCrossentropy(),
        losses.BinaryFocalCrossentropy,
        losses.binary_crossentropy,
        losses.resolve("bce"),
        nn.BCEWithLogitsLoss(),
        losses.resolve(nn.BCELoss()),
    ):
        assert losses.binary_like(loss), loss
    for loss in ("mse", "crossentropy", losses.CategoricalCrossentropy(), nn.MSELoss(), None):
        assert not losses.binary_like(loss), loss
    assert losses.binary_like(losses.resolve("ce", torch.zeros(4, 1), torch.zeros(4, 1)))


def test_plain_function_and_scalar_function_as_losses():
    yt, yp = torch.zeros(4, 2), torch.ones(4, 2)
    per_sample = LossFunctionWrapper(lambda t, p: torch.mean((p - t) ** 2, dim=-1), name="f")
    assert float(per_sample(yt, yp, sample_weight=[1.0, 1.0, 0.0, 0.0])) == pytest.approx(0.5)
    scalar = LossFunctionWrapper(lambda t, p: torch.mean((p - t) ** 2), name="s")
    assert float(scalar(yt, yp)) == pytest.approx(1.0)


def test_custom_loss_subclass():
    class Doubled(Loss):
        def call(self, y_true, y_pred):
            return 2.0 * torch.mean(torch.abs(y_true - y_pred), dim=-1)

    loss = Doubled()
    assert loss.name == "doubled"
    assert float(loss(torch.zeros(2, 2), torch.ones(2, 2), sample_weight=[1.0, 0.0])) == 1.0


# ------------------------------------------------------------------------- torch losses
def test_torch_cross_entropy_takes_keras_style_labels():
    logits = torch.randn(6, 4)
    labels = torch.randint(0, 4, (6, 1)).float()  # (B, 1) floats, as Keras data often is
    loss = losses.resolve(nn.CrossEntropyLoss())
    expected = nn.functional.cross_entropy(logits, labels[:, 0].long())
    torch.testing.assert_close(loss(labels, logits), expected)
    torch.testing.assert_close(loss(labels, logits, sample_weight=torch.ones(6)), expected)
    weights = torch.rand(6)
    per_sample = nn.functional.cross_entropy(logits, labels[:, 0].long(), reduction="none")
    torch.testing.assert_close(
        loss(labels, logits, sample_weight=weights), (per_sample * weights).sum() / 6
    )


def test_torch_loss_ignore_index_and_shapes():
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, -100, 2, 1])
    loss = losses.resolve(nn.CrossEntropyLoss())
    torch.testing.assert_close(
        loss(labels, logits, sample_weight=torch.ones(4)),
        nn.functional.cross_entropy(logits, labels),
    )
    mse = losses.resolve(nn.MSELoss())
    y_pred = torch.randn(5, 1)
    y_true = torch.randn(5)  # (B,) vs (B, 1): matched, not broadcast to (B, B)
    torch.testing.assert_close(mse(y_true, y_pred), torch.mean((y_pred[:, 0] - y_true) ** 2))
    assert mse.name == "mse_loss"


def test_torch_loss_without_reduction_warns_once():
    class Plain(nn.Module):
        def forward(self, y_pred, y_true):
            return torch.mean((y_pred - y_true) ** 2)

    loss = losses.resolve(Plain())
    with pytest.warns(UserWarning, match="sample_weight"):
        loss(torch.zeros(2, 1), torch.ones(2, 1), sample_weight=[1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(torch.zeros(2, 1), torch.ones(2, 1), sample_weight=[1.0, 2.0])


# --------------------------------------------------------------------- target validation
def test_validate_targets_accepts_keras_shapes():
    for t, p in [((8, 3), (8, 3)), ((8,), (8, 1)), ((8, 1), (8,)), ((8, 4, 1), (8, 4))]:
        losses.validate_targets(losses.resolve("mse"), torch.zeros(t), torch.zeros(p))
    scce = losses.resolve("sparse_categorical_crossentropy")
    losses.validate_targets(scce, torch.tensor([0.0, 2.0]), torch.zeros(2, 3))
    losses.validate_targets(scce, torch.tensor([[0], [2]]), torch.zeros(2, 3))
    losses.validate_targets(losses.CTC(), torch.ones(2, 3), torch.zeros(2, 5, 4))


def test_validate_targets_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(8, 1\).*y_pred.shape=\(8, 10\)"):
        losses.validate_targets(losses.resolve("mse"), torch.zeros(8, 1), torch.zeros(8, 10))
    with pytest.raises(ValueError, match=r"y_true.shape=\(8, 5\)"):
        losses.validate_targets(
            losses.resolve("categorical_crossentropy"), torch.zeros(8, 5), torch.zeros(8, 4)
        )
    with pytest.raises(ValueError, match=r"shape \(2,\).*received y_true.shape=\(2, 3\)"):
        losses.validate_targets(
            losses.SparseCategoricalCrossentropy(), torch.zeros(2, 3), torch.zeros(2, 4)
        )


def test_validate_targets_rejects_labels_outside_range():
    scce = losses.SparseCategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[0, 3\]"):
        losses.validate_targets(scce, torch.tensor([0.0, 3.0]), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"values in \[-1, 1\]"):
        losses.validate_targets(scce, torch.tensor([-1, 1]), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="non-integer"):
        losses.validate_targets(scce, torch.tensor([0.5, 1.0]), torch.zeros(2, 3))
    ignoring = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    losses.validate_targets(ignoring, torch.tensor([-1, 1]), torch.zeros(2, 3))
    torch_ce = losses.resolve(nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        losses.validate_targets(torch_ce, torch.tensor([[5]]), torch.zeros(1, 3))


def test_custom_function_can_opt_out_of_shape_check():
    def dummy_target_loss(y_true, y_pred):
        return torch.mean(y_pred, dim=-1)

    dummy_target_loss.targets = "any"
    losses.validate_targets(losses.resolve(dummy_target_loss), torch.zeros(4, 1), torch.zeros(4, 7))


@pytest.mark.parametrize(
    "module",
    [
        "base",
        "regression",
        "hinge",
        "probabilistic",
        "segmentation",
        "similarity",
        "torch_loss",
        "resolve",
    ],
)
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"fitorch.losses.{module}"))
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------- seed examples
def test_seed_vae_loss_with_objectives_and_backend():
    """Seed 004: `objectives.binary_crossentropy` + K ops in a custom loss, trained by autograd."""
    z_mean = torch.zeros(4, 2, requires_grad=True)
    z_log_sigma = torch.zeros(4, 2, requires_grad=True)

    def vae_loss(x, x_decoded_mean):
        xent_loss = objectives.binary_crossentropy(x, x_decoded_mean)
        kl_loss = -0.5 * K.mean(1 + z_log_sigma - K.square(z_mean) - K.exp(z_log_sigma), axis=-1)
        return xent_loss + kl_loss

    x = torch.rand(4, 6)
    decoded = torch.sigmoid(torch.randn(4, 6, requires_grad=True))
    value = losses.resolve(vae_loss)(x, decoded)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value)
    expected = losses.bce(x, decoded).mean()
    assert float(value.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    # The loss-layer form: flattened tensors give one scalar.
    flat = K.flatten(x)
    assert losses.binary_crossentropy(flat, K.flatten(decoded)).ndim == 0


def test_seed_keras2_formulas_written_with_K_equal_the_losses():
    """Seed 001 lists the Keras 2 definitions in terms of K; they agree with fitorch's losses."""
    rng = np.random.default_rng(5)
    yt, yp = torch.tensor(rng.uniform(size=(4, 3))), torch.tensor(rng.uniform(size=(4, 3)))
    keras2 = {
        "mean_squared_error": K.mean(K.square(yp - yt), axis=-1),
        "mean_absolute_percentage_error": 100.0
        * K.mean(K.abs((yt - yp) / K.clip(K.abs(yt), K.epsilon(), None)), axis=-1),
        "mean_squared_logarithmic_error": K.mean(
            K.square(
                K.log(K.clip(yp, K.epsilon(), None) + 1.0)
                - K.log(K.clip(yt, K.epsilon(), None) + 1.0)
            ),
            axis=-1,
        ),
        "squared_hinge": K.mean(K.square(K.maximum(1.0 - (2 * yt - 1) * yp, 0.0)), axis=-1),
        "binary_crossentropy": K.mean(K.binary_crossentropy(yt, yp), axis=-1),
        "kl_divergence": K.sum(
            K.clip(yt, K.epsilon(), 1)
            * K.log(K.clip(yt, K.epsilon(), 1) / K.clip(yp, K.epsilon(), 1)),
            axis=-1,
        ),
        "poisson": K.mean(yp - yt * K.log(yp + K.epsilon()), axis=-1),
        "cosine_proximity": -K.sum(
            K.l2_normalize(yt, axis=-1) * K.l2_normalize(yp, axis=-1), axis=-1
        ),
    }
    binary_yt = (yt > 0.5).double()
    keras2["squared_hinge"] = K.mean(K.square(K.maximum(1.0 - (2 * binary_yt - 1) * yp, 0.0)), -1)
    for name, expected in keras2.items():
        y_true = binary_yt if name == "squared_hinge" else yt
        torch.testing.assert_close(
            getattr(losses, name)(y_true, yp), expected, rtol=1e-6, atol=1e-9, msg=name
        )
