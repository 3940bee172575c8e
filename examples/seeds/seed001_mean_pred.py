"""Seed 001: a custom metric (the mean prediction) next to 'accuracy'.

The seed shows the function and the compile call; the model and data are stand-ins.
"""

import numpy as np

import fitorch.backend as K

from fitorch.models import Sequential

from fitorch.layers import Dense


def mean_pred(y_true, y_pred):
    return K.mean(y_pred)


# stand-in (not in the seed): a binary classifier on 200 points

rng = np.random.default_rng(0)

data = rng.normal(size=(200, 3)).astype('float32')

labels = (data.sum(axis=1) > 0).astype('float32')

model = Sequential()

model.add(Dense(1, input_shape=(3,), activation='sigmoid'))

model.compile(optimizer='rmsprop',
loss='binary_crossentropy',
metrics=['accuracy', mean_pred])

history = model.fit(data, labels, epochs=10, batch_size=32, verbose=2)

predictions = model.predict(data, verbose=0)
