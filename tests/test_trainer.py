"""compile / fit / evaluate / predict: values, keys, order and errors."""

import io

import numpy as np
import pytest
import torch

import fitorch
from fitorch import callbacks, layers, optimizers, regularizers
from fitorch.models import Model, Sequential


def linear_model(w=2.0, b=0.5):
    model = Sequential([layers.Dense(1, input_dim=1)])
    model.set_weights([np.array([[w]], "float32"), np.array([b], "float32")])
    return model


X = np.linspace(0.1, 1.0, 10).astype("float32")
Y = 3.0 * X - 1.0


def test_epoch_metrics_are_exact_means_over_all_samples():
    # lr=0: weights never change, so every epoch value is a full-data mean (batches 4,4,2).
    model = linear_model()
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae", "mse"])
    hist = model.fit(X, Y, batch_size=4, epochs=2, verbose=0, shuffle=False)
    err = (2.0 * X + 0.5) - Y
    np.testing.assert_allclose(hist.history["loss"], [np.mean(err**2)] * 2, rtol=1e-6)
    np.testing.assert_allclose(hist.history["mae"], [np.mean(np.abs(err))] * 2, rtol=1e-6)
    assert list(hist.history) == ["loss", "mae", "mse"]


def test_one_sgd_step_matches_hand_computation():
    model = linear_model(w=2.0, b=0.5)
    model.compile(optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(X, Y, batch_size=10, epochs=1, verbose=0, shuffle=False)
    x, y = X.astype("float64"), Y.astype("float64")
    err = 2.0 * x + 0.5 - y
    w = 2.0 - 0.1 * np.mean(2 * err * x)
    b = 0.5 - 0.1 * np.mean(2 * err)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose([kernel[0, 0], bias[0]], [w, b], rtol=1e-6)


def test_history_keys_order_validation_and_aliases():
    model = linear_model()
    model.compile("adam", loss="mse", metrics=["mse", "mae", "mape", "cosine"])
    hist = model.fit(X, Y, epochs=2, batch_size=5, verbose=0, validation_data=(X, Y))
    assert list(hist.history) == [
        "loss",
        "mse",
        "mae",
        "mape",
        "cosine",
        "val_loss",
        "val_mse",
        "val_mae",
        "val_mape",
        "val_cosine",
    ]
    assert hist.history["mean_squared_error"] == hist.history["mse"]
    assert hist.history["val_mean_absolute_error"] == hist.history["val_mae"]
    assert hist.history["cosine_proximity"] == hist.history["cosine"]
    assert "mean_squared_error" in hist.history and "mean_squared_error" not in list(hist.history)
    assert hist.epoch == [0, 1] and model.history is hist


def test_validation_split_takes_last_fraction_before_shuffle():
    model = linear_model()
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mse")
    hist = model.fit(X, Y, epochs=1, verbose=0, validation_split=0.3)
    err = (2.0 * X + 0.5) - Y
    np.testing.assert_allclose(hist.history["val_loss"][0], np.mean(err[7:] ** 2), rtol=1e-6)
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(err[:7] ** 2), rtol=1e-6)


def test_evaluate_list_matches_metrics_names_and_dict():
    model = linear_model()
    model.compile("sgd", loss="mse", metrics=["mae", "mae"])
    values = model.evaluate(X, Y, verbose=0)
    as_dict = model.evaluate(X, Y, verbose=0, return_dict=True)
    assert model.metrics_names == ["loss", "mae", "mae_1"]
    assert values == [as_dict[k] for k in model.metrics_names]
    err = (2.0 * X + 0.5) - Y
    np.testing.assert_allclose(as_dict["mae_1"], np.mean(np.abs(err)), rtol=1e-6)


def test_predict_concatenates_batches_in_order():
    model = linear_model(w=2.0, b=0.5)
    out = model.predict(X, batch_size=3, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (10, 1)
    np.testing.assert_allclose(out[:, 0], 2.0 * X + 0.5, rtol=1e-6)


def test_train_on_batch_reports_loss_before_update():
    model = linear_model()
    model.compile(optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    loss, mae = model.train_on_batch(X, Y)
    err = (2.0 * X + 0.5) - Y
    np.testing.assert_allclose([loss, mae], [np.mean(err**2), np.mean(np.abs(err))], rtol=1e-6)
    assert model.test_on_batch(X, Y)[0] < loss


def test_regularizer_penalty_is_added_to_reported_loss():
    model = Sequential([layers.Dense(1, input_dim=1, kernel_regularizer=regularizers.l2(0.5))])
    model.set_weights([np.array([[2.0]], "float32"), np.array([0.5], "float32")])
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mse")
    hist = model.fit(X, Y, batch_size=10, epochs=1, verbose=0)
    err = (2.0 * X + 0.5) - Y
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(err**2) + 0.5 * 4.0, rtol=1e-6)


def test_multi_output_loss_weights_and_keys():
    a = fitorch.Input((2,), name="a")
    h = layers.Dense(3, name="h")(a)
    out1, out2 = layers.Dense(1, name="o1")(h), layers.Dense(1, name="o2")(h)
    model = Model(a, [out1, out2])
    model.compile(
        optimizers.SGD(learning_rate=0.0),
        loss=["mse", "mae"],
        loss_weights=[1.0, 0.2],
        metrics=["mae"],
    )
    x = np.random.rand(8, 2).astype("float32")
    y1, y2 = np.random.rand(8, 1).astype("float32"), np.random.rand(8, 1).astype("float32")
    logs = model.evaluate(x, [y1, y2], verbose=0, return_dict=True)
    assert list(logs) == ["loss", "o1_loss", "o2_loss", "o1_mae", "o2_mae"]
    np.testing.assert_allclose(logs["loss"], logs["o1_loss"] + 0.2 * logs["o2_loss"], rtol=1e-6)
    p1, p2 = model.predict(x, verbose=0)
    np.testing.assert_allclose(logs["o2_loss"], np.mean(np.abs(p2 - y2)), rtol=1e-5)
    np.testing.assert_allclose(logs["o1_mae"], np.mean(np.abs(p1 - y1)), rtol=1e-5)


def test_add_loss_with_loss_none():
    class Penalty(layers.Layer):
        def call(self, x):
            self.add_loss(x.square().mean())
            return x

    inp = fitorch.Input((2,))
    model = Model(inp, Penalty()(layers.Dense(2)(inp)))
    model.compile(optimizers.SGD(learning_rate=0.0), loss=None)
    x = np.random.rand(6, 2).astype("float32")
    logs = model.evaluate(x, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.mean(model.predict(x, verbose=0) ** 2), rtol=1e-5)


def test_wrapped_torch_module_with_torch_optimizer_and_loss():
    torch.manual_seed(0)
    model = Model.wrap(torch.nn.Linear(1, 1))
    model.compile(optimizer=torch.optim.SGD, loss=torch.nn.MSELoss(), metrics=["mae"])
    first = model.evaluate(X, Y, verbose=0)[0]
    model.fit(X, Y, epochs=30, batch_size=5, verbose=0)
    assert model.evaluate(X, Y, verbose=0)[0] < first


def test_subclassed_model_trains():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = layers.Dense(8, activation="relu"), layers.Dense(1)

        def call(self, x):
            return self.d2(self.d1(x))

    fitorch.utils.set_random_seed(1)
    model = Net()
    model.compile(optimizers.Adam(learning_rate=0.05), loss="mse")
    hist = model.fit(X, Y, epochs=40, batch_size=5, verbose=0)
    assert hist.history["loss"][-1] < 0.1 * hist.history["loss"][0]
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]


def test_set_random_seed_gives_identical_training():
    def run():
        fitorch.utils.set_random_seed(42)
        model = Sequential(
            [layers.Dense(4, input_dim=1, activation="relu"), layers.Dropout(0.5), layers.Dense(1)]
        )
        model.compile("adam", loss="mse")
        hist = model.fit(X, Y, epochs=3, batch_size=3, verbose=0)
        return model.get_weights(), hist.history["loss"]

    (w1, l1), (w2, l2) = run(), run()
    assert l1 == l2 and all(np.array_equal(a, b) for a, b in zip(w1, w2))


def test_steps_per_epoch_continues_across_epochs():
    seen = []

    class Count(callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    model = linear_model()
    model.compile("sgd", loss="mse")
    with pytest.warns(UserWarning, match="ran out of data after 1 of 2 steps"):
        model.fit(X, Y, batch_size=4, epochs=2, steps_per_epoch=2, verbose=0, callbacks=[Count()])
    assert seen == [0, 1, 0]  # 3 batches: the second epoch ends with the pass (Keras 3)


def test_unoverridden_batch_hooks_are_not_dispatched():
    class EpochOnly(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    cbs = callbacks.CallbackList([EpochOnly()], add_history=True, add_progbar=False)
    assert not cbs.wants("on_train_batch_end") and cbs.wants("on_epoch_end")


def test_verbose_2_prints_epoch_header_and_keras_number_format(capsys):
    model = linear_model(w=3.0, b=-1.0)  # exact fit: loss 0 prints in e-notation
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["cosine"])
    model.fit(X, Y, epochs=2, batch_size=10, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].endswith("- loss: 0.0000e+00 - cosine: -1.0000e+00")


def test_verbose_1_without_terminal_prints_one_line_per_epoch():
    stream = io.StringIO()
    model = linear_model()
    model.compile("sgd", loss="mse")
    model.fit(
        X, Y, epochs=2, batch_size=1, verbose=1, callbacks=[callbacks.ProgbarLogger(stream=stream)]
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in stream.getvalue()
    assert lines[1].startswith("10/10 ━━━━━━━━━━━━━━━━━━━━ ") and " - loss: " in lines[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 1, "initial_epoch": 2}, r"epochs \(1\) must be >= initial_epoch \(2\)"),
        ({"validation_split": 1.5}, r"validation_split must be in \(0, 1\)"),
        ({"validation_split": 0.95}, "leaves an empty split"),
    ],
)
def test_fit_argument_errors(kwargs, match):
    model = linear_model()
    model.compile("sgd", loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit(X, Y, verbose=0, **kwargs)


def test_fit_rejects_length_mismatch_and_unknown_kwarg_with_suggestion():
    model = linear_model()
    model.compile("sgd", loss="mse")
    with pytest.raises(ValueError, match=r"x: \[10\], y: \[9\]"):
        model.fit(X, Y[:9], verbose=0)
    with pytest.raises(TypeError, match="Did you mean 'batch_size'"):
        model.fit(X, Y, batchsize=2, verbose=0)


def test_fit_before_compile_and_unknown_names_at_compile():
    model = linear_model()
    with pytest.raises(ValueError, match="compile"):
        model.fit(X, Y, verbose=0)
    with pytest.raises(ValueError, match="Did you mean 'mse'"):
        model.compile("sgd", loss="msee")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile("sgd", loss="mse", metrics=["accuracyy"])


def test_target_shape_mismatch_raises_before_first_step():
    model = linear_model()
    model.compile("sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match="shape"):
        model.fit(X, np.zeros((10, 3), "float32"), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_target_of_shape_n_is_aligned_to_n_1_for_custom_metric():
    def mean_abs(y_true, y_pred):
        return (y_true - y_pred).abs().mean(dim=-1)

    model = linear_model()
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mse", metrics=[mean_abs])
    logs = model.evaluate(X, Y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["mean_abs"], np.mean(np.abs(2 * X + 0.5 - Y)), rtol=1e-6)


def test_verbose_1_on_a_terminal_redraws_in_place_and_pads_shorter_lines():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = callbacks.ProgbarLogger(stream=stream)
    bar.set_params({"verbose": 1, "epochs": 1, "steps": 2})
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    bar.on_train_batch_end(0, lambda: {"loss": 123456.0, "mae": 2.5})
    bar.on_train_batch_end(1, lambda: {"loss": 1.0})  # within 0.1 s: no redraw
    bar.on_epoch_end(0, {"loss": 1.0})
    text = stream.getvalue()
    first, final = text.split("\r")[1], text.split("\r")[2]
    assert first.startswith("1/2 ━━━━━━━━━━────────── ") and "loss: 123456.0000" in first
    assert final.startswith("2/2 ━━━━━━━━━━━━━━━━━━━━ ") and final.endswith(" \n")
    assert len(final.rstrip("\n")) == len(first)


def _row_probe():
    """y_i = i and a model that predicts 0 and never moves: a batch's MAE names its rows."""
    model = Sequential([layers.Dense(1, input_dim=1, kernel_initializer="zeros")])
    model.compile(optimizers.SGD(learning_rate=0.0), loss="mae")
    return model, np.zeros((16, 1), "float32"), np.arange(16, dtype="float32").reshape(16, 1)


class _BatchLosses(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.train, self.test = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append((batch, logs["loss"]))

    def on_test_batch_end(self, batch, logs=None):
        self.test.append((batch, logs["loss"]))


def test_steps_per_epoch_over_arrays_never_spans_two_passes():
    # Keras's EpochIterator: 4 batches, steps_per_epoch=2 -> passes 0,1 | 2,3 | new pass 0,1.
    # (fitorch stopped after two epochs; with steps_per_epoch = the batch count, after one.)
    model, x, y = _row_probe()
    rec = _BatchLosses()
    hist = model.fit(x, y, batch_size=4, epochs=3, steps_per_epoch=2, shuffle=False, verbose=0,
                     callbacks=[rec])  # fmt: skip
    assert rec.train == [(0, 1.5), (1, 3.5), (0, 9.5), (1, 11.5), (0, 1.5), (1, 3.5)]
    assert hist.epoch == [0, 1, 2]
    with pytest.warns(UserWarning, match="ran out of data after 4 of 6 steps"):
        hist = model.fit(x, y, batch_size=4, epochs=2, steps_per_epoch=6, shuffle=False,
                         verbose=0)  # fmt: skip
    assert hist.history["loss"] == [7.5, 7.5]  # each epoch one pass of 4 batches, not 6


def test_validation_steps_over_arrays_start_at_the_first_batch_every_epoch():
    # Keras resets the validation iterator before each evaluation (batches of 3 rows).
    model, x, y = _row_probe()
    rec = _BatchLosses()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[rec],
              validation_data=(x, y), validation_steps=2, validation_batch_size=3)  # fmt: skip
    assert rec.test == [(0, 1.0), (1, 2.5), (0, 1.0), (1, 2.5)]


def test_stop_training_set_in_on_train_begin_ends_fit_after_the_first_batch():
    # Keras reads stop_training after each batch and each epoch, not before the first epoch.
    class StopAtOnce(callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.stop_training = True

    model, x, y = _row_probe()
    rec = _BatchLosses()
    hist = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                     callbacks=[StopAtOnce(), rec])  # fmt: skip
    assert rec.train == [(0, 1.5)] and hist.history == {"loss": [1.5]}


def test_stop_evaluating_and_stop_predicting_end_after_the_batch():
    class Stop(callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            self.model.stop_evaluating = batch == 1

        def on_predict_batch_end(self, batch, logs=None):
            self.model.stop_predicting = True

    model, x, y = _row_probe()
    assert model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[Stop()]) == 3.5
    assert model.predict(x, batch_size=4, verbose=0, callbacks=[Stop()]).shape == (4, 1)
    assert model.evaluate(x, y, batch_size=4, verbose=0) == 7.5  # reset by the next call


def test_predict_batch_end_logs_hold_numpy_outputs_as_keras_gives_them():
    # Keras: {"outputs": ndarray} for one output; a dict of outputs flattened by name.
    seen = []

    class Record(callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append({k: (type(v), v.shape) for k, v in logs.items()})

    x = np.zeros((3, 1), "float32")
    linear_model().predict(x, batch_size=2, verbose=0, callbacks=[Record()])
    assert seen == [{"outputs": (np.ndarray, (2, 1))}, {"outputs": (np.ndarray, (1, 1))}]
    inputs = layers.Input((1,))
    model = Model(inputs, {"b": layers.Dense(2)(inputs), "a": layers.Dense(1)(inputs)})
    seen.clear()
    model.predict(x, batch_size=4, verbose=0, callbacks=[Record()])
    assert seen == [{"a": (np.ndarray, (3, 1)), "b": (np.ndarray, (3, 2))}]


def test_evaluate_unknown_keyword_is_a_value_error_as_in_keras_and_a_type_error():
    model = linear_model()
    model.compile("sgd", loss="mse")
    with pytest.raises(ValueError, match="Did you mean 'batch_size'"):
        model.evaluate(X, Y, batchsize=2, verbose=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'batchsize'"):
        model.evaluate(X, Y, batchsize=2, verbose=0)


def test_vector_metric_results_are_float32_arrays_in_logs_history_and_evaluate():
    # Keras's logs hold a per-class result as an ndarray (fitorch gave Python lists).
    inputs = layers.Input((2,))
    model = Model(inputs, layers.Dense(3, activation="softmax")(inputs))
    model.compile(optimizers.SGD(learning_rate=0.0), "categorical_crossentropy",
                  metrics=[fitorch.metrics.F1Score()])  # fmt: skip
    x = np.random.default_rng(0).normal(size=(12, 2)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(12) % 3]
    seen = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs))
    hist = model.fit(x, y, batch_size=6, verbose=0, shuffle=False, callbacks=[record])
    pred, true = model.predict(x, verbose=0).argmax(1), np.arange(12) % 3
    tp = np.array([np.sum((pred == c) & (true == c)) for c in range(3)])
    f1 = 2 * tp / (np.bincount(pred, minlength=3) + np.bincount(true, minlength=3))
    for value in (
        seen[-1]["f1_score"],
        hist.history["f1_score"][0],
        model.evaluate(x, y, verbose=0)[1],
    ):
        assert isinstance(value, np.ndarray) and value.dtype == np.float32 and value.shape == (3,)
        np.testing.assert_allclose(value, f1, rtol=1e-6)
    assert isinstance(model.train_on_batch(x, y, return_dict=True)["f1_score"], np.ndarray)


def test_validation_batches_without_a_batch_size_split_the_data_into_validation_steps():
    # Keras: no batch_size / validation_batch_size -> ceil(n_val / validation_steps) rows.
    model, x, y = _row_probe()
    rec = _BatchLosses()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[rec], validation_data=(x, y),
              validation_steps=2)  # fmt: skip
    assert rec.test == [(0, 3.5), (1, 7.5)]  # rows 0..7, then 8..15
