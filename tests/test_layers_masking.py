"""Mask passing as Keras does it: Embedding(mask_zero)/Masking -> mask-passing layers ->
RNNs, Bidirectional, merges and GlobalAveragePooling1D; outputs vs Keras 3 (torch backend)."""

import numpy as np
import pytest

import fitorch
from tests._layer_oracle import keras

IDS = np.array([[3, 5, 0, 0, 0], [1, 2, 3, 4, 5], [7, 2, 9, 0, 0]])


def _stack(lib, *layers):
    return lib.Sequential([lib.Input(shape=(5,), dtype="int64"),
                           lib.layers.Embedding(10, 4, mask_zero=True), *layers])  # fmt: skip


STACKS = {
    "dropout_dense_lstm": lambda L: [L.Dropout(0.5), L.Dense(3, activation="tanh"), L.LSTM(2)],
    "stacked_gru": lambda L: [L.GRU(3, return_sequences=True), L.GRU(2)],
    "lstm_backwards_seq_pool": lambda L: [
        L.LSTM(3, return_sequences=True, go_backwards=True),
        L.GlobalAveragePooling1D(),
    ],
    "bidirectional_seq_pool": lambda L: [
        L.Bidirectional(L.LSTM(3, return_sequences=True)),
        L.GlobalAveragePooling1D(),
    ],
    "layernorm_activation_lstm": lambda L: [
        L.LayerNormalization(),
        L.Activation("relu"),
        L.SimpleRNN(2),
    ],
    "time_distributed_lstm": lambda L: [L.TimeDistributed(L.Dense(3)), L.LSTM(2)],
}


@pytest.mark.parametrize("name", sorted(STACKS))
def test_mask_reaches_the_consumer_like_keras(name):
    ours = _stack(fitorch, *STACKS[name](fitorch.layers))
    theirs = _stack(keras, *STACKS[name](keras.layers))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(IDS, verbose=0), theirs.predict(IDS, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_merge_ors_the_masks_like_keras():
    def build(lib):
        a = lib.Input(shape=(5,), dtype="int64")
        b = lib.Input(shape=(5,), dtype="int64")
        ea = lib.layers.Embedding(10, 3, mask_zero=True)(a)
        eb = lib.layers.Embedding(10, 3, mask_zero=True)(b)
        added = lib.layers.Add()([ea, eb])
        joined = lib.layers.Concatenate()([ea, eb])
        return lib.Model([a, b], [lib.layers.LSTM(2)(added), lib.layers.GRU(2)(joined)])

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    other = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 1, 1], [1, 1, 1, 1, 1]])
    for got, expected in zip(ours.predict([IDS, other], verbose=0),
                             theirs.predict([IDS, other], verbose=0)):  # fmt: skip
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)  # fmt: skip


def test_layers_that_do_not_pass_masks_drop_them():
    import torch

    emb = fitorch.layers.Embedding(10, 4, mask_zero=True)
    out = emb(torch.as_tensor(IDS))
    assert out._keras_mask.tolist() == (IDS != 0).tolist()
    assert getattr(fitorch.layers.Flatten()(out), "_keras_mask", None) is None
    assert fitorch.layers.Dense(2)(out)._keras_mask is out._keras_mask


def test_masked_steps_are_ignored_by_the_loss_and_metrics_like_keras():
    def build(lib):
        model = _stack(lib, lib.layers.LSTM(4, return_sequences=True),
                       lib.layers.Dense(3, activation="softmax"))  # fmt: skip
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    y = np.random.default_rng(1).integers(0, 3, size=IDS.shape)
    got = ours.evaluate(IDS, y, verbose=0)
    expected = theirs.evaluate(IDS, y, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_masked_fit_step_updates_weights_like_keras():
    def build(lib):
        model = _stack(lib, lib.layers.GRU(3, return_sequences=True), lib.layers.Dense(2))
        model.compile(optimizer=lib.optimizers.SGD(0.5), loss="mse")
        return model

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    y = np.random.default_rng(2).normal(size=IDS.shape + (2,)).astype("float32")
    h_ours = ours.fit(IDS, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    h_theirs = theirs.fit(IDS, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _guide_layers(lib):
    """Custom layers from Keras' "Understanding masking & padding" guide."""
    ops = lib.ops

    class TemporalSplit(lib.layers.Layer):
        def call(self, inputs):
            return ops.split(inputs, 2, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None if mask is None else ops.split(mask, 2, axis=1)

    class MyActivation(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs):
            return ops.relu(inputs)

    class TemporalSoftmax(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            assert mask is not None
            weights = ops.expand_dims(ops.cast(mask, "float32"), -1)
            exp = ops.exp(inputs) * weights
            return exp / ops.sum(exp * weights, axis=-1, keepdims=True)

    return TemporalSplit, MyActivation, TemporalSoftmax


def test_custom_compute_mask_and_supports_masking_as_keras():
    for lib in (fitorch, keras):
        split, activation, _ = _guide_layers(lib)
        x = lib.layers.Embedding(10, 4, mask_zero=True)(np.array([[1, 2, 0, 0], [3, 0, 0, 0]]))
        first, second = (keras.ops.convert_to_numpy(t._keras_mask) for t in split()(x))
        np.testing.assert_array_equal(first, [[1, 1], [1, 0]])
        np.testing.assert_array_equal(second, [[0, 0], [0, 0]])
        assert split().supports_masking and not lib.layers.Layer().supports_masking
        assert activation()(x)._keras_mask is not None


def test_mask_reaches_call_in_functional_graphs_as_keras():
    outs = []
    for lib in (fitorch, keras):
        _, activation, softmax = _guide_layers(lib)
        inputs = lib.Input(shape=(None,), dtype="int32")
        x = activation()(lib.layers.Embedding(10, 3, mask_zero=True)(inputs))
        assert x._keras_mask is not None  # the guide's "Mask found" on a symbolic tensor
        outputs = softmax()(lib.layers.Dense(1)(x))
        outs.append(lib.Model(inputs, outputs))
    ours, theirs = outs
    ours.set_weights(theirs.get_weights())
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    np.testing.assert_allclose(
        ours(ids).detach().numpy(), keras.ops.convert_to_numpy(theirs(ids)), rtol=1e-5, atol=1e-6
    )


def _lambda_model(lib):
    ops = lib.ops
    inputs = lib.Input((4,), dtype="int32")
    x = lib.layers.Embedding(10, 3, mask_zero=True)(inputs)

    def zero_masked(v, mask):
        return v * ops.expand_dims(ops.cast(mask, "float32"), -1)

    def shift_in_training(v, training=None):
        return v + (1.0 if training else 0.0)

    masked = lib.layers.Lambda(zero_masked, output_shape=(4, 3))(x)
    doubled = lib.layers.Lambda(lambda v: v * 2, mask=lambda v, m: m, output_shape=(4, 3))(x)
    shifted = lib.layers.Lambda(shift_in_training, output_shape=(4, 3))(x)
    return lib.Model(inputs, [masked, lib.layers.LSTM(2)(doubled), shifted])


def test_lambda_passes_mask_and_training_and_sets_its_mask_as_keras():
    ours, theirs = _lambda_model(fitorch), _lambda_model(keras)
    ours.set_weights(theirs.get_weights())
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    for training in (False, True):
        got = ours(ids, training=training)
        want = theirs(ids, training=training)
        for a, b in zip(got, want):
            np.testing.assert_allclose(
                a.detach().numpy(), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6
            )
