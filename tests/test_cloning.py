"""`fitorch.models` helpers against Keras 3: `clone_model`, `to_json` / `model_from_json`."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch.models import clone_model
from tests._layer_oracle import keras


def _graph(lib):
    x = lib.Input((6,), name="inp")
    shared = lib.layers.Dense(6, name="shared")
    inner_in = lib.Input((6,))
    inner = lib.Model(inner_in, lib.layers.Dense(3, name="inner_d")(inner_in), name="enc")
    a = inner(shared(shared(x)))
    out = lib.layers.Add(name="add")([lib.layers.Dense(3, name="skip")(x), a])
    return lib.Model(x, {"out": out, "code": a}, name="g")


def test_functional_clone_has_new_weights_same_graph_and_compile_as_keras():
    model, theirs = _graph(fitorch), _graph(keras)
    model.compile(optimizer=fitorch.optimizers.Adam(0.01), loss={"out": "mse", "code": "mae"})
    clone, k_clone = clone_model(model), keras.models.clone_model(theirs)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in k_clone.layers]
    assert clone.count_params() == k_clone.count_params() == model.count_params()
    assert clone.name == "g" and clone.get_layer("shared") is not model.get_layer("shared")
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    assert clone.optimizer is not model.optimizer and clone.optimizer.learning_rate == 0.01
    clone.set_weights(model.get_weights())
    x = torch.randn(4, 6)
    torch.testing.assert_close(clone(x)["out"], model(x)["out"])
    y = {"out": np.zeros((4, 3), "float32"), "code": np.zeros((4, 3), "float32")}
    assert sorted(clone.fit(x.numpy(), y, verbose=0).history) == ["code_loss", "loss", "out_loss"]


def test_clone_function_and_recursive_as_keras():
    def rename(layer):
        return layer.__class__.from_config({**layer.get_config(), "name": layer.name + "_c"})

    for lib in (fitorch, keras):
        clone = lib.models.clone_model(_graph(lib), clone_function=rename, recursive=True)
        names = [layer.name for layer in clone.layers]
        assert names == ["inp", "shared_c", "enc", "skip_c", "add_c"], lib
        assert [layer.name for layer in clone.get_layer("enc").layers][1:] == ["inner_d_c"]


def test_sequential_and_subclassed_clones():
    seq = fitorch.Sequential([fitorch.Input((4,)), fitorch.layers.Dense(2)], name="s")
    clone = clone_model(seq)
    assert clone.name == "s" and clone.input_shape == (None, 4) and clone.count_params() == 10

    class Twice(fitorch.Model):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = fitorch.layers.Dense(units)

        def call(self, x):
            return self.dense(x) * 2

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Twice(3)
    model(torch.zeros(1, 5))
    twin = clone_model(model)
    assert twin.units == 3 and twin(torch.zeros(1, 5)).shape == (1, 3)
    assert twin.count_params() == 18 and twin.dense is not model.dense
    with pytest.raises(ValueError, match="Sequential and functional models only"):
        clone_model(model, clone_function=lambda layer: layer)
    fresh = fitorch.Input((4,), name="fresh")
    assert clone_model(seq, input_tensors=fresh).inputs[0] is fresh  # as Keras
    with pytest.raises(ValueError, match="one symbolic tensor"):
        clone_model(seq, input_tensors=[fresh, fitorch.Input((4,))])
    with pytest.raises(ValueError, match="call_function is supported for functional"):
        clone_model(seq, call_function=lambda layer, *args: layer(*args))


def test_a_clone_predicts_as_keras_on_the_same_weights():
    ours, theirs = _graph(fitorch), _graph(keras)
    ours.set_weights(theirs.get_weights())
    mine, reference = clone_model(ours), keras.models.clone_model(theirs)
    assert mine.count_params() == reference.count_params()
    mine.set_weights(ours.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    got, want = mine.predict(x, verbose=0), theirs.predict(x, verbose=0)
    for key in ("out", "code"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-6)


def test_to_json_and_model_from_json_round_trip_and_read_keras_json():
    model = _graph(fitorch)
    rebuilt = fitorch.models.model_from_json(model.to_json())
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert rebuilt.count_params() == model.count_params()
    theirs = _graph(keras)
    ours = fitorch.models.model_from_json(theirs.to_json())
    ours.set_weights(theirs.get_weights())
    x = np.ones((2, 6), "float32")
    np.testing.assert_allclose(
        ours(x)["out"].detach().numpy(),
        keras.ops.convert_to_numpy(theirs(x)["out"]),
        rtol=1e-5,
        atol=1e-6,
    )
