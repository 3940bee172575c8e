"""`Variable`: Keras's variable API on a `torch.nn.Parameter`.

Every weight a layer creates with `add_weight` is a `Variable`, so code written for Keras 3
(`v.value.grad`, `v.assign(x)`, `v.numpy()`, `v.trainable`) and code written for PyTorch
(`optimizer = torch.optim.SGD(model.parameters())`, `state_dict()`) see the same object.
Values are stored in the layer's storage layout (see `Layer.add_weight(layout=...)`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["Variable"]


class Variable(nn.Parameter):
    """A trainable (or frozen) tensor of a layer; a `torch.nn.Parameter`.

    `Variable(initializer, shape=None, dtype=None, trainable=True, name=None)` as in Keras:
    `initializer` is a value (array, tensor, number) or an initializer (name, instance or
    callable, then `shape` is required). The second positional argument stays torch's
    `requires_grad`, so `Variable(tensor, False)` and torch's copying work as for a Parameter.

        >>> v = Variable(np.zeros(2), name="bias")
        >>> v.assign_add([1.0, 2.0]).numpy().tolist(), v.name, v.trainable
        ([1.0, 2.0], 'bias', True)
    """

    def __new__(
        cls, initializer=None, requires_grad=None, *, shape=None, dtype=None, trainable=True,
        name=None,
    ):  # fmt: skip
        value = _initial_value(initializer, shape, dtype)
        grad = bool(trainable) if requires_grad is None else bool(requires_grad)
        var = super().__new__(cls, value, requires_grad=grad and value.is_floating_point())
        if name is not None:
            var._keras_path = str(name)
        return var

    @property
    def name(self) -> str:
        """The variable's own name (the last part of `path`: `"kernel"`)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def value(self) -> Variable:
        """The tensor itself (Keras: `variable.value`; `.value.grad` after backward)."""
        return self

    @property
    def trainable(self) -> bool:
        return self.requires_grad

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.requires_grad_(bool(value))

    @property
    def path(self) -> str:
        """`layer_name/weight_name` once a layer owns it (Keras's variable path)."""
        return getattr(self, "_keras_path", "variable")

    def assign(self, value) -> Variable:
        """Overwrite the value in place (shape must match): `v <- value`."""
        with torch.no_grad():
            self.copy_(torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value,
                                       dtype=self.dtype, device=self.device))  # fmt: skip
        return self

    def assign_add(self, delta) -> Variable:
        """`v <- v + delta`, in place."""
        with torch.no_grad():
            self.add_(torch.as_tensor(delta, dtype=self.dtype, device=self.device))
        return self

    def assign_sub(self, delta) -> Variable:
        """`v <- v - delta`, in place."""
        with torch.no_grad():
            self.sub_(torch.as_tensor(delta, dtype=self.dtype, device=self.device))
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """A host copy of the value (no gradient); `force` as `torch.Tensor.numpy` takes it
        (torch.onnx passes it), always honoured since the value is detached and copied."""
        return self.detach().cpu().numpy()


def _initial_value(initializer, shape, dtype) -> torch.Tensor:
    """The first value of a Variable: `initializer` itself, or `initializer(shape, dtype)`."""
    from fitorch.backend import to_torch_dtype
    from fitorch.initializers import get as get_initializer

    torch_dtype = None if dtype is None else to_torch_dtype(dtype)
    if initializer is None:
        initializer = "zeros"
    if isinstance(initializer, str) or callable(initializer) and not torch.is_tensor(initializer):
        if shape is None:
            raise ValueError(
                f"Variable(initializer={initializer!r}) needs `shape` (the initializer makes "
                "the value); got shape=None."
            )
        return get_initializer(initializer)(tuple(shape), dtype=torch_dtype or torch.float32)
    if torch.is_tensor(initializer):
        value = initializer
    else:
        value = torch.as_tensor(np.asarray(initializer))
        if value.is_floating_point() and torch_dtype is None:
            value = value.to(to_torch_dtype(None))  # NumPy/Python floats become floatx()
    if torch_dtype is not None:
        value = value.to(torch_dtype)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"Variable: the initial value has shape {tuple(value.shape)}; shape={tuple(shape)} "
            "was given."
        )
    return value.detach()
