"""Seed 004: losses passed to compile by name or as a function from `losses`.

The seed shows one compile line per loss; each trains a small stand-in model on suitable
stand-in data (regression targets, one-hot classes, or -1/+1 labels for the hinge).
"""

import numpy as np

from fitorch import losses

from fitorch.layers import Dense

from fitorch.models import Sequential

rng = np.random.default_rng(0)

x = rng.normal(size=(128, 4)).astype('float32')

y_regression = x @ np.array([[1.0], [-1.0], [2.0], [0.5]], dtype='float32')

y_onehot = np.eye(3, dtype='float32')[np.argmax(x[:, :3], axis=1)]

y_signs = np.where(x[:, :1] > 0, 1.0, -1.0).astype('float32')


def make_model(units, activation=None):
    model = Sequential()
    model.add(Dense(units, input_dim=4, activation=activation))
    return model


histories = {}

model = make_model(1)
model.compile(loss='mean_squared_error', optimizer='sgd')
histories['mean_squared_error'] = model.fit(x, y_regression, epochs=5, verbose=2)

model = make_model(1)
model.compile(loss=losses.mean_squared_error, optimizer='sgd')
histories['losses.mean_squared_error'] = model.fit(x, y_regression, epochs=5, verbose=2)

model = make_model(1)
model.compile(loss='mean_absolute_error', optimizer='sgd')
histories['mean_absolute_error'] = model.fit(x, y_regression, epochs=5, verbose=2)

model = make_model(1)
model.compile(loss='huber_loss', optimizer='sgd')
histories['huber_loss'] = model.fit(x, y_regression, epochs=5, verbose=2)

model = make_model(3, 'softmax')
model.compile(loss='categorical_crossentropy', optimizer='sgd')
histories['categorical_crossentropy'] = model.fit(x, y_onehot, epochs=5, verbose=2)

model = make_model(1, 'tanh')
model.compile(loss='hinge', optimizer='sgd')
histories['hinge'] = model.fit(x, y_signs, epochs=5, verbose=2)
