"""Schedule-Free AdamW (Defazio et al. 2024, "The Road Less Scheduled"), Keras 3 rule."""

from __future__ import annotations

import torch

from fitorch.optimizers.arguments import check_beta, check_nonnegative
from fitorch.optimizers.base import Optimizer

__all__ = ["ScheduleFreeAdamW"]


class ScheduleFreeAdamW(Optimizer):
    """AdamW without a schedule: the weights `y` interpolate between a fast sequence `z`
    (slot `momentum`, starting at the weights) and its running average `x`.

        lr_t = lr * min(t / warmup_steps, 1)            (warmup_steps > 0)
        v += (g**2 - v) * (1 - beta_2)
        z = z - lr_t * g / (sqrt(v / (1 - beta_2**t)) + epsilon)
        x = (y - (1 - beta_1) * z) / beta_1             (the average, recovered from y)
        x = (1 - 1/t) * x + z / t
        y = (1 - beta_1) * z + beta_1 * x

    `x` is recovered with the *updated* `z`, as Keras 3 computes it on its torch backend
    (its `momentum_old` is a view of the slot that the update then changes in place; the
    paper, and Keras on JAX/TF, use the old `z` there).
    Defaults lr=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0 (Keras 3).
    The weights at the end of training are `y`, as in Keras (no swap to `x` for evaluation).
    """

    _slot_names = ("momentum", "velocity")

    def __init__(
        self,
        learning_rate=0.0025,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_steps=0,
        **kwargs,
    ):
        self.beta_1 = check_beta("beta_1", beta_1)
        if self.beta_1 == 0:
            raise ValueError("`beta_1` must be in (0, 1): x is recovered as y / beta_1.")
        self.beta_2 = check_beta("beta_2", beta_2)
        self.epsilon = check_nonnegative("epsilon", epsilon, allow_none=False)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                f"`warmup_steps` must be an int >= 0. Received: warmup_steps={warmup_steps!r}"
            )
        self.warmup_steps = warmup_steps
        super().__init__(learning_rate, **kwargs)

    def _init_slots(self, p):
        return {"momentum": p.detach().clone(), "velocity": torch.zeros_like(p)}

    def _update_foreach(self, params, grads, slots, lr, t):
        for p, g, z, v in zip(params, grads, slots["momentum"], slots["velocity"]):
            self._update_reference(p, g, {"momentum": z, "velocity": v}, lr, t)

    def _update_reference(self, p, g, slots, lr, t):
        z, v = slots["momentum"], slots["velocity"]
        if self.warmup_steps > 0:
            lr = lr * torch.clamp(t / self.warmup_steps, max=1.0)
        v.lerp_(g * g, 1 - self.beta_2)
        denom = (v / (1 - self.beta_2**t).to(p.dtype)).sqrt_().add_(self.epsilon)
        rate = lr if isinstance(lr, float) else lr.to(p.dtype)
        z.sub_(g * rate / denom)
        x = (p - (1 - self.beta_1) * z) / self.beta_1
        weight = (1.0 / t).to(p.dtype)
        x.lerp_(z, weight)
        p.copy_(torch.lerp(z, x, self.beta_1))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "warmup_steps": self.warmup_steps,
        }
