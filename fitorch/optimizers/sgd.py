"""Stochastic gradient descent with optional (Nesterov) momentum, Keras 3 rule."""

from __future__ import annotations

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.arguments import check_range
from fitorch.optimizers.base import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with momentum.

    With `momentum == 0`: `p -= lr * g`. Otherwise, with velocity `m` (starts at 0):

        m = momentum * m - lr * g
        p += m                              # nesterov=False
        p += momentum * m - lr * g          # nesterov=True (with the new m)

    Defaults are Keras 3's and Keras 2's (`lr=0.01`); the Keras 2 `decay=` argument is honoured.

    Args:
        learning_rate: float, schedule or callable. Defaults to 0.01.
        momentum: float in [0, 1]. Defaults to 0.
        nesterov: use Nesterov momentum. Defaults to False.
        **kwargs: the base arguments (see `Optimizer`).

    Example:
        >>> p = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD([p], learning_rate=0.1)
        >>> p.grad = torch.tensor([2.0]); opt.step(); round(float(p.detach()), 4)
        0.8
    """

    _uses_step_count = False

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)
        self._slot_names = ("momentum",) if self.momentum else ()
        super().__init__(learning_rate, **kwargs)

    def _update_foreach(self, params, grads, slots, lr, t):
        if not self.momentum:
            steps.add_scaled(params, grads, -lr)
            return
        m = slots["momentum"]
        torch._foreach_mul_(m, self.momentum)
        steps.add_scaled(m, grads, -lr)
        if self.nesterov:
            torch._foreach_add_(params, m, alpha=self.momentum)
            steps.add_scaled(params, grads, -lr)
        else:
            torch._foreach_add_(params, m)

    def _update_reference(self, p, g, slots, lr, t):
        if not self.momentum:
            p.sub_(g * lr)
            return
        m = slots["momentum"]
        m.copy_(m * self.momentum - g * lr)
        if self.nesterov:
            p.add_(m * self.momentum - g * lr)
        else:
            p.add_(m)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
