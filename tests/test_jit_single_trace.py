"""jit_compile=True traces each step kind once: no thrown-away trace, no second graph.

A restarted analysis (dynamo tracing the step again after the backend rejected the first
trace, e.g. inductor's `TensorifyScalarRestartAnalysis`) shows as a second call of AOT
autograd for one graph: `counters["aot_autograd"]["total"]` counts those calls. The
"aot_eager" backend runs the same AOT passes as inductor without code generation.
"""

import threading

import numpy as np
import pytest
from _tracing import fresh_jit_dynamo
from torch._dynamo.utils import counters

import fitorch
from fitorch import layers, optimizers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(37, 4)).astype("float32")  # batch 8: 8, 8, 8, 8, 5
Y = (X[:, :1] - X[:, 2:3] > 0).astype("float32")

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_jit_dynamo)


def _mlp():
    return fitorch.Sequential(
        [layers.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(1, "sigmoid")]
    )


def _pair(optimizer):
    """Two models with the same weights: eager and jit_compile=True."""
    models = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        model = _mlp()
        model.compile(optimizer(), "binary_crossentropy", metrics=["mae"], jit_compile=flag)
        models.append(model)
    return models


def _assert_same(eager, compiled):
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=1e-5)
    assert int(compiled.optimizer.iterations) == int(eager.optimizer.iterations)


FLOAT_RATES = {
    "adam": lambda: optimizers.Adam(0.01),
    "adamw": lambda: optimizers.AdamW(0.01, weight_decay=0.1),  # the decay reads the rate
    "sgd_keras2_decay": lambda: optimizers.SGD(0.1, momentum=0.9, decay=0.05),
}


@pytest.mark.parametrize("name", sorted(FLOAT_RATES))
def test_the_training_step_is_traced_once_and_a_new_rate_between_fits_reuses_it(name):
    eager, compiled = _pair(FLOAT_RATES[name])
    kwargs = {"batch_size": 8, "epochs": 2, "verbose": 0, "shuffle": False}
    for rate in (None, 0.003):
        if rate is not None:
            eager.optimizer.learning_rate = compiled.optimizer.learning_rate = rate
        he, hc = eager.fit(X, Y, **kwargs), compiled.fit(X, Y, **kwargs)
        _assert_same(eager, compiled)
        np.testing.assert_allclose(hc.history["loss"], he.history["loss"], atol=1e-6)
    assert counters["aot_autograd"]["total"] == 1  # one trace handed to the backend
    assert counters["stats"]["unique_graphs"] == 1
    assert compiled.optimizer.learning_rate == 0.003


def test_a_schedule_is_traced_once_and_follows_the_iterations():
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    eager, compiled = _pair(lambda: optimizers.Adam(schedule))
    kwargs = {"batch_size": 8, "epochs": 3, "verbose": 0, "shuffle": False}
    eager.fit(X, Y, **kwargs)
    compiled.fit(X, Y, **kwargs)
    _assert_same(eager, compiled)
    assert counters["aot_autograd"]["total"] == 1
    assert counters["stats"]["unique_graphs"] == 1
    # 15 updates: the next rate is 0.1 * 0.5 ** (15 / 3)
    np.testing.assert_allclose(compiled.optimizer.current_learning_rate(), 0.1 * 0.5**5)


def test_predict_as_the_first_call_of_a_model_compiles_one_graph():
    eager, compiled = _pair(lambda: optimizers.Adam(0.01))
    outputs = []

    def predict_twice():  # a new thread: no layer has been called in it yet
        for rows in (37, 20):  # batches 8, 8, 8, 8, 5; then a second run
            outputs.append(compiled.predict(X[:rows], batch_size=8, verbose=0))

    thread = threading.Thread(target=predict_twice)
    thread.start()
    thread.join()
    assert counters["stats"]["unique_graphs"] == 1
    assert counters["aot_autograd"]["total"] == 1
    expected = eager.predict(X, batch_size=8, verbose=0)
    np.testing.assert_allclose(outputs[0], expected, atol=1e-6)
    np.testing.assert_allclose(outputs[1], expected[:20], atol=1e-6)
    w1, b1, w2, b2 = compiled.get_weights()  # the closed form of the model
    hidden = np.maximum(X @ w1 + b1, 0.0)
    np.testing.assert_allclose(expected, 1 / (1 + np.exp(-(hidden @ w2 + b2))), atol=1e-6)
