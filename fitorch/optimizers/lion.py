"""Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms"), Keras 3 rule."""

from __future__ import annotations

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.arguments import check_range
from fitorch.optimizers.base import Optimizer

__all__ = ["Lion"]


class Lion(Optimizer):
    """Sign of an interpolated momentum:

        p -= lr * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g

    Defaults lr=0.001, beta_1=0.9, beta_2=0.99 (Keras 3). Use a smaller lr (3-10x) than Adam.
    """

    _uses_step_count = False

    _slot_names = ("momentum",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        self.beta_1 = check_range("beta_1", beta_1, 0.0, 1.0)
        if self.beta_1 == 0:
            raise ValueError("`beta_1` must be in (0, 1]. Received: beta_1=0")
        self.beta_2 = check_range("beta_2", beta_2, 0.0, 1.0)
        super().__init__(learning_rate, **kwargs)

    def _update_foreach(self, params, grads, slots, lr, t):
        m = slots["momentum"]
        direction = torch._foreach_lerp(m, grads, 1 - self.beta_1)
        torch._foreach_sign_(direction)
        steps.add_scaled(params, direction, -lr)
        torch._foreach_lerp_(m, grads, 1 - self.beta_2)

    def _update_reference(self, p, g, slots, lr, t):
        m = slots["momentum"]
        p.sub_(lr * torch.sign(m * self.beta_1 + g * (1 - self.beta_1)))
        m.copy_(m * self.beta_2 + g * (1 - self.beta_2))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
