"""Layers held in list/tuple/dict attributes are tracked as in Keras (fitorch.layers.tracking)."""

import copy

import numpy as np
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import keras


def _mlp_class(lib):
    class MLP(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = []
            for units in (4, 3):
                self.hidden.append(lib.layers.Dense(units, activation="relu"))
            self.heads = {"a": lib.layers.Dense(1), "b": [(lib.layers.Dense(1),)]}

        def call(self, x):
            for layer in self.hidden:
                x = layer(x)
            return self.heads["a"](x) + self.heads["b"][0][0](x)

    return MLP


def test_layers_in_containers_have_weights_and_train_as_keras():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 1)).astype("float32")
    theirs, ours = _mlp_class(keras)(), _mlp_class(fitorch)()
    theirs(x), ours(torch.as_tensor(x))
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params() == 24 + 15 + 4 + 4
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=fitorch.optimizers.SGD(0.1), loss="mse")
    want = theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_reassigning_or_copying_a_container_retracks():
    model = _mlp_class(fitorch)()
    model(torch.zeros(2, 5))
    assert len(model.weights) == 8
    model.hidden = model.hidden[:1]
    assert len(model.weights) == 6 and "hidden.0.kernel" in model.state_dict()
    twin = copy.deepcopy(model)
    twin.hidden.append(fl.Dense(2))
    twin.hidden[-1].build((None, 4))
    assert len(twin.weights) == 8 and len(model.weights) == 6
    model.hidden = None
    assert len(model.weights) == 4


def test_a_layer_already_registered_is_not_registered_twice():
    model = fitorch.Sequential([fl.Dense(2), fl.Dense(1)])
    model(torch.zeros(1, 3))
    assert len(model.state_dict()) == 4
    dense = fl.Dense(2)

    class Shared(fl.Layer):
        def __init__(self):
            super().__init__()
            self.first = dense
            self.both = [dense, fl.Dense(1)]

        def call(self, x):
            return self.both[1](self.first(x))

    layer = Shared()
    layer(torch.zeros(1, 3))
    assert len(layer.weights) == 4 and len(layer.state_dict()) == 4


def test_containers_without_layers_stay_plain():
    layer = fl.Dense(2)
    layer.sizes = [1, 2]
    layer.options = {"a": 1}
    assert type(layer.sizes) is list and type(layer.options) is dict


def test_keras_layer_alias_at_top_level():
    # Keras 3 code subclasses `keras.Layer` as often as `keras.layers.Layer`.
    assert fitorch.Layer is fl.Layer and fitorch.KerasTensor is fl.KerasTensor
    assert fitorch.InputSpec is fl.InputSpec

    class Scale(fitorch.Layer):
        def __init__(self):
            super().__init__()
            self.inner = [fl.Dense(2)]

        def call(self, x):
            return self.inner[0](x)

    layer = Scale()
    layer(torch.zeros(1, 3))
    assert layer.count_params() == 8


def test_add_weight_takes_keras_3_positional_order_and_dtype_dependent_default_init():
    class Counter(fitorch.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight((input_shape[-1], 2), "ones", "float32")
            self.count = self.add_weight(shape=(), dtype="int64", trainable=False, name="count")
            self.free = self.add_weight(shape=(2, 2), aggregation="sum", autocast=False)

        def call(self, x):
            return x @ self.kernel

    layer = Counter()
    assert layer(torch.ones(1, 3)).tolist() == [[3.0, 3.0]]
    assert layer.count.item() == 0 and layer.count.dtype == torch.int64  # zeros, as Keras
    assert layer.free.abs().sum() > 0  # glorot_uniform for a float weight
    theirs = keras.layers.Layer()
    count = theirs.add_weight(shape=(), dtype="int64", trainable=False)
    assert keras.ops.convert_to_numpy(count) == 0
