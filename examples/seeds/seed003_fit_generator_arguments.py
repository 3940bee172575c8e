"""Seed 003: `fit_generator` with every argument the seed documents.

A Python generator that loops forever yields `(inputs, targets)` or
`(inputs, targets, sample_weights)`; a `Sequence` knows its length, so `steps_per_epoch`
may be left out. The seed shows the signature; the generators and data are stand-ins.
"""

import numpy as np

from fitorch.layers import Dense

from fitorch.models import Sequential

from fitorch.utils import Sequence

rng = np.random.default_rng(0)

x_all = rng.normal(size=(160, 3)).astype('float32')

y_all = (x_all.sum(axis=1, keepdims=True) > 0).astype('float32')


def batches(x, y, batch_size=32, with_weights=False):
    """Loops over (x, y) forever, as Keras generators must."""
    while True:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            if with_weights:
                yield xb, yb, np.ones(len(xb), dtype='float32')
            else:
                yield xb, yb


class Batches(Sequence):
    """The same batches as a Sequence (length = batches per epoch)."""

    def __init__(self, x, y, batch_size=32):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, idx):
        s = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        return self.x[s], self.y[s]


model = Sequential()

model.add(Dense(1, input_dim=3, activation='sigmoid'))

model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['acc'])

# fit_generator(generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None, validation_data=None, validation_steps=None, class_weight=None, max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0)

history_gen = model.fit_generator(batches(x_all[:128], y_all[:128], with_weights=True), steps_per_epoch=4, epochs=4, verbose=2, callbacks=None, validation_data=batches(x_all[128:], y_all[128:]), validation_steps=1, class_weight={0: 1.0, 1: 1.0}, max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0)

history_seq = model.fit_generator(Batches(x_all[:128], y_all[:128]), epochs=3, verbose=2, validation_data=Batches(x_all[128:], y_all[128:]), shuffle=True, initial_epoch=1)

history_tuple = model.fit_generator(batches(x_all[:128], y_all[:128]), steps_per_epoch=4, epochs=2, verbose=2, validation_data=(x_all[128:], y_all[128:]))
