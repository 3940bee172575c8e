"""Seed 004: metrics by name ('mae', 'acc') and as functions from `fitorch.metrics`.

The seed shows the two compile calls; the model and data are stand-ins (one-hot targets, so
'acc' resolves to categorical accuracy).
"""

import numpy as np

from fitorch import metrics

from fitorch.layers import Dense

from fitorch.models import Sequential

rng = np.random.default_rng(0)

x = rng.normal(size=(150, 4)).astype('float32')

y = np.eye(3, dtype='float32')[np.argmax(x[:, :3], axis=1)]

model = Sequential()

model.add(Dense(3, input_dim=4, activation='softmax'))

model.compile(loss='mean_squared_error',
              optimizer='sgd',
              metrics=['mae', 'acc'])

history_names = model.fit(x, y, epochs=5, verbose=2)

model.compile(loss='mean_squared_error',
              optimizer='sgd',
              metrics=[metrics.mae, metrics.categorical_accuracy])

history_functions = model.fit(x, y, epochs=5, verbose=2)
