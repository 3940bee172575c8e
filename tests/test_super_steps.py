"""An overridden `train_step`/`test_step` that calls `super()` with the `data` fit hands it
(the Keras pattern of wrapping the default step) trains and evaluates exactly as the default
step: same weights, same History, same evaluate results, with and without sample weights and
`jit_compile`."""

import numpy as np
import pytest

import fitorch
from fitorch import layers


class Wrapping(fitorch.Model):
    """Counts its steps and defers to the default ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_calls = self.test_calls = 0

    def train_step(self, data):
        self.train_calls += 1
        return super().train_step(data)

    def test_step(self, data):
        self.test_calls += 1
        return super().test_step(data)


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32") + 0.3).astype("float32")
    sw = rng.uniform(0.5, 2.0, size=40).astype("float32")
    return x, y, sw


def _trained(cls, jit_compile, weighted):
    fitorch.utils.set_random_seed(0)
    inputs = fitorch.Input((3,))
    model = cls(inputs, layers.Dense(1)(layers.Dense(4, activation="relu")(inputs)))
    model.compile("adam", "mse", metrics=["mae"], jit_compile=jit_compile)
    x, y, sw = _data()
    extra = {"sample_weight": sw} if weighted else {}
    history = model.fit(
        x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.25, **extra
    ).history
    evaluated = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    return model, history, evaluated


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_super_steps_equal_the_default_steps(jit_compile, weighted):
    base, base_history, base_eval = _trained(fitorch.Model, jit_compile, weighted)
    wrapped, history, evaluated = _trained(Wrapping, jit_compile, weighted)
    # 30 training rows in batches of 16: 2 steps per epoch; 10 validation rows, 1 batch;
    # evaluate: 3 batches of the 40 rows.
    assert wrapped.train_calls == 6 and wrapped.test_calls == 3 + 3
    assert set(history) == set(base_history) == {"loss", "mae", "val_loss", "val_mae"}
    for key, values in base_history.items():
        np.testing.assert_allclose(history[key], values, rtol=1e-6, atol=1e-7)
    for a, b in zip(base.get_weights(), wrapped.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert set(evaluated) == set(base_eval)
    for key, value in base_eval.items():
        np.testing.assert_allclose(evaluated[key], value, rtol=1e-6, atol=1e-7)


def test_super_train_step_takes_x_alone_for_a_loss_only_model():
    # `data` may be x alone (no targets): the default step then trains on `add_loss` terms.
    class Penalty(layers.Layer):
        def call(self, x):
            self.add_loss(fitorch.ops.sum(x**2))
            return x

    class Penalised(fitorch.Model):
        def train_step(self, data):
            return super().train_step(data)

    inputs = fitorch.Input((2,))
    dense = layers.Dense(1, use_bias=False, kernel_initializer="ones")
    model = Penalised(inputs, Penalty()(dense(inputs)))
    model.compile(fitorch.optimizers.SGD(0.1))
    model.fit(np.ones((4, 2), "float32"), batch_size=4, epochs=1, verbose=0)
    # loss = sum over 4 rows of (k1 + k2)^2 = 16 at k = 1; d/dk_i = 8 (k1 + k2) = 16;
    # one SGD step: 1 - 0.1 * 16 = -0.6
    np.testing.assert_allclose(dense.get_weights()[0], np.full((2, 1), -0.6), rtol=1e-6)
