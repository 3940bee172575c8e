"""Seed 000: Keras' own mean_squared_error written with the backend `K`, used as a metric.

The seed shows the function; the model and data (stand-ins) are the regression example's.
"""

from numpy import array

from fitorch import backend as K

from fitorch.models import Sequential

from fitorch.layers import Dense


def mean_squared_error(y_true, y_pred):

    return K.mean(K.square(y_pred - y_true), axis=-1)


# stand-in (not in the seed): the regression example with this function as loss and metric

X = array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])

model = Sequential()

model.add(Dense(2, input_dim=1))

model.add(Dense(1))

model.compile(loss=mean_squared_error, optimizer='adam', metrics=['mse', mean_squared_error])

history = model.fit(X, X, epochs=20, batch_size=len(X), verbose=2)
