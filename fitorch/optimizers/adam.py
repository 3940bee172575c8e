"""Adam and its relatives: Adam (amsgrad), AdamW, Adamax, Nadam (Keras 3 rules).

All use `t = iterations + 1` and keep every bias correction as a device tensor, except the
eager CPU update of Adam/AdamW, one pass of torch's fused kernel, which reads `t` on the host
(no synchronisation there; see `fused_kernel_applies`).
"""

from __future__ import annotations

import functools
import itertools
import math

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.arguments import check_beta, default_epsilon
from fitorch.optimizers.base import Optimizer

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]


class _AdamBase(Optimizer):
    """Shared arguments: beta_1 and beta_2 in [0, 1), epsilon (None -> 1e-7)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        self.beta_1 = check_beta("beta_1", beta_1)
        self.beta_2 = check_beta("beta_2", beta_2)
        self.epsilon = default_epsilon(epsilon)
        super().__init__(learning_rate, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


class Adam(_AdamBase):
    """Adam (Kingma & Ba), Keras form with "epsilon hat".

        m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        p -= alpha * m / (sqrt(v) + epsilon)       # amsgrad: v -> running max of v

    Epsilon is added to sqrt(v) *before* bias correction, so Keras' `epsilon` equals
    torch.optim.Adam's `eps * sqrt(1 - beta_2**t)` (it weighs more early in training). Keras 2
    and 3 share the rule and defaults (lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7).

    Example:
        >>> p = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = Adam([p], learning_rate=0.1)
        >>> p.grad = torch.tensor([2.0]); opt.step(); round(float(p.detach()), 4)
        0.9
    """

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def _alpha(self, lr, t):
        return lr * torch.sqrt(1 - torch.pow(self.beta_2, t)) / (1 - torch.pow(self.beta_1, t))

    def _update_foreach(self, params, grads, slots, lr, t):
        if fused_kernel_applies(params, grads, slots):
            self._update_fused(params, grads, slots, lr, t)
            return
        m, v = slots["momentum"], slots["velocity"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        if self.amsgrad:
            torch._foreach_maximum_(slots["velocity_hat"], v)
            v = slots["velocity_hat"]
        denom = torch._foreach_sqrt(v)
        torch._foreach_add_(denom, self.epsilon)
        (step_size,) = steps.computed_once(-self._alpha(lr, t))
        steps.add_ratio(params, m, denom, step_size)

    def _update_fused(self, params, grads, slots, lr, t):
        """The same rule as one pass of torch's fused Adam kernel (`fused_kernel_applies`).

        torch's rule is `p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)` with
        `bc = 1 - beta**t`; with `eps = epsilon / sqrt(bc2)` it is Keras' rule above, term for
        term (multiply through by `sqrt(bc2)`); the slot updates are the same, and amsgrad's
        running max replaces `v` in both. `t` and a tensor `lr` are read on the host, which on
        the CPU is no synchronisation. `torch._fused_adam_` is torch's private op (what
        `torch.optim.Adam(fused=True)` calls); where it is missing `fused_kernel_applies` says
        no and the foreach rule runs."""
        step = float(t)
        epsilon = self.epsilon / math.sqrt(1.0 - self.beta_2**step)
        torch._fused_adam_(
            params,
            grads,
            slots["momentum"],
            slots["velocity"],
            slots["velocity_hat"] if self.amsgrad else [],
            [t] * len(params),
            lr=float(lr),
            beta1=self.beta_1,
            beta2=self.beta_2,
            weight_decay=0.0,  # decoupled decay is applied before the rule (Optimizer._decay)
            eps=epsilon,
            amsgrad=self.amsgrad,
            maximize=False,
        )

    def _update_reference(self, p, g, slots, lr, t):
        m, v = slots["momentum"], slots["velocity"]
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        if self.amsgrad:
            slots["velocity_hat"].copy_(torch.maximum(slots["velocity_hat"], v))
            v = slots["velocity_hat"]
        p.sub_(m * self._alpha(lr, t) / (v.sqrt() + self.epsilon))

    def get_config(self):
        return {**super().get_config(), "amsgrad": self.amsgrad}


_FUSED_DTYPES = (torch.float32, torch.float64)


def fused_kernel_applies(params, grads, slots) -> bool:
    """Whether `Adam._update_fused` may run this bucket's update: eagerly (a compiled step
    traces the foreach rule, which reads nothing on the host), on the CPU (reading the step
    count there is free; on an accelerator it would be a sync), in float32 or float64, with
    gradients of the parameters' dtype, every tensor dense and contiguous (the kernel walks
    the memory of each parameter, its gradient and its slots in one linear order; a sparse
    tensor is not contiguous), and where this torch has the CPU kernel.

    The parameters of a bucket share one device and dtype (`Optimizer._buckets`), and so do
    their slots (created `zeros_like` them; torch's `load_state_dict` casts loaded state to
    its parameter's dtype and device), so only the first parameter and the gradients (which
    `apply` takes from the caller) are checked for them."""
    first = params[0]
    if (
        torch.compiler.is_compiling()
        or not first.is_cpu
        or first.dtype not in _FUSED_DTYPES
        or not _cpu_kernel_available()
    ):
        return False
    dtype = first.dtype
    if not all(g.dtype == dtype and g.is_cpu for g in grads):
        return False
    return all(map(torch.Tensor.is_contiguous, itertools.chain(params, grads, *slots.values())))


@functools.cache
def _cpu_kernel_available() -> bool:
    """torch's fused Adam runs on the CPU from torch 2.4; older versions lack the kernel."""
    one = [torch.ones(1)]
    try:
        torch._fused_adam_(
            [torch.ones(1)], one, [torch.zeros(1)], [torch.zeros(1)], [], one,
            lr=0.0, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1.0, amsgrad=False,
            maximize=False,
        )  # fmt: skip
    except (AttributeError, NotImplementedError, RuntimeError):
        return False
    return True


class AdamW(Adam):
    """Adam with decoupled weight decay `p -= p * weight_decay * lr` before the Adam step.

    Keras 3 default `weight_decay=0.004` (None is refused, as in Keras).
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW needs a `weight_decay` value. Received: weight_decay=None")
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay=weight_decay, **kwargs
        )


class Adamax(_AdamBase):
    """Adamax (infinity-norm Adam).

        m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|)
        p -= lr * m / ((1 - beta_1**t) * (u + epsilon))

    Default lr=0.001 (Keras 3); Keras 2 used lr=0.002: pass it explicitly for Keras 2 scripts.
    """

    _slot_names = ("m", "u")

    def _update_foreach(self, params, grads, slots, lr, t):
        m, u = slots["m"], slots["u"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denom = torch._foreach_add(u, self.epsilon)
        (step_size,) = steps.computed_once(-lr / (1 - torch.pow(self.beta_1, t)))
        steps.add_ratio(params, m, denom, step_size)

    def _update_reference(self, p, g, slots, lr, t):
        m, u = slots["m"], slots["u"]
        m.add_((g - m) * (1 - self.beta_1))
        u.copy_(torch.maximum(self.beta_2 * u, g.abs()))
        p.sub_(lr * m / ((1 - torch.pow(self.beta_1, t)) * (u + self.epsilon)))


class Nadam(_AdamBase):
    """Adam with Nesterov momentum (Dozat), with the momentum schedule
    `u_t = beta_1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))` and `prod_t = u_1 * ... * u_t`:

        m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - prod_t * u_{t+1}) + (1 - u_t) * g / (1 - prod_t)
        p -= lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)

    `schedule_decay=None` (default) is Keras 3's schedule `0.96 ** t`; a number is the Keras 2
    schedule `0.96 ** (t * schedule_decay)` (Keras 2 default 0.004). Default lr=0.001 (Keras 3);
    Keras 2 used lr=0.002.
    """

    _slot_names = ("momentum", "velocity")
    _global_slots = {"u_product": 1.0}

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        schedule_decay=None,
        **kwargs,
    ):
        if schedule_decay is not None and schedule_decay < 0:
            raise ValueError(f"`schedule_decay` must be >= 0. Received: {schedule_decay!r}")
        self.schedule_decay = None if schedule_decay is None else float(schedule_decay)
        super().__init__(learning_rate, beta_1, beta_2, epsilon, **kwargs)

    def _u(self, t):
        exponent = t if self.schedule_decay is None else t * self.schedule_decay
        return self.beta_1 * (1 - 0.5 * torch.pow(0.96, exponent))

    def _before_update(self, t):
        self._globals["u_product"].mul_(self._u(t))

    def _coefficients(self, t):
        u_t, u_next = self._u(t), self._u(t + 1)
        prod = self._globals["u_product"][0]
        return u_next / (1 - prod * u_next), (1 - u_t) / (1 - prod)

    def _update_foreach(self, params, grads, slots, lr, t):
        m, v = slots["momentum"], slots["velocity"]
        torch._foreach_lerp_(m, grads, 1 - self.beta_1)
        torch._foreach_mul_(v, self.beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta_2)
        c_m, c_g = self._coefficients(t)
        c_m, c_g, c_v = steps.computed_once(c_m, c_g, torch.sqrt(1 - torch.pow(self.beta_2, t)))
        m_hat = torch._foreach_mul(m, steps.like(c_m, m))
        torch._foreach_add_(m_hat, torch._foreach_mul(grads, steps.like(c_g, grads)))
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, steps.like(c_v, denom))
        torch._foreach_add_(denom, self.epsilon)
        steps.add_ratio(params, m_hat, denom, -lr)

    def _update_reference(self, p, g, slots, lr, t):
        m, v = slots["momentum"], slots["velocity"]
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        c_m, c_g = self._coefficients(t)
        m_hat = c_m * m + c_g * g
        v_hat = v / (1 - torch.pow(self.beta_2, t))
        p.sub_(lr * m_hat / (v_hat.sqrt() + self.epsilon))

    def get_config(self):
        config = super().get_config()
        if self.schedule_decay is not None:
            config["schedule_decay"] = self.schedule_decay
        return config
