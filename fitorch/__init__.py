"""fitorch: the Keras training system, native on PyTorch.

Keras code runs with one import changed:

    from fitorch import layers, losses, metrics, optimizers, callbacks, backend
    from fitorch.models import Sequential, Model
"""

__version__ = "0.1.0"
