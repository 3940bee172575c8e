"""Seed 001: the optimizers with their Keras 2 arguments, as the seed writes them.

Each one trains the same small regression for a few epochs (the training is a stand-in).
"""

import numpy as np

import fitorch as keras

from fitorch.models import Sequential

from fitorch.layers import Dense

optimizers_from_seed = {
    'SGD': keras.optimizers.SGD(lr=0.01, momentum=0.0, decay=0.0, nesterov=False),
    'RMSprop': keras.optimizers.RMSprop(lr=0.001, rho=0.9, epsilon=None, decay=0.0),
    'Adagrad': keras.optimizers.Adagrad(lr=0.01, epsilon=None, decay=0.0),
    'Adam': keras.optimizers.Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False),
    'Adamax': keras.optimizers.Adamax(lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0),
    'Nadam': keras.optimizers.Nadam(lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, schedule_decay=0.004),
}

# stand-in (not in the seed): fit y = x @ w with each optimizer

rng = np.random.default_rng(0)

x_train = rng.normal(size=(128, 4)).astype('float32')

y_train = x_train @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype='float32')

losses = {}

for name, optimizer in optimizers_from_seed.items():
    model = Sequential()
    model.add(Dense(1, input_shape=(4,)))
    model.compile(optimizer=optimizer, loss='mse')
    history = model.fit(x_train, y_train, epochs=5, batch_size=16, verbose=0)
    losses[name] = history.history['loss']
    print(name, 'loss: %.4f -> %.4f' % (losses[name][0], losses[name][-1]))
