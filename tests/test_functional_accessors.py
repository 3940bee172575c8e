"""A functional model's public graph accessors (`input`, `output`, `inputs`, `outputs`,
`operations`, `graph_nodes()`) against Keras 3 (torch backend), and the modules that read the
graph through them (training's input names, TensorBoard's graph)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fitorch  # noqa: E402
from fitorch.training.batches import model_input_names  # noqa: E402


def _dict_graph(lib):
    """Dict inputs, a shared Dense called twice, an operator and an op."""
    a = lib.Input((3,), name="a")
    b = lib.Input((3,), name="b")
    shared = lib.layers.Dense(3, name="shared")
    h = shared(a) + shared(b)
    out = lib.ops.exp(lib.layers.Dense(2, name="head")(h))
    return lib.Model({"a": a, "b": b}, {"y": out, "h": h}, name="g")


def _ones():
    return {"a": np.ones((2, 3), "float32"), "b": np.ones((2, 3), "float32")}


def test_input_and_output_keep_the_given_structure_as_keras():
    ours, theirs = _dict_graph(fitorch), _dict_graph(keras)
    assert sorted(ours.input) == sorted(theirs.input) == ["a", "b"]
    assert ours.input["a"] is ours.inputs[0] and ours.input["b"] is ours.inputs[1]
    assert sorted(ours.output) == sorted(theirs.output) == ["h", "y"]
    shapes = {k: tuple(t.shape) for k, t in theirs.output.items()}
    assert {k: t.shape for k, t in ours.output.items()} == shapes
    # Flat lists take a dict's values in sorted key order, as Keras 3's tree.flatten.
    assert [t.shape for t in ours.outputs] == [(None, 3), (None, 2)]
    assert [tuple(t.shape) for t in theirs.outputs] == [(None, 3), (None, 2)]
    assert ours.output_names == ["h", "y"] and list(ours(_ones())) == ["h", "y"]
    single = fitorch.Input((4,))
    model = fitorch.Model(single, fitorch.layers.Dense(1)(single))
    assert model.input is single and model.inputs == [single]
    assert model.output is model.outputs[0]


def test_operations_list_layers_inputs_and_ops_as_keras():
    keras.utils.clear_session()  # Keras numbers op names per session ("add", "add_1", ...)
    ours, theirs = _dict_graph(fitorch), _dict_graph(keras)
    names = [op.name for op in ours.operations]
    assert names == [op.name for op in theirs.operations]
    assert names == ["a", "b", "shared", "add", "head", "exp"]
    assert type(ours.operations[0]).__name__ == "InputLayer"


def test_graph_nodes_are_the_calls_in_execution_order():
    model = _dict_graph(fitorch)
    nodes = model.graph_nodes()
    layer_names = [node.layer.name for node in nodes]
    assert layer_names == ["a", "b", "shared", "shared", "add", "head", "exp"]  # shared twice
    position = {id(t): i for i, node in enumerate(nodes) for t in node.outputs}
    for i, node in enumerate(nodes):
        assert all(position[id(t)] < i for t in node.parents())  # parents run first
    assert nodes[2].parents() == [model.input["a"]]
    assert nodes[3].parents() == [model.input["b"]]
    assert model.graph_nodes() is not model.graph_nodes()  # a copy: callers cannot edit the graph


def test_model_input_names_reads_the_dict_keys_or_names():
    assert model_input_names(_dict_graph(fitorch)) == ["a", "b"]
    x = fitorch.Input((2,), name="pixels")
    listed = fitorch.Model([x], fitorch.layers.Dense(1)(x))
    assert model_input_names(listed) == ["pixels"]
    assert model_input_names(fitorch.Sequential([fitorch.layers.Dense(1)])) is None


def test_fit_checks_dict_keys_of_a_dict_input_model():
    model = _dict_graph(fitorch)
    model.compile("sgd", loss={"y": "mse", "h": "mse"})
    data = {"a": np.ones((4, 3), "float32"), "bb": np.ones((4, 3), "float32")}
    targets = {"y": np.ones((4, 2), "float32"), "h": np.ones((4, 3), "float32")}
    with pytest.raises(ValueError, match="'bb'.*Did you mean 'b'"):
        model.fit(data, targets, verbose=0)


def test_tensorboard_graph_of_a_sequential_model_chains_the_layers():
    from fitorch.callbacks.tensorboard import _layer_graph

    model = fitorch.Sequential(
        [
            fitorch.Input((3,)),
            fitorch.layers.Dense(2, name="d1"),
            fitorch.layers.Dense(1, name="d2"),
        ],
        name="s",
    )
    graph, _ = _layer_graph(model)
    assert {n.name: list(n.input) for n in graph.node} == {"s/d1": [], "s/d2": ["s/d1"]}


def _layer_accessor_graph(lib):
    """A shared Dense (two calls), a two-input Concatenate and an LSTM returning its states."""
    a, b = lib.Input((4,), name="a"), lib.Input((4,), name="b")
    shared = lib.layers.Dense(3, name="shared")
    joined = lib.layers.Concatenate(name="join")([shared(a), shared(b)])
    seq = lib.layers.Reshape((2, 3), name="steps")(joined)
    states = lib.layers.LSTM(2, return_state=True, name="lstm")(seq)
    return lib.Model([a, b], states[0])


def _shapes(tensors):
    if isinstance(tensors, list):
        return [tuple(t.shape) for t in tensors]
    return tuple(tensors.shape)


@pytest.mark.parametrize("layer", ["a", "shared", "join", "steps", "lstm"])
def test_each_layer_input_and_output_is_its_first_call_as_keras(layer):
    ours, theirs = _layer_accessor_graph(fitorch), _layer_accessor_graph(keras)
    mine, keras_layer = ours.get_layer(layer), theirs.get_layer(layer)
    pairs = ((mine.input, keras_layer.input), (mine.output, keras_layer.output))
    for ours_side, keras_side in pairs:
        assert isinstance(ours_side, list) == isinstance(keras_side, list)  # list for several
    assert _shapes(mine.input) == _shapes(keras_layer.input)
    assert _shapes(mine.output) == _shapes(keras_layer.output)
    if layer == "shared":  # the first of its two calls, fed by input `a`
        assert mine.input is ours.inputs[0]


def test_a_layer_never_called_symbolically_has_no_output():
    assert not hasattr(fitorch.layers.Dense(2), "output")
    assert not hasattr(fitorch.layers.Dense(2), "input")


def test_feature_extraction_from_a_sequential_model_as_the_sequential_guide():
    # "The Sequential model" guide: a Model on a Sequential's inputs and a middle layer's output.
    def build(lib):
        return lib.Sequential([
            lib.Input((6,)),
            lib.layers.Dense(5, activation="relu"),
            lib.layers.Dense(4, activation="tanh", name="middle"),
            lib.layers.Dense(1),
        ])  # fmt: skip

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    mine = fitorch.Model(ours.inputs, ours.get_layer("middle").output)
    reference = keras.Model(theirs.inputs, theirs.get_layer("middle").output)
    np.testing.assert_allclose(mine.predict(x, verbose=0), reference.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    every = fitorch.Model(ours.inputs, [layer.output for layer in ours.layers])
    assert [tuple(t.shape) for t in every(x)] == [(3, 5), (3, 4), (3, 1)]
    assert _shapes(ours.outputs) == _shapes(theirs.outputs) == [(None, 1)]
    assert ours.layers[0].input is ours.inputs[0]


def test_a_sequential_without_an_input_shape_has_no_inputs_yet():
    model = fitorch.Sequential([fitorch.layers.Dense(2)])
    assert not hasattr(model, "inputs")
    model.build((None, 3))
    assert _shapes(model.inputs) == [(None, 3)] and _shapes(model.outputs) == [(None, 2)]


def test_input_and_output_shapes_read_as_keras():
    def build(lib):
        a, b = lib.Input((None, 3)), lib.Input((2,))
        h = lib.layers.Dense(4)(a)
        return lib.Model(a, h), lib.Model([a, b], [h, lib.layers.Dense(1)(b)])

    for mine, theirs in zip(build(fitorch), build(keras)):
        assert mine.input_shape == theirs.input_shape
        assert mine.output_shape == theirs.output_shape


def _shared_graph(lib):
    x = lib.Input((3,), name="x")
    dense = lib.layers.Dense(3, name="d")
    lstm = lib.layers.LSTM(2, return_state=True, name="r")
    y = dense(dense(x))
    lstm(lib.layers.Reshape((3, 1))(y))
    return dense, lstm, lib.Model(x, y)


def test_layer_input_and_output_are_its_first_call_as_keras():
    dense, lstm, model = _shared_graph(fitorch)
    k_dense, k_lstm, _ = _shared_graph(keras)
    assert dense.input is model.input and dense.output.shape == k_dense.output.shape
    assert len(lstm.output) == len(k_lstm.output) == 3
    assert model.layers[0].input == [] and model.layers[0].output is model.input
    with pytest.raises(AttributeError, match="no attribute .output."):
        _ = fitorch.layers.Dense(2).output


def test_sequential_inputs_and_outputs_as_keras():
    seq = fitorch.Sequential([fitorch.Input((4,)), fitorch.layers.Dense(2)])
    assert [t.shape for t in seq.inputs] == [(None, 4)]
    assert seq.outputs == [seq.layers[0].output] and seq.layers[0].input is seq.inputs[0]
    with pytest.raises(AttributeError, match="no attribute .inputs."):
        _ = fitorch.Sequential([fitorch.layers.Dense(2)]).inputs


def _dict_output_model(lib):
    x = lib.Input((3,))
    h = lib.layers.Dense(4)(x)
    return lib.Model(x, {"priority": lib.layers.Dense(1)(h), "department": lib.layers.Dense(2)(h)})


def test_dict_outputs_order_layers_and_weights_by_sorted_key_as_keras():
    ours, theirs = _dict_output_model(fitorch), _dict_output_model(keras)
    ours.set_weights(theirs.get_weights())  # same shapes in the same order
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    x = np.ones((2, 3), "float32")
    got, want = ours(x), theirs(x)
    for key in want:
        want_k = keras.ops.convert_to_numpy(want[key])
        np.testing.assert_allclose(got[key].detach().numpy(), want_k, rtol=1e-5, atol=1e-6)
