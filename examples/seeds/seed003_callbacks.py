"""Seed 003: ModelCheckpoint, EarlyStopping, ReduceLROnPlateau and TensorBoard as the seed
writes them (Keras 2 arguments: `period=`, `batch_size=`, `write_grads=`, `embeddings_*`).

Each seed example calls `model.fit(X_train, Y_train, callbacks=[...])` without validation
data, so a callback monitoring `val_acc`/`val_loss` warns that it is missing (as Keras
does); each is then run again with validation data (a stand-in), where it acts: the best
weights are saved, training stops early and the learning rate is reduced.
The model and data are stand-ins: two separable classes.
"""

import os

import warnings

import numpy as np

from fitorch.callbacks import ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, TensorBoard

from fitorch.layers import Dense

from fitorch.models import Sequential

from fitorch import optimizers

rng = np.random.default_rng(0)

X_train = rng.normal(size=(240, 2)).astype('float32')

Y_train = (X_train[:, 0] > 0).astype('float32')

X_val, Y_val = X_train[:60], Y_train[:60]


def build_model():
    model = Sequential()
    model.add(Dense(1, input_dim=2, activation='sigmoid'))
    model.compile(optimizer=optimizers.SGD(lr=0.5), loss='binary_crossentropy', metrics=['acc'])
    return model


model = build_model()

model_weight_filepath = 'epoch1.weight'

# 2. ModelCheckpoint

checkpoint = ModelCheckpoint(filepath=model_weight_filepath, monitor='val_acc', verbose=0, save_best_only=True, save_weights_only=True, mode='max', period=1)
with warnings.catch_warnings(record=True) as checkpoint_warnings:
    warnings.simplefilter('always')
    model.fit(X_train, Y_train, callbacks=[checkpoint])

checkpoint = ModelCheckpoint(filepath='best-{epoch:02d}-{val_acc:.2f}.weight', monitor='val_acc', verbose=1, save_best_only=True, save_weights_only=True, mode='max', period=1)
checkpoint_history = model.fit(X_train, Y_train, epochs=4, verbose=2, validation_data=(X_val, Y_val), callbacks=[checkpoint])

# 3. EarlyStopping

model = build_model()
earlystopping = EarlyStopping(monitor='val_acc', verbose=1, patience=3)
with warnings.catch_warnings(record=True) as earlystopping_warnings:
    warnings.simplefilter('always')
    model.fit(X_train, Y_train, callbacks=[earlystopping])

earlystopping = EarlyStopping(monitor='val_acc', verbose=1, patience=3)
early_history = model.fit(X_train, Y_train, epochs=100, verbose=2, validation_data=(X_val, Y_val), callbacks=[earlystopping])

# 4. ReduceLROnPlateau

model = build_model()
reduce_lr = ReduceLROnPlateau(monitor='val_loss', factor=0.2, patience=5, min_lr=0.001)
with warnings.catch_warnings(record=True) as reduce_lr_warnings:
    warnings.simplefilter('always')
    model.fit(X_train, Y_train, callbacks=[reduce_lr])

# stand-in: validation labels flipped, so val_loss only grows and the plateau rule fires
reduce_lr = ReduceLROnPlateau(monitor='val_loss', factor=0.2, patience=5, min_lr=0.001, verbose=1)
plateau_history = model.fit(X_train, Y_train, epochs=30, verbose=2, validation_data=(X_val, 1.0 - Y_val), callbacks=[reduce_lr])

# 4. TensorBoard

model = build_model()
tensorboard = TensorBoard(log_dir='./logs', histogram_freq=0, batch_size=32, write_graph=True, write_grads=False, write_images=False, embeddings_freq=0, embeddings_layer_names=None, embeddings_metadata=None, embeddings_data=None, update_freq='epoch')
tensorboard_history = model.fit(X_train, Y_train, epochs=3, verbose=2, validation_data=(X_val, Y_val), callbacks=[tensorboard])

print(sorted(os.listdir('.')))
