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
    """A trainable (or frozen) tensor of a layer; a `torch.nn.Parameter`."""

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
