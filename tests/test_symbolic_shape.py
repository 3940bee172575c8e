"""`K.shape` on a symbolic tensor (Keras 2): a symbolic int32 vector whose value in a model
run is the run's shape, usable as sizes in `K.reshape` and `K.random_normal` (the Keras 2 VAE
draws its noise so). The symbolic shapes and dtypes below are those tf-keras 2.x reports
(`K.shape(Input((4, 3)))`: shape (3,), int32; `[0]`: (), `[1:]`: (2,); `K.random_normal((
K.shape(x)[0], 2))`: (None, 2)), checked by hand against /work/tfvenv; the suite does not
need TensorFlow."""

import numpy as np
import torch

import fitorch
from fitorch import backend as K
from fitorch import layers


def test_symbolic_shape_and_its_entries_as_keras_2():
    x = fitorch.Input((4, 3))
    size = K.shape(x)
    assert (size.shape, size.dtype) == ((3,), torch.int32)
    assert size[0].shape == () and size[0].dtype == torch.int32
    assert size[1:].shape == (2,)
    assert K.random_normal(shape=(size[0], 2)).shape == (None, 2)
    assert K.zeros((size[0], 5)).shape == (None, 5)
    # tf-keras reports (None, None) here; the placeholders give the -1 its size.
    assert K.reshape(x, (size[0], -1)).shape == (None, 12)
    assert K.reshape(x, (-1, size[1] * size[2])).shape == (None, 12)


def test_shape_values_follow_the_batch_of_each_run():
    x = fitorch.Input((4, 3))
    model = fitorch.Model(x, [K.shape(x), K.reshape(x, (K.shape(x)[0], -1))])
    data = torch.arange(60.0).reshape(5, 4, 3)
    size, flat = model(data)
    assert size.tolist() == [5, 4, 3] and size.dtype == torch.int32
    torch.testing.assert_close(flat, data.reshape(5, 12))
    assert model(torch.zeros(2, 4, 3))[0].tolist() == [2, 4, 3]


def test_noise_sized_by_a_symbolic_batch_is_drawn_per_run():
    z = fitorch.Input((2,))
    noise = K.random_normal(shape=(K.shape(z)[0], 2))
    model = fitorch.Model(z, z + noise)
    torch.manual_seed(3)
    out = model(torch.ones(7, 2))
    torch.manual_seed(3)
    torch.testing.assert_close(out, 1 + torch.randn(7, 2))  # K.random_normal: torch's RNG
    assert model(torch.ones(3, 2)).shape == (3, 2)
    whole = K.random_normal(shape=K.shape(z))  # the whole shape vector as the size
    assert whole.shape == (None, 2)
    assert fitorch.Model(z, whole)(torch.ones(6, 2)).shape == (6, 2)


def test_symbolic_shape_round_trips_through_keras_files(tmp_path):
    x = fitorch.Input((4, 3))
    y = layers.Dense(2)(K.reshape(x, (K.shape(x)[0], -1)))
    model = fitorch.Model(x, y)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.saving.load_model(tmp_path / "m.keras")
    data = np.linspace(-1, 1, 36, dtype="float32").reshape(3, 4, 3)
    np.testing.assert_allclose(
        loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6
    )


def _vae(latent_dim=2):
    """The Keras 2 VAE's encoder, with the noise drawn on symbolic tensors (no Lambda)."""
    x = fitorch.Input((6,))
    h = layers.Dense(8, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    epsilon = K.random_normal(shape=(K.shape(z_mean)[0], latent_dim))
    z = z_mean + K.exp(0.5 * z_log_var) * epsilon
    decoded = layers.Dense(6, activation="sigmoid", name="decoder")(z)
    vae = fitorch.Model(x, decoded)
    reconstruction = K.sum(K.square(x - decoded), axis=-1)
    kl = -0.5 * K.sum(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
    vae.add_loss(K.mean(reconstruction + kl))
    return vae


def test_keras_2_vae_with_symbolic_noise_computes_and_trains():
    torch.manual_seed(0)
    vae = _vae()
    data = torch.rand(32, 6)
    dense, mean_layer, var_layer, decoder = (
        vae.get_layer(name) for name in ("hidden", "z_mean", "z_log_var", "decoder")
    )
    torch.manual_seed(1)
    out = vae(data)
    with torch.no_grad():
        h = torch.relu(dense(data))
        torch.manual_seed(1)
        z = mean_layer(h) + torch.exp(0.5 * var_layer(h)) * torch.randn(32, 2)
        torch.testing.assert_close(out, decoder(z))  # the sigmoid is the layer's
    vae.compile(optimizer=fitorch.optimizers.Adam(0.01))
    history = vae.fit(data.numpy(), epochs=15, batch_size=8, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
