"""Functional models against Keras 3 (torch backend): `model.layers` in Keras's depth order
(so weight lists, weight files and saved models line up), and Keras 3's rule for a `training`
value recorded in the graph."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import fitorch  # noqa: E402


def _branching(lib):
    """Two inputs, a residual join, a shared Dense and a late-merged side branch."""
    a = lib.Input((6,), name="a")
    b = lib.Input((4,), name="b")
    shared = lib.layers.Dense(6, name="shared")
    h = lib.layers.Dense(6, name="stem")(a)
    h1 = lib.layers.Dense(6, activation="relu", name="body1")(h)
    h2 = lib.layers.Dense(6, name="body2")(h1)
    h = lib.layers.Add(name="join")([h, h2])
    side = lib.layers.Dense(6, name="side")(b)
    h = shared(h)
    s = shared(side)
    out = lib.layers.Concatenate(name="cat")([s, h])
    out = lib.layers.Dense(2, name="head")(out)
    return lib.Model([a, b], out, name="branching")


def test_layers_and_weights_follow_keras_order():
    ours, theirs = _branching(fitorch), _branching(keras)
    assert [x.name for x in ours.layers] == [x.name for x in theirs.layers]
    # By depth from the output: 'b' (depth 4) and 'side' (3) sit between the main branch's
    # layers, unlike the execution order a, stem, body1, body2, join, b, side, shared, ...
    assert [x.name for x in ours.layers] == ["a", "stem", "body1", "b", "body2", "side"] + [
        "join",
        "shared",
        "cat",
        "head",
    ]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(3, 6)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")]
    want = np.asarray(theirs(x).detach())
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, atol=1e-6)


def test_keras_weights_file_loads_into_the_same_branching_graph(tmp_path):
    theirs = _branching(keras)
    theirs.save_weights(tmp_path / "w.weights.h5")
    ours = _branching(fitorch)
    ours.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_saved_branching_model_loads_back_with_the_same_order(tmp_path):
    model = _branching(fitorch)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    assert [x.name for x in loaded.layers] == [x.name for x in model.layers]
    x = [np.ones((2, 6), "float32"), np.full((2, 4), 0.5, "float32")]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_graphs_deeper_than_the_recursion_limit_are_ordered():
    depth = sys.getrecursionlimit() + 200
    inputs = fitorch.Input((3,))
    h = inputs
    for _ in range(depth):
        h = fitorch.layers.Activation("linear")(h)
    out = fitorch.layers.Dense(1, name="last")(h)
    model = fitorch.Model(inputs, out)
    assert len(model.layers) == depth + 2
    assert model.layers[0] is inputs.node.layer and model.layers[-1].name == "last"


def _recorded_training_models(lib):
    """Dropout recorded with training=True; BatchNormalization recorded with training=False."""
    i = lib.Input((8,))
    drop = lib.Model(i, lib.layers.Dropout(0.5, seed=1)(i, training=True))
    j = lib.Input((8,))
    bn = lib.layers.BatchNormalization(momentum=0.5)
    norm = lib.Model(j, bn(j, training=False))
    return drop, norm, bn


def test_recorded_training_holds_only_while_the_model_call_sets_none():
    x = np.ones((64, 8), "float32")
    for lib in (fitorch, keras):
        drop, norm, bn = _recorded_training_models(lib)
        plain = np.asarray(drop(x).detach().cpu())
        assert (plain == 0).any() and np.allclose(plain[plain != 0], 2.0), lib.__name__
        np.testing.assert_array_equal(drop.predict(x, verbose=0), x)  # predict: training=False
        np.testing.assert_array_equal(np.asarray(drop(x, training=False).detach().cpu()), x)
        batch = np.arange(32, dtype="float32").reshape(4, 8)
        norm(batch)  # recorded training=False: the statistics stay
        np.testing.assert_array_equal(np.asarray(bn.moving_mean), np.zeros(8))
        norm(batch, training=True)  # the model's value replaces the recorded one
        np.testing.assert_allclose(np.asarray(bn.moving_mean), 0.5 * batch.mean(0), rtol=1e-6)
