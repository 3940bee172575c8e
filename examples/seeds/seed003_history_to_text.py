"""Seed 003: read `hist.history` after `fit` and save it to a text file.

The seed shows the lines; `X, y`, `train_set_x, train_set_y`, `nb_epoch` and the model are
stand-ins. `nb_epoch` is Keras 1's name for `epochs`, still accepted.
"""

import numpy as np

from fitorch.layers import Dense

from fitorch.models import Sequential

rng = np.random.default_rng(0)

X = rng.normal(size=(100, 5)).astype('float32')

y = (X[:, :1] > 0).astype('float32')

train_set_x, train_set_y, nb_epoch = X, y, 3

model = Sequential()

model.add(Dense(1, input_dim=5, activation='sigmoid'))

model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['acc'])

# 5、如何记录每一次epoch的训练/验证损失/准确度?

hist = model.fit(X, y,validation_split=0.2)
print(hist.history)

# Keras输出的loss,val这些值如何保存到文本中去

hist=model.fit(train_set_x,train_set_y,batch_size=256,shuffle=True,nb_epoch=nb_epoch,validation_split=0.1)
with open('log_sgd_big_32.txt','w') as f:
    f.write(str(hist.history))
