"""ConvLSTM1D/2D/3D against Keras 3 (torch backend) on the same weights: outputs, states,
masks, training in `fit`, and config round trips."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402

RNG = np.random.default_rng(0)
MASK = np.array([[True, True, False, True], [True, False, False, False]])

CASES = [  # (layer, kwargs, input shape, mask)
    ("ConvLSTM2D", {"filters": 3, "kernel_size": 3}, (2, 4, 6, 6, 2), None),
    ("ConvLSTM2D", {"filters": 3, "kernel_size": 3, "padding": "same",
                    "return_sequences": True}, (2, 4, 6, 6, 2), None),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": (2, 3), "strides": 2, "padding": "same",
                    "return_state": True}, (2, 3, 7, 6, 2), None),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "go_backwards": True,
                    "return_sequences": True}, (2, 3, 8, 8, 1), None),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "data_format": "channels_first",
                    "return_sequences": True}, (2, 3, 2, 6, 6), None),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "activation": "relu", "use_bias": False,
                    "recurrent_activation": "hard_sigmoid", "return_sequences": True},
     (2, 3, 6, 6, 2), None),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "return_sequences": True},
     (2, 4, 5, 5, 2), MASK),
    ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "return_state": True}, (2, 4, 5, 5, 2), MASK),
    ("ConvLSTM1D", {"filters": 4, "kernel_size": 2, "return_sequences": True,
                    "return_state": True}, (2, 5, 7, 3), None),
    ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "padding": "same"}, (1, 3, 4, 4, 4, 2), None),
]  # fmt: skip


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("name, kwargs, shape, mask", CASES)
def test_outputs_and_states_equal_keras_on_the_same_weights(name, kwargs, shape, mask):
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(fitorch.layers, name)(**kwargs)
    x = RNG.normal(size=shape).astype("float32")
    theirs(x)
    ours(torch.as_tensor(x))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    if mask is None:
        want, got = theirs(x), ours(torch.as_tensor(x))
    else:
        want = theirs(x, mask=keras.ops.convert_to_tensor(mask))
        got = ours(torch.as_tensor(x), mask=torch.as_tensor(mask))
    want, got = _as_list(want), _as_list(got)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = keras.ops.convert_to_numpy(w)
        assert np.abs(w).max() > 1e-3  # a real signal, not zeros
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=1e-5, atol=1e-6)


def _video_model(lib):
    return lib.Sequential([
        lib.Input((3, 6, 6, 1)),
        lib.layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True),
        lib.layers.BatchNormalization(),
        lib.layers.ConvLSTM2D(2, 3, padding="same"),
        lib.layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ])  # fmt: skip


def test_a_next_frame_model_trains_as_in_keras():
    # keras-io "Next-frame video prediction with convolutional LSTMs", scaled down.
    x = RNG.uniform(size=(8, 3, 6, 6, 1)).astype("float32")
    y = (RNG.uniform(size=(8, 6, 6, 1)) > 0.5).astype("float32")
    theirs, ours = _video_model(keras), _video_model(fitorch)
    ours.set_weights(theirs.get_weights())
    for model, lib in ((theirs, keras), (ours, fitorch)):
        model.compile(lib.optimizers.SGD(0.1), "binary_crossentropy")
    want = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for g, w in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_initial_state_stateful_and_dropout():
    layer = fitorch.layers.ConvLSTM2D(2, 3, padding="same", return_state=True, stateful=True)
    x = torch.as_tensor(RNG.normal(size=(2, 3, 5, 5, 1)).astype("float32"))
    out, h, c = layer(x)
    assert out.shape == h.shape == c.shape == (2, 5, 5, 2) and torch.equal(out, h)
    carried, _, _ = layer(x)  # starts from the states the first call left
    fresh = fitorch.layers.ConvLSTM2D(2, 3, padding="same")
    fresh(x)
    fresh.set_weights(layer.get_weights())
    torch.testing.assert_close(carried, fresh(x, initial_state=[h, c]))
    assert [tuple(s.shape) for s in layer.states] == [(2, 5, 5, 2)] * 2  # channels_last
    layer.reset_states()
    assert layer.states is None
    torch.testing.assert_close(layer(x)[0], out)
    dropped = fitorch.layers.ConvLSTM2D(2, 3, dropout=0.5, recurrent_dropout=0.5)
    assert dropped(x, training=True).shape == dropped(x, training=False).shape == (2, 3, 3, 2)
    with pytest.raises(ValueError, match="expects inputs of rank 5"):
        fitorch.layers.ConvLSTM2D(2, 3)(torch.ones(2, 5, 5, 1))


def test_config_round_trips_and_reads_a_keras_config():
    keras_layer = keras.layers.ConvLSTM2D(
        4, (3, 2), strides=2, padding="same", dropout=0.1, return_sequences=True,
        unit_forget_bias=False,
    )  # fmt: skip
    ours = fitorch.layers.deserialize(keras.layers.serialize(keras_layer))
    assert isinstance(ours, fitorch.layers.ConvLSTM2D)
    config = ours.get_config()
    assert set(config) == set(keras_layer.get_config())
    assert config["kernel_size"] == [3, 2] and config["strides"] == [2, 2]
    again = fitorch.layers.ConvLSTM2D.from_config(config)
    assert again.get_config() == config
