"""`MultiOptimizer`: each weight is updated by the optimizer its path maps to (Keras 3).

    opt = MultiOptimizer(OptimizerMap(SGD(0.1), {"encoder/.*": Adam(1e-3)}))
    opt = MultiOptimizer(lambda variable: Adam() if "encoder" in variable.path else SGD())

`OptimizerMap` looks a path up exactly first, then as a `re.fullmatch` pattern (a path that
two patterns match is an error), else gives the default optimizer.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, NamedTuple

import torch

from fitorch.optimizers.base import Optimizer, UpdatePlan
from fitorch.optimizers.loss_scale import LossScaleOptimizer

__all__ = ["OptimizerMap", "MultiOptimizer"]


def _check_inner(optimizer, where: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where} must be a fitorch Optimizer. Received: {optimizer!r}")
    if isinstance(optimizer, (LossScaleOptimizer, MultiOptimizer)):
        raise ValueError(f"{where} cannot be a {type(optimizer).__name__}.")


class OptimizerMap(MutableMapping):
    """Path (or `re.fullmatch` pattern) -> optimizer, with `default_optimizer` for the rest."""

    def __init__(self, default_optimizer, optimizer_map=None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(
                f"`default_optimizer` must be a fitorch Optimizer. Received: {default_optimizer!r}"
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"`optimizer_map` must be a dict. Received: {optimizer_map!r}")
        self.default_optimizer = default_optimizer
        self._map = {}
        for key, optimizer in (optimizer_map or {}).items():
            self[key] = optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._map:
            return self._map[key]
        matches = [pattern for pattern in self._map if re.fullmatch(pattern, key)]
        if len(matches) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key!r}: {matches}.")
        return self._map[matches[0]] if matches else self.default_optimizer

    def __setitem__(self, key: str, optimizer) -> None:
        if not isinstance(key, str):
            raise ValueError(f"An OptimizerMap key must be a string. Received: {key!r}")
        if key in self._map:
            raise ValueError(f"{key!r} is already in the OptimizerMap; keys must be unique.")
        _check_inner(optimizer, f"The optimizer for {key!r}")
        self._map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._map[key]

    def __len__(self) -> int:
        return len(self._map)

    def __iter__(self):
        return iter(self._map)

    def __call__(self, variable) -> Optimizer:
        return self[getattr(variable, "path", None) or ""]

    def get_config(self) -> dict[str, Any]:
        from fitorch.optimizers import serialize

        return {
            "default_optimizer": serialize(self.default_optimizer),
            "optimizer_map": {k: serialize(v) for k, v in self._map.items()},
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        from fitorch.optimizers import deserialize

        def load(record):
            return deserialize(record, custom_objects=custom_objects)

        optimizers = {k: load(v) for k, v in (config.get("optimizer_map") or {}).items()}
        return cls(load(config["default_optimizer"]), optimizers)


class MultiPlan(NamedTuple):
    """The inner optimizers' `UpdatePlan`s of one `MultiOptimizer` step."""

    plans: tuple[UpdatePlan, ...]

    @property
    def parameters(self) -> tuple[tuple[torch.Tensor, ...], ...]:
        return tuple(group for plan in self.plans for group in plan.parameters)

    def compile_signature(self) -> tuple:
        return tuple(plan.compile_signature() for plan in self.plans)


class MultiOptimizer(Optimizer):
    """Delegates each weight to an inner optimizer: `optimizer_map` is an `OptimizerMap` or
    a callable `variable -> Optimizer` (Keras 3).

    A step steps every inner optimizer that has weights (each keeps its own learning rate,
    slots and `iterations`), then counts its own `iterations`. `loss_scale_factor` is given
    to every inner optimizer. As in Keras, `learning_rate` is not defined here: read and set
    it on `optimizers`.
    """

    def __init__(self, optimizer_map, loss_scale_factor=None, name=None):
        if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
            raise TypeError(
                "`optimizer_map` must be an OptimizerMap or a callable returning an optimizer "
                f"for a variable. Received: {optimizer_map!r}"
            )
        self.optimizer_map = optimizer_map
        self.optimizers: list[Optimizer] = []
        if isinstance(optimizer_map, OptimizerMap):
            for optimizer in [*optimizer_map.values(), optimizer_map.default_optimizer]:
                self._add_inner(optimizer)
        self._assigned: list[list[torch.Tensor]] = []
        super().__init__(0.0, loss_scale_factor=loss_scale_factor, name=name)

    def _add_inner(self, optimizer) -> int:
        if not any(optimizer is o for o in self.optimizers):
            self.optimizers.append(optimizer)
        return next(i for i, o in enumerate(self.optimizers) if o is optimizer)

    @property
    def loss_scale_factor(self):
        return getattr(self, "_shared_loss_scale", None)

    @loss_scale_factor.setter
    def loss_scale_factor(self, value) -> None:
        self._shared_loss_scale = value
        for optimizer in self.optimizers:
            optimizer.loss_scale_factor = value

    @property
    def learning_rate(self):
        raise AttributeError(
            "A MultiOptimizer has no learning rate: use its sub-optimizers' (`.optimizers`)."
        )

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        raise AttributeError(
            "A MultiOptimizer has no learning rate: set its sub-optimizers' (`.optimizers`)."
        )

    def __repr__(self) -> str:
        return f"MultiOptimizer(name={self.name!r}, optimizers={self.optimizers!r})"

    # --------------------------------------------------------------------------- binding
    def build(self, params) -> None:
        """Bind to the parameters and build each inner optimizer on the ones it maps to."""
        if self.built:
            super().build(params)  # the same parameters: a no-op (else a ValueError)
            return
        super().build(params)
        assigned: dict[int, list[torch.Tensor]] = {}
        for p in self.bound_parameters():
            optimizer = self._lookup(p)
            _check_inner(optimizer, f"The optimizer for variable {self.parameter_path(p)!r}")
            optimizer.loss_scale_factor = self.loss_scale_factor
            assigned.setdefault(self._add_inner(optimizer), []).append(p)
        self._assigned = [assigned.get(i, []) for i in range(len(self.optimizers))]
        for optimizer, assigned_params in zip(self.optimizers, self._assigned):
            if assigned_params:
                optimizer.build(assigned_params)

    def _lookup(self, p) -> Optimizer:
        if isinstance(self.optimizer_map, OptimizerMap):
            return self.optimizer_map[self.parameter_path(p)]
        return self.optimizer_map(p)

    def _active(self):
        """[(inner optimizer, its parameters)] for the inner optimizers that have some."""
        if not self.built:
            raise RuntimeError(f"MultiOptimizer {self.name!r} is not built: call `build` first.")
        return [(o, ps) for o, ps in zip(self.optimizers, self._assigned) if ps]

    # ------------------------------------------------------------------------------ step
    def _apply(self, skip: torch.Tensor | None = None) -> None:
        """Each inner optimizer steps on the `.grad`s of its parameters (what `step`,
        `apply` and `LossScaleOptimizer`, with its `skip`, call)."""
        for optimizer, _ in self._active():
            optimizer._apply(skip)
        self.iterations.add_(1 if skip is None else (~skip).long())

    def plan_update(self, tensor_learning_rates: bool = False) -> MultiPlan:
        return MultiPlan(tuple(o.plan_update(tensor_learning_rates) for o, _ in self._active()))

    @torch.no_grad()
    def update(self, grads, plan: MultiPlan) -> None:
        grads, start = list(grads), 0
        for (optimizer, _), inner in zip(self._active(), plan.plans):
            count = sum(len(group) for group in inner.parameters)
            optimizer.update(grads[start : start + count], inner)
            start += count
        self.iterations.add_(1)

    def current_learning_rate(self) -> float:
        """The first sub-optimizer's rate (what callbacks that read one rate get)."""
        return self.optimizers[0].current_learning_rate() if self.optimizers else 0.0

    @torch.no_grad()
    def finalize_variable_values(self, var_list=None) -> None:
        for optimizer, _ in self._active():
            optimizer.finalize_variable_values()

    # --------------------------------------------------------------------- serialization
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "inner": [o.state_dict() for o, _ in self._active()]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        inner = state_dict.pop("inner", [])
        super().load_state_dict(state_dict)
        for (optimizer, _), saved in zip(self._active(), inner):
            optimizer.load_state_dict(saved)

    def get_config(self) -> dict[str, Any]:
        if not isinstance(self.optimizer_map, OptimizerMap):
            raise TypeError(
                "A MultiOptimizer built on a callable has no config; give it an OptimizerMap."
            )
        record = {
            "module": "fitorch.optimizers",
            "class_name": "OptimizerMap",
            "config": self.optimizer_map.get_config(),
        }
        return {
            "optimizer_map": record,
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        config = dict(config)
        record = config.pop("optimizer_map")
        mapping = OptimizerMap.from_config(record.get("config", record), custom_objects)
        return cls(mapping, **config)
