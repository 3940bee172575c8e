"""A compiled step's runs: within one fit/evaluate/predict call, a repeated input signature
skips dynamo's guard evaluation; each run and each new signature evaluates the guards again
(so Python state changed in between is seen, as Keras retraces on a new input signature)."""

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


def test_guards_are_evaluated_once_per_signature_and_run(monkeypatch):
    skipped = []
    real = torch.compiler.set_stance

    def counting(*args, **kwargs):
        skipped.append(kwargs.get("skip_guard_eval_unsafe", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.compiler, "set_stance", counting)
    model, _ = _scaled_model(True)
    x = np.concatenate([X, X[:5]])  # batches 8, 8, 8, 8, 5
    y = np.concatenate([Y, Y[:5]])
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    # Run 1: the first batch is eager (it builds), batches 2-4 repeat the signature of batch
    # 2 (2 skip), the short batch is new; epoch 2 repeats both signatures (5 skip).
    assert skipped == [True] * 7
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert len(skipped) == 7 + 3  # a new run: each signature's first call has guards again
