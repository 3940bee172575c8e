"""Op nodes on symbolic tensors (fitorch.layers.op_node): shapes and dtypes as Keras 3
reports them, values in a model run, add_loss of symbolic expressions, and saving."""

import os
import warnings

import numpy as np
import pytest
import torch

import fitorch
from fitorch import backend as K
from fitorch import layers
from fitorch.layers.op_node import get_op, keras_op_layer, symbolic_op
from fitorch.models import Functional, Model, load_model

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

X = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")


# (fitorch expression, Keras 3 expression), each on an Input of shape (None, 3).
CASES = {
    "add": (lambda x: x + 1.0, lambda x: x + 1.0),
    "rsub": (lambda x: 2.0 - x, lambda x: 2.0 - x),
    "pow": (lambda x: x**2, lambda x: x**2),
    "floordiv": (lambda x: x // 2.0, lambda x: x // 2.0),
    "mod": (lambda x: x % 2.0, lambda x: x % 2.0),
    "neg_abs": (lambda x: abs(-x), lambda x: abs(-x)),
    "matmul": (lambda x: x @ K.transpose(x), lambda x: x @ keras.ops.transpose(x)),
    "lt": (lambda x: x < 0.5, lambda x: x < 0.5),
    "ge": (lambda x: x >= 0.5, lambda x: x >= 0.5),
    "ne": (lambda x: x != 0, lambda x: x != 0),
    "and_or_invert": (
        lambda x: ~((x > 0) & (x < 1) | (x > 2)),
        lambda x: ~((x > 0) & (x < 1) | (x > 2)),
    ),
    "index_row": (lambda x: x[0], lambda x: x[0]),
    "index_column": (lambda x: x[:, 1], lambda x: x[:, 1]),
    "slice": (lambda x: x[:, :2], lambda x: x[:, :2]),
    "mean_all": (lambda x: K.mean(x), lambda x: keras.ops.mean(x)),
    "sum_batch": (lambda x: K.sum(x, axis=0), lambda x: keras.ops.sum(x, axis=0)),
    "max_keepdims": (
        lambda x: K.max(x, axis=-1, keepdims=True),
        lambda x: keras.ops.max(x, axis=-1, keepdims=True),
    ),
    "exp_square": (lambda x: K.exp(K.square(x)), lambda x: keras.ops.exp(keras.ops.square(x))),
    "concat": (
        lambda x: K.concatenate([x, x], axis=-1),
        lambda x: keras.ops.concatenate([x, x], axis=-1),
    ),
    "reshape": (lambda x: K.reshape(x, (-1, 3, 1)), lambda x: keras.ops.reshape(x, (-1, 3, 1))),
    "cast_int": (lambda x: K.cast(x, "int32"), lambda x: keras.ops.cast(x, "int32")),
    "argmax": (lambda x: K.argmax(x), lambda x: keras.ops.argmax(x, axis=-1)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_symbolic_shape_and_dtype_as_keras(case):
    ours, theirs = CASES[case]
    got = ours(fitorch.Input((3,)))
    want = theirs(keras.Input((3,)))
    assert got.shape == tuple(want.shape)
    # Keras's torch backend reports argmax as int32; torch (and fitorch) return int64.
    assert K.dtype(got) == ("int64" if case == "argmax" else want.dtype)


@pytest.mark.parametrize("case", sorted(CASES))
def test_symbolic_op_values_in_a_model_equal_keras(case):
    ours, theirs = CASES[case]
    x = fitorch.Input((3,))
    kx = keras.Input((3,))
    # One call on the whole batch: reductions and indexing across the batch differ per batch.
    got = Model(x, ours(x))(torch.from_numpy(X)).detach().numpy()
    want = keras.ops.convert_to_numpy(keras.Model(kx, theirs(kx))(X))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_ops_between_layers_train_and_keep_gradients():
    x = fitorch.Input((3,))
    h = layers.Dense(4)(x)
    y = layers.Dense(1)(K.tanh(h) * 2.0 + h[:, :1])
    model = Model(x, y)
    model.compile("sgd", "mse")
    before = model.evaluate(X, X[:, :1], verbose=0)
    model.fit(X, X[:, :1], epochs=20, verbose=0)
    assert model.evaluate(X, X[:, :1], verbose=0) < before


def test_K_functions_on_symbolic_tensors_outside_a_model_build_nodes():
    x = fitorch.Input((4,), name="x")
    z = K.mean(K.exp(x), axis=-1)
    assert z.shape == (None,) and z.node.layer.func.__name__ == "mean"
    assert K.int_shape(x) == (None, 4) and K.ndim(z) == 1 and K.dtype(z) == "float32"


def test_symbolic_op_wraps_any_function_once():
    def twice(t, scale=2.0):
        return t * scale

    op = symbolic_op(twice)
    x = fitorch.Input((2,))
    y = op(x, scale=3.0)
    assert y.shape == (None, 2)
    np.testing.assert_allclose(Model(x, y).predict(X[:, :2], verbose=0), 3.0 * X[:, :2])
    assert torch.equal(op(torch.ones(2)), torch.full((2,), 2.0))  # plain on tensors


def test_add_loss_of_a_symbolic_expression_is_recomputed_every_step():
    x = fitorch.Input((3,))
    h = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")(x)
    model = Model(x, h)
    model.add_loss(0.5 * K.mean(K.square(h)))
    model.compile("sgd")
    # h = x @ ones(3, 2): every column equals the row sum.
    expected = 0.5 * np.mean(np.square(X.sum(axis=1)))
    assert model.evaluate(X, verbose=0) == pytest.approx(expected, rel=1e-5)
    model.fit(X, epochs=5, batch_size=5, verbose=0)
    assert model.evaluate(X, verbose=0) < expected


def test_add_loss_input_outside_the_model_raises_naming_it():
    x, other = fitorch.Input((3,)), fitorch.Input((3,), name="other")
    model = Model(x, layers.Dense(1)(x))
    with pytest.raises(ValueError, match="input 'other'"):
        model.add_loss(K.mean(other))


def _op_model():
    x = fitorch.Input((3,), name="x")
    h = layers.Dense(2, name="d")(K.exp(x) + 1.0)
    m = K.mean(h, axis=-1, keepdims=True)
    return Model(x, [m, h[:, :1] != 0])


def test_save_load_round_trip_of_op_nodes(tmp_path):
    model = _op_model()
    model.save(tmp_path / "ops.keras")
    loaded = load_model(tmp_path / "ops.keras")
    for a, b in zip(model.predict(X, verbose=0), loaded.predict(X, verbose=0)):
        np.testing.assert_array_equal(a, b)
    record = next(r for r in model.get_config()["layers"] if r["name"] == "mean")
    assert record["class_name"] == "TorchOp"
    assert record["config"]["op"] == "fitorch.backend.mean"


def test_keras3_file_with_op_layers_loads_and_predicts_the_same(tmp_path):
    ops = keras.ops
    x = keras.Input((3,))
    h = keras.layers.Dense(2)(ops.exp(x) + 1)
    km = keras.Model(x, [ops.mean(h, axis=-1, keepdims=True), h[:, :1] != 0, -ops.abs(h)])
    km.save(tmp_path / "k3.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = load_model(tmp_path / "k3.keras")
    for a, b in zip(fm.predict(X, verbose=0), km.predict(X, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_keras2_tfoplambda_record_loads():
    # Keras 2 saved `tf.math.not_equal(ids, 0)` (Embedding mask_zero into attention) so.
    config = {
        "name": "m",
        "layers": [
            {"class_name": "InputLayer", "name": "ids",
             "config": {"batch_input_shape": [None, 4], "dtype": "int64", "name": "ids"},
             "inbound_nodes": []},
            {"class_name": "TFOpLambda", "name": "tf.math.not_equal",
             "config": {"name": "tf.math.not_equal", "trainable": True, "dtype": "float32",
                        "function": "math.not_equal"},
             "inbound_nodes": [[["ids", 0, 0, {"y": 0, "name": None}]]]},
        ],
        "input_layers": [["ids", 0, 0]],
        "output_layers": [["tf.math.not_equal", 0, 0]],
    }  # fmt: skip
    model = Functional.from_config(config)
    ids = torch.tensor([[3, 0, 1, 0]])
    (mask,) = model(ids)
    assert mask.tolist() == [[True, False, True, False]]


def test_loading_refuses_ops_outside_the_allow_list():
    with pytest.raises(ValueError, match="Did you mean 'fitorch.backend.mean'"):
        get_op("fitorch.backend.meen")
    record = {"class_name": "TorchOp", "config": {"name": "evil", "op": "os.system"}}
    with pytest.raises(ValueError, match="'os.system' is not an operation"):
        keras_op_layer(record, "layer 'evil'")
    record = {"class_name": "TFOpLambda", "config": {"function": "math.not_eqaul"}}
    with pytest.raises(ValueError, match="Did you mean 'math.not_equal'"):
        keras_op_layer(record, "layer 'x'")


def test_saving_an_unregistered_function_raises_naming_it():
    x = fitorch.Input((3,))
    model = Model(x, symbolic_op(lambda t: t * 2)(x))
    with pytest.raises(TypeError, match="Cannot save the operation '<lambda>'"):
        model.get_config()


def test_ops_reached_through_their_group_build_graph_nodes(tmp_path):
    from fitorch import ops

    inputs = fitorch.Input((3, 3))
    x = ops.nn.relu(inputs)
    y = ops.numpy.square(ops.math.logsumexp(x, axis=-1))
    model = fitorch.Model(inputs, y)
    assert [layer.name for layer in model.layers[1:]] == ["relu", "logsumexp", "square"]
    value = np.random.default_rng(0).normal(size=(2, 3, 3)).astype("float64")
    expected = np.log(np.exp(np.maximum(value, 0.0)).sum(axis=-1)) ** 2
    np.testing.assert_allclose(model.predict(value, verbose=0), expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "groups.keras")
    loaded = fitorch.saving.load_model(tmp_path / "groups.keras")
    np.testing.assert_allclose(loaded.predict(value, verbose=0), expected, rtol=1e-5, atol=1e-6)
