"""Seed 000: Keras regression metrics (mse, mae, mape, cosine) on a 10-point sequence.

The seed's program with `keras` -> `fitorch` in the imports. It prints one line per epoch
(`Epoch 500/500` then ` - loss: ... - mse: ... - cosine: -1.0000e+00`) and reads the History
under the metrics' long names, as the seed does.
"""

from numpy import array

from fitorch.models import Sequential

from fitorch.layers import Dense

from matplotlib import pyplot

# prepare sequence

X = array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])

# create model

model = Sequential()

model.add(Dense(2, input_dim=1))

model.add(Dense(1))

model.compile(loss='mse', optimizer='adam', metrics=['mse', 'mae', 'mape', 'cosine'])

# train model

history = model.fit(X, X, epochs=500, batch_size=len(X), verbose=2)

# plot metrics

pyplot.plot(history.history['mean_squared_error'])

pyplot.plot(history.history['mean_absolute_error'])

pyplot.plot(history.history['mean_absolute_percentage_error'])

pyplot.plot(history.history['cosine_proximity'])

pyplot.show()
