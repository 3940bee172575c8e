"""Optimizers: Keras 3 update rules as `torch.optim.Optimizer` subclasses.

    from fitorch import optimizers
    opt = optimizers.get("adam")                  # new Adam with Keras defaults
    opt = optimizers.SGD(lr=0.01, momentum=0.9)   # Keras 2 spelling, bound later by compile
    torch_opt = optimizers.bind(opt, model.parameters())

`get_learning_rate`/`set_learning_rate` work for fitorch and plain `torch.optim` optimizers;
callbacks (ReduceLROnPlateau, LearningRateScheduler) use them.
"""

from __future__ import annotations

import numbers

import torch

from fitorch.optimizers import schedules
from fitorch.optimizers.adafactor import Adafactor
from fitorch.optimizers.adam import Adam, Adamax, AdamW, Nadam
from fitorch.optimizers.adaptive import Adadelta, Adagrad, Ftrl, RMSprop
from fitorch.optimizers.base import Optimizer
from fitorch.optimizers.lamb import Lamb
from fitorch.optimizers.lion import Lion
from fitorch.optimizers.loss_scale import LossScaleOptimizer
from fitorch.optimizers.multi import MultiOptimizer, OptimizerMap
from fitorch.optimizers.muon import Muon
from fitorch.optimizers.schedule_free import ScheduleFreeAdamW
from fitorch.optimizers.sgd import SGD
from fitorch.registry import Registry

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Ftrl",
    "Lion",
    "Lamb",
    "Adafactor",
    "Muon",
    "ScheduleFreeAdamW",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "OptimizerMap",
    "schedules",
    "OPTIMIZERS",
    "get",
    "bind",
    "serialize",
    "deserialize",
    "get_learning_rate",
    "set_learning_rate",
]

OPTIMIZERS = Registry("optimizer", case_insensitive=True)
for _cls in (SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad, Adadelta, Ftrl, Lion, Lamb):
    OPTIMIZERS.register(_cls)
OPTIMIZERS.register(Adafactor)
OPTIMIZERS.register(Muon)
OPTIMIZERS.register(ScheduleFreeAdamW)
OPTIMIZERS.register(LossScaleOptimizer)
OPTIMIZERS.register(MultiOptimizer)


def get(identifier):
    """Resolve an optimizer identifier the way `compile(optimizer=...)` needs it.

    - str (any case): a NEW instance of that optimizer with its defaults (`"sgd"`, `"Adam"`);
    - `{"class_name", "config"}` record: the instance `from_config` builds;
    - a fitorch or `torch.optim` optimizer instance: itself;
    - a `torch.optim.Optimizer` subclass: the class (bind it with `bind`).
    Unknown names raise ValueError with the closest known names.
    """
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return OPTIMIZERS.get(identifier, instantiate=lambda cls: cls())
    raise ValueError(
        "Could not interpret optimizer identifier: expected a name, a config dict, an "
        f"optimizer instance or a torch.optim.Optimizer class. Received: {identifier!r}"
    )


def bind(optimizer, params) -> torch.optim.Optimizer:
    """An optimizer bound to `params`: builds an unbuilt fitorch optimizer, instantiates a
    `torch.optim.Optimizer` class with `cls(params)`, returns a torch instance unchanged."""
    optimizer = get(optimizer)
    if isinstance(optimizer, type):
        return optimizer(params)
    if isinstance(optimizer, Optimizer):
        if not optimizer.built:
            optimizer.build(params)
        return optimizer
    return optimizer


def serialize(optimizer: Optimizer) -> dict:
    """The Keras `{"module", "class_name", "config", "registered_name"}` record."""
    from fitorch.registry import get_registered_name

    return {
        "module": "fitorch.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": get_registered_name(type(optimizer)),
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from `serialize`'s record."""
    name = config.get("class_name")
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        cls = OPTIMIZERS.lookup(name)
    return cls.from_config(dict(config.get("config") or {}))


def get_learning_rate(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate the next step uses, as a float (schedules evaluated; host read).

    fitorch optimizers: the float rate or the schedule's value at the current iteration;
    torch optimizers: the first param group's `lr`.
    """
    if isinstance(optimizer, Optimizer):
        if optimizer.built:
            return optimizer.current_learning_rate()
        lr = optimizer.learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(0))
        return float(lr() if callable(lr) else lr)
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        return get_learning_rate(inner)
    lr = optimizer.param_groups[0]["lr"]
    return float(lr)


def set_learning_rate(optimizer: torch.optim.Optimizer, value) -> None:
    """Set a float learning rate on every param group (TypeError if a schedule is in use)."""
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The learning rate must be a number. Received: {value!r}")
    if isinstance(optimizer, Optimizer):
        optimizer.learning_rate = float(value)
        return
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        set_learning_rate(inner, value)
        return
    if value < 0:
        raise ValueError(f"`learning_rate` must be >= 0. Received: {value}")
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(value))
        else:
            group["lr"] = float(value)
