"""Keras 2's `keras.objectives`: the loss functions under their old module name.

from fitorch import objectives
objectives.binary_crossentropy(x, x_decoded)   # the same function as fitorch.losses'
"""

from fitorch.losses import *  # noqa: F403 (re-export the public loss API)
from fitorch.losses import __all__  # noqa: F401
