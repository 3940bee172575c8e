"""Seed 003, method 2: a VAE whose loss is added by a custom layer (`add_loss`), compiled
with `loss=None` and trained without targets.

The seed shows `CustomVariationalLayer` and the last three lines; the VAE around it (a
4x4-pixel "image" VAE with a 2-d latent space) and its data are the smallest stand-in.
"""

import os

import numpy as np

from fitorch import backend as K

from fitorch import metrics

from fitorch.layers import Input, Dense, Flatten, Reshape, Lambda, Layer

from fitorch.models import Model

EPOCHS = int(os.environ.get('FITORCH_SEED_EPOCHS', 30))

# stand-in (not in the seed): encoder, sampling and decoder

img_rows, img_cols, latent_dim, intermediate_dim = 4, 4, 2, 8

x = Input(shape=(img_rows, img_cols))

h = Dense(intermediate_dim, activation='relu')(Flatten()(x))

z_mean = Dense(latent_dim)(h)

z_log_var = Dense(latent_dim)(h)


def sampling(args):
    z_mean, z_log_var = args
    epsilon = K.random_normal(shape=(K.shape(z_mean)[0], latent_dim), mean=0., stddev=1.0)
    return z_mean + K.exp(z_log_var / 2) * epsilon


z = Lambda(sampling, output_shape=(latent_dim,))([z_mean, z_log_var])

decoded = Dense(img_rows * img_cols, activation='sigmoid')(Dense(intermediate_dim, activation='relu')(z))

x_decoded_mean_squash = Reshape((img_rows, img_cols))(decoded)

# the seed

# Custom loss layer
class CustomVariationalLayer(Layer):
    def __init__(self, **kwargs):
        self.is_placeholder = True
        super(CustomVariationalLayer, self).__init__(**kwargs)

    def vae_loss(self, x, x_decoded_mean_squash):
        x = K.flatten(x)
        x_decoded_mean_squash = K.flatten(x_decoded_mean_squash)
        xent_loss = img_rows * img_cols * metrics.binary_crossentropy(x, x_decoded_mean_squash)
        kl_loss = - 0.5 * K.mean(1 + z_log_var - K.square(z_mean) - K.exp(z_log_var), axis=-1)
        return K.mean(xent_loss + kl_loss)

    def call(self, inputs):
        x = inputs[0]
        x_decoded_mean_squash = inputs[1]
        loss = self.vae_loss(x, x_decoded_mean_squash)
        self.add_loss(loss, inputs=inputs)
        # We don't use this output.
        return x


y = CustomVariationalLayer()([x, x_decoded_mean_squash])
vae = Model(x, y)
vae.compile(optimizer='rmsprop', loss=None)

# stand-in (not in the seed): binary 4x4 images made of two prototypes, with noise

rng = np.random.default_rng(0)

prototypes = np.array([[1, 1, 0, 0] * 4, [0, 0, 1, 1] * 4], dtype='float32').reshape(2, 4, 4)

x_train = prototypes[rng.integers(0, 2, 512)]

x_train = np.abs(x_train - (rng.uniform(size=x_train.shape) < 0.05)).astype('float32')

x_test = x_train[:64]

history = vae.fit(x_train, shuffle=True, epochs=EPOCHS, batch_size=32, validation_data=(x_test, None), verbose=2)
