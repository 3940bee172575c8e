"""Seed 003: `fit` with every argument the seed documents.

x/y as arrays, a list of arrays (two inputs) and a dict keyed by input-layer names; batch
size, epochs, verbose, callbacks, validation_split or validation_data (2- and 3-tuples),
shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch and validation_steps.
The seed shows the signature; the models and data are stand-ins.
"""

import numpy as np

from fitorch.callbacks import History

from fitorch.layers import Input, Dense, concatenate

from fitorch.models import Model, Sequential

rng = np.random.default_rng(0)

x_train = rng.normal(size=(200, 4)).astype('float32')

y_train = (x_train[:, 0] + x_train[:, 1] > 0).astype('float32')

x_val, y_val = x_train[:40] + 0.1, y_train[:40]

val_sample_weights = np.ones(40, dtype='float32')

sample_weight = rng.uniform(0.5, 1.5, size=200).astype('float32')

model = Sequential()

model.add(Dense(8, input_dim=4, activation='relu'))

model.add(Dense(1, activation='sigmoid'))

model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['acc'])

# fit(x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None)

extra_history = History()

history_all = model.fit(x=x_train, y=y_train, batch_size=32, epochs=6, verbose=1, callbacks=[extra_history], validation_split=0.0, validation_data=(x_val, y_val, val_sample_weights), shuffle=True, class_weight={0: 1.0, 1: 2.0}, sample_weight=sample_weight, initial_epoch=2, steps_per_epoch=None, validation_steps=None)

history_split = model.fit(x_train, y_train, batch_size=None, epochs=2, verbose=2, validation_split=0.2, shuffle=False)

history_steps = model.fit(x_train, y_train, batch_size=20, epochs=2, verbose=2, validation_data=(x_val, y_val), steps_per_epoch=5, validation_steps=1)

# several inputs: a list of arrays, or a dict keyed by the input layers' names

left = Input(shape=(2,), name='left')

right = Input(shape=(2,), name='right')

merged = concatenate([left, right])

two_input_model = Model(inputs=[left, right], outputs=Dense(1, activation='sigmoid')(merged))

two_input_model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['acc'])

history_list = two_input_model.fit([x_train[:, :2], x_train[:, 2:]], y_train, epochs=2, verbose=2)

history_dict = two_input_model.fit({'left': x_train[:, :2], 'right': x_train[:, 2:]}, y_train, epochs=2, verbose=2)
