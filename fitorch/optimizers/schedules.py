"""Learning-rate schedules (Keras 3 `keras.optimizers.schedules`).

A schedule is called with the optimizer's iteration count *before* the update (0 on the first
step). Given a device tensor it returns a 0-d float64 tensor on the same device, computed with
tensor ops only (no `if` on tensor values), so an optimizer step that uses a schedule never
waits for the accelerator. Given a Python number it returns a 0-d CPU tensor.

    >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(s(20)), 6)
    0.025
"""

from __future__ import annotations

import math
from typing import Any

import torch

from fitorch.registry import Registry

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
    "get",
]

SCHEDULES = Registry("learning rate schedule")


def scalar_dtype(device: torch.device) -> torch.dtype:
    """float64 for step-level scalars, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _as_step(step) -> torch.Tensor:
    """The step as a float64 tensor (on the step's device when it is already a tensor)."""
    if isinstance(step, torch.Tensor):
        return step.to(scalar_dtype(step.device))
    return torch.tensor(float(step), dtype=torch.float64)


def _check_positive(name: str, value) -> None:
    if value <= 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step) -> 0-d tensor` and `get_config()`."""

    def __call__(self, step) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, step).")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must define get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)` (floored exponent if
    `staircase`)."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _as_step(step) / self.decay_steps
        if self.staircase:
            p = torch.floor(p)
        return self.initial_learning_rate * torch.pow(float(self.decay_rate), p)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """`values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, `values[-1]` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "`values` must have one more element than `boundaries`. Received: "
                f"len(boundaries)={len(boundaries)}, len(values)={len(values)}"
            )
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        # Copied to the device once: a host-to-device copy per step would stall the host.
        if device not in self._cache:
            self._cache[device] = tuple(
                torch.tensor(xs, dtype=scalar_dtype(device), device=device)
                for xs in (self.boundaries, self.values)
            )
        return self._cache[device]

    def __call__(self, step):
        step = _as_step(step)
        bounds, values = self._tables(step.device)
        # bucketize(right=False) gives i with bounds[i-1] < step <= bounds[i]: Keras' intervals.
        index = torch.bucketize(step, bounds).reshape(1)
        return values.index_select(0, index).reshape(())  # no host read of the index

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """`(initial - end) * (1 - step / decay_steps) ** power + end`, with `step` capped at
    `decay_steps`; with `cycle=True` the horizon grows to the next multiple of `decay_steps`."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = _as_step(step)
        if self.cycle:
            multiplier = torch.where(step == 0, 1.0, torch.ceil(step / self.decay_steps))
            p = step / (self.decay_steps * multiplier)
        else:
            p = torch.clamp(step, max=float(self.decay_steps)) / self.decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return span * torch.pow(1 - p, float(self.power)) + self.end_learning_rate

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)` (floored ratio if
    `staircase`)."""

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _as_step(step) / self.decay_steps
        if self.staircase:
            p = torch.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


def _cosine(fraction: torch.Tensor, alpha: float) -> torch.Tensor:
    """`(1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha`."""
    return (1 - alpha) * (0.5 * (1 + torch.cos(math.pi * fraction))) + alpha


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup, then cosine decay (Loshchilov & Hutter, SGDR).

    Without `warmup_target`: `initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) +
    alpha)` with `s = min(step, decay_steps)`. With it: during the first `warmup_steps` the rate
    goes linearly from `initial` to `warmup_target`, then decays from `warmup_target` as above.
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = _as_step(step)
        if self.warmup_target is None:
            s = torch.clamp(step, max=float(self.decay_steps))
            return self.initial_learning_rate * _cosine(s / self.decay_steps, self.alpha)
        s = torch.clamp(step, max=float(self.decay_steps + self.warmup_steps))
        target, initial = self.warmup_target, self.initial_learning_rate
        warmup = (target - initial) * (s / max(self.warmup_steps, 1)) + initial
        decay_fraction = (s - self.warmup_steps) / self.decay_steps
        decayed = target * _cosine(decay_fraction, self.alpha)
        return torch.where(s < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): period i lasts `first_decay_steps * t_mul**i`
    steps and peaks at `initial * m_mul**i`; each period decays to `alpha` times its peak."""

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        _check_positive("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = _as_step(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restart = torch.floor(fraction)
            fraction = fraction - restart
        else:
            # Period lengths form a geometric series: invert its partial sum.
            restart = torch.floor(torch.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - torch.pow(t_mul, restart)) / (1.0 - t_mul)
            fraction = (fraction - done) / torch.pow(t_mul, restart)
        peak = torch.pow(float(self._m_mul), restart)
        decayed = (1 - self.alpha) * (peak * 0.5 * (1 + torch.cos(math.pi * fraction))) + self.alpha
        return self.initial_learning_rate * decayed

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


for _cls in (
    ExponentialDecay,
    PiecewiseConstantDecay,
    PolynomialDecay,
    InverseTimeDecay,
    CosineDecay,
    CosineDecayRestarts,
):
    SCHEDULES.register(_cls)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """`{"module", "class_name", "config", "registered_name"}`, the Keras record."""
    from fitorch.registry import get_registered_name

    return {
        "module": "fitorch.optimizers.schedules",
        "class_name": type(schedule).__name__,
        "config": schedule.get_config(),
        "registered_name": get_registered_name(type(schedule)),
    }


def deserialize(config: dict[str, Any], custom_objects: dict | None = None):
    """Rebuild a schedule from `serialize`'s record (or a Keras one)."""
    name = config.get("class_name")
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        cls = SCHEDULES.lookup(name)
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A schedule from a schedule, a `{"class_name", "config"}` record or a class name."""
    if isinstance(identifier, LearningRateSchedule) or identifier is None:
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return SCHEDULES.lookup(identifier)
    raise TypeError(f"Cannot interpret {identifier!r} as a learning rate schedule.")
