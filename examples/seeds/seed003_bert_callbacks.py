"""Seed 003: several callbacks together (`EarlyStopping`, `ReduceLROnPlateau`,
`ModelCheckpoint`) on a classifier trained with `fit_generator` from data generators.

The seed's model is a BERT classifier fed by bert4keras-style data generators (`train_D`,
`valid_D`: `len()` is the number of batches, `__iter__()` loops forever). The stand-in is a
small classifier of two bag-of-words "sentence" classes with the same kind of generators.
"""

import os

import numpy as np

from fitorch.callbacks import EarlyStopping, ReduceLROnPlateau, ModelCheckpoint

from fitorch.layers import Dense

from fitorch.models import Sequential

epochs = int(os.environ.get('FITORCH_SEED_EPOCHS', 30))

i = 0  # the seed's fold index


class data_generator:
    """Stand-in (not in the seed): batches of (features, one-hot labels), forever."""

    def __init__(self, data, batch_size=16):
        self.data, self.batch_size = data, batch_size

    def __len__(self):
        return (len(self.data[0]) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        x, y = self.data
        while True:
            order = np.random.permutation(len(x))
            for start in range(0, len(x), self.batch_size):
                idx = order[start:start + self.batch_size]
                yield x[idx], y[idx]


rng = np.random.default_rng(0)

words = rng.poisson(1.0, size=(320, 20)).astype('float32')

labels = (words[:, :10].sum(axis=1) > words[:, 10:].sum(axis=1)).astype('int64')

one_hot = np.eye(2, dtype='float32')[labels]

train_D = data_generator((words[:256], one_hot[:256]))

valid_D = data_generator((words[256:], one_hot[256:]))

model = Sequential()

model.add(Dense(16, input_dim=20, activation='relu'))

model.add(Dense(2, activation='softmax'))

model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['acc'])

# the seed

model_weight_filepath = "./bert_classfition-test_model" + str(i) + ".weight"
earlystopping = EarlyStopping(monitor='val_acc', verbose=1, patience=3)
reducelronplateau = ReduceLROnPlateau(monitor="val_acc", verbose=1, mode='max', factor=0.5, patience=2)
checkpoint = ModelCheckpoint(filepath=model_weight_filepath, monitor='val_acc', verbose=0, save_best_only=True, save_weights_only=True, mode='max', period=1)
history = model.fit_generator(
    train_D.__iter__(),
    steps_per_epoch=len(train_D),
    epochs=epochs,
    validation_data=valid_D.__iter__(),
    validation_steps=len(valid_D),
    callbacks=[earlystopping, reducelronplateau, checkpoint])
