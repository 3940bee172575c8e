"""Seed 000: binary classification with the 'acc' metric (binary accuracy)."""

from numpy import array

from fitorch.models import Sequential

from fitorch.layers import Dense

from matplotlib import pyplot

# prepare sequence

X = array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])

y = array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])

# create model

model = Sequential()

model.add(Dense(2, input_dim=1))

model.add(Dense(1, activation='sigmoid'))

model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['acc'])

# train model

history = model.fit(X, y, epochs=400, batch_size=len(X), verbose=2)

# plot metrics

pyplot.plot(history.history['acc'])

pyplot.show()
