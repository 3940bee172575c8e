"""compile(jit_compile=True): the step through torch.compile, compiled once, equal to eager.

Compilations are counted with dynamo's own counters (frames compiled, unique graphs); the
tests use the "aot_eager" backend (forward and backward traced, no code generation, so they
stay fast); one slow test uses the real default backend (inductor).
"""

import warnings

import numpy as np
import pytest
from _tracing import fresh_jit_dynamo
from torch._dynamo.utils import counters

import fitorch
from fitorch import layers
from fitorch.training import jit

X = np.random.default_rng(0).normal(size=(37, 4)).astype("float32")  # batches 8,8,8,8,5
Y = (X[:, 0] - X[:, 2] > 0).astype("float32")


_fresh_dynamo = pytest.fixture(autouse=True)(fresh_jit_dynamo)


def _model(jit_compile):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1, "sigmoid")]
    )
    model.compile("adam", "binary_crossentropy", metrics=["acc"], jit_compile=jit_compile)
    return model


def _compiled() -> int:
    """Frames dynamo compiled so far (each recompilation counts)."""
    assert counters["stats"]["unique_graphs"] == counters["frames"]["ok"]
    return counters["frames"]["ok"]


def test_fit_compiles_once_and_equals_eager():
    compiled = _model(True)
    h = compiled.fit(X, Y, batch_size=8, epochs=3, verbose=0)  # 15 steps, last batch 5 rows
    assert _compiled() == 1  # no recompilation per batch, epoch or short batch
    eager = _model(False)
    he = eager.fit(X, Y, batch_size=8, epochs=3, verbose=0)
    assert _compiled() == 1  # the eager model compiled nothing
    for key in he.history:
        np.testing.assert_allclose(h.history[key], he.history[key], atol=1e-6)
    for a, b in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_evaluate_and_predict_compile_once_each():
    model = _model(True)
    reference = _model(False)
    model.evaluate(X[:8], Y[:8], verbose=0)  # builds the metrics eagerly
    before = _compiled()
    got = model.evaluate(X, Y, batch_size=8, verbose=0)
    assert _compiled() == before + 1
    np.testing.assert_allclose(got, reference.evaluate(X, Y, batch_size=8, verbose=0), atol=1e-6)
    pred = model.predict(X, batch_size=8, verbose=0)
    assert _compiled() == before + 2
    np.testing.assert_allclose(pred, reference.predict(X, batch_size=8, verbose=0), atol=1e-6)


@pytest.mark.parametrize("flag", ["auto", False])
def test_auto_and_false_stay_eager(flag):
    _model(flag).fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert _compiled() == 0


def test_bad_jit_compile_value_fails_at_compile():
    model = fitorch.Sequential([layers.Input((4,)), layers.Dense(1)])
    with pytest.raises(
        ValueError, match=r"compile\(jit_compile=...\) must be True, False or 'auto'; got 'yes'"
    ):
        model.compile("sgd", "mse", jit_compile="yes")


def test_compiler_failure_falls_back_to_eager_with_one_warning():
    def broken_backend(graph_module, example_inputs):
        raise RuntimeError("no code generator here")

    jit.set_backend(broken_backend)
    compiled = _model(True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = compiled.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    messages = [str(w.message) for w in caught if "jit_compile" in str(w.message)]
    assert len(messages) == 1 and "continuing eagerly" in messages[0]
    he = _model(False).fit(X, Y, batch_size=8, epochs=2, verbose=0)
    np.testing.assert_allclose(h.history["loss"], he.history["loss"], atol=1e-7)


@pytest.mark.slow
def test_inductor_step_equals_eager():
    compiled = _model(True)  # default backend: inductor (C++ code generation on the CPU)
    h = compiled.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    he = _model(False).fit(X, Y, batch_size=8, epochs=2, verbose=0)
    np.testing.assert_allclose(h.history["loss"], he.history["loss"], atol=1e-5)


def test_compiled_step_under_a_mixed_policy_with_a_float32_layer():
    from fitorch import mixed_precision

    def run(flag):
        mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            fitorch.utils.set_random_seed(0)
            model = fitorch.Sequential(
                [layers.Input((4,)), layers.Dense(8, "tanh"), layers.Dense(1, dtype="float32")]
            )
            model.compile("sgd", "mse", jit_compile=flag)
            return model.fit(X, Y, batch_size=8, epochs=2, verbose=0).history["loss"]
        finally:
            mixed_precision.set_global_policy("float32")

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
        compiled = run(True)
    assert _compiled() == 1
    np.testing.assert_allclose(compiled, run(False), rtol=1e-3)
