"""The lean eager forward keeps Keras's behaviour: Sequential's call order follows add/pop,
a functional graph's recorded call arguments survive every run, the training scope is
restored after nested and failing calls; Keras 3 (torch) is the oracle where it applies."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import layers  # noqa: E402
from fitorch.layers.base import enclosing_training, training_scope  # noqa: E402

keras = pytest.importorskip("keras")

X = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")


def _copy_weights(ours, theirs):
    for a, b in zip(ours.layers, theirs.layers):
        a.set_weights(b.get_weights())


def _build_pair(edit):
    """The same Sequential in fitorch and Keras after `edit(model, lib)` (adds and pops)."""
    models = []
    for lib in (fitorch, keras):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="relu")])
        edit(model, lib)
        models.append(model)
    _copy_weights(*models)
    return models


@pytest.mark.parametrize(
    "edit",
    [
        lambda m, lib: m.add(lib.layers.Dense(2)),
        lambda m, lib: (m.add(lib.layers.Dense(2)), m.pop(), m.add(lib.layers.Dense(6))),
        lambda m, lib: (m.add(lib.layers.Dense(2)), m.add(lib.layers.Dense(1)), m.pop()),
    ],
    ids=["add", "add-pop-add", "add-add-pop"],
)
def test_sequential_runs_its_layers_after_add_and_pop_like_keras(edit):
    ours, theirs = _build_pair(edit)
    got = ours(torch.as_tensor(X)).detach().numpy()
    want = keras.ops.convert_to_numpy(theirs(X))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sequential_called_twice_gives_the_same_closed_form():
    model = fitorch.Sequential([fitorch.Input((3,)), layers.Dense(2), layers.Dense(1)])
    (k1, b1), (k2, b2) = (layer.get_weights() for layer in model.layers)
    want = (X @ k1 + b1) @ k2 + b2
    for training in (True, False, None):
        got = model(torch.as_tensor(X), training=training).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_empty_sequential_still_names_the_problem():
    with pytest.raises(ValueError, match="no layers"):
        fitorch.Sequential()(torch.zeros(2, 3))


class _Record(layers.Layer):
    """Records the `training` its call receives and the scope nested calls would inherit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, inputs, training=None):
        self.seen.append((training, enclosing_training()))
        return inputs * 2.0


def test_recorded_training_argument_survives_every_graph_run():
    inp = fitorch.Input((3,))
    record = _Record()
    model = fitorch.Model(inp, record(inp, training=False))
    node_kwargs = [dict(node.kwargs) for node in model._nodes]
    record.seen.clear()  # drop the shape-inference run
    x = torch.as_tensor(X)
    model(x)  # no model value: the recorded False stands
    model(x, training=True)  # the model's value replaces it (Keras 3)
    model(x)  # and the record is intact for the next run
    assert [dict(node.kwargs) for node in model._nodes] == node_kwargs
    assert record.seen == [(False, False), (True, True), (False, False)]


def test_functional_output_is_the_closed_form_for_list_and_dict_inputs():
    a, b = fitorch.Input((3,), name="a"), fitorch.Input((3,), name="b")
    dense = layers.Dense(2)
    model = fitorch.Model([a, b], layers.Add()([dense(a), dense(b)]))
    kernel, bias = dense.get_weights()
    want = X @ kernel + bias + (2 * X) @ kernel + bias
    x1, x2 = torch.as_tensor(X), torch.as_tensor(2 * X)
    for inputs in ([x1, x2], (x1, x2), {"a": x1, "b": x2}):
        got = model(inputs).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_nested_layers_inherit_the_resolved_training_value():
    inner = _Record()
    model = fitorch.Sequential([fitorch.Input((3,)), fitorch.Sequential([inner])])
    inner.seen.clear()  # drop the shape-inference run
    x = torch.as_tensor(X)
    model(x, training=True)
    model(x)
    with training_scope(True):
        model(x)
        model(x, training=False)
    # Without a value anywhere the layer runs in inference and nested calls inherit none.
    assert inner.seen == [(True, True), (False, None), (True, True), (False, False)]
    assert enclosing_training() is None


class _Fails(layers.Layer):
    def call(self, inputs, training=None):
        raise RuntimeError("boom")


@pytest.mark.parametrize("scope", [None, True, False])
def test_a_failing_call_restores_the_enclosing_scope(scope):
    with training_scope(scope):
        for training in (None, True, False):
            with pytest.raises(RuntimeError, match="boom"):
                _Fails()(torch.zeros(2, 3), training=training)
            assert enclosing_training() is scope


def test_mask_still_reaches_the_next_layer_through_the_stack():
    ours = fitorch.Sequential([layers.Embedding(5, 2, mask_zero=True), layers.LSTM(3)])
    theirs = keras.Sequential([keras.layers.Embedding(5, 2, mask_zero=True), keras.layers.LSTM(3)])
    tokens = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    theirs(tokens)
    ours(torch.as_tensor(tokens))
    _copy_weights(ours, theirs)
    got = ours(torch.as_tensor(tokens)).detach().numpy()
    want = keras.ops.convert_to_numpy(theirs(tokens))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
