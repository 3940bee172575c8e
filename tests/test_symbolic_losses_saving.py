"""Symbolic `add_loss` terms (Keras 2) are saved in `.keras` files and restored by
`load_model`: the reloaded Keras 2 VAE evaluates and trains with the same loss as the model
that was saved; malformed or unsaveable terms raise naming the problem."""

import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import backend as K  # noqa: E402
from fitorch.layers import Dense, Input, Lambda  # noqa: E402
from fitorch.losses import binary_crossentropy  # noqa: E402
from fitorch.models import Model  # noqa: E402


def sampling(args):
    """The Keras 2 VAE example's reparameterisation (module level, so a file can name it)."""
    z_mean, z_log_var = args
    epsilon = K.random_normal(shape=(K.shape(z_mean)[0], K.int_shape(z_mean)[1]))
    return z_mean + K.exp(0.5 * z_log_var) * epsilon


def _keras2_vae(original_dim=12):
    """keras/examples/variational_autoencoder.py (Keras 2.2): nested encoder and decoder, the
    loss reads `z_mean`/`z_log_var` made inside the encoder."""
    inputs = Input(shape=(original_dim,), name="encoder_input")
    x = Dense(8, activation="relu")(inputs)
    z_mean = Dense(2, name="z_mean")(x)
    z_log_var = Dense(2, name="z_log_var")(x)
    z = Lambda(sampling, output_shape=(2,), name="z")([z_mean, z_log_var])
    encoder = Model(inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = Input(shape=(2,), name="z_sampling")
    x = Dense(8, activation="relu")(latent_inputs)
    decoder = Model(latent_inputs, Dense(original_dim, activation="sigmoid")(x), name="decoder")
    outputs = decoder(encoder(inputs)[2])
    vae = Model(inputs, outputs, name="vae_mlp")
    reconstruction_loss = binary_crossentropy(inputs, outputs) * original_dim
    kl_loss = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    vae.add_loss(K.mean(reconstruction_loss + kl_loss))
    vae.compile(optimizer="adam")
    return vae


X = np.random.default_rng(0).random((32, 12)).astype("float32")


def _saved_config(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))["config"]


def test_reloaded_keras2_vae_evaluates_and_trains_with_the_same_loss(tmp_path):
    torch.manual_seed(0)
    vae = _keras2_vae()
    vae.fit(X, epochs=1, batch_size=8, verbose=0)
    vae.save(tmp_path / "vae.keras")
    losses = _saved_config(tmp_path / "vae.keras")["symbolic_losses"]
    assert losses["losses"][0]["config"]["node"] == len(losses["nodes"]) - 1  # the K.mean
    nested = json.dumps(losses["nodes"]).count('"models": ["encoder"]')
    assert nested == 3  # z_mean once and z_log_var twice, read from the encoder's run
    loaded = fitorch.saving.load_model(
        tmp_path / "vae.keras", custom_objects={"sampling": sampling}
    )
    assert len(loaded.symbolic_losses) == 1
    torch.manual_seed(3)
    expected = vae.evaluate(X, batch_size=32, verbose=0)
    torch.manual_seed(3)
    assert loaded.evaluate(X, batch_size=32, verbose=0) == pytest.approx(expected, rel=1e-6)
    histories = []
    for model in (vae, loaded):  # the same weights, optimizer state and noise: the same run
        torch.manual_seed(5)
        fit = model.fit(X, epochs=2, batch_size=8, shuffle=False, verbose=0)
        histories.append(fit.history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)


def test_flat_vae_with_symbolic_noise_reloads_in_safe_mode(tmp_path):
    x = Input((6,))
    z_mean, z_log_var = Dense(2, name="mean")(x), Dense(2, name="log_var")(x)
    z = z_mean + K.exp(0.5 * z_log_var) * K.random_normal(shape=(K.shape(z_mean)[0], 2))
    out = Dense(6, name="decoder")(z)
    model = Model(x, out)
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    model.add_loss(K.mean(K.sum(K.square(x - out), axis=-1) + kl))
    model.save(tmp_path / "flat.keras")
    loaded = fitorch.saving.load_model(tmp_path / "flat.keras")  # ops only: safe mode
    data = torch.from_numpy(X[:, :6])
    values = []
    for m in (model, loaded):
        torch.manual_seed(11)
        m(data)
        values.append(m.losses[0])
    torch.testing.assert_close(values[1], values[0])
    assert values[0] > 0


def test_a_loss_calling_a_weighted_layer_is_not_saved():
    x = Input((3,))
    h = Dense(2)(x)
    model = Model(x, h)
    model.add_loss(K.mean(Dense(1, name="critic")(h)))
    with pytest.raises(TypeError, match="'critic' \\(Dense\\).*made of ops only"):
        model.get_config()


def _saved_flat_model(tmp_path):
    x = Input((3,), name="x")
    model = Model(x, Dense(2, name="d")(x))
    model.add_loss(K.mean(K.square(model.outputs[0])))
    model.save(tmp_path / "m.keras")
    return model.get_config()


def test_loss_reading_an_unknown_layer_raises(tmp_path):
    config = _saved_flat_model(tmp_path)
    ref = config["symbolic_losses"]["nodes"][0]["args"][0]["config"]
    ref["keras_history"] = ["dd", 0, 0]
    with pytest.raises(ValueError, match="node 0 of symbolic_losses.*'dd'"):
        fitorch.models.Functional.from_config(config)


def test_loss_op_outside_the_allow_list_raises(tmp_path):
    config = _saved_flat_model(tmp_path)
    config["symbolic_losses"]["nodes"][0]["config"]["op"] = "os.system"
    with pytest.raises(ValueError, match="'os.system' is not an operation fitorch rebuilds"):
        fitorch.models.Functional.from_config(config)
    config["symbolic_losses"] = {"nodes": "x"}
    with pytest.raises(ValueError, match="expected \\{'nodes'"):
        fitorch.models.Functional.from_config(config)
