"""The public training API: Keras 3 signatures, keyword checks, execution options, params.

Signatures are compared with Keras 3's own `keras.Model` (the oracle); the execution options
are tested for their effect: which batch hooks run, whether the step ran compiled.
"""

import inspect

import numpy as np
import pytest
import torch

import fitorch
from fitorch import callbacks, layers

keras = pytest.importorskip("keras")

X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")  # 5 batches of 8
Y = (X[:, 0] > 0).astype("float32")


def _model(**compile_args):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [layers.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(1, "sigmoid")]
    )
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"], **compile_args)
    return model


@pytest.mark.parametrize(
    "method",
    ["compile", "fit", "evaluate", "predict", "train_on_batch", "test_on_batch",
     "predict_on_batch", "summary"],
)  # fmt: skip
def test_signatures_start_with_keras_parameters(method):
    ours = list(inspect.signature(getattr(fitorch.Model, method)).parameters)
    theirs = [p for p in inspect.signature(getattr(keras.Model, method)).parameters]
    theirs = [p for p in theirs if p != "kwargs"]
    assert ours[: len(theirs)] == theirs
    doc = getattr(fitorch.Model, method).__doc__
    for name in theirs[1:]:
        assert name in doc, f"{method} docstring does not describe {name!r}"


@pytest.mark.parametrize(
    ("call", "wrong", "meant"),
    [
        (lambda m, kw: m.compile("sgd", "mse", **kw), "metric", "metrics"),
        (lambda m, kw: m.fit(X, Y, verbose=0, **kw), "epoch", "epochs"),
        (lambda m, kw: m.evaluate(X, Y, verbose=0, **kw), "batchsize", "batch_size"),
        (lambda m, kw: m.predict(X, verbose=0, **kw), "step", "steps"),
        (lambda m, kw: m.train_on_batch(X, Y, **kw), "sample_weights", "sample_weight"),
        (lambda m, kw: m.test_on_batch(X, Y, **kw), "return_dic", "return_dict"),
    ],
)
def test_unknown_keyword_raises_type_error_with_suggestion(call, wrong, meant):
    model = _model()
    with pytest.raises(
        TypeError, match=rf"unexpected keyword argument '{wrong}'\. Did you mean '{meant}'\?"
    ):
        call(model, {wrong: 1})


class _Hooks(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begins, self.ends = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(batch)


def test_steps_per_execution_calls_batch_hooks_once_per_execution():
    hooks = _Hooks()
    model = _model(steps_per_execution=2)
    history = model.fit(X, Y, batch_size=8, epochs=1, verbose=0, callbacks=[hooks])
    # 5 batches in executions of 2: begin at 0, 2, 4; end at 1, 3 and 5 (Keras's indices).
    assert hooks.begins == [0, 2, 4]
    assert hooks.ends == [1, 3, 5]
    reference = _model()
    expected = reference.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-6)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_steps_per_execution_must_be_a_positive_integer():
    with pytest.raises(
        ValueError, match=r"steps_per_execution=...\) must be a positive integer; got 0"
    ):
        _model(steps_per_execution=0)


class _RecordsCompiling(layers.Layer):
    """Identity that records, per call, whether it ran inside torch.compile."""

    def __init__(self):
        super().__init__()
        self.compiling = []

    def call(self, x):
        self.compiling.append(torch.compiler.is_compiling())
        return x


def _recording_model(**compile_args):
    fitorch.utils.set_random_seed(0)
    recorder = _RecordsCompiling()
    model = fitorch.Sequential([layers.Input((4,)), recorder, layers.Dense(1, "sigmoid")])
    model.compile("sgd", "binary_crossentropy", **compile_args)
    return model, recorder


def test_run_eagerly_runs_every_step_eagerly_even_with_jit_compile():
    from fitorch.training import jit

    jit.set_backend("aot_eager")
    try:
        with pytest.warns(UserWarning, match="run_eagerly=True.*jit_compile=True is ignored"):
            model, recorder = _recording_model(run_eagerly=True, jit_compile=True)
        recorder.compiling.clear()  # building the Sequential called it symbolically
        model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
        assert recorder.compiling == [False] * 5  # every step ran the Python code eagerly
        compiled, compiled_recorder = _recording_model(jit_compile=True)
        compiled.fit(X, Y, batch_size=8, epochs=1, verbose=0)
        assert True in compiled_recorder.compiling  # the contrast: jit traced the forward
    finally:
        jit.set_backend("inductor")
        torch._dynamo.reset()


class _ReadsParams(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.metrics = list(self.params["metrics"])
        self.logged = sorted(logs)


def test_params_metrics_lists_training_and_validation_keys():
    reader = _ReadsParams()
    model = _model()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0, validation_split=0.25, callbacks=[reader])
    assert reader.metrics == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert sorted(reader.metrics) == reader.logged


def test_trainer_exposes_the_run_position():
    seen = []

    class Position(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            state = self.model.trainer
            seen.append((state.epoch, state.step, state.callbacks is not None))

    model = _model()
    model.fit(X[:16], Y[:16], batch_size=8, epochs=2, verbose=0, callbacks=[Position()])
    assert seen == [(0, 0, True), (0, 1, True), (1, 0, True), (1, 1, True)]
    assert model.trainer.callbacks is None  # only during fit


def test_keras2_positional_metrics_are_taken_as_metrics():
    model = fitorch.Sequential([layers.Input((4,)), layers.Dense(1, "sigmoid")])
    model.compile("sgd", "binary_crossentropy", ["accuracy"])  # Keras 2's third positional
    logs = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]
    model.compile("sgd", "binary_crossentropy", [2.0])  # Keras 3's third: loss_weights
    single = fitorch.Sequential([layers.Input((4,)), layers.Dense(1, "sigmoid")])
    single.set_weights(model.get_weights())
    single.compile("sgd", "binary_crossentropy")
    weighted = model.evaluate(X, Y, verbose=0)
    assert weighted == pytest.approx(2.0 * single.evaluate(X, Y, verbose=0), rel=1e-6)


def test_compile_state_attributes_read_as_keras():
    def build(lib):
        return lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])

    ours, theirs = build(fitorch), build(keras)
    assert ours.compiled is theirs.compiled is False and ours.loss is theirs.loss is None
    for model in (ours, theirs):
        model.compile("adam", "mse", steps_per_execution=2, jit_compile=False)
    for name in ("compiled", "loss", "run_eagerly", "jit_compile", "steps_per_execution"):
        assert getattr(ours, name) == getattr(theirs, name), name
    ours.jit_compile = True
    ours.run_eagerly = True  # turns jit off, as compile(run_eagerly=True) does
    assert ours.run_eagerly is True and ours.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile=True needs model.run_eagerly=False"):
        ours.jit_compile = True
    with pytest.raises(ValueError, match="must be True, False or 'auto'"):
        ours.jit_compile = "yes"
    ours.loss = "mae"  # a record only: the compiled loss is still mse
    x, y = np.zeros((4, 2), "float32"), np.full((4, 1), 2.0, "float32")
    ours.set_weights([np.zeros((2, 1), "float32"), np.zeros(1, "float32")])
    assert ours.loss == "mae" and ours.evaluate(x, y, verbose=0) == pytest.approx(4.0)
    early = build(fitorch)
    early.run_eagerly = True  # before compile: compile's own argument decides (Keras)
    early.compile("sgd", "mse")
    assert early.run_eagerly is False


def test_compile_state_attributes_as_keras_reads_them():
    fresh = fitorch.Sequential([layers.Dense(1, input_dim=1)])
    assert (fresh.compiled, fresh.run_eagerly, fresh.jit_compile) == (False, False, False)
    assert fresh.steps_per_execution == 1
    fresh.compile("sgd", "mse", jit_compile=True, steps_per_execution=2)
    assert (fresh.compiled, fresh.run_eagerly, fresh.jit_compile) == (True, False, True)
    assert fresh.steps_per_execution == 2
    fresh.run_eagerly = True  # the Keras debugging switch: eager steps from now on
    assert fresh.run_eagerly and not fresh.jit_compile
