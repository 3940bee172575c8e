"""Keras-guide programs under `compile(jit_compile=True)`: the numbers of eager, one graph per
step kind, no recompiles after warm-up, no warning.

Each program (in the style of the keras-io guides "Working with RNNs", "Understanding masking
& padding", "The Functional API", "Making new layers and models via subclassing", "Training &
evaluation with the built-in methods", "Transfer learning" and the example "Text
classification with Transformer") is built twice from the same seed, compiled eagerly and with
`jit_compile=True`, and run the same way (`_run`): a first `fit` (the warm-up), a second `fit`,
`evaluate` at two batch sizes and `predict` at two batch sizes. Weights, both Histories,
the evaluate results and the predictions must agree; the compiled model must have made
exactly one graph per step kind it ran (train, test, predict) and no graph after its kind's
first one, and must not have warned; the one program that cannot be traced must fall back
to the eager step with one warning naming the op. The "aot_eager" backend traces forward
and backward as inductor does, without code generation, which keeps the module fast.
"""

import warnings

import numpy as np
import pytest
import torch
from _tracing import fresh_jit_dynamo
from torch._dynamo.utils import counters

import fitorch
from fitorch import layers, ops, optimizers

RTOL, ATOL = 1e-5, 1e-6

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_jit_dynamo)


def _graphs() -> int:
    """Graphs dynamo compiled so far (every recompilation and graph break counts)."""
    return counters["stats"]["unique_graphs"]


def _padded_sequences(rng, rows: int, length: int, vocabulary: int):
    """Token ids in [1, vocabulary) padded with 0 at the end to lengths 2..length, and a
    binary label (the first token in the upper half of the vocabulary)."""
    tokens = rng.integers(1, vocabulary, size=(rows, length))
    lengths = rng.integers(2, length + 1, size=rows)
    tokens[np.arange(length)[None, :] >= lengths[:, None]] = 0
    labels = (tokens[:, 0] >= vocabulary // 2).astype("float32")[:, None]
    return tokens.astype("int64"), labels


class _Outcome:
    """What one model produced in `_run`: its Histories, evaluate results, predictions, the
    graph counts after the warm-up `fit` and at the end, and its jit_compile warnings."""

    def __init__(self):
        self.histories, self.evaluations, self.predictions = [], [], []
        self.warm_graphs = self.graphs = 0
        self.warnings: list[str] = []


def _run(model, x, y, fit_kwargs, evaluate_kwargs=None, predict_x=None, batches=(16, 7)):
    """Fit twice (the same dropout and shuffle seed for every model), then evaluate and
    predict at each batch size of `batches`; an `_Outcome` with the graph counts."""
    evaluate_kwargs = evaluate_kwargs or {}
    predict_x = x if predict_x is None else predict_x
    outcome = _Outcome()
    fitorch.utils.set_random_seed(1)
    outcome.histories.append(model.fit(x, y, verbose=0, **fit_kwargs).history)
    outcome.warm_graphs = _graphs()
    outcome.histories.append(model.fit(x, y, verbose=0, **fit_kwargs).history)
    for batch in batches:
        outcome.evaluations.append(
            model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True, **evaluate_kwargs)
        )
    for batch in batches:
        outcome.predictions.append(model.predict(predict_x, batch_size=batch, verbose=0))
    outcome.graphs = _graphs()
    return outcome


def _assert_close(actual, expected, what):
    """Nested lists / dicts of arrays equal within RTOL / ATOL."""
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), what
        for key in expected:
            _assert_close(actual[key], expected[key], f"{what}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_close(a, e, f"{what}[{i}]")
    else:
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _compare(build, compile_kwargs, x, y, fit_kwargs, weights_atol=ATOL, fallbacks=0, **run_kwargs):
    """Build, compile and `_run` the program eagerly and with jit_compile=True from the same
    seed; assert equal numbers (weights within `weights_atol`) and `fallbacks` jit_compile
    warnings (none eagerly); return (eager, compiled, their outcomes)."""
    results = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        model = build()
        model.compile(jit_compile=flag, **compile_kwargs())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = _run(model, x, y, fit_kwargs, **run_kwargs)
        outcome.warnings = [str(w.message) for w in caught if "jit_compile" in str(w.message)]
        results.append((model, outcome))
    (eager, e), (compiled, c) = results
    assert e.warnings == []
    assert len(c.warnings) == fallbacks, c.warnings
    for i, (a, b) in enumerate(zip(compiled.get_weights(), eager.get_weights())):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=weights_atol, err_msg=f"weights[{i}]")
    _assert_close(c.histories, e.histories, "history")
    _assert_close(c.evaluations, e.evaluations, "evaluate")
    _assert_close(c.predictions, e.predictions, "predict")
    return eager, compiled, e, c


def _assert_one_graph_per_kind(outcome, validation: bool):
    """The warm-up fit made the train graph (and the test graph with validation); nothing
    after it recompiled: the rest made only the missing test and predict graphs."""
    assert outcome.warm_graphs == (2 if validation else 1)
    assert outcome.graphs == 3


# --- Working with RNNs / Understanding masking & padding --------------------------------

SEQ_X, SEQ_Y = _padded_sequences(np.random.default_rng(0), 40, 7, 12)  # batch 12: 12, 12, 12, 4


def _masked_rnn(recurrent, library=fitorch):
    """The guide's classifier, built with `library` (fitorch or keras); `recurrent` takes
    the library's `layers` module."""

    def build():
        return library.Sequential([
            library.Input((7,), dtype="int64"),
            library.layers.Embedding(12, 5, mask_zero=True),
            recurrent(library.layers),
            library.layers.Dense(1, activation="sigmoid"),
        ])  # fmt: skip

    return build


MASKED_RNNS = {
    "lstm": lambda lib: lib.LSTM(4),
    "gru": lambda lib: lib.GRU(4),
    "bidirectional_lstm": lambda lib: lib.Bidirectional(lib.LSTM(3)),
}


@pytest.mark.parametrize("name", sorted(MASKED_RNNS))
def test_masked_recurrent_classifier_predicts_as_keras_3(name):
    """The eager reference itself: Keras 3 (torch backend) on the same weights."""
    import keras

    fitorch.utils.set_random_seed(0)
    model = _masked_rnn(MASKED_RNNS[name])()
    reference = _masked_rnn(MASKED_RNNS[name], library=keras)()
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(
        model.predict(SEQ_X, verbose=0),
        np.asarray(reference.predict(SEQ_X, verbose=0)),
        rtol=RTOL, atol=ATOL,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(MASKED_RNNS))
def test_masked_embedding_through_a_recurrent_layer(name):
    _, compiled, _, c = _compare(
        _masked_rnn(MASKED_RNNS[name]),
        lambda: {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        SEQ_X, SEQ_Y, {"batch_size": 12, "epochs": 2, "validation_split": 0.25},
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=True)
    # The mask matters: padding more zeros at the end must not change the prediction.
    longer = np.concatenate([SEQ_X, np.zeros((40, 3), "int64")], axis=1)
    rebuilt = _masked_rnn(MASKED_RNNS[name])()
    # (a model over length-10 inputs with the compiled model's weights)
    rebuilt = fitorch.Sequential([layers.Input((10,), dtype="int64"), *rebuilt.layers])
    rebuilt.set_weights(compiled.get_weights())
    np.testing.assert_allclose(
        rebuilt.predict(longer, verbose=0), c.predictions[0], rtol=RTOL, atol=ATOL
    )


def test_simple_rnn_sequences_through_time_distributed_dense():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 6, 3)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1).astype("float32")  # a running sum per time step

    def build():
        return fitorch.Sequential([
            layers.Input((6, 3)),
            layers.SimpleRNN(5, return_sequences=True),
            layers.TimeDistributed(layers.Dense(1)),
        ])  # fmt: skip

    _, _, e, c = _compare(
        build, lambda: {"optimizer": "rmsprop", "loss": "mse", "metrics": ["mae"]},
        x, y, {"batch_size": 8, "epochs": 3, "shuffle": False},
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=False)
    assert e.predictions[0].shape == (30, 6, 1)


# --- The Functional API: convolutions --------------------------------------------------


def test_functional_convolutions_with_pooling_batch_norm_and_dropout():
    rng = np.random.default_rng(2)
    images = rng.normal(size=(30, 8, 8, 2)).astype("float32")
    signals = rng.normal(size=(30, 10, 3)).astype("float32")
    labels = (images.mean(axis=(1, 2, 3)) + signals.mean(axis=(1, 2)) > 0).astype("int64")

    def build():
        image = layers.Input((8, 8, 2), name="image")
        signal = layers.Input((10, 3), name="signal")
        a = layers.Conv2D(4, 3, padding="same", use_bias=False)(image)
        a = layers.BatchNormalization()(a)
        a = layers.Activation("relu")(a)
        a = layers.MaxPooling2D()(a)
        a = layers.GlobalAveragePooling2D()(a)
        b = layers.Conv1D(4, 3, activation="relu")(signal)
        b = layers.MaxPooling1D(2)(b)
        b = layers.GlobalAveragePooling1D()(b)
        h = layers.Dropout(0.3)(layers.Concatenate()([a, b]))
        return fitorch.Model([image, signal], layers.Dense(2)(h))

    x = [images, signals]
    eager, compiled, _, c = _compare(
        build,
        lambda: {"optimizer": "adam", "metrics": ["accuracy"],
                 "loss": fitorch.losses.SparseCategoricalCrossentropy(from_logits=True)},
        x, labels, {"batch_size": 8, "epochs": 2}, batches=(12, 7),
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=False)
    (norm_e,), (norm_c,) = ([la for la in m.layers if isinstance(la, layers.BatchNormalization)]
                            for m in (eager, compiled))  # fmt: skip
    np.testing.assert_allclose(
        np.asarray(norm_c.moving_variance), np.asarray(norm_e.moving_variance), rtol=RTOL
    )
    assert not np.allclose(np.asarray(norm_c.moving_variance), 1.0)  # the statistics moved
    # A known recompile, from torch rather than fitorch: on the CPU, torch's convolution
    # picks its backend (mkldnn or not) with `batch >= 16`, and the fake-tensor trace guards
    # on that test, so batches of 16 rows and more get a second graph of a kind, once.
    expected = eager.evaluate(x, labels, batch_size=16, verbose=0)
    np.testing.assert_allclose(
        compiled.evaluate(x, labels, batch_size=16, verbose=0), expected, rtol=RTOL
    )
    assert _graphs() == c.graphs + (1 if norm_c.moving_variance.device.type == "cpu" else 0)
    compiled.evaluate(x, labels, batch_size=20, verbose=0)
    compiled.evaluate(x, labels, batch_size=9, verbose=0)
    assert _graphs() == c.graphs + (1 if norm_c.moving_variance.device.type == "cpu" else 0)


# --- Text classification with a Transformer block (keras-io example) ---------------------


class TokenAndPositionEmbedding(layers.Layer):
    """The example's subclassed layer: token embedding plus a learned position embedding."""

    def __init__(self, maxlen, vocabulary, dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(vocabulary, dim)
        self.pos_emb = layers.Embedding(maxlen, dim)

    def call(self, x):
        positions = ops.arange(0, ops.shape(x)[-1], 1)
        return self.token_emb(x) + self.pos_emb(positions)


class TransformerBlock(layers.Layer):
    """The example's block: self-attention and a feed-forward net, each with dropout, a
    residual add and layer normalization."""

    def __init__(self, dim, heads, hidden, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=heads, key_dim=dim)
        self.ffn = fitorch.Sequential([layers.Dense(hidden, activation="relu"), layers.Dense(dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=None):
        attention = self.dropout1(self.att(inputs, inputs), training=training)
        out1 = self.layernorm1(inputs + attention)
        feed_forward = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(layers.Add()([out1, feed_forward]))


def test_transformer_text_classifier():
    rng = np.random.default_rng(3)
    tokens, _ = _padded_sequences(rng, 34, 6, 15)
    labels = (tokens[:, :2].sum(axis=1) % 2).astype("int64")

    def build():
        inputs = layers.Input((6,), dtype="int64")
        h = TokenAndPositionEmbedding(6, 15, 8)(inputs)
        h = TransformerBlock(8, 2, 16)(h)
        h = layers.GlobalAveragePooling1D()(h)
        h = layers.Dropout(0.1)(h)
        h = layers.Dense(8, activation="relu")(h)
        return fitorch.Model(inputs, layers.Dense(2, activation="softmax")(h))

    _, _, _, c = _compare(
        build,
        lambda: {"optimizer": optimizers.Adam(0.01), "loss": "sparse_categorical_crossentropy",
                 "metrics": ["accuracy"]},
        tokens, labels,
        {"batch_size": 8, "epochs": 2, "validation_data": (tokens[:10], labels[:10])},
        # The attention's key bias has a zero gradient (softmax ignores a score added to
        # every key), so Adam moves it by rounding noise only: |bias| ~ 1e-6 in both.
        weights_atol=1e-5,
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=True)


# --- Making new layers and models via subclassing ---------------------------------------


class NoisyAutoencoder(fitorch.Model):
    """A subclassed model whose `call` branches on `training`: Gaussian noise added to the
    inputs and an activity penalty only while training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = layers.Dense(3, activation="tanh")
        self.decoder = layers.Dense(5)

    def call(self, inputs, training=None):
        if training:
            inputs = inputs + 0.1 * fitorch.random.normal(ops.shape(inputs))
            code = self.encoder(inputs)
            self.add_loss(0.01 * ops.mean(ops.square(code)))
        else:
            code = self.encoder(inputs)
        return self.decoder(code)


def test_subclassed_model_branching_on_training():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 5)).astype("float32")

    def build():
        return NoisyAutoencoder()

    eager, _, e, c = _compare(
        build, lambda: {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]},
        x, x, {"batch_size": 8, "epochs": 2, "validation_split": 0.2},
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=True)
    # Inference takes the branch without noise: predict is the closed form of the weights.
    w1, b1, w2, b2 = eager.get_weights()
    np.testing.assert_allclose(
        e.predictions[0], np.tanh(x @ w1 + b1) @ w2 + b2, rtol=RTOL, atol=1e-5
    )
    # ... and evaluate's loss is the plain mse, without the training branch's penalty.
    np.testing.assert_allclose(
        e.evaluations[0]["loss"], np.mean((e.predictions[0] - x) ** 2), rtol=RTOL
    )


# --- Training & evaluation with the built-in methods: multi-input, multi-output ----------


def test_multi_input_multi_output_with_loss_dict_weights_and_validation():
    rng = np.random.default_rng(5)
    rows = 40
    title = rng.integers(1, 20, size=(rows, 5)).astype("int64")
    body = rng.normal(size=(rows, 6)).astype("float32")
    priority = (body[:, :1] * 0.5).astype("float32")
    department = rng.integers(0, 3, size=rows).astype("int64")
    weights = rng.uniform(0.5, 2.0, size=rows).astype("float32")

    def build():
        title_in = layers.Input((5,), dtype="int64", name="title")
        body_in = layers.Input((6,), name="body")
        t = layers.GlobalAveragePooling1D()(layers.Embedding(20, 4)(title_in))
        h = layers.Concatenate()([t, layers.Dense(4, activation="relu")(body_in)])
        return fitorch.Model(
            {"title": title_in, "body": body_in},
            {"priority": layers.Dense(1, name="priority")(h),
             "department": layers.Dense(3, activation="softmax", name="department")(h)},
        )  # fmt: skip

    x = {"title": title, "body": body}
    y = {"priority": priority, "department": department}
    val = ({"title": title[:10], "body": body[:10]},
           {"priority": priority[:10], "department": department[:10]}, weights[:10])  # fmt: skip
    _, _, e, c = _compare(
        build,
        lambda: {"optimizer": optimizers.RMSprop(0.01),
                 "loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"},
                 "loss_weights": {"priority": 1.0, "department": 0.2},
                 "metrics": {"priority": ["mae"], "department": ["accuracy"]}},
        x, y, {"batch_size": 8, "epochs": 2, "sample_weight": weights, "validation_data": val},
        evaluate_kwargs={"sample_weight": weights},
    )  # fmt: skip
    _assert_one_graph_per_kind(c, validation=True)
    assert {"val_priority_mae", "val_department_accuracy"} <= set(e.histories[0])


# --- Transfer learning: freeze, train the head, unfreeze, recompile ------------------------


def test_transfer_learning_freeze_then_fine_tune_with_a_recompile():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = (x[:, :2].sum(axis=1, keepdims=True) > 0).astype("float32")
    fit_kwargs = {"batch_size": 8, "epochs": 2, "verbose": 0, "shuffle": False}
    runs = []
    for flag in (False, True):
        fitorch.utils.set_random_seed(0)
        base = fitorch.Sequential(
            [layers.Input((6,)), layers.Dense(8, activation="relu"), layers.BatchNormalization()],
            name="base",
        )
        inputs = layers.Input((6,))
        model = fitorch.Model(inputs, layers.Dense(1)(base(inputs, training=False)))
        base.trainable = False
        frozen = [w.copy() for w in base.get_weights()]
        model.compile(optimizers.Adam(0.05), "binary_crossentropy", jit_compile=flag)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            head = model.fit(x, y, **fit_kwargs).history
            _assert_close(base.get_weights(), frozen, "frozen base")
            base.trainable = True
            model.compile(optimizers.Adam(1e-3), "binary_crossentropy", jit_compile=flag)
            tuned = model.fit(x, y, **fit_kwargs).history
        assert [str(w.message) for w in caught if "jit_compile" in str(w.message)] == []
        runs.append((model, head, tuned, _graphs()))
    (eager, head_e, tuned_e, _), (compiled, head_c, tuned_c, graphs) = runs
    _assert_close(head_c, head_e, "head history")
    _assert_close(tuned_c, tuned_e, "fine-tune history")
    _assert_close(compiled.get_weights(), eager.get_weights(), "weights")
    kernel = compiled.get_layer("base").layers[0].get_weights()[0]
    assert not np.allclose(kernel, frozen[0])  # the second compile trained the base
    assert graphs == 2  # one train graph per compile


# --- steps_per_execution with a validation split ----------------------------------------


def test_steps_per_execution_with_a_validation_split_and_a_short_last_block():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x[:, :1] * x[:, 1:2] > 0).astype("float32")

    def build():
        return fitorch.Sequential([
            layers.Input((4,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(1, activation="sigmoid"),
        ])  # fmt: skip

    # 40 training rows, batch 6: 7 batches = blocks of 3, 3 and a last block of 1.
    _, _, e, c = _compare(
        build,
        lambda: {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"],
                 "steps_per_execution": 3},
        x, y, {"batch_size": 6, "epochs": 3, "validation_split": 0.2}, batches=(16, 8),
    )  # fmt: skip
    assert len(e.histories[0]["val_loss"]) == 3
    assert c.warm_graphs == 3  # the block, a single step for the short block, the test step
    assert c.graphs == c.warm_graphs + 1  # the predict step only


# --- A program that cannot be traced: the eager fallback ---------------------------------


class BatchNoise(layers.Layer):
    """Training noise drawn with `generator=None` and a batch-sized shape: torch's draw
    then needs concrete sizes, so dynamo cannot trace it (fake tensors fail)."""

    def call(self, inputs, training=None):
        if not training:
            return inputs
        return inputs + 0.1 * torch.randn(inputs.shape, generator=None)


def test_an_untraceable_training_step_falls_back_with_one_warning_naming_the_op():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(30, 4)).astype("float32")
    y = x[:, :1] - x[:, 1:2]

    def build():
        return fitorch.Sequential([layers.Input((4,)), BatchNoise(), layers.Dense(1)])

    _, _, _, c = _compare(
        build, lambda: {"optimizer": "sgd", "loss": "mse"}, x, y, {"batch_size": 8, "epochs": 2},
        fallbacks=1,
    )  # fmt: skip
    assert "train step" in c.warnings[0] and "randn" in c.warnings[0]
    assert c.graphs == 2  # the test and predict steps still compile (no noise there)
