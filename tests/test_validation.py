"""training/validation.py: bad fit/evaluate/predict input fails before the first step,
naming the argument and the first bad sample; weights and optimizer iterations unchanged."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers

N = 20


def _model(loss="sparse_categorical_crossentropy", units=3, built=True):
    fitorch.utils.set_random_seed(0)
    stack = [layers.Dense(units)]
    model = fitorch.Sequential(([fitorch.Input((4,))] if built else []) + stack)
    model.compile(fitorch.optimizers.Adam(0.01), loss)
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.random((N, 4), dtype=np.float32), np.arange(N) % 3


def _weights(model):
    return [w.detach().clone() for w in model.parameters()]


def _assert_refused(model, call, match):
    """`call(model)` raises ValueError matching `match`; no weight or step changed."""
    before = _weights(model)
    with pytest.raises(ValueError, match=match):
        call(model)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model)))
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps_per_epoch": 2.5}, r"`steps_per_epoch`.*positive integer.*steps_per_epoch=2\.5"),
        ({"steps_per_epoch": 0}, r"`steps_per_epoch`.*steps_per_epoch=0"),
        ({"steps_per_epoch": -2}, r"`steps_per_epoch`.*steps_per_epoch=-2"),
        ({"steps_per_epoch": True}, r"`steps_per_epoch`.*steps_per_epoch=True"),
        ({"validation_steps": 0, "validation_split": 0.2}, r"`validation_steps`.*=0"),
        ({"validation_freq": 0, "validation_split": 0.2}, r"`validation_freq`.*=0"),
        ({"validation_freq": [1, 0], "validation_split": 0.2}, r"`validation_freq`"),
        ({"class_weight": {0: -1.0, 1: 1.0}}, r"class_weight\[0\].*finite weight >= 0.*-1\.0"),
        ({"class_weight": {1: float("nan")}}, r"class_weight\[1\].*nan"),
        ({"class_weight": {2: float("inf")}}, r"class_weight\[2\].*inf"),
        ({"class_weight": {0: 1.0, 1: 1.0, 2: 1.0, 7: 2.0}}, r"class_weight.*7"),
    ],
)
def test_bad_fit_arguments_fail_before_the_first_step(kwargs, match):
    x, y = _data()
    _assert_refused(_model(), lambda m: m.fit(x, y, epochs=2, verbose=0, **kwargs), match)


def test_valid_arguments_still_train():
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=5, epochs=2, steps_per_epoch=2, verbose=0,
              class_weight={0: 0.0, 1: 1.0, 2: 2.0}, validation_split=0.25,
              validation_freq=[2], validation_steps=1)  # fmt: skip
    # 15 training rows = 3 batches: the second epoch ends with the pass (Keras 3)
    assert int(model.optimizer.iterations) == 3


@pytest.mark.parametrize(
    "where, value, match",
    [
        ("x", np.nan, r"fit: `x` holds a non-finite value \(nan\) at sample 13"),
        ("x", np.inf, r"fit: `x` holds a non-finite value \(inf\) at sample 13"),
        ("sample_weight", np.nan, r"fit: `sample_weight` holds a non-finite value .* sample 13"),
    ],
)
def test_non_finite_arrays_name_the_argument_and_sample(where, value, match):
    x, y = _data()
    sw = np.ones(N, np.float32)
    (x if where == "x" else sw)[13, ...] = value
    _assert_refused(_model(), lambda m: m.fit(x, y, sample_weight=sw, verbose=0), match)


def test_non_finite_dense_targets():
    x, _ = _data()
    y = np.zeros((N, 1), np.float32)
    y[7, 0] = -np.inf
    match = r"fit: `y` holds a non-finite value \(-inf\) at sample 7"
    _assert_refused(_model("mse", 1), lambda m: m.fit(x, y, verbose=0), match)


@pytest.mark.parametrize("label", [11, -1, 1.5, 3])
def test_sparse_labels_checked_over_the_whole_array(label):
    # The bad label sits in the last batch: the first-batch check alone would miss it.
    x, y = _data()
    y = y.astype(np.float32 if label == 1.5 else np.int64)
    y[17] = label
    match = rf"fit: `y` holds {label!r} at sample 17.*integers in \[0, 3\)"
    _assert_refused(_model(), lambda m: m.fit(x, y, batch_size=4, verbose=0), match)


def test_sparse_labels_of_a_lazy_model_lower_bound_and_integers():
    # The class count is unknown before the first call: negative and fractional labels are
    # still refused up front.
    x, y = _data()
    y = y.astype(np.float32)
    y[19] = 0.5
    match = r"fit: `y` holds 0\.5 at sample 19.*integers >= 0"
    with pytest.raises(ValueError, match=match):
        _model(built=False).fit(x, y, verbose=0)


def test_ignore_class_labels_are_allowed():
    x, y = _data()
    y[5] = -1
    model = _model(fitorch.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    model.fit(x, y, verbose=0)
    assert int(model.optimizer.iterations) == 1


def test_binary_crossentropy_targets_in_unit_interval():
    x, y = _data()
    y = (y % 2).astype(np.float32)
    y[4] = 2.0
    match = r"fit: `y` holds 2\.0 at sample 4; the loss 'binary_crossentropy' needs .*\[0, 1\]"
    _assert_refused(_model("binary_crossentropy", 1), lambda m: m.fit(x, y, verbose=0), match)


def test_validation_data_is_checked_before_training():
    x, y = _data()
    vy = y.copy()
    vy[2] = 5
    match = r"fit\(validation_data\): `y` holds 5 at sample 2"
    _assert_refused(_model(), lambda m: m.fit(x, y, validation_data=(x, vy), verbose=0), match)


def test_multi_output_names_the_output():
    inp = fitorch.Input((4,))
    model = fitorch.Model(
        inp, {"a": layers.Dense(3, name="a")(inp), "b": layers.Dense(1, name="b")(inp)}
    )
    model.compile("adam", {"a": "sparse_categorical_crossentropy", "b": "mse"})
    x, y = _data()
    yb = np.zeros((N, 1), np.float32)
    bad = y.copy()
    bad[9] = 4
    match = r"`y\['a'\]` holds 4 at sample 9"
    _assert_refused(model, lambda m: m.fit(x, {"a": bad, "b": yb}, verbose=0), match)


def test_evaluate_and_predict_check_their_arrays():
    x, y = _data()
    x[3, 1] = np.nan
    model = _model()
    with pytest.raises(
        ValueError, match=r"evaluate: `x` holds a non-finite value \(nan\) at sample 3"
    ):
        model.evaluate(x, y, verbose=0)
    with pytest.raises(
        ValueError, match=r"predict: `x` holds a non-finite value \(nan\) at sample 3"
    ):
        model.predict(x, verbose=0)
    with pytest.raises(ValueError, match=r"`steps` must be None or a positive integer.*steps=0"):
        model.predict(x[:3], steps=0, verbose=0)


def test_dict_inputs_name_the_key():
    a, b = fitorch.Input((2,), name="a"), fitorch.Input((2,), name="b")
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = fitorch.Model([a, b], out)
    model.compile("sgd", "mse")
    xa, xb = np.zeros((N, 2), np.float32), np.zeros((N, 2), np.float32)
    xb[11, 0] = np.nan
    match = r"`x\['b'\]` holds a non-finite value \(nan\) at sample 11"
    _assert_refused(model, lambda m: m.fit({"a": xa, "b": xb}, np.zeros((N, 1)), verbose=0), match)


def test_validation_data_shapes_must_match_the_training_data():
    x, y = _data()
    wide = np.zeros((6, 5), np.float32)
    match = (
        r"fit\(validation_data\): `x` has samples of shape \(5,\), the training `x` of shape \(4,\)"
    )
    _assert_refused(
        _model(), lambda m: m.fit(x, y, validation_data=(wide, y[:6]), verbose=0), match
    )
    model = _model()  # (N,) and (N, 1) labels agree
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x[:6], y[:6, None]))
    assert int(model.optimizer.iterations) == 1


@pytest.mark.parametrize("loss_weights", ["heavy", [float("nan")], {"dense": "x"}])
def test_bad_loss_weights_name_the_argument(loss_weights):
    model = fitorch.Sequential([fitorch.Input((4,)), layers.Dense(3, name="dense")])
    with pytest.raises(
        ValueError,
        match=r"compile\(loss_weights=\.\.\.\) must be a finite number.*Received: loss_weights=",
    ):
        model.compile("adam", "mse", loss_weights=loss_weights)
    model.compile("adam", "mse", loss_weights={"dense": 0.5})
    assert model.trainer.loss.weights == [0.5]
