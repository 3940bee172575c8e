"""Seed 000: the same metrics by their long names, and a loss function (msle) as a metric.

The seed shows only the two `compile` lines; the model and data are the regression example's.
"""

from numpy import array

from fitorch.models import Sequential

from fitorch.layers import Dense

X = array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])

model = Sequential()

model.add(Dense(2, input_dim=1))

model.add(Dense(1))

# seed: metrics by their long names

model.compile(loss='mse', optimizer='adam', metrics=['mean_squared_error', 'mean_absolute_error', 'mean_absolute_percentage_error', 'cosine_proximity'])

long_history = model.fit(X, X, epochs=50, batch_size=len(X), verbose=2)

# seed: a loss function (mean squared logarithmic error) as a metric

model.compile(loss='mse', optimizer='adam', metrics=['msle'])

msle_history = model.fit(X, X, epochs=50, batch_size=len(X), verbose=2)

print(long_history.history.keys())

print(msle_history.history.keys())
