"""Seed 002: a regression model that reports 'mae' and 'acc' next to its mean squared error.

The seed shows only the compile call; the model and data are stand-ins (binary targets, so
'acc' is meaningful: with a mean-squared-error loss it resolves to binary accuracy).
"""

import numpy as np

from fitorch.models import Sequential

from fitorch.layers import Dense

rng = np.random.default_rng(0)

x = rng.normal(size=(200, 2)).astype('float32')

y = (x[:, :1] > 0).astype('float32')

model = Sequential()

model.add(Dense(1, input_dim=2, activation='sigmoid'))

model.compile(loss='mean_squared_error',
              optimizer='sgd',
              metrics=['mae', 'acc'])

history = model.fit(x, y, epochs=20, batch_size=20, verbose=2)
