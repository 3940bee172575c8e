"""A compiled step's runs: within one fit/evaluate/predict call, a repeated input signature
skips dynamo's guard evaluation; each run and each new signature evaluates the guards again
(so Python state changed in between is seen, as Keras retraces on a new input signature)."""

import sys
import warnings

import numpy as np
import pytest
import torch
from _tracing import fresh_jit_dynamo

import fitorch
from fitorch import callbacks, layers
from fitorch.optimizers.base import UpdatePlan
from fitorch.training import jit

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_jit_dynamo)

RNG = np.random.default_rng(1)
X = RNG.normal(size=(32, 3)).astype("float32")  # batch 8: four equal batches
Y = X @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")


def test_signature_tells_apart_what_a_graph_depends_on():
    x = torch.ones(4, 3)
    base = jit.signature([x, None, True, {"a": 1}])
    assert jit.signature([torch.zeros(4, 3), None, True, {"a": 1}]) == base  # values differ
    different = [
        [torch.ones(5, 3), None, True, {"a": 1}],  # shape
        [torch.ones(4, 3, dtype=torch.float64), None, True, {"a": 1}],  # dtype
        [torch.ones(3, 4).t(), None, True, {"a": 1}],  # strides
        [torch.ones(4, 3, requires_grad=True), None, True, {"a": 1}],  # requires_grad
        [x, x, True, {"a": 1}],  # None -> tensor
        [x, None, False, {"a": 1}],  # a Python flag
        [x, None, True, {"b": 1}],  # dict keys
        [x, None, True, {"a": 2}],  # a Python int
    ]
    assert all(jit.signature(args) != base for args in different)
    with torch.no_grad():
        assert jit.signature([x, None, True, {"a": 1}]) != base  # grad mode
    # An optimizer plan counts by its flags and group sizes; its parameters are the run's.
    p, q = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(7))
    plan = UpdatePlan(True, False, None, ((p,),), (None,))
    assert jit.signature([plan, x]) == jit.signature([plan._replace(parameters=((q,),)), x])
    assert jit.signature([plan, x]) != jit.signature([plan._replace(update_now=False), x])
    assert jit.signature([plan, x]) != jit.signature([plan._replace(parameters=((p, q),)), x])


class _Scale(layers.Layer):
    """Multiplies by a Python float read at tracing time."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


class _SetFactor(callbacks.Callback):
    def __init__(self, layer, at_batch, value):
        super().__init__()
        self.layer, self.at_batch, self.value = layer, at_batch, value

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at_batch:
            self.layer.factor = self.value


def _scaled_model(jit_compile):
    fitorch.utils.set_random_seed(0)
    scale = _Scale()
    model = fitorch.Sequential([layers.Input((3,)), layers.Dense(1), scale])
    model.compile(optimizer=fitorch.optimizers.SGD(0.1), loss="mse", jit_compile=jit_compile)
    return model, scale


def test_python_state_is_read_at_tracing_for_the_run_and_again_by_the_next_run():
    compiled, scale = _scaled_model(True)
    compiled.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # traced, factor 1
    # A change within the run (same signature) is not seen until the next run.
    cb = _SetFactor(scale, at_batch=0, value=0.0)
    compiled.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    reference, _ = _scaled_model(False)  # factor 1 throughout both epochs
    reference.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(reference.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    # The next run evaluates the guards: the factor 0 is seen (the outputs are zero).
    np.testing.assert_array_equal(compiled.predict(X, batch_size=8, verbose=0), 0.0)


def _step_code_runs(fit):
    """How many times the training step's Python code (`_train_body`, as dynamo's compiled
    version of it) ran during `fit()`: a call made directly to the graph runs none of it."""
    runs = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "_train_body":
            runs.append(frame.f_code)

    sys.setprofile(profile)
    try:
        fit()
    finally:
        sys.setprofile(None)
    return len(runs)


def test_guards_are_evaluated_once_per_signature_and_run():
    model, _ = _scaled_model(True)
    x = np.concatenate([X, X[:5]])  # batches 8, 8, 8, 8, 5
    y = np.concatenate([Y, Y[:5]])
    kwargs = {"batch_size": 8, "shuffle": False, "verbose": 0}
    # Run 1: the first batch is eager and builds (no `_train_body`), batch 2 evaluates the
    # guards, batches 3-4 repeat its signature (direct calls), the short batch is new;
    # epoch 2 repeats both signatures.
    assert _step_code_runs(lambda: model.fit(x, y, epochs=2, **kwargs)) == 2
    # A new run: each signature's first call evaluates the guards again.
    assert _step_code_runs(lambda: model.fit(x, y, epochs=1, **kwargs)) == 2


def _adam_pair():
    models = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        model = fitorch.Sequential(
            [layers.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)]
        )
        model.compile(
            optimizer=fitorch.optimizers.Adam(0.05), loss="mse", metrics=["mae"],
            jit_compile=flag,
        )  # fmt: skip
        models.append(model)
    return models


def _assert_trained_alike(eager, compiled, h_eager, h_compiled):
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    slots_e = eager.optimizer.state_dict()["state"]
    slots_c = compiled.optimizer.state_dict()["state"]
    assert slots_c.keys() == slots_e.keys()
    for key in slots_e:
        for name, value in slots_e[key].items():
            np.testing.assert_allclose(slots_c[key][name], value, rtol=1e-5, atol=1e-7)
    assert int(compiled.optimizer.iterations) == int(eager.optimizer.iterations)
    assert h_compiled.history.keys() == h_eager.history.keys()
    for key, values in h_eager.history.items():
        np.testing.assert_allclose(h_compiled.history[key], values, rtol=1e-5, atol=1e-6)


def test_direct_calls_train_as_eager_and_see_the_learning_rate_and_trainable():
    eager, compiled = _adam_pair()
    x, y = np.concatenate([X] * 3), np.concatenate([Y] * 3)  # 96 rows: 12 batches of 8
    # Within a run the learning rate changes each epoch (a tensor input of the graph).
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 / (epoch + 1))
    kwargs = {"batch_size": 8, "shuffle": False, "verbose": 0, "validation_data": (X, Y)}
    runs = []
    for model in (eager, compiled):
        first = model.fit(x, y, epochs=3, callbacks=[schedule], **kwargs)
        model.layers[0].trainable = False  # between runs: the next run sees it
        frozen = model.layers[0].get_weights()
        second = model.fit(x, y, epochs=2, **kwargs)
        runs.append((first, second, frozen))
    (e1, e2, frozen_e), (c1, c2, frozen_c) = runs
    np.testing.assert_allclose(c1.history["learning_rate"], [0.05, 0.025, 0.05 / 3], rtol=1e-6)
    _assert_trained_alike(eager, compiled, e1, c1)
    _assert_trained_alike(eager, compiled, e2, c2)
    for before, after in zip(frozen_c, compiled.layers[0].get_weights()):
        np.testing.assert_array_equal(after, before)
    np.testing.assert_allclose(frozen_c[0], frozen_e[0], rtol=1e-5, atol=1e-6)


_HOST_CALLS = []


@torch._dynamo.disable
def _count_host_call(x):
    _HOST_CALLS.append(x.shape[0])


def _host_counting_mse(y_true, y_pred):
    """The mean squared error, calling Python that dynamo does not trace (a graph break)."""
    _count_host_call(y_pred)
    return (y_pred - y_true).square().mean(-1)


def test_a_graph_break_in_the_step_runs_its_python_on_every_step():
    _HOST_CALLS.clear()
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss=_host_counting_mse, jit_compile=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # compiled, no fallback to eager
        model.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert _HOST_CALLS == [8] * 12  # each of the 3 x 4 steps: none skips it
