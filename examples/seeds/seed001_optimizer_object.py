"""Seed 001: an optimizer instance (Keras 2 `lr=`, gradient clipping) passed to compile."""

import numpy as np

from fitorch.models import Sequential

from fitorch.layers import Dense, Activation

from fitorch import optimizers

model = Sequential()

model.add(Dense(64, kernel_initializer='uniform', input_shape=(10,)))

model.add(Activation('softmax'))

sgd = optimizers.SGD(lr=0.01, clipvalue=0.5)

model.compile(optimizer=sgd,loss='mse')

# stand-in (not in the seed): 64-way soft targets to fit

rng = np.random.default_rng(0)

x_train = rng.normal(size=(256, 10)).astype('float32')

y_train = np.eye(64, dtype='float32')[rng.integers(0, 64, 256)]

history = model.fit(x_train, y_train, epochs=3, batch_size=32, verbose=2)
