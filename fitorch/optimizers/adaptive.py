"""Per-coordinate adaptive optimizers: RMSprop, Adagrad, Adadelta, Ftrl (Keras 3 rules).

Keras 3 puts epsilon *inside* the square root for RMSprop, Adagrad and Adadelta; Keras 2.2
put it outside for RMSprop and Adagrad. fitorch follows Keras 3.
"""

from __future__ import annotations

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.arguments import check_range, default_epsilon
from fitorch.optimizers.base import Optimizer

__all__ = ["RMSprop", "Adagrad", "Adadelta", "Ftrl"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum.

        s = rho * s + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g               # centered only
        inc = lr * g / sqrt(s - a**2 + epsilon)   # (- a**2 only when centered)
        p -= inc                                  # momentum: m = momentum * m + inc; p -= m

    Defaults lr=0.001, rho=0.9, momentum=0, epsilon=1e-7, centered=False (Keras 2 and 3; Keras 2
    added epsilon outside the square root).
    """

    _uses_step_count = False

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        **kwargs,
    ):
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        self.epsilon = default_epsilon(epsilon)
        self.centered = bool(centered)
        self._slot_names = (
            ("velocity",)
            + (("momentum",) if self.momentum else ())
            + (("average_gradient",) if self.centered else ())
        )
        super().__init__(learning_rate, **kwargs)

    def _update_foreach(self, params, grads, slots, lr, t):
        s = slots["velocity"]
        torch._foreach_mul_(s, self.rho)
        torch._foreach_addcmul_(s, grads, grads, value=1 - self.rho)
        if self.centered:
            a = slots["average_gradient"]
            torch._foreach_mul_(a, self.rho)
            torch._foreach_add_(a, grads, alpha=1 - self.rho)
            denom = torch._foreach_addcmul(s, a, a, value=-1)
            torch._foreach_add_(denom, self.epsilon)
        else:
            denom = torch._foreach_add(s, self.epsilon)
        torch._foreach_sqrt_(denom)
        if self.momentum:
            m = slots["momentum"]
            torch._foreach_mul_(m, self.momentum)
            steps.add_ratio(m, grads, denom, lr)
            torch._foreach_sub_(params, m)
        else:
            steps.add_ratio(params, grads, denom, -lr)

    def _update_reference(self, p, g, slots, lr, t):
        s = slots["velocity"]
        s.copy_(self.rho * s + (1 - self.rho) * g * g)
        denom = s + self.epsilon
        if self.centered:
            a = slots["average_gradient"]
            a.copy_(self.rho * a + (1 - self.rho) * g)
            denom = s - a * a + self.epsilon
        increment = lr * g / denom.sqrt()
        if self.momentum:
            m = slots["momentum"]
            m.copy_(self.momentum * m + increment)
            p.sub_(m)
        else:
            p.sub_(increment)

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    """Adagrad: `acc += g**2; p -= lr * g / sqrt(acc + epsilon)`.

    Keras 3 defaults: lr=0.001, initial_accumulator_value=0.1, epsilon=1e-7 (inside the sqrt).
    Keras 2.2 used lr=0.01, an accumulator starting at 0 and epsilon outside the sqrt; pass
    `learning_rate=0.01` for Keras 2 scripts (the other two differences remain).
    """

    _uses_step_count = False

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        if initial_accumulator_value < 0:
            raise ValueError(
                "`initial_accumulator_value` must be >= 0. Received: "
                f"initial_accumulator_value={initial_accumulator_value!r}"
            )
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = default_epsilon(epsilon)
        super().__init__(learning_rate, **kwargs)

    def _init_slots(self, p):
        return {"accumulator": torch.full_like(p, self.initial_accumulator_value)}

    def _update_foreach(self, params, grads, slots, lr, t):
        acc = slots["accumulator"]
        torch._foreach_addcmul_(acc, grads, grads)
        denom = torch._foreach_add(acc, self.epsilon)
        torch._foreach_sqrt_(denom)
        steps.add_ratio(params, grads, denom, -lr)

    def _update_reference(self, p, g, slots, lr, t):
        acc = slots["accumulator"]
        acc.add_(g * g)
        p.sub_(lr * g / (acc + self.epsilon).sqrt())

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    """Adadelta (Zeiler).

        A = rho * A + (1 - rho) * g**2
        delta = -sqrt(D + epsilon) / sqrt(A + epsilon) * g
        D = rho * D + (1 - rho) * delta**2
        p += lr * delta

    Default lr=0.001 (Keras 3). **Keras 2 used lr=1.0**: with Keras 3's default a Keras 2 script
    trains ~1000x slower, so pass `learning_rate=1.0` (or `lr=1.0`) for Keras 2 behaviour.
    """

    _uses_step_count = False

    _slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.epsilon = default_epsilon(epsilon)
        super().__init__(learning_rate, **kwargs)

    def _update_foreach(self, params, grads, slots, lr, t):
        a, d = slots["accumulated_grad"], slots["accumulated_delta_var"]
        torch._foreach_mul_(a, self.rho)
        torch._foreach_addcmul_(a, grads, grads, value=1 - self.rho)
        delta = torch._foreach_add(d, self.epsilon)
        torch._foreach_sqrt_(delta)
        denom = torch._foreach_add(a, self.epsilon)
        torch._foreach_sqrt_(denom)
        torch._foreach_div_(delta, denom)
        torch._foreach_mul_(delta, grads)  # -delta of the docstring
        torch._foreach_mul_(d, self.rho)
        torch._foreach_addcmul_(d, delta, delta, value=1 - self.rho)
        steps.add_scaled(params, delta, -lr)

    def _update_reference(self, p, g, slots, lr, t):
        a, d = slots["accumulated_grad"], slots["accumulated_delta_var"]
        a.copy_(self.rho * a + (1 - self.rho) * g * g)
        delta = -(d + self.epsilon).sqrt() / (a + self.epsilon).sqrt() * g
        d.copy_(self.rho * d + (1 - self.rho) * delta * delta)
        p.add_(lr * delta)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Ftrl(Optimizer):
    """FTRL-proximal (McMahan et al.), the TensorFlow/Keras formulation.

        g' = g + 2 * l2_shrinkage * p
        n' = n + g**2
        z += g' - (n'**-power - n**-power) / lr * p          # power = learning_rate_power
        p = (clip(z, -l1, l1) - z) / (n'**-power / lr + 2 * (l2 + beta / (2 * lr)))
        n = n'

    Defaults as Keras 3: lr=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
    all regularization strengths 0, beta=0.
    """

    _uses_step_count = False

    _slot_names = ("accumulator", "linear")

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        for name, value in (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
        ):
            if value < 0:
                raise ValueError(f"`{name}` must be >= 0. Received: {name}={value!r}")
        if learning_rate_power > 0:
            raise ValueError(
                f"`learning_rate_power` must be <= 0. Received: {learning_rate_power!r}"
            )
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)
        super().__init__(learning_rate, **kwargs)

    def _init_slots(self, p):
        return {
            "accumulator": torch.full_like(p, self.initial_accumulator_value),
            "linear": torch.zeros_like(p),
        }

    def _l2(self, lr):
        return self.l2_regularization_strength + self.beta / (2.0 * lr)

    def _update_foreach(self, params, grads, slots, lr, t):
        n, z = slots["accumulator"], slots["linear"]
        power = -self.learning_rate_power
        shrink = self.l2_shrinkage_regularization_strength
        g_used = torch._foreach_add(grads, params, alpha=2 * shrink) if shrink else grads
        new_n = torch._foreach_addcmul(n, grads, grads)
        quadratic = torch._foreach_pow(new_n, power)
        sigma = torch._foreach_sub(quadratic, torch._foreach_pow(n, power))
        torch._foreach_div_(sigma, steps.like(lr, sigma))
        torch._foreach_add_(z, g_used)
        torch._foreach_addcmul_(z, sigma, params, value=-1)
        torch._foreach_div_(quadratic, steps.like(lr, quadratic))
        steps.add_scalar(quadratic, 2 * self._l2(lr))
        l1 = self.l1_regularization_strength
        clipped = torch._foreach_clamp_max(z, l1)
        torch._foreach_clamp_min_(clipped, -l1)
        torch._foreach_sub_(clipped, z)
        torch._foreach_div_(clipped, quadratic)
        torch._foreach_copy_(params, clipped)
        torch._foreach_copy_(n, new_n)

    def _update_reference(self, p, g, slots, lr, t):
        n, z = slots["accumulator"], slots["linear"]
        power = -self.learning_rate_power
        g_used = g + 2 * self.l2_shrinkage_regularization_strength * p
        new_n = n + g * g
        z.add_(g_used - (new_n.pow(power) - n.pow(power)) / lr * p)
        quadratic = new_n.pow(power) / lr + 2 * self._l2(lr)
        l1 = self.l1_regularization_strength
        p.copy_((torch.clamp(z, -l1, l1) - z) / quadratic)
        n.copy_(new_n)

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }
