"""Seed 001: an optimizer by name ('sgd'), with its default arguments."""

import numpy as np

from fitorch.models import Sequential

from fitorch.layers import Dense

# stand-in (not in the seed): a linear regression to fit

rng = np.random.default_rng(0)

x_train = rng.normal(size=(256, 10)).astype('float32')

y_train = x_train @ rng.normal(size=(10, 1)).astype('float32')

model = Sequential()

model.add(Dense(1, input_shape=(10,)))

# 传入优化器名称: 默认参数将被采用

model.compile(loss='mean_squared_error', optimizer='sgd')

history = model.fit(x_train, y_train, epochs=5, batch_size=32, verbose=2)
