"""Seed 004: a custom loss function `my_loss(y_true, y_pred)` passed to compile.

The seed gives a template whose body is `pass`; the body here (a mean squared error that
weights under-prediction twice) and the model and data are stand-ins.
"""

import numpy as np

from fitorch import backend as K

from fitorch.layers import Dense

from fitorch.models import Sequential


def my_loss(y_true, y_pred):
    # y_true: 真实标签。TensorFlow/Theano 张量。
    # y_pred: 预测值,TensorFlow/Theano 张量,其 shape 与 y_true 相同。
    # 此处进行损失函数的具体定义,注意使用的是张量的运算操作,而不是numpy矩阵的运算规则。
    error = y_pred - y_true
    value = K.mean(K.square(error) * K.switch(error < 0, 2.0 * K.ones_like(error), K.ones_like(error)), axis=-1)
    return value


rng = np.random.default_rng(0)

x = rng.normal(size=(128, 3)).astype('float32')

y = x @ np.array([[1.0], [2.0], [-1.0]], dtype='float32') + 0.5

model = Sequential()

model.add(Dense(1, input_dim=3))

model.compile(loss=my_loss, optimizer='sgd')

history = model.fit(x, y, epochs=20, verbose=2)
