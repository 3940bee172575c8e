"""jit_compile=True compiles the whole training step: same numbers as eager, no recompiles.

The compiled and the eager model start from the same weights and see the same batches
(shuffle=False); weights, optimizer state, iterations and logs must agree. Graphs are counted
with dynamo's counters; the "aot_eager" backend keeps the tests fast (it traces forward and
backward like inductor, without code generation).
"""

import warnings

import numpy as np
import pytest
import torch
import torch._dynamo
from _tracing import fresh_jit_dynamo
from torch._dynamo.utils import counters

import fitorch
from fitorch import callbacks, constraints, layers, optimizers, regularizers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(37, 4)).astype("float32")  # batch 8: 8, 8, 8, 8, 5
Y = (X[:, :1] - X[:, 2:3] > 0).astype("float32")


_fresh_dynamo = pytest.fixture(autouse=True)(fresh_jit_dynamo)


def _graphs() -> int:
    """Graphs dynamo compiled so far (every recompilation counts, graph breaks too)."""
    return counters["stats"]["unique_graphs"]


def _pair(build, compile_args):
    """Two models with the same weights, compiled eagerly and with jit_compile=True."""
    models = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        model = build()
        model.compile(jit_compile=flag, **compile_args())
        models.append(model)
    return models


def _assert_same(eager, compiled, h_eager=None, h_compiled=None, atol=1e-6):
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(b, a, atol=atol, rtol=1e-5)
    assert int(compiled.optimizer.iterations) == int(eager.optimizer.iterations)
    if h_eager is not None:
        assert h_compiled.history.keys() == h_eager.history.keys()
        for key in h_eager.history:
            np.testing.assert_allclose(h_compiled.history[key], h_eager.history[key], atol=atol)


def _mlp():
    return fitorch.Sequential(
        [layers.Input((4,)), layers.Dense(6, activation="relu"), layers.Dense(1, "sigmoid")]
    )


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adadelta": lambda: optimizers.Adadelta(1.0),
    "adam": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01, weight_decay=0.1),
    "adamax": lambda: optimizers.Adamax(0.01),
    "nadam": lambda: optimizers.Nadam(0.01),
    "ftrl": lambda: optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
    "lion": lambda: optimizers.Lion(0.001),
    "lamb": lambda: optimizers.Lamb(0.01),
    "adafactor": lambda: optimizers.Adafactor(0.01),
    "clipped_adam": lambda: optimizers.Adam(0.01, global_clipnorm=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_trains_as_eager_in_one_graph(name):
    eager, compiled = _pair(
        _mlp,
        lambda: {
            "optimizer": OPTIMIZERS[name](),
            "loss": "binary_crossentropy",
            "metrics": ["accuracy", "mae"],
        },  # fmt: skip
    )
    kwargs = {"batch_size": 8, "epochs": 3, "verbose": 0, "shuffle": False}
    he, hc = eager.fit(X, Y, **kwargs), compiled.fit(X, Y, **kwargs)
    assert _graphs() == 1  # 14 compiled steps (the first is eager), short batch included
    _assert_same(eager, compiled, he, hc)
    opt_e, opt_c = eager.optimizer.state_dict(), compiled.optimizer.state_dict()
    for key, slots in opt_e["state"].items():
        for slot, value in slots.items():
            torch.testing.assert_close(opt_c["state"][key][slot], value, atol=1e-6, rtol=1e-5)


def test_cnn_with_batch_normalization_dropout_regularizers_and_constraints():
    images = RNG.normal(size=(20, 6, 6, 2)).astype("float32")
    labels = RNG.integers(0, 3, size=20)

    def build():
        return fitorch.Sequential([
            layers.Input((6, 6, 2)),
            # No bias before the batch norm: its gradient is 0 up to rounding, which Adam's
            # m / sqrt(v) scales up to full steps, so it would compare rounding noise.
            layers.Conv2D(4, 3, use_bias=False, kernel_regularizer=regularizers.L2(0.01)),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(3, kernel_constraint=constraints.MaxNorm(0.5),
                         activity_regularizer=regularizers.L1(0.001)),
        ])  # fmt: skip

    eager, compiled = _pair(
        build,
        lambda: {"optimizer": "adam", "metrics": ["accuracy"],
                 "loss": fitorch.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )  # fmt: skip
    kwargs = {"batch_size": 6, "epochs": 2, "verbose": 0, "shuffle": False}
    fitorch.utils.set_random_seed(1)  # the same dropout masks in both runs
    he = eager.fit(images, labels, **kwargs)
    fitorch.utils.set_random_seed(1)
    hc = compiled.fit(images, labels, **kwargs)
    assert _graphs() == 1
    _assert_same(eager, compiled, he, hc, atol=1e-5)
    bn_e, bn_c = eager.layers[1], compiled.layers[1]
    torch.testing.assert_close(bn_c.moving_variance, bn_e.moving_variance)
    assert float(compiled.layers[-1].kernel.norm(dim=0).max()) <= 0.5 + 1e-6


def test_weighted_multi_output_model_with_add_loss():
    def build_fresh():
        # Built anew for each model: the eager and the compiled one share no layer.
        i = fitorch.Input((4,))
        h = layers.Dense(5, activation="tanh")(i)
        model = fitorch.Model(i, [layers.Dense(1, name="a")(h),
                                  layers.Dense(2, activation="softmax", name="b")(h)])  # fmt: skip
        model.add_loss(0.01 * fitorch.ops.sum(fitorch.ops.square(h)))
        return model

    eager, compiled = _pair(
        build_fresh,
        lambda: {"optimizer": "rmsprop", "loss": ["mse", "sparse_categorical_crossentropy"],
                 "loss_weights": [0.3, 2.0], "metrics": [["mae"], ["accuracy"]]},
    )  # fmt: skip
    targets = [X[:, :1] * 2, (X[:, 1] > 0).astype("int64")]
    weights = RNG.uniform(0.5, 2.0, size=37).astype("float32")
    kwargs = {"batch_size": 8, "epochs": 2, "verbose": 0, "shuffle": False}
    he = eager.fit(X, targets, sample_weight=weights, **kwargs)
    hc = compiled.fit(X, targets, sample_weight=weights, **kwargs)
    assert _graphs() == 1
    _assert_same(eager, compiled, he, hc, atol=1e-5)


def test_class_weight_and_learning_rate_callbacks_do_not_recompile():
    eager, compiled = _pair(_mlp, lambda: {"optimizer": optimizers.SGD(0.5), "loss": "bce"})

    def schedule(epoch, lr):
        return lr * 0.5

    def run(model):
        return model.fit(
            X, Y, batch_size=8, epochs=4, verbose=0, shuffle=False, class_weight={0: 1.0, 1: 3.0},
            callbacks=[callbacks.LearningRateScheduler(schedule)],
        )  # fmt: skip

    he, hc = run(eager), run(compiled)
    assert _graphs() == 1  # the learning rate is a tensor input of the graph
    _assert_same(eager, compiled, he, hc)
    np.testing.assert_allclose(hc.history["learning_rate"], [0.25, 0.125, 0.0625, 0.03125])


def test_validation_evaluate_predict_and_a_second_fit_reuse_the_graphs():
    model = _mlp()
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], jit_compile=True)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, validation_data=(X[:13], Y[:13]))
    warm = _graphs()
    assert warm == 2  # the training step and the test step (validation)
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, validation_data=(X[:11], Y[:11]))
    model.evaluate(X, Y, batch_size=16, verbose=0)
    assert _graphs() == warm
    model.predict(X, batch_size=8, verbose=0)
    model.predict(X[:20], batch_size=16, verbose=0)
    assert _graphs() == warm + 1  # the predict step, once


def test_gradient_accumulation_and_ema_phases_equal_eager():
    def opt():
        return optimizers.Adam(
            0.05, gradient_accumulation_steps=2, use_ema=True, ema_overwrite_frequency=3
        )

    eager, compiled = _pair(_mlp, lambda: {"optimizer": opt(), "loss": "mse"})
    kwargs = {"batch_size": 8, "epochs": 3, "verbose": 0, "shuffle": False}
    he, hc = eager.fit(X, Y, **kwargs), compiled.fit(X, Y, **kwargs)
    _assert_same(eager, compiled, he, hc)
    assert _graphs() <= 4  # one graph per (update now, overwrite EMA) phase at most


@pytest.mark.parametrize("per_execution", [3, 5])
def test_steps_per_execution_runs_blocks_with_the_same_numbers(per_execution):
    eager, compiled = _pair(
        _mlp,
        lambda: {"optimizer": "adam", "loss": "bce", "metrics": ["accuracy"],
                 "steps_per_execution": per_execution},
    )  # fmt: skip
    seen = []
    hook = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    x, y = np.concatenate([X] * 2), np.concatenate([Y] * 2)  # 74 rows: 10 batches
    kwargs = {"batch_size": 8, "epochs": 2, "verbose": 0, "shuffle": False}
    he = eager.fit(x, y, **kwargs)
    hc = compiled.fit(x, y, callbacks=[hook], **kwargs)
    _assert_same(eager, compiled, he, hc)
    ends = list(range(per_execution - 1, 10 + per_execution - 1, per_execution))
    assert seen == ends * 2  # Keras's indices, a short last execution included
    assert _graphs() <= 3  # the block, and single steps for a short last execution


def test_a_graph_breaking_layer_trains_split_as_eager_without_falling_back():
    class HostReading(layers.Layer):
        def call(self, inputs):  # no `training` argument
            scale = float(inputs.detach().abs().mean().cpu()) > -1.0  # host read: graph break
            return inputs * scale

    def build():
        return fitorch.Sequential([layers.Input((4,)), HostReading(), layers.Dense(1)])

    eager, compiled = _pair(build, lambda: {"optimizer": "sgd", "loss": "mse"})
    kwargs = {"batch_size": 8, "epochs": 2, "verbose": 0, "shuffle": False,
              "validation_split": 0.2}  # fmt: skip
    with warnings.catch_warnings():
        # Dynamo splits the step at the break (inside forward_loss's context managers, so
        # each layer's call compiles apart); no step falls back to eager.
        warnings.simplefilter("error", RuntimeWarning)
        hc = compiled.fit(X, Y, **kwargs)
        compiled_eval = compiled.evaluate(X, Y, batch_size=8, verbose=0)
    he = eager.fit(X, Y, **kwargs)
    _assert_same(eager, compiled, he, hc)
    np.testing.assert_allclose(compiled_eval, eager.evaluate(X, Y, batch_size=8, verbose=0),
                               rtol=1e-6)  # fmt: skip


def test_shuffled_dict_inputs_with_sample_weights_train_in_blocks_as_eager():
    def build():
        a, b = layers.Input((3,), name="a"), layers.Input((1,), name="b")
        out = layers.Dense(1)(layers.Concatenate()([layers.Dense(4, "relu")(a), b]))
        return fitorch.Model({"a": a, "b": b}, out)

    eager, compiled = _pair(
        build, lambda: {"optimizer": "adam", "loss": "mse", "metrics": ["mae"],
                        "steps_per_execution": 4}
    )  # fmt: skip
    x = {"a": X[:, :3], "b": X[:, 3:]}
    weights = np.linspace(0.5, 1.5, len(X)).astype("float32")
    kwargs = {"batch_size": 4, "epochs": 3, "verbose": 0, "sample_weight": weights}
    histories = []
    for model in (eager, compiled):
        fitorch.utils.set_random_seed(3)  # the same shuffles for both
        histories.append(model.fit(x, Y, **kwargs))
    _assert_same(eager, compiled, *histories, atol=1e-5)
