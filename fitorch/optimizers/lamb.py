"""LAMB (You et al., "Large Batch Optimization for Deep Learning"), Keras 3 rule."""

from __future__ import annotations

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.adam import _AdamBase

__all__ = ["Lamb"]


def _trust_ratio(w_norm: torch.Tensor, u_norm: torch.Tensor) -> torch.Tensor:
    """`||w|| / ||u||` when both norms are positive, else 1 (element-wise over stacked norms)."""
    ok = (w_norm > 0) & (u_norm > 0)
    return torch.where(ok, w_norm / torch.where(ok, u_norm, 1.0), 1.0)


class Lamb(_AdamBase):
    """Adam direction with bias-corrected moments, scaled per tensor by the trust ratio:

        m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
        u = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
        p -= lr * (||p|| / ||u||) * u          # ratio 1 when either norm is 0

    Defaults lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7 (Keras 3).
    """

    _slot_names = ("momentum", "velocity")

    def _direction(self, m, v, t):
        c_m, c_v = steps.computed_once(1 - torch.pow(self.beta_1, t), 1 - torch.pow(self.beta_2, t))
        u = torch._foreach_div(m, steps.like(c_m, m))
        denom = torch._foreach_div(v, steps.like(c_v, v))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, self.epsilon)
        torch._foreach_div_(u, denom)
        return u

    def _update_foreach(self, params, grads, slots, lr, t):
        m, v = slots["momentum"], slots["velocity"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        u = self._direction(m, v, t)
        w_norms = torch.stack(torch._foreach_norm(params))
        u_norms = torch.stack(torch._foreach_norm(u))
        factors = (_trust_ratio(w_norms, u_norms) * -lr).to(params[0].dtype)
        torch._foreach_mul_(u, list(factors.unbind()))
        torch._foreach_add_(params, u)

    def _update_reference(self, p, g, slots, lr, t):
        m, v = slots["momentum"], slots["velocity"]
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        m_hat = m / (1 - torch.pow(self.beta_1, t))
        u = m_hat / ((v / (1 - torch.pow(self.beta_2, t))).sqrt() + self.epsilon)
        p.sub_(lr * _trust_ratio(p.norm(), u.norm()) * u)
