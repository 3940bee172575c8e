"""Seed 004: a two-input, two-output functional model with one loss per output and
`loss_weights`: total loss = 1 * loss_1 + 0.2 * loss_2.

The seed's `['loss_fun1', 'l0ss_fun2']` are placeholders; real loss names stand in for them
('mse' for the regression output, 'binary_crossentropy' for the classification output). The
inputs, layers and data are stand-ins.
"""

import numpy as np

from fitorch.layers import Input, Dense, concatenate

from fitorch.models import Model

rng = np.random.default_rng(0)

x1 = rng.normal(size=(200, 3)).astype('float32')

x2 = rng.normal(size=(200, 2)).astype('float32')

y1 = (x1.sum(axis=1, keepdims=True) + x2[:, :1]).astype('float32')

y2 = (x2[:, 1:] > 0).astype('float32')

loss_fun1, l0ss_fun2 = 'mse', 'binary_crossentropy'

input_1 = Input(shape=(3,), name='input_1')

input_2 = Input(shape=(2,), name='input_2')

hidden = Dense(8, activation='relu')(concatenate([input_1, input_2]))

output_1 = Dense(1, name='output_1')(hidden)

output_2 = Dense(1, activation='sigmoid', name='output_2')(hidden)

# 定义的模型包含两个输入,两个输出
model = Model(inputs=[input_1, input_2], outputs=[output_1, output_2])
model.compile(optimizer='sgd',
              loss=[loss_fun1, l0ss_fun2],
              loss_weights=[1., 0.2]
              )
# 最终的损失函数 = 1* loss_fun1(input_1, output_1) + 0.2 * loss_fun_2(input_2, output_2)

history = model.fit([x1, x2], [y1, y2], epochs=10, batch_size=20, verbose=2)
