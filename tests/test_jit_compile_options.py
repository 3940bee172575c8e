"""The torch.compile options of the compiled step (training/jit.py `compile_options`);
tests/test_jit.py `test_inductor_step_equals_eager` compiles a step with them, and
`test_inductor_block_with_its_cpp_wrapper_equals_eager` a block of steps."""

import warnings

import numpy as np
import pytest
import torch._inductor.config as inductor_config
from torch._inductor import cpu_vec_isa

import fitorch
from fitorch import layers
from fitorch.training import jit


def test_only_inductor_gets_options():
    assert jit.compile_options("aot_eager") is None
    assert jit.compile_options("aot_eager", block=True) is None
    assert jit.compile_options("inductor") == {"cpp.vec_isa_ok": True, "size_asserts": False}
    # A block of steps_per_execution steps also launches its kernels from C++.
    assert jit.compile_options("inductor", block=True) == {
        "cpp.vec_isa_ok": True, "size_asserts": False, "cpp_wrapper": True,
    }  # fmt: skip


def test_options_are_inductor_settings():
    # torch.compile hands the options to inductor's config.patch: every key must exist there.
    with inductor_config.patch(jit.compile_options("inductor", block=True)):
        assert inductor_config.cpp.vec_isa_ok is True
        assert inductor_config.size_asserts is False
        assert inductor_config.cpp_wrapper is True
    assert inductor_config.cpp.vec_isa_ok is None
    assert inductor_config.size_asserts is True
    assert inductor_config.cpp_wrapper is False


def test_unchecked_simd_level_is_the_checked_one():
    # vec_isa_ok=True skips inductor's g++ test build; the SIMD level (and so the generated
    # kernels) must be the one the test build selects on this machine.
    # inductor caches the list of valid levels per process: clear it before each pick, so
    # each one makes its own choice.
    cpu_vec_isa.valid_vec_isa_list.cache_clear()
    with inductor_config.patch({"cpp.vec_isa_ok": None}):
        checked = cpu_vec_isa.pick_vec_isa()
    cpu_vec_isa.valid_vec_isa_list.cache_clear()
    with inductor_config.patch(jit.compile_options("inductor")):
        unchecked = cpu_vec_isa.pick_vec_isa()
    assert str(unchecked) == str(checked)
    assert checked.bit_width() == unchecked.bit_width()


@pytest.mark.slow
def test_inductor_block_with_its_cpp_wrapper_equals_eager():
    # Default backend (inductor): a block of 2 steps per call, compiled with cpp_wrapper.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")  # batch 8: two blocks, one single step
    y = x @ np.array([[0.5], [-1.0], [2.0]], dtype="float32")
    results = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        model = fitorch.Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(1)])
        model.compile(
            optimizer="adam", loss="mse", metrics=["mae"], steps_per_execution=2,
            jit_compile=flag,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # compiled: no fallback to eager
            history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
        results.append((model.get_weights(), history))
    (w_eager, h_eager), (w_compiled, h_compiled) = results
    for a, b in zip(w_eager, w_compiled):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for key in h_eager:
        np.testing.assert_allclose(h_compiled[key], h_eager[key], rtol=1e-5, atol=1e-6)


def _classifier(jit_compile):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [layers.Input((6,)), layers.Dense(16, activation="relu"), layers.Dense(3)]
    )
    loss = fitorch.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile("adam", loss, metrics=["accuracy"], jit_compile=jit_compile)
    return model


def test_inductor_with_these_options_trains_evaluates_and_predicts_as_eager():
    # The MLP workload's kind of model (Dense-relu, a narrow Dense(3) multiplied on its
    # transposed copy, logits, sparse crossentropy, accuracy) through inductor with
    # `compile_options`, a short last batch included (37 rows, batches of 8): no fallback to
    # eager, and the eager numbers for the losses, metrics, weights, evaluate and predict.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(37, 6)).astype("float32")
    y = rng.integers(0, 3, size=37)
    compiled = _classifier(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager warns
        history = compiled.fit(x, y, batch_size=8, epochs=2, verbose=0).history
        evaluated = compiled.evaluate(x, y, batch_size=8, verbose=0)
        predicted = compiled.predict(x, batch_size=8, verbose=0)
    eager = _classifier(False)  # seeded as `compiled` was: the same weights and shuffles
    want = eager.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    for key in want:
        np.testing.assert_allclose(history[key], want[key], rtol=1e-5, atol=1e-6)
    for got, ref in zip(compiled.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluated, eager.evaluate(x, y, batch_size=8, verbose=0), atol=1e-6)
    np.testing.assert_allclose(predicted, eager.predict(x, batch_size=8, verbose=0), atol=1e-5)
