"""Seed 001: Keras 2's loss functions, as the seed writes them with the backend `K`.

The seed lists the loss aliases and the source of every loss. This script defines them
exactly so (with `import fitorch.backend as K`), checks that each equals fitorch's built-in
loss of that name on random data, and trains a small model with every name as `loss=`.
"""

import numpy as np

import fitorch.backend as K

from fitorch import losses

from fitorch.models import Sequential

from fitorch.layers import Dense


def mean_squared_error(y_true, y_pred):
    return K.mean(K.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    return K.mean(K.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    diff = K.abs((y_true - y_pred) / K.clip(K.abs(y_true),
    K.epsilon(),
    None))
    return 100. * K.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    first_log = K.log(K.clip(y_pred, K.epsilon(), None) + 1.)
    second_log = K.log(K.clip(y_true, K.epsilon(), None) + 1.)
    return K.mean(K.square(first_log - second_log), axis=-1)


def squared_hinge(y_true, y_pred):
    return K.mean(K.square(K.maximum(1. - y_true * y_pred, 0.)), axis=-1)


def hinge(y_true, y_pred):
    return K.mean(K.maximum(1. - y_true * y_pred, 0.), axis=-1)


def categorical_hinge(y_true, y_pred):
    pos = K.sum(y_true * y_pred, axis=-1)
    neg = K.max((1. - y_true) * y_pred, axis=-1)
    return K.maximum(0., neg - pos + 1.)


def logcosh(y_true, y_pred):
    '''Logarithm of the hyperbolic cosine of the prediction error.
    `log(cosh(x))` is approximately equal to `(x ** 2) / 2` for small `x` and
    to `abs(x) - log(2)` for large `x`. This means that 'logcosh' works mostly
    like the mean squared error, but will not be so strongly affected by the
    occasional wildly incorrect prediction.
    # Arguments
    y_true: tensor of true targets.
    y_pred: tensor of predicted targets.
    # Returns
    Tensor with one scalar loss entry per sample.
    '''
    def _logcosh(x):
        return x + K.softplus(-2. * x) - K.log(2.)
    return K.mean(_logcosh(y_pred - y_true), axis=-1)


def categorical_crossentropy(y_true, y_pred):
    return K.categorical_crossentropy(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred):
    return K.sparse_categorical_crossentropy(y_true, y_pred)


def binary_crossentropy(y_true, y_pred):
    return K.mean(K.binary_crossentropy(y_true, y_pred), axis=-1)


def kullback_leibler_divergence(y_true, y_pred):
    y_true = K.clip(y_true, K.epsilon(), 1)
    y_pred = K.clip(y_pred, K.epsilon(), 1)
    return K.sum(y_true * K.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    return K.mean(y_pred - y_true * K.log(y_pred + K.epsilon()), axis=-1)


def cosine_proximity(y_true, y_pred):
    y_true = K.l2_normalize(y_true, axis=-1)
    y_pred = K.l2_normalize(y_pred, axis=-1)
    return -K.sum(y_true * y_pred, axis=-1)


# 简写 (the aliases, as the seed lists them)
mse = MSE = mean_squared_error # 均方误差
mae = MAE = mean_absolute_error # 平均绝对误差
mape = MAPE = mean_absolute_percentage_error # 平均绝对百分比误差
msle = MSLE = mean_squared_logarithmic_error # 均方对数误差
kld = KLD = kullback_leibler_divergence #
cosine = cosine_proximity # 余弦值

# stand-in (not in the seed): targets and predictions of the right kind for each loss

rng = np.random.default_rng(0)

N, C = 64, 5

regression = (rng.normal(size=(N, C)), rng.normal(size=(N, C)))

positive = (rng.uniform(0.1, 2.0, size=(N, C)), rng.uniform(0.1, 2.0, size=(N, C)))

signs = (rng.choice([-1.0, 1.0], size=(N, C)), rng.normal(size=(N, C)))

onehot = np.eye(C)[rng.integers(0, C, N)]

probs = rng.dirichlet(np.ones(C), size=N)

labels = rng.integers(0, C, size=(N, 1))

binary = (rng.integers(0, 2, size=(N, C)).astype('float64'), rng.uniform(0.01, 0.99, size=(N, C)))

cases = {
    'mse': regression, 'MSE': regression, 'mean_squared_error': regression,
    'mae': regression, 'MAE': regression, 'mean_absolute_error': regression,
    'mape': regression, 'MAPE': regression, 'mean_absolute_percentage_error': regression,
    'msle': positive, 'MSLE': positive, 'mean_squared_logarithmic_error': positive,
    'squared_hinge': signs, 'hinge': signs, 'categorical_hinge': (onehot, probs),
    'logcosh': regression, 'categorical_crossentropy': (onehot, probs),
    'sparse_categorical_crossentropy': (labels, probs), 'binary_crossentropy': binary,
    'kld': (probs[::-1].copy(), probs), 'KLD': (probs[::-1].copy(), probs),
    'kullback_leibler_divergence': (probs[::-1].copy(), probs),
    'poisson': positive, 'cosine': regression, 'cosine_proximity': regression,
}

max_differences = {}

for name, (y_true, y_pred) in cases.items():
    seed_value = np.asarray(globals()[name](K.constant(y_true), K.constant(y_pred)))
    builtin_value = np.asarray(losses.get(name)(K.constant(y_true), K.constant(y_pred)))
    max_differences[name] = float(np.max(np.abs(seed_value - builtin_value)))
    print('%-32s max |seed - fitorch| = %.3e' % (name, max_differences[name]))

# every name as `loss=` in compile; each trains one small model for a few epochs

final_losses = {}

x_train = rng.normal(size=(N, 8)).astype('float32')

for name, (y_true, _) in cases.items():
    activation = 'softmax' if y_true is onehot or y_true is labels or name.lower() == 'kld' or name.startswith('kullback') else None
    activation = 'sigmoid' if name == 'binary_crossentropy' else activation
    activation = 'softplus' if y_true is positive[0] else activation
    model = Sequential()
    model.add(Dense(C, input_shape=(8,), activation=activation))
    model.compile(loss=name, optimizer='adam')
    history = model.fit(x_train, y_true.astype('float32'), epochs=5, batch_size=16, verbose=0)
    final_losses[name] = history.history['loss']
    print('%-32s loss: %.4f -> %.4f' % (name, history.history['loss'][0], history.history['loss'][-1]))
