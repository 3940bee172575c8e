"""Seed 001: Keras' built-in accuracy metrics, called as functions and used in compile.

The seed lists the signatures; the data and the model are stand-ins.
"""

import numpy as np

from fitorch.metrics import binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy

from fitorch.models import Sequential

from fitorch.layers import Dense

# stand-in (not in the seed): 8 classes, predictions, labels

y_pred = np.array([[0.05, 0.40, 0.10, 0.20, 0.11, 0.06, 0.04, 0.04],   # top-1: 1
                   [0.30, 0.05, 0.04, 0.03, 0.25, 0.20, 0.02, 0.11],   # top-1: 0, class 5 3rd
                   [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.09, 0.70]],  # class 0 last
                  dtype='float32')

labels = np.array([1, 5, 0])

y_true = np.eye(8, dtype='float32')[labels]

print('binary_accuracy', np.asarray(binary_accuracy(y_true, y_pred)))

print('categorical_accuracy', np.asarray(categorical_accuracy(y_true, y_pred)))

print('sparse_categorical_accuracy', np.asarray(sparse_categorical_accuracy(labels, y_pred)))

print('top_k_categorical_accuracy', np.asarray(top_k_categorical_accuracy(y_true, y_pred, k=5)))

print('sparse_top_k_categorical_accuracy', np.asarray(sparse_top_k_categorical_accuracy(labels, y_pred, k=5)))

# the same functions as compile metrics

rng = np.random.default_rng(0)

x_train = rng.normal(size=(96, 4)).astype('float32')

train_labels = np.argmax(x_train @ rng.normal(size=(4, 8)), axis=-1)

model = Sequential()

model.add(Dense(8, input_shape=(4,), activation='softmax'))

model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=[categorical_accuracy, top_k_categorical_accuracy])

history = model.fit(x_train, np.eye(8, dtype='float32')[train_labels], epochs=3, batch_size=32, verbose=2)
