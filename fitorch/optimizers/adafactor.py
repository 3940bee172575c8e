"""Adafactor (Shazeer & Stern), Keras 3 rule: factored second moments for rank >= 2."""

from __future__ import annotations

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.base import Optimizer

__all__ = ["Adafactor"]


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean().sqrt()


class Adafactor(Optimizer):
    """Adafactor with relative step sizes.

        rho = min(lr, 1 / sqrt(t));  alpha = max(epsilon_2, rms(p)) * rho
        beta = 1 - t ** beta_2_decay;  G = g**2 + epsilon_1
        rank >= 2: r = beta r + (1-beta) mean(G, -1);  c = beta c + (1-beta) mean(G, -2)
                   v = (r / mean(r, -1))[..., None] * c[..., None, :]
        rank < 2:  v = beta v + (1-beta) G
        u = g / sqrt(v);  p -= alpha * u / max(1, rms(u) / clip_threshold)

    Defaults as Keras 3 (lr=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
    clip_threshold=1.0, relative_step=True). The factored row/column shapes differ per
    tensor, so both paths run the same per-tensor kernel (as Keras' torch backend does).
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        **kwargs,
    ):
        self.beta_2_decay = float(beta_2_decay)
        self.epsilon_1 = float(epsilon_1)
        self.epsilon_2 = float(epsilon_2)
        self.clip_threshold = float(clip_threshold)
        self.relative_step = bool(relative_step)
        super().__init__(learning_rate, **kwargs)
        self._slot_names = ("r", "c", "v")

    def _init_slots(self, p):
        if p.dim() < 2:
            r = c = p.new_zeros(())
        else:
            r = p.new_zeros(p.shape[:-1])
            c = p.new_zeros(p.shape[:-2] + p.shape[-1:])
        return {"r": r, "c": c, "v": torch.zeros_like(p)}

    def _step_scalars(self, lr, t):
        """`(rho, beta)` of this step (shared by every tensor)."""
        rho = 1 / torch.sqrt(t)
        rho = torch.clamp(rho, max=lr) if isinstance(lr, float) else torch.minimum(rho, lr)
        return rho, 1 - torch.pow(t, self.beta_2_decay)

    def _update_foreach(self, params, grads, slots, lr, t):
        rho, beta = steps.computed_once(*self._step_scalars(lr, t))
        for i, (p, g) in enumerate(zip(params, grads)):
            self._update_tensor(p, g, {k: v[i] for k, v in slots.items()}, rho, beta)

    def _update_reference(self, p, g, slots, lr, t):
        self._update_tensor(p, g, slots, *self._step_scalars(lr, t))

    def _update_tensor(self, p, g, slots, rho, beta):
        alpha = torch.clamp(_rms(p), min=self.epsilon_2) * rho
        g2 = g * g + self.epsilon_1
        r, c, v = slots["r"], slots["c"], slots["v"]
        if p.dim() >= 2:
            r.copy_(beta * r + (1 - beta) * g2.mean(dim=-1))
            c.copy_(beta * c + (1 - beta) * g2.mean(dim=-2))
            v.copy_((r / r.mean(dim=-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2))
        else:
            v.copy_(beta * v + (1 - beta) * g2)
        u = g / v.sqrt()
        u = u / torch.clamp(_rms(u) / self.clip_threshold, min=1.0)
        p.sub_(alpha * u)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
