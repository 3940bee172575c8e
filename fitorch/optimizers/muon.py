"""Muon (Jordan et al.; Liu et al. 2025, "Muon is Scalable for LLM Training"), Keras 3 rule.

Each 2-D parameter takes an orthogonalised momentum step; every other parameter (not 2-D, an
embedding, or a path matching `exclude_layers`) takes an AdamW step.
"""

from __future__ import annotations

import math
import re

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.arguments import check_beta, check_range, default_epsilon
from fitorch.optimizers.base import Optimizer

__all__ = ["Muon"]


def newton_schulz(x: torch.Tensor, num_steps: int, a: float, b: float, c: float) -> torch.Tensor:
    """Approximate orthogonalisation `U V^T` of `x = U S V^T` by the quintic iteration
    `x <- a x + (b A + c A A) x` with `A = x x^T`, started from `x / (||x||_F + 1e-7)` (done on
    the wide orientation: a tall matrix is transposed and back)."""
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)
    for _ in range(num_steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.mT if tall else x


class Muon(Optimizer):
    """Muon for matrices, AdamW for the rest (Keras 3 defaults and rule).

    Muon step (a 2-D parameter):

        m = momentum * m + g;  u = g + momentum * m  (nesterov)  or  u = m
        p -= lr * newton_schulz(u) * sqrt(max(p.shape)) * rms_rate   (rms_rate None: no scale)

    AdamW step (not 2-D; `"embedding"` in the lower-cased path when `exclude_embeddings`; a
    path `re.search`ed by a pattern of `exclude_layers`), with `lr * adam_lr_ratio`:

        m += (g - m) * (1 - adam_beta_1);  v += (g**2 - v) * (1 - adam_beta_2)
        p -= lr * adam_lr_ratio * sqrt(1 - adam_beta_2**t) / (1 - adam_beta_1**t)
             * m / (sqrt(v) + epsilon)

    Decoupled weight decay `p -= p * wd * lr` uses `weight_decay` for Muon parameters and
    `adam_weight_decay` for the AdamW ones (both default 0.004). A parameter's path is the
    name given to `build` in a `(name, param)` pair, else its `path` attribute.
    """

    _slot_names = ("momentum",)

    def __init__(
        self,
        learning_rate=0.001,
        adam_beta_1=0.9,
        adam_beta_2=0.999,
        adam_weight_decay=0.004,
        epsilon=1e-7,
        weight_decay=0.004,
        exclude_layers=None,
        exclude_embeddings=True,
        muon_a=3.4445,
        muon_b=-4.7750,
        muon_c=2.0315,
        adam_lr_ratio=1,
        momentum=0.95,
        ns_steps=5,
        nesterov=True,
        rms_rate=0.2,
        **kwargs,
    ):
        self.adam_beta_1 = check_beta("adam_beta_1", adam_beta_1)
        self.adam_beta_2 = check_beta("adam_beta_2", adam_beta_2)
        self.adam_weight_decay = adam_weight_decay
        self.epsilon = default_epsilon(epsilon)
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = bool(exclude_embeddings)
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"`ns_steps` must be an int >= 0. Received: ns_steps={ns_steps!r}")
        self.ns_steps = ns_steps
        self.nesterov = bool(nesterov)
        self.rms_rate = rms_rate
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)

    def uses_adamw(self, p: torch.Tensor) -> bool:
        """Whether `p` takes the AdamW step (see the class docstring)."""
        if p.dim() != 2:
            return True
        path = self.parameter_path(p)
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(pattern, path) for pattern in self.exclude_layers)

    def _init_slots(self, p):
        slots = {"momentum": torch.zeros_like(p)}
        if self.uses_adamw(p):
            slots["velocity"] = torch.zeros_like(p)
        return slots

    def _decay(self, wd, params, lr) -> None:
        for p in params:
            rate = self.adam_weight_decay if self.uses_adamw(p) else wd
            if rate and self.uses_weight_decay(p):
                steps.decay_weights([p], rate, lr)

    def _update_foreach(self, params, grads, slots, lr, t):
        for p, g, m in zip(params, grads, slots["momentum"]):
            self._update_reference(p, g, {"momentum": m}, lr, t)

    def _update_reference(self, p, g, slots, lr, t):
        m = slots["momentum"]
        if self.uses_adamw(p):
            self._adamw_step(p, g, m, self.state[p]["velocity"], lr * self.adam_lr_ratio, t)
            return
        m.mul_(self.momentum).add_(g)
        direction = g + self.momentum * m if self.nesterov else m
        update = newton_schulz(direction, self.ns_steps, self.muon_a, self.muon_b, self.muon_c)
        if self.rms_rate is not None:
            update = update * (math.sqrt(max(p.shape[0], p.shape[1])) * self.rms_rate)
        p.sub_(lr * update)

    def _adamw_step(self, p, g, m, v, lr, t):
        m.lerp_(g, 1 - self.adam_beta_1)
        v.mul_(self.adam_beta_2).addcmul_(g, g, value=1 - self.adam_beta_2)
        alpha = lr * torch.sqrt(1 - self.adam_beta_2**t) / (1 - self.adam_beta_1**t)
        p.sub_(alpha.to(p.dtype) * m / (v.sqrt() + self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "adam_beta_1": self.adam_beta_1,
            "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon,
            "exclude_layers": self.exclude_layers,
            "muon_a": self.muon_a,
            "muon_b": self.muon_b,
            "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio,
            "momentum": self.momentum,
            "ns_steps": self.ns_steps,
            "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay,
            "rms_rate": self.rms_rate,
        }
