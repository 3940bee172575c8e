"""`TorchModuleWrapper`: any `torch.nn.Module` used as a fitorch layer."""

from __future__ import annotations

from torch import nn

from fitorch.layers.base import Layer

__all__ = ["TorchModuleWrapper", "as_layer"]


class TorchModuleWrapper(Layer):
    """Runs `module(*inputs)`; its parameters are the layer's weights (torch layouts).

    A lazy torch module (`nn.LazyLinear`) is materialized by the first call.
    """

    def __init__(self, module: nn.Module, name=None, **kwargs):
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"TorchModuleWrapper needs a torch.nn.Module; got {type(module).__name__}."
            )
        super().__init__(name=name or _snake(type(module).__name__), **kwargs)
        self.module = module
        self.train(False)  # inference outside fit, as every layer (see layers/base.py)
        self.built = True

    def call(self, *args, **kwargs):
        kwargs.pop("training", None)
        return self.module(*args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "module_class": type(self.module).__name__}


def as_layer(obj):
    """A fitorch Layer as is; an nn.Module wrapped; anything else is a TypeError."""
    if isinstance(obj, Layer):
        return obj
    if isinstance(obj, nn.Module):
        return TorchModuleWrapper(obj)
    raise TypeError(f"Expected a fitorch Layer or a torch.nn.Module; got {obj!r}.")


def _snake(name):
    from fitorch.utils.naming import to_snake_case

    return to_snake_case(name)
