"""Embedding, SimpleRNN/LSTM/GRU, Bidirectional, TimeDistributed vs Keras 3 (torch backend)."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from fitorch.layers.rnn_cells import _Cell
from tests._layer_oracle import assert_close, check_layer, keras

SEQ = [(3, 6, 4)]
RNN_CASES = [
    ("SimpleRNN", {"units": 5}),
    ("SimpleRNN", {"units": 5, "return_sequences": True, "go_backwards": True}),
    ("SimpleRNN", {"units": 3, "activation": "relu", "return_state": True}),
    ("SimpleRNN", {"units": 3, "activation": "sigmoid", "use_bias": False}),
    ("LSTM", {"units": 5}),
    ("LSTM", {"units": 5, "return_sequences": True, "return_state": True}),
    ("LSTM", {"units": 4, "go_backwards": True, "return_state": True}),
    ("LSTM", {"units": 4, "use_bias": False, "return_sequences": True}),
    ("LSTM", {"units": 4, "unit_forget_bias": False, "activation": "relu"}),
    ("LSTM", {"units": 4, "recurrent_activation": "hard_sigmoid", "return_sequences": True}),
    ("LSTM", {"units": 4, "dropout": 0.3, "recurrent_dropout": 0.2}),
    ("GRU", {"units": 5}),
    ("GRU", {"units": 5, "return_sequences": True, "return_state": True}),
    ("GRU", {"units": 4, "reset_after": False, "return_sequences": True}),
    ("GRU", {"units": 4, "go_backwards": True, "use_bias": False}),
    ("GRU", {"units": 4, "reset_after": False, "use_bias": False, "return_state": True}),
]


@pytest.mark.parametrize("cls_name,kwargs", RNN_CASES)
def test_rnn_matches_keras(cls_name, kwargs):
    check_layer(cls_name, kwargs, SEQ)


@pytest.mark.parametrize("cls_name", ["SimpleRNN", "LSTM", "GRU"])
def test_fused_path_equals_step_loop_float64(cls_name):
    layer = getattr(fl, cls_name)(4, return_sequences=True, return_state=True, dtype="float64")
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    fused = layer(x, training=False)
    layer.unroll = True  # forces the step loop
    loop = layer(x, training=False)
    for a, b in zip(fused, loop):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU"])
def test_gradcheck_step_loop(cls_name):
    layer = getattr(fl, cls_name)(3, dtype="float64", unroll=True, return_sequences=True)
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    layer(x)
    assert torch.autograd.gradcheck(lambda v: layer(v, training=False), (x,))


def test_keras_gate_order_in_weights():
    layer = fl.LSTM(2)
    layer(torch.zeros(1, 3, 4))
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (4, 8) and recurrent.shape == (2, 8)
    np.testing.assert_array_equal(bias, [0, 0, 1, 1, 0, 0, 0, 0])  # unit_forget_bias: f slice
    assert fl.GRU(2, reset_after=True)(torch.zeros(1, 3, 4)) is not None


def test_embedding_matches_keras_and_mask_zero_reaches_lstm():
    check_layer("Embedding", {"input_dim": 10, "output_dim": 4}, [(3, 5)], int_high=10)
    ids = np.array([[3, 5, 0, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])

    def build(lib, **rnn):
        return lib.Sequential(
            [
                lib.Input(shape=(5,), dtype="int64"),
                lib.layers.Embedding(10, 4, mask_zero=True),
                lib.layers.LSTM(3, **rnn),
            ]
        )

    for rnn in ({}, {"return_sequences": True}, {"go_backwards": True}):
        ours, theirs = build(fitorch, **rnn), build(keras, **rnn)
        ours.set_weights(theirs.get_weights())
        np.testing.assert_allclose(
            ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6
        )


def test_masking_layer_matches_keras_through_gru():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype("float32")
    x[0, 3:] = 0.0
    x[2, 1:] = 0.0

    def build(lib):
        return lib.Sequential([lib.Input(shape=(5, 2)), lib.layers.Masking(0.0), lib.layers.GRU(3)])

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("seqs", [False, True])
def test_bidirectional_matches_keras(merge_mode, seqs):
    x = np.random.default_rng(1).normal(size=(3, 6, 4)).astype("float32")
    theirs = keras.layers.Bidirectional(
        keras.layers.LSTM(3, return_sequences=seqs), merge_mode=merge_mode
    )
    ours = fl.Bidirectional(fl.LSTM(3, return_sequences=seqs), merge_mode=merge_mode)
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    assert_close(ours(torch.as_tensor(x), training=False), expected)
    clone = fl.Bidirectional.from_config(ours.get_config())
    clone(torch.as_tensor(x))
    clone.set_weights(ours.get_weights())
    assert_close(clone(torch.as_tensor(x), training=False), expected)


def test_bidirectional_gru_return_state_matches_keras():
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    theirs = keras.layers.Bidirectional(keras.layers.GRU(4, return_state=True))
    ours = fl.Bidirectional(fl.GRU(4, return_state=True))
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert_close(ours(torch.as_tensor(x), training=False), expected)


def test_time_distributed_dense_matches_keras():
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(4))
    ours = fl.TimeDistributed(fl.Dense(4))
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert_close(ours(torch.as_tensor(x)), expected)
    assert ours.count_params() == theirs.count_params() == 16


def test_stateful_carries_states_and_reset():
    layer = fl.LSTM(3, stateful=True)
    x = torch.randn(2, 6, 4)
    full = fl.LSTM(3)
    full(x)
    layer(x[:, :3])
    layer.set_weights(full.get_weights())
    layer.reset_states()
    layer(x[:, :3], training=False)
    torch.testing.assert_close(layer(x[:, 3:], training=False), full(x, training=False))
    layer.reset_states()
    torch.testing.assert_close(layer(x[:, :3], training=False), full(x[:, :3], training=False))


def test_initial_state_matches_keras():
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype("float32")
    h0 = np.random.default_rng(5).normal(size=(2, 5)).astype("float32")
    c0 = np.random.default_rng(6).normal(size=(2, 5)).astype("float32")
    theirs, ours = keras.layers.LSTM(5), fl.LSTM(5)
    expected = theirs(x, initial_state=[h0, c0])
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    got = ours(
        torch.as_tensor(x), initial_state=[torch.as_tensor(h0), torch.as_tensor(c0)], training=False
    )
    assert_close(got, expected)


def test_dropout_only_in_training():
    layer = fl.LSTM(4, dropout=0.5, recurrent_dropout=0.5)
    x = torch.randn(8, 5, 3)
    layer(x)
    torch.testing.assert_close(layer(x, training=False), layer(x, training=False))
    assert not torch.allclose(layer(x, training=True), layer(x, training=False))


def test_custom_cell_rnn():
    class Accumulate(fl.Layer):
        state_size = 2

        def call(self, inputs, states):
            out = states[0] + inputs
            return out, [out]

    layer = fl.RNN(Accumulate(), return_sequences=True)
    x = torch.arange(12.0).reshape(1, 6, 2)
    torch.testing.assert_close(layer(x), x.cumsum(1))


def test_bad_rank_raises_at_build():
    with pytest.raises(ValueError, match="rank 3"):
        fl.LSTM(3)(fitorch.Input(shape=(4,)))
    with pytest.raises(ValueError, match="units must be a positive integer"):
        fl.GRU(0)
    with pytest.raises(ValueError, match="must be an RNN layer"):
        fl.Bidirectional(fl.Dense(3))


def test_embedding_lstm_model_params_match_keras():
    def build(lib):
        return lib.Sequential(
            [
                lib.Input(shape=(80,)),
                lib.layers.Embedding(10000, 64),
                lib.layers.LSTM(128),
                lib.layers.Dense(1, activation="sigmoid"),
            ]
        )

    assert build(fitorch).count_params() == build(keras).count_params() == 738_945
    assert isinstance(fl.LSTM(2).cell, _Cell)


def test_rnn_with_builtin_and_registered_cells_round_trips_config():
    layer = fl.RNN(fl.GRUCell(3, reset_after=False), return_sequences=True)
    x = torch.randn(2, 4, 5)
    layer(x)
    clone = fl.RNN.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    torch.testing.assert_close(clone(x, training=False), layer(x, training=False))

    @fitorch.saving.register_serializable("layers_test")
    class Doubler(fl.Layer):
        state_size = 2

        def call(self, inputs, states):
            return states[0] * 2 + inputs, [states[0] * 2 + inputs]

    rnn = fl.RNN(Doubler())
    again = fl.RNN.from_config(rnn.get_config())
    assert isinstance(again.cell, Doubler)
    torch.testing.assert_close(again(torch.ones(1, 3, 2)), torch.full((1, 2), 7.0))


def test_rnn_matches_keras_with_keras_cell_weights():
    x = np.random.default_rng(7).normal(size=(2, 5, 3)).astype("float32")
    theirs = keras.layers.RNN(keras.layers.LSTMCell(4), return_sequences=True)
    ours = fl.RNN(fl.LSTMCell(4), return_sequences=True)
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert_close(ours(torch.as_tensor(x), training=False), expected)


def test_bidirectional_merge_mode_none_returns_both_directions_like_keras():
    x = np.random.default_rng(8).normal(size=(2, 5, 3)).astype("float32")
    theirs = keras.layers.Bidirectional(keras.layers.GRU(2, return_sequences=True), merge_mode=None)
    ours = fl.Bidirectional(fl.GRU(2, return_sequences=True), merge_mode=None)
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert_close(ours(torch.as_tensor(x), training=False), expected)


def test_stateful_lstm_in_sequential_and_model_reset_states():
    model = fitorch.Sequential(
        [fl.LSTM(3, batch_input_shape=(2, 4, 1), stateful=True), fl.Dense(1)]
    )
    model.compile("adam", "mse")
    x = np.random.default_rng(9).normal(size=(2, 4, 1)).astype("float32")
    first = model.predict(x, batch_size=2, verbose=0)
    second = model.predict(x, batch_size=2, verbose=0)
    assert not np.allclose(first, second)  # the states carried over
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), first, rtol=1e-6)
    model.fit(x, x[:, -1], batch_size=2, epochs=2, shuffle=False, verbose=0)


def test_initial_state_positional_as_keras():
    layer = fl.GRU(3)
    x, h0 = torch.randn(2, 4, 5), torch.randn(2, 3)
    layer(x)
    torch.testing.assert_close(
        layer(x, [h0], training=False), layer(x, initial_state=[h0], training=False)
    )


@pytest.mark.parametrize("return_state", [False, True])
def test_rnn_over_a_list_of_cells_matches_keras(return_state):
    x = np.random.default_rng(10).normal(size=(2, 5, 3)).astype("float32")

    def build(lib):
        cells = [lib.layers.LSTMCell(4), lib.layers.GRUCell(3), lib.layers.SimpleRNNCell(2)]
        return lib.layers.RNN(cells, return_sequences=True, return_state=return_state)

    ours, theirs = build(fitorch), build(keras)
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    assert_close(ours(torch.as_tensor(x), training=False), expected)
    clone = fl.RNN.from_config(ours.get_config())
    clone(torch.as_tensor(x))
    clone.set_weights(ours.get_weights())
    assert_close(clone(torch.as_tensor(x), training=False), expected)


def test_bidirectional_with_backward_layer_matches_keras():
    x = np.random.default_rng(11).normal(size=(2, 5, 3)).astype("float32")

    def build(lib):
        L = lib.layers
        backward = L.GRU(3, return_sequences=True, go_backwards=True)
        return L.Bidirectional(L.LSTM(3, return_sequences=True), backward_layer=backward)

    theirs = build(keras)
    ours = build(fitorch)
    expected = theirs(x)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    assert_close(ours(torch.as_tensor(x), training=False), expected)


def test_rnn_cells_take_keras_names_and_no_default_name():
    # Keras names the cell of LSTM/GRU/SimpleRNN explicitly, so a later LSTMCell() is
    # `lstm_cell` and the session's default names stay in step with Keras'.
    names = []
    for lib in (fitorch, keras):
        lib.utils.clear_session()
        layer = lib.layers.LSTM(2)
        lib.layers.Bidirectional(lib.layers.GRU(2))
        names.append((layer.cell.name, lib.layers.LSTMCell(2).name, lib.layers.GRUCell(2).name))
    assert names[0] == names[1] == ("lstm_cell", "lstm_cell", "gru_cell")
