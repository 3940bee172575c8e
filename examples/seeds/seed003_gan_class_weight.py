"""Seed 003: class weights for each output of a two-output GAN discriminator, passed to
`train_on_batch` as a list of dicts (Keras-GAN's semi-supervised GAN).

The seed shows the class-weight lines and the `train_on_batch` call, which live in a GAN
class (`self.num_classes`, `half_batch`). The class, its discriminator (real/fake and
class-label heads) and its data are the smallest stand-in; the generator is left out: the
"fake" images are noise.
"""

import os

import numpy as np

from fitorch.layers import Input, Dense

from fitorch.models import Model

STEPS = int(os.environ.get('FITORCH_SEED_EPOCHS', 200))


class SGAN:
    """Stand-in (not in the seed): the discriminator part of a semi-supervised GAN."""

    def __init__(self, num_classes=3, img_dim=6):
        self.num_classes = num_classes
        self.img_dim = img_dim
        img = Input(shape=(img_dim,))
        features = Dense(16, activation='relu')(img)
        valid = Dense(1, activation='sigmoid', name='valid')(features)
        label = Dense(num_classes + 1, activation='softmax', name='label')(features)
        self.discriminator = Model(img, [valid, label])
        self.discriminator.compile(loss=['binary_crossentropy', 'categorical_crossentropy'],
                                   loss_weights=[0.5, 0.5], optimizer='adam', metrics=['accuracy'])
        rng = np.random.default_rng(0)
        self.centers = rng.normal(scale=3.0, size=(num_classes, img_dim)).astype('float32')
        self.rng = rng

    def batch(self, half_batch):
        """Half real images (class 0..num_classes-1), half fake ones (class num_classes)."""
        real_labels = self.rng.integers(0, self.num_classes, half_batch)
        real = self.centers[real_labels] + self.rng.normal(size=(half_batch, self.img_dim))
        fake = self.rng.normal(scale=6.0, size=(half_batch, self.img_dim))
        imgs = np.concatenate([real, fake]).astype('float32')
        valid = np.concatenate([np.ones((half_batch, 1)), np.zeros((half_batch, 1))]).astype('float32')
        classes = np.concatenate([real_labels, np.full(half_batch, self.num_classes)])
        labels = np.eye(self.num_classes + 1, dtype='float32')[classes]
        return imgs, valid, labels

    def train(self, steps, half_batch=16):
        discriminator = self.discriminator
        # the seed
        # Class weights:
        # To balance the difference in occurences of digit class labels.
        # 50% of labels that the discriminator trains on are 'fake'.
        # Weight = 1 / frequency
        cw1 = {0: 1, 1: 1}
        cw2 = {i: self.num_classes / half_batch for i in range(self.num_classes)}
        cw2[self.num_classes] = 1 / half_batch
        class_weights = [cw1, cw2]  # 使得两种loss能够一样重要
        self.class_weights = class_weights
        self.losses = []
        for step in range(steps):
            imgs, valid, labels = self.batch(half_batch)
            d_loss = discriminator.train_on_batch(imgs, [valid, labels], class_weight=class_weights)
            self.losses.append(d_loss)
            if step % 50 == 0 or step == steps - 1:
                print(step, discriminator.metrics_names, np.round(d_loss, 4))


gan = SGAN()

gan.train(STEPS)
