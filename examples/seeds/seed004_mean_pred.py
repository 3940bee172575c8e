"""Seed 004: the custom `mean_pred` metric (as seed 001), with the seed's comments.

The model and data are stand-ins.
"""

import numpy as np

import fitorch.backend as K

from fitorch.layers import Dense

from fitorch.models import Sequential


def mean_pred(y_true, y_pred):
    # y_true 为TensorFlow张量
    # y_pred 为与y_ture同形状的TensorFlow张量
    return K.mean(y_pred)


rng = np.random.default_rng(1)

x = rng.normal(size=(100, 2)).astype('float32')

y = (x[:, :1] * x[:, 1:] > 0).astype('float32')

model = Sequential()

model.add(Dense(1, input_dim=2, activation='sigmoid'))

model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['accuracy', mean_pred])

history = model.fit(x, y, epochs=5, batch_size=25, verbose=2)
