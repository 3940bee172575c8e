"""Keras 3 call semantics of layers and models: `training`/`mask` accepted by every layer,
training resolution (explicit > enclosing call > call default > inference), host arrays,
dtype attributes, MultiHeadAttention.compute_output_shape; Keras 3 (torch) is the oracle."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import layers  # noqa: E402
from fitorch.layers.base import training_scope  # noqa: E402

keras = pytest.importorskip("keras")

MODES = [{}, {"training": True}, {"training": False}]
X = np.random.default_rng(0).standard_normal((6, 4)).astype("float32")


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _pair(kind):
    """The same BatchNormalization net in Keras and fitorch (weights copied), as `kind`."""
    moving = [np.full(4, 0.5, "float32"), np.full(4, 2.0, "float32")]

    def build(lib):
        bn = lib.layers.BatchNormalization(momentum=0.9)
        dense = lib.layers.Dense(4)
        if kind == "direct":
            return bn, [bn]
        if kind == "sequential":
            return lib.Sequential([lib.Input((4,)), dense, bn]), [dense, bn]
        inp = lib.Input((4,))
        return lib.Model(inp, bn(dense(inp))), [dense, bn]

    ours, our_layers = build(fitorch)
    theirs, their_layers = build(keras)
    if kind == "direct":
        ours(torch.as_tensor(X))
        theirs(X)
    for a, b in zip(our_layers, their_layers):
        weights = b.get_weights()
        if isinstance(b, keras.layers.BatchNormalization):
            weights = weights[:2] + moving
            b.set_weights(weights)
        a.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("kind", ["direct", "sequential", "functional"])
@pytest.mark.parametrize("mode", MODES, ids=["no-arg", "training", "inference"])
def test_batchnorm_nets_match_keras_in_every_mode(kind, mode):
    ours, theirs = _pair(kind)
    got = _np(ours(X, **mode))
    want = _np(theirs(X, **mode))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # training updates the moving statistics exactly as Keras does; inference leaves them
    bn_ours = ours if kind == "direct" else ours.layers[-1]
    bn_theirs = theirs if kind == "direct" else theirs.layers[-1]
    for a, b in zip(bn_ours.get_weights(), bn_theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    trained = mode.get("training", False)
    assert np.allclose(bn_ours.get_weights()[2], 0.5) != trained


DROPOUTS = [
    lambda: layers.Dropout(0.5),
    lambda: layers.GaussianNoise(1.0),
    lambda: layers.GaussianDropout(0.5),
    lambda: layers.AlphaDropout(0.5),
]


@pytest.mark.parametrize("make", DROPOUTS, ids=["Dropout", "GaussianNoise", "GDrop", "ADrop"])
@pytest.mark.parametrize("kind", ["direct", "sequential", "functional", "nested"])
def test_dropout_like_identity_at_inference_not_in_training(make, kind):
    layer = make()
    if kind == "direct":
        net = layer
    elif kind == "sequential":
        net = fitorch.Sequential([fitorch.Input((64,)), layer])
    else:
        inp = fitorch.Input((64,))
        net = fitorch.Model(inp, layer(inp))
        if kind == "nested":  # a submodel inside a Sequential inside a functional model
            outer_in = fitorch.Input((64,))
            net = fitorch.Model(outer_in, fitorch.Sequential([net])(outer_in))
    x = torch.ones(8, 64)
    assert torch.equal(net(x), x)
    assert torch.equal(net(x, training=False), x)
    assert not torch.equal(net(x, training=True), x)
    assert layer.training  # the torch flag follows the resolved value ...
    assert torch.equal(net(x), x)
    assert not layer.training  # ... and back to inference on a plain call
    with training_scope(True):
        assert not torch.equal(net(x), x)
        assert torch.equal(net(x, training=False), x)  # explicit wins over the scope


def test_every_layer_accepts_training_and_mask():
    x = torch.as_tensor(X)
    dense = layers.Dense(3)
    ref = dense(x)
    mask = torch.ones(6, dtype=torch.bool)
    for kwargs in ({"training": True}, {"training": False}, {"mask": mask}, {"mask": None}):
        assert torch.equal(dense(x, **kwargs), ref)
    assert torch.equal(layers.Flatten()(x, training=True, mask=mask), x)
    with pytest.raises(TypeError):
        dense(x, unknown=1)


class _DefaultTrue(layers.Layer):
    def call(self, inputs, training=True):
        return inputs + (1.0 if training else 0.0)


class _Seen(layers.Layer):
    def call(self, inputs, training=None):
        self.seen = training
        return inputs


def test_resolution_order_matches_keras():
    class KDefaultTrue(keras.layers.Layer):
        def call(self, inputs, training=True):
            return inputs + (1.0 if training else 0.0)

    x = np.zeros((2, 3), "float32")
    for mode in MODES:
        ours = _DefaultTrue()(x, **mode)
        theirs = KDefaultTrue()(x, **mode)
        np.testing.assert_allclose(_np(ours), _np(theirs))
    # an enclosing call's value reaches the nested layer; its own default applies otherwise
    for mode in MODES:
        inp, kinp = fitorch.Input((3,)), keras.Input((3,))
        ours = fitorch.Sequential([inp, layers.Dense(3), _DefaultTrue()])
        theirs = keras.Sequential([kinp, keras.layers.Dense(3), KDefaultTrue()])
        ours.layers[0].set_weights(theirs.layers[0].get_weights())
        np.testing.assert_allclose(_np(ours(x, **mode)), _np(theirs(x, **mode)), atol=1e-6)
    seen = _Seen()
    model = fitorch.Sequential([fitorch.Input((3,)), seen])
    model(x)
    assert seen.seen is False
    model(x, training=True)
    assert seen.seen is True


def test_host_arrays_become_tensors_in_floatx():
    out = layers.Dense(2)(np.ones((3, 4), "float64"))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    out = layers.Dense(2)([[1.0, 2.0], [3.0, 4.0]])
    assert out.shape == (2, 2)
    norm = layers.Normalization(mean=2.0, variance=4.0)
    np.testing.assert_allclose(_np(norm(np.array([[4.0], [0.0]]))), [[1.0], [-1.0]])
    model = fitorch.Sequential([fitorch.Input((4,)), layers.Dense(1)])
    assert model(X).shape == (6, 1)
    a, b = fitorch.Input((4,)), fitorch.Input((4,))
    two = fitorch.Model([a, b], layers.Add()([a, b]))
    np.testing.assert_allclose(_np(two([X, X])), 2 * X)
    assert layers.Embedding(5, 2)(np.array([[1, 2]])).shape == (1, 2, 2)


def test_host_arrays_in_masks_states_and_second_inputs_as_keras():
    seq = np.random.default_rng(1).standard_normal((2, 3, 4)).astype("float32")
    value = np.random.default_rng(2).standard_normal((2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    state = [np.ones((2, 2), "float32")] * 2
    ours, theirs = layers.LSTM(2), keras.layers.LSTM(2)
    ours(seq), theirs(seq)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        _np(ours(seq, mask=mask, initial_state=state)),
        _np(theirs(seq, mask=mask, initial_state=state)),
        rtol=1e-5,
        atol=1e-6,
    )
    v_mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], bool)
    np.testing.assert_allclose(
        _np(layers.Attention()([seq, value], mask=[None, v_mask])),
        _np(keras.layers.Attention()([seq, value], mask=[None, v_mask])),
        rtol=1e-5,
        atol=1e-6,
    )
    mha = layers.MultiHeadAttention(2, 2)
    assert mha(seq, value, attention_mask=np.ones((2, 3, 5), bool)).shape == (2, 3, 4)


@pytest.mark.parametrize("dtype", [None, "float32", "float64", "mixed_bfloat16", "bfloat16"])
def test_dtype_attributes_match_keras(dtype):
    ours, theirs = layers.Dense(2, dtype=dtype), keras.layers.Dense(2, dtype=dtype)
    assert ours.compute_dtype == theirs.compute_dtype
    assert ours.variable_dtype == theirs.variable_dtype
    assert ours.dtype_policy.name == theirs.dtype_policy.name


def test_multi_head_attention_compute_output_shape_matches_keras():
    for kwargs in ({}, {"output_shape": 9}):
        ours = layers.MultiHeadAttention(2, 4, **kwargs)
        theirs = keras.layers.MultiHeadAttention(2, 4, **kwargs)
        for args in [((None, 5, 8), (None, 7, 6)), ((None, 5, 8), (None, 7, 6), (None, 7, 3))]:
            assert ours.compute_output_shape(*args) == theirs.compute_output_shape(*args)
    with pytest.raises(ValueError, match="key_shape"):
        ours.compute_output_shape((None, 5, 8), (None, 7, 6), (None, 6, 3))


SEQ = np.random.default_rng(1).standard_normal((2, 4, 3)).astype("float32")
SEQ_MASK = np.array([[1, 1, 0, 0], [1, 0, 1, 1]], bool)


def _flat(out):
    if isinstance(out, (list, tuple)):
        return [v for o in out for v in _flat(o)]
    return [_np(out)]


def _same_structure(a, b):
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(_same_structure(x, y) for x, y in zip(a, b))
        )
    return not isinstance(b, (list, tuple)) and tuple(a.shape) == tuple(b.shape)


def _rnn_pair(make):
    ours, theirs = make(fitorch), make(keras)
    theirs(SEQ)
    ours(torch.as_tensor(SEQ))
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.mark.parametrize("merge_mode", [None, "concat", "sum", "mul", "ave", "plain"])
@pytest.mark.parametrize("rnn", ["SimpleRNN", "LSTM", "GRU"])
def test_masked_sequence_outputs_match_keras(rnn, merge_mode):
    def make(lib):
        layer = getattr(lib.layers, rnn)(2, return_sequences=True)
        if merge_mode == "plain":
            return layer
        return lib.layers.Bidirectional(layer, merge_mode=merge_mode)

    ours, theirs = _rnn_pair(make)
    got = ours(torch.as_tensor(SEQ), mask=torch.as_tensor(SEQ_MASK))
    want = theirs(SEQ, mask=SEQ_MASK)
    for a, b in zip(_flat(got), _flat(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        if merge_mode != "plain":  # Bidirectional: masked steps are zeros
            assert np.all(a[~SEQ_MASK] == 0.0)


def test_stacked_cells_return_states_nested_per_cell_as_keras():
    def make(lib):
        cells = [lib.layers.LSTMCell(2), lib.layers.GRUCell(3), lib.layers.SimpleRNNCell(4)]
        return lib.layers.RNN(cells, return_state=True)

    ours, theirs = _rnn_pair(make)
    got, want = ours(torch.as_tensor(SEQ)), theirs(SEQ)
    assert _same_structure(got, want)
    for a, b in zip(_flat(got), _flat(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # the nested final states feed back as initial states (flat works too)
    again = ours(torch.as_tensor(SEQ), initial_state=got[1:])
    flat = ours(torch.as_tensor(SEQ), initial_state=[t for s in got[1:] for t in s])
    for a, b in zip(_flat(again), _flat(flat), strict=True):
        np.testing.assert_allclose(a, b)


CATALOGUE = [
    ("Dense", dict(units=3), (4,)),
    ("Conv1D", dict(filters=2, kernel_size=2), (5, 3)),
    ("LayerNormalization", dict(), (4,)),
    ("LSTM", dict(units=2, dropout=0.0), (5, 3)),
    ("GRU", dict(units=2, return_sequences=True), (5, 3)),
    ("MaxPooling1D", dict(pool_size=2), (6, 3)),
    ("Flatten", dict(), (3, 2)),
]


@pytest.mark.parametrize("kind", ["direct", "sequential", "functional"])
@pytest.mark.parametrize("name,kwargs,shape", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_deterministic_layers_match_keras_in_every_mode(name, kwargs, shape, kind):
    x = np.random.default_rng(2).standard_normal((3, *shape)).astype("float32")

    def make(lib):
        layer = getattr(lib.layers, name)(**kwargs)
        if kind == "direct":
            return layer, layer
        if kind == "sequential":
            return lib.Sequential([lib.Input(shape), layer]), layer
        inp = lib.Input(shape)
        return lib.Model(inp, layer(inp)), layer

    (ours, our_layer), (theirs, their_layer) = make(fitorch), make(keras)
    theirs(x)
    ours(torch.as_tensor(x))
    our_layer.set_weights(their_layer.get_weights())
    for mode in MODES:
        got, want = _np(ours(x, **mode)), _np(theirs(x, **mode))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=str(mode))
