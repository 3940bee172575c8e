"""Layer base, Sequential, functional and subclassed models, summary, naming."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.models import Model, Sequential


def test_dense_matches_keras_with_same_weights():
    keras = pytest.importorskip("keras")
    x = np.random.RandomState(0).randn(5, 3).astype("float32")
    k_layer = keras.layers.Dense(4, activation="tanh")
    k_out = keras.ops.convert_to_numpy(k_layer(x))
    layer = layers.Dense(4, activation="tanh")
    layer(torch.from_numpy(x))
    layer.set_weights(k_layer.get_weights())
    out = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, k_out, rtol=1e-5, atol=1e-6)
    assert [w.shape for w in layer.get_weights()] == [(3, 4), (4,)]


def test_set_weights_rejects_wrong_shapes_and_leaves_weights_untouched():
    layer = layers.Dense(2)
    layer(torch.zeros(1, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(ValueError, match="expected 2 arrays; got 1"):
        layer.set_weights([np.zeros((3, 2))])
    assert all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))


def test_glorot_uniform_default_kernel_bounds_and_zero_bias():
    layer = layers.Dense(200)
    layer(torch.zeros(1, 300))
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / 500)
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    assert not bias.any()


def test_sequential_input_dim_builds_immediately_and_summary_counts(capsys):
    model = Sequential()
    model.add(layers.Dense(2, input_dim=1))
    model.add(layers.Dense(1))
    assert model.built and model.output_shape == (None, 1)
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    model.summary()
    out = capsys.readouterr().out
    assert "dense_1 (Dense)" in out and "(None, 2)" in out and "Total params: 7" in out


def test_sequential_without_input_shape_builds_at_first_call():
    model = Sequential([layers.Dense(3), layers.Dense(1)])
    assert not model.layers[0].built
    model(torch.zeros(2, 5))
    assert [w.shape for w in model.get_weights()] == [(5, 3), (3,), (3, 1), (1,)]


def test_functional_shared_layer_and_get_layer():
    shared = layers.Dense(2, name="shared")
    a, b = fitorch.Input((3,), name="a"), fitorch.Input((3,), name="b")
    out = layers.Dense(1, name="head")(torch.cat([shared(a), shared(b)], dim=1))
    model = Model([a, b], out)
    assert model.get_layer("shared") is shared
    xa, xb = torch.randn(4, 3), torch.randn(4, 3)
    expected = model.get_layer("head")(torch.cat([shared(xa), shared(xb)], 1))
    torch.testing.assert_close(model([xa, xb]), expected)
    assert model.count_params() == 8 + 5
    with pytest.raises(ValueError, match="Did you mean 'head'"):
        model.get_layer("haed")


def test_functional_dict_inputs_and_outputs():
    a = fitorch.Input((2,), name="a")
    model = Model({"a": a}, {"y": layers.Dense(1, name="y")(a)})
    out = model({"a": torch.ones(3, 2)})
    assert list(out) == ["y"] and out["y"].shape == (3, 1)
    assert model.output_names == ["y"]
    with pytest.raises(ValueError, match="missing"):
        model({"b": torch.ones(3, 2)})


def test_symbolic_shapes_keep_unknown_dimensions():
    x = fitorch.Input((None, 4))
    y = layers.Dense(3)(x)
    assert y.shape == (None, None, 3)


def test_layer_unknown_kwarg_suggests():
    with pytest.raises(TypeError, match="Did you mean 'activation'"):
        layers.Dense(2, activaton="relu")


def test_trainable_false_freezes_weights():
    model = Sequential([layers.Dense(2, input_dim=2), layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    before = model.layers[0].get_weights()
    model.compile("sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.layers[0].get_weights()))


def test_torch_module_inside_sequential():
    model = Sequential([layers.Dense(4, input_dim=3), torch.nn.ReLU(), torch.nn.Linear(4, 2)])
    assert model(torch.randn(5, 3)).shape == (5, 2)
    assert model.count_params() == 16 + 10


def test_dropout_only_in_training():
    layer = layers.Dropout(0.5)
    x = torch.ones(1000)
    assert torch.equal(layer(x), x)  # a call outside fit is inference (Keras 3)
    layer.train()
    assert torch.equal(layer(x), x)  # the torch flag does not choose the mode; the call does
    y = layer(x, training=True)
    assert layer.training
    assert set(y.unique().tolist()) <= {0.0, 2.0} and 400 < int((y == 0).sum()) < 600


def test_reshape_and_flatten():
    x = torch.arange(24.0).reshape(2, 3, 4)
    assert layers.Reshape((4, -1))(x).shape == (2, 4, 3)
    assert layers.Flatten()(x).shape == (2, 12)
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((5,))(x)


def test_constraint_applied_after_each_step():
    model = Sequential([layers.Dense(1, input_dim=1, kernel_constraint="non_neg")])
    model.set_weights([np.array([[0.1]], "float32"), np.zeros(1, "float32")])
    model.compile(fitorch.optimizers.SGD(learning_rate=10.0), loss="mse")
    model.fit(np.ones((4, 1)), -np.ones((4, 1)), epochs=1, verbose=0)
    assert model.get_weights()[0][0, 0] == 0.0


def test_operators_and_torch_functions_on_symbolic_tensors_become_graph_nodes():
    a, b = fitorch.Input((3,)), fitorch.Input((3,))
    out = torch.cat([a + b, a[:, :1] * 2.0, torch.square(b)], dim=1)
    assert out.shape == (None, 7)
    model = Model([a, b], out)
    xa, xb = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(model([xa, xb]), torch.cat([xa + xb, xa[:, :1] * 2, xb**2], 1))


def test_lambda_layer_and_compute_output_shape():
    layer = layers.Lambda(lambda t, scale: t * scale, arguments={"scale": 3.0})
    assert layer.compute_output_shape((None, 5)) == (None, 5)
    torch.testing.assert_close(layer(torch.ones(2, 5)), torch.full((2, 5), 3.0))
    assert layers.Dense(4).compute_output_shape((None, 7)) == (None, 4)


def test_sequential_pop_rebuilds_the_output_shape():
    model = Sequential([layers.Dense(3, input_dim=2), layers.Dense(1)])
    popped = model.pop()
    assert popped.units == 1 and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="no layers"):
        Sequential().pop()


def _small_graph():
    inputs = layers.Input((3,), name="x")
    hidden = layers.Dense(4, activation="relu")(inputs)
    return Model(inputs, layers.Dense(2)(hidden), name="small")


def test_model_from_config_rebuilds_a_functional_config_as_keras():
    # The functional API guide: `keras.Model.from_config(model.get_config())`.
    model = _small_graph()
    rebuilt = Model.from_config(model.get_config())
    assert type(rebuilt).__name__ == "Functional" and rebuilt.name == "small"
    rebuilt.set_weights(model.get_weights())
    x = torch.randn(5, 3)
    torch.testing.assert_close(rebuilt(x), model(x))
    assert Model.from_config(model.get_config(), custom_objects={}).count_params() == 26


def test_model_from_config_of_a_subclass_calls_its_init():
    class Scaled(Model):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    clone = Scaled.from_config(Scaled(3.0, name="s").get_config())
    assert clone.factor == 3.0 and clone.name == "s"


def test_input_takes_keras_signature():
    x = fitorch.Input((3,), None, "float32", False, False, name="x", optional=False)
    assert x.shape == (None, 3)
    with pytest.raises(ValueError, match="optional=True"):
        fitorch.Input((3,), optional=True)


def test_default_names_count_per_session_as_keras_so_history_keys_match():
    keras = pytest.importorskip("keras")
    x = np.random.RandomState(0).randn(8, 4).astype("float32")
    y = np.zeros((8, 1), "float32")
    keys = []
    for lib in (fitorch, keras):
        lib.utils.clear_session()
        first = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3), lib.layers.Dense(1)])
        inputs = lib.Input((4,))
        hidden = lib.layers.Dense(3)(inputs)
        model = lib.Model(inputs, [lib.layers.Dense(1)(hidden), lib.layers.Dense(1)(hidden)])
        model.compile("sgd", ["mse", "mse"])
        history = model.fit(x, [y, y], epochs=1, verbose=0)
        names = [layer.name for layer in first.layers + model.layers]
        keys.append((names, sorted(history.history), first.name, model.name))
    assert keys[0] == keys[1]
    assert keys[0][1] == ["dense_3_loss", "dense_4_loss", "loss"]
    fitorch.utils.clear_session()
    assert layers.Dense(1).name == "dense"
