"""Real programs that compute on symbolic tensors, run with only the import changed
(`import keras` -> `import fitorch as keras`), small synthetic data, asserted values."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")


def _keras2_vae(original_dim=12, intermediate_dim=8, latent_dim=2):
    """keras/examples/variational_autoencoder.py (Keras 2.2), the model-building part."""
    from fitorch import backend as K
    from fitorch.layers import Dense, Input, Lambda
    from fitorch.losses import binary_crossentropy
    from fitorch.models import Model

    def sampling(args):
        z_mean, z_log_var = args
        batch = K.shape(z_mean)[0]
        dim = K.int_shape(z_mean)[1]
        epsilon = K.random_normal(shape=(batch, dim))
        return z_mean + K.exp(0.5 * z_log_var) * epsilon

    inputs = Input(shape=(original_dim,), name="encoder_input")
    x = Dense(intermediate_dim, activation="relu")(inputs)
    z_mean = Dense(latent_dim, name="z_mean")(x)
    z_log_var = Dense(latent_dim, name="z_log_var")(x)
    z = Lambda(sampling, output_shape=(latent_dim,), name="z")([z_mean, z_log_var])
    encoder = Model(inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = Input(shape=(latent_dim,), name="z_sampling")
    x = Dense(intermediate_dim, activation="relu")(latent_inputs)
    outputs = Dense(original_dim, activation="sigmoid")(x)
    decoder = Model(latent_inputs, outputs, name="decoder")
    outputs = decoder(encoder(inputs)[2])
    vae = Model(inputs, outputs, name="vae_mlp")

    reconstruction_loss = binary_crossentropy(inputs, outputs)
    reconstruction_loss *= original_dim
    kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)
    kl_loss = K.sum(kl_loss, axis=-1)
    kl_loss *= -0.5
    vae_loss = K.mean(reconstruction_loss + kl_loss)
    vae.add_loss(vae_loss)
    vae.compile(optimizer="adam")
    return vae, encoder, decoder


def _vae_loss_float64(x, z_mean, z_log_var, out, eps=1e-7):
    x, z_mean, z_log_var = (np.asarray(a, np.float64) for a in (x, z_mean, z_log_var))
    p = np.clip(np.asarray(out, np.float64), eps, 1 - eps)
    bce = -np.mean(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)
    return np.mean(bce * x.shape[1] + kl)


def test_keras2_vae_add_loss_equals_the_formula_and_trains():
    vae, encoder, decoder = _keras2_vae()
    x = np.random.default_rng(0).random((32, 12)).astype("float32")
    torch.manual_seed(7)
    loss = vae.evaluate(x, batch_size=32, verbose=0)
    torch.manual_seed(7)  # the same noise draw in the sampling Lambda
    z_mean, z_log_var, z = encoder(torch.from_numpy(x))
    out = decoder(z)
    expected = _vae_loss_float64(x, *(t.detach().numpy() for t in (z_mean, z_log_var, out)))
    assert loss == pytest.approx(expected, rel=1e-5)
    history = vae.fit(x, epochs=8, batch_size=8, validation_data=(x, None), verbose=0)
    assert list(history.history) == ["loss", "val_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]


def _denoising_autoencoder(lib, K_int_shape, image_size=8, latent_dim=4):
    """keras/examples/mnist_denoising_autoencoder.py (Keras 2.2), smaller."""
    layers = lib.layers
    inputs = lib.Input(shape=(image_size, image_size, 1), name="encoder_input")
    x = inputs
    for filters in (4, 8):
        x = layers.Conv2D(filters, 3, strides=2, activation="relu", padding="same")(x)
    shape = K_int_shape(x)
    x = layers.Flatten()(x)
    latent = layers.Dense(latent_dim, name="latent_vector")(x)
    encoder = lib.Model(inputs, latent, name="encoder")
    latent_inputs = lib.Input(shape=(latent_dim,), name="decoder_input")
    x = layers.Dense(shape[1] * shape[2] * shape[3])(latent_inputs)
    x = layers.Reshape((shape[1], shape[2], shape[3]))(x)
    for filters in (8, 4):
        x = layers.Conv2DTranspose(filters, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(1, 3, padding="same")(x)
    outputs = layers.Activation("sigmoid", name="decoder_output")(x)
    decoder = lib.Model(latent_inputs, outputs, name="decoder")
    autoencoder = lib.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    autoencoder.compile(loss="mse", optimizer="adam")
    return autoencoder, shape


def test_keras2_denoising_autoencoder_equals_keras3_with_the_same_weights():
    keras = pytest.importorskip("keras")
    import fitorch
    from fitorch import backend as K

    ours, shape = _denoising_autoencoder(fitorch, K.int_shape)
    theirs, kshape = _denoising_autoencoder(keras, lambda t: tuple(t.shape))
    assert shape == tuple(kshape) == (None, 2, 2, 8)
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(1)
    clean = rng.random((16, 8, 8, 1)).astype("float32")
    noisy = np.clip(clean + rng.normal(0, 0.5, clean.shape), 0, 1).astype("float32")
    np.testing.assert_allclose(
        ours.predict(noisy, verbose=0), theirs.predict(noisy, verbose=0), atol=1e-5
    )
    np.testing.assert_allclose(
        ours.evaluate(noisy, clean, verbose=0), theirs.evaluate(noisy, clean, verbose=0),
        rtol=1e-5,
    )  # fmt: skip
    history = ours.fit(noisy, clean, validation_data=(noisy, clean), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def _keras3_vae(keras, size=8, latent_dim=2):
    """keras-io "Variational AutoEncoder" (Keras 3), smaller images, with the train_step of
    Keras's "customizing fit() with PyTorch" guide (the example's own uses tf.GradientTape)."""
    from keras import layers, ops

    class Sampling(layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch = ops.shape(z_mean)[0]
            dim = ops.shape(z_mean)[1]
            epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    encoder_inputs = keras.Input(shape=(size, size, 1))
    x = layers.Conv2D(4, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(8, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense((size // 4) * (size // 4) * 8, activation="relu")(latent_inputs)
    x = layers.Reshape((size // 4, size // 4, 8))(x)
    x = layers.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(4, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [
                self.total_loss_tracker,
                self.reconstruction_loss_tracker,
                self.kl_loss_tracker,
            ]

        def train_step(self, data):
            if isinstance(data, tuple):  # fit(x) passes Keras's (x,)
                data = data[0]
            self.zero_grad()
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
            total_loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {
                "loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result(),
            }

    vae = VAE(encoder, decoder)
    vae.compile(optimizer=keras.optimizers.Adam())
    return vae


def _import_fitorch_as_keras(monkeypatch):
    """`import fitorch as keras` for code that says `from keras import layers, ops`."""
    import sys

    import fitorch

    monkeypatch.setitem(sys.modules, "keras", fitorch)
    return fitorch


def test_keras3_vae_with_ops_and_random_matches_keras_and_trains(monkeypatch):
    keras = pytest.importorskip("keras")
    images = np.random.default_rng(3).random((32, 8, 8, 1)).astype("float32")
    theirs = _keras3_vae(keras)
    fitorch = _import_fitorch_as_keras(monkeypatch)
    ours, twin, probe = (_keras3_vae(fitorch) for _ in range(3))
    assert [tuple(t.shape) for t in ours.encoder.outputs] == [(None, 2)] * 3
    ours.encoder.set_weights(theirs.encoder.get_weights())
    ours.decoder.set_weights(theirs.decoder.get_weights())
    twin.set_weights(ours.get_weights())
    probe.set_weights(ours.get_weights())
    z_mean, z_log_var, z = probe.encoder(torch.from_numpy(images))
    k_mean, k_log_var, _ = theirs.encoder(images)
    np.testing.assert_allclose(z_mean.detach().numpy(), k_mean.detach().cpu().numpy(), atol=1e-5)
    np.testing.assert_allclose(
        z_log_var.detach().numpy(), k_log_var.detach().cpu().numpy(), atol=1e-5
    )
    np.testing.assert_allclose(
        probe.decoder(z_mean).detach().numpy(),
        theirs.decoder(k_mean).detach().cpu().numpy(),
        atol=1e-5,
    )
    # The noise is N(0, 1): eps = (z - mean) / exp(log_var / 2) over a batch of 4096 rows.
    many = np.repeat(images, 128, axis=0)
    m, lv, zz = (t.detach().numpy() for t in probe.encoder(torch.from_numpy(many)))
    eps = (zz - m) / np.exp(0.5 * lv)
    assert abs(eps.mean()) < 0.05 and abs(eps.std() - 1) < 0.05
    history = ours.fit(images, epochs=4, batch_size=8, shuffle=False, verbose=0).history
    assert list(history) == ["loss", "reconstruction_loss", "kl_loss"]
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction_loss"], history["kl_loss"]), rtol=1e-5
    )
    assert history["loss"][-1] < history["loss"][0]
    # Seeded draws inside the layer: the same weights and seed give the same training run.
    twin_history = twin.fit(images, epochs=4, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(twin_history["loss"], history["loss"], rtol=1e-6)


def _transformer_classifier(keras, maxlen=6, vocab_size=20, embed_dim=8, num_heads=2, ff_dim=8):
    """keras-io "Text classification with Transformer" (Keras 3), plus a self-attention
    written with ops between layers of the functional graph."""
    from keras import layers, ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential(
                [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
            )
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    inputs = layers.Input(shape=(maxlen,))
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    # Scaled dot-product self-attention as ops on the symbolic tensors.
    q, k, v = (layers.Dense(embed_dim)(x) for _ in range(3))
    scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / ops.sqrt(float(embed_dim))
    x = x + ops.matmul(ops.softmax(scores, axis=-1), v)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_transformer_with_ops_equals_keras3_with_the_same_weights(monkeypatch):
    keras = pytest.importorskip("keras")
    theirs = _transformer_classifier(keras)
    fitorch = _import_fitorch_as_keras(monkeypatch)
    ours = _transformer_classifier(fitorch)

    # model.layers follows Keras 3's order (models/layer_order.py): weights go layer by layer.
    ours_weighted = [layer for layer in ours.layers if layer.get_weights()]
    theirs_weighted = [layer for layer in theirs.layers if layer.get_weights()]
    assert [type(a).__name__ for a in ours_weighted] == [type(b).__name__ for b in theirs_weighted]
    for mine, other in zip(ours_weighted, theirs_weighted):
        mine.set_weights(other.get_weights())
    rng = np.random.default_rng(4)
    tokens = rng.integers(0, 20, size=(16, 6))
    labels = (tokens[:, 0] > 9).astype("int64")
    np.testing.assert_allclose(
        ours.predict(tokens, verbose=0), theirs.predict(tokens, verbose=0), atol=1e-5
    )
    loss, acc = ours.evaluate(tokens, labels, verbose=0)
    k_loss, k_acc = theirs.evaluate(tokens, labels, verbose=0)
    assert loss == pytest.approx(k_loss, rel=1e-5) and acc == pytest.approx(k_acc)
    history = ours.fit(tokens, labels, epochs=5, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
