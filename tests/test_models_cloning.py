"""`models.clone_model`, `Model.to_json` / `models.model_from_json`, `models.save_model`,
checked against Keras 3 (torch backend) on the same weights."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fitorch  # noqa: E402
from fitorch import layers  # noqa: E402
from fitorch.layers.input import OpLayer  # noqa: E402

RNG = np.random.default_rng(0)
X = {"a": RNG.normal(size=(4, 3)).astype("float32"), "b": RNG.normal(size=(4, 3)).astype("float32")}


def _functional(lib):
    """Dict inputs, a shared layer called twice, an op node and two outputs."""
    a, b = lib.Input((3,), name="a"), lib.Input((3,), name="b")
    shared = lib.layers.Dense(4, activation="tanh", name="shared")
    joined = lib.layers.Concatenate(name="join")([shared(a), shared(b)])
    return lib.Model({"a": a, "b": b}, [lib.layers.Dense(1, name="y")(joined) * 2.0, joined])


def _sequential(lib):
    inner = lib.Sequential([lib.layers.Dense(5, activation="relu", name="inner_dense")],
                           name="inner")  # fmt: skip
    return lib.Sequential([lib.Input((3,)), inner, lib.layers.Dense(2, name="out")], name="outer")


def _predict(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("build, x", [(_functional, X), (_sequential, X["a"])])
def test_a_clone_has_the_architecture_and_new_weights_as_keras(build, x):
    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    mine, reference = fitorch.models.clone_model(ours), keras.models.clone_model(theirs)
    names = [layer.name for layer in mine.layers if not isinstance(layer, OpLayer)]  # no ops
    assert names == [layer.name for layer in reference.layers]
    assert mine.count_params() == reference.count_params() == ours.count_params()
    assert all(m is not o for m, o in zip(mine.weights, ours.weights))  # not shared
    mine.set_weights(ours.get_weights())
    for got, want in zip(_predict(mine, x), _predict(theirs, x)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_layer_shared_in_the_model_stays_shared_in_the_clone():
    clone = fitorch.models.clone_model(_functional(fitorch))
    shared = clone.get_layer("shared")
    assert len([node for node in clone.graph_nodes() if node.layer is shared]) == 2


def test_clone_function_and_call_function_shape_the_new_model():
    model = _functional(fitorch)

    def relu_dense(layer):
        config = layer.get_config()
        if isinstance(layer, layers.Dense):
            config["activation"] = "relu"
        return layer.__class__.from_config(config)

    calls = []

    def record(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)

    clone = fitorch.models.clone_model(model, clone_function=relu_dense, call_function=record)
    assert clone.get_layer("shared").activation is fitorch.activations.relu
    assert calls.count("shared") == 2 and "join" in calls and "y" in calls


def test_recursive_clones_nested_models_instead_of_passing_them_to_clone_function():
    seen = []

    def note(layer):
        seen.append(layer.name)
        return layer.__class__.from_config(layer.get_config())

    fitorch.models.clone_model(_sequential(fitorch), clone_function=note, recursive=True)
    assert seen == ["inner_dense", "out"]
    seen.clear()
    fitorch.models.clone_model(_sequential(fitorch), clone_function=note)
    assert seen == ["inner", "out"]


def test_clone_on_given_input_tensors():
    inp = fitorch.Input((3,), name="fresh")
    clone = fitorch.models.clone_model(_sequential(fitorch), input_tensors=inp)
    assert clone.inputs[0] is inp
    with pytest.raises(ValueError, match="call_function"):
        fitorch.models.clone_model(_sequential(fitorch), call_function=lambda *a: None)
    with pytest.raises(TypeError, match="fitorch Model"):
        fitorch.models.clone_model(layers.Dense(2))


def test_a_keras_to_json_rebuilds_in_fitorch_and_a_fitorch_one_round_trips():
    theirs = _functional(keras)
    ours = fitorch.models.model_from_json(theirs.to_json())
    ours.set_weights(theirs.get_weights())
    for got, want in zip(_predict(ours, X), _predict(theirs, X)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    again = fitorch.models.model_from_json(ours.to_json(indent=2))
    assert [layer.name for layer in again.layers] == [layer.name for layer in ours.layers]


def test_save_model_writes_what_load_model_reads(tmp_path):
    model = _sequential(fitorch)
    fitorch.models.save_model(model, tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(_predict(loaded, X["a"])[0], _predict(model, X["a"])[0])
