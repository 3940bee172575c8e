"""Seed 003, method 1: a VAE trained with a custom loss function that closes over the
encoder's symbolic tensors (`z_mean`, `z_log_sigma`), as Keras 2's VAE example.

The seed shows `vae_loss` and the compile call; the VAE itself (16 inputs in [0, 1], a
2-d latent space) and its data are the smallest stand-in.
"""

import os

import numpy as np

from fitorch import backend as K

from fitorch import objectives

from fitorch.layers import Input, Dense, Lambda

from fitorch.models import Model

EPOCHS = int(os.environ.get('FITORCH_SEED_EPOCHS', 30))

# stand-in (not in the seed): the VAE

original_dim, intermediate_dim, latent_dim = 16, 8, 2

x = Input(shape=(original_dim,))

h = Dense(intermediate_dim, activation='relu')(x)

z_mean = Dense(latent_dim)(h)

z_log_sigma = Dense(latent_dim)(h)


def sampling(args):
    z_mean, z_log_sigma = args
    epsilon = K.random_normal(shape=(K.shape(z_mean)[0], latent_dim), mean=0., stddev=1.0)
    return z_mean + K.exp(z_log_sigma) * epsilon


z = Lambda(sampling, output_shape=(latent_dim,))([z_mean, z_log_sigma])

decoder_h = Dense(intermediate_dim, activation='relu')

decoder_mean = Dense(original_dim, activation='sigmoid')

x_decoded_mean = decoder_mean(decoder_h(z))

vae = Model(x, x_decoded_mean)

# the seed


def vae_loss(x, x_decoded_mean):
    xent_loss = objectives.binary_crossentropy(x, x_decoded_mean)
    kl_loss = - 0.5 * K.mean(1 + z_log_sigma - K.square(z_mean) - K.exp(z_log_sigma), axis=-1)
    return xent_loss + kl_loss


vae.compile(optimizer='rmsprop', loss=vae_loss)

# stand-in (not in the seed): binary 4x4 "images" made of two prototypes, with noise

rng = np.random.default_rng(0)

prototypes = np.array([[1, 1, 0, 0] * 4, [0, 0, 1, 1] * 4], dtype='float32')

x_train = prototypes[rng.integers(0, 2, 512)]

x_train = np.abs(x_train - (rng.uniform(size=x_train.shape) < 0.05)).astype('float32')

history = vae.fit(x_train, x_train, shuffle=True, epochs=EPOCHS, batch_size=32, verbose=2)
