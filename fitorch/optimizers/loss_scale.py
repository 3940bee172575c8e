"""`LossScaleOptimizer`: dynamic loss scaling for float16 training (Keras 3 semantics).

    opt = LossScaleOptimizer(Adam(1e-3))
    opt.scale_loss(loss).backward()     # gradients are scaled by `dynamic_scale`
    opt.step()                           # unscale, skip if non-finite, adjust the scale

All decisions stay on the device: a non-finite step is undone with `torch.where` instead of a
Python `if`, so `step()` never waits for the accelerator.
"""

from __future__ import annotations

from typing import Any

import torch

from fitorch.optimizers import steps
from fitorch.optimizers.base import Optimizer

__all__ = ["LossScaleOptimizer"]


class LossScaleOptimizer(Optimizer):
    """Wraps a fitorch optimizer; gradients arrive multiplied by `dynamic_scale`.

    On each `step()`: gradients are divided by the scale (in place, as `GradScaler.unscale_`);
    if any is inf/NaN the inner update is skipped (parameters, slots and the inner iteration
    count keep their values), the scale is halved and the growth counter reset; otherwise the
    inner optimizer steps and, after `dynamic_growth_steps` finite steps in a row, the scale
    doubles.

    Args:
        inner_optimizer: a fitorch `Optimizer` (built or not).
        initial_scale: starting scale. Defaults to 2**15.
        dynamic_growth_steps: finite steps between doublings. Defaults to 2000.
    """

    def __init__(
        self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None, **kwargs
    ):
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                "LossScaleOptimizer wraps a fitorch optimizer. Received: "
                f"inner_optimizer={inner_optimizer!r}"
            )
        if not initial_scale > 0:
            raise ValueError(f"`initial_scale` must be > 0. Received: {initial_scale!r}")
        if not isinstance(dynamic_growth_steps, int) or dynamic_growth_steps < 1:
            raise ValueError(
                f"`dynamic_growth_steps` must be an int >= 1. Received: {dynamic_growth_steps!r}"
            )
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.dynamic_scale = torch.tensor(self.initial_scale, dtype=torch.float32)
        self.step_counter = torch.zeros((), dtype=torch.int64)
        params = kwargs.pop("params", None)
        super().__init__(0.0, name=name or "loss_scale_optimizer", **kwargs)
        if params is not None or inner_optimizer.built:
            self.build(params if params is not None else [])

    def build(self, params) -> None:
        inner = self.inner_optimizer
        if not inner.built:
            inner.build(params)
        if self.built:
            return
        everything = [p for g in inner.param_groups for p in g["params"]]
        torch.optim.Optimizer.__init__(self, [{"params": everything}], {})
        # Share the inner optimizer's groups and state: torch code (schedulers, zero_grad,
        # checkpoint tools) that looks at this object sees the real ones.
        self.param_groups = inner.param_groups
        self.state = inner.state
        self.built = True
        if everything:
            device = everything[0].device
            self.dynamic_scale = self.dynamic_scale.to(device)
            self.step_counter = self.step_counter.to(device)

    # The learning rate, iterations and EMA are the inner optimizer's.
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> torch.Tensor:
        return self.inner_optimizer.iterations

    def current_learning_rate(self) -> float:
        return self.inner_optimizer.current_learning_rate()

    def finalize_variable_values(self, var_list=None) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """`loss * dynamic_scale` (call `.backward()` on the result)."""
        return loss * self.dynamic_scale.to(loss.device)

    def _apply(self, skip: torch.Tensor | None = None) -> None:
        """Unscale the `.grad`s, step the inner optimizer unless one is inf/NaN (or `skip`),
        adjust the scale: what `step()` and `apply(grads)` (scaled gradients, as in Keras) do."""
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        device = grads[0].device if grads else self.dynamic_scale.device
        self.dynamic_scale = self.dynamic_scale.to(device)
        self.step_counter = self.step_counter.to(device)
        found_inf = torch.zeros(1, dtype=torch.float32, device=device)
        inv_scale = (1.0 / self.dynamic_scale).reshape(1)
        for (bucket,) in steps.group_by_device_and_dtype(grads):
            # One fused pass: g *= 1/scale and found_inf = 1 if any element is inf/NaN.
            torch._amp_foreach_non_finite_check_and_unscale_(bucket, found_inf, inv_scale)
        skip = found_inf[0] > 0 if skip is None else (found_inf[0] > 0) | skip
        self.inner_optimizer._apply(skip=skip)
        grow = ~skip & (self.step_counter == self.dynamic_growth_steps - 1)
        factor = torch.where(skip, 0.5, torch.where(grow, 2.0, 1.0))
        self.dynamic_scale.mul_(factor.to(self.dynamic_scale.dtype))
        self.step_counter.copy_(torch.where(skip | grow, 0, self.step_counter + 1))

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        sd = self.inner_optimizer.state_dict()
        sd["loss_scale"] = {
            "scale": self.dynamic_scale.clone(),
            "counter": self.step_counter.clone(),
        }
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop("loss_scale", None)
        self.inner_optimizer.load_state_dict(state_dict)
        if extra is not None:
            self.dynamic_scale = extra["scale"].to(self.dynamic_scale.device).clone()
            self.step_counter = extra["counter"].to(self.step_counter.device).clone()

    def get_config(self) -> dict[str, Any]:
        from fitorch.optimizers import serialize

        return {
            "name": self.name,
            "inner_optimizer": serialize(self.inner_optimizer),
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        from fitorch.optimizers import deserialize

        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = deserialize(inner, custom_objects)
        allowed = ("name", "initial_scale", "dynamic_growth_steps")
        return cls(inner, **{k: v for k, v in config.items() if k in allowed})
