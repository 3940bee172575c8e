"""The `Metric` base: declared tensor states, update/result/reset, merge.

A metric declares each state once with `add_state(name, default, reduce)`. From that
declaration the base class gives `reset_state()` (back to the default, in place),
`merge_state(others)`, `to(device)` and the flat list of states that a distributed run
reduces with one collective. Subclasses implement `update_state` with tensor math only
(no `.item()`, no Python loop over classes) and `result()` as a pure function of state.
"""

from __future__ import annotations

import torch

from fitorch.registry import Registry
from fitorch.utils.naming import to_snake_case

__all__ = ["Metric", "METRICS", "register_metric"]

# Every metric name fitorch accepts: class names, their snake_case, Keras 3 and Keras 2 aliases,
# and loss-function names. Each family module registers its objects beside their definition.
METRICS = Registry("metric")


def register_metric(obj, *aliases: str):
    """Register a Metric class under its name, its snake_case name and `aliases`."""
    return METRICS.register(obj, to_snake_case(obj.__name__), *aliases)


_REDUCTIONS = ("sum", "max", "min", "cat")


class Metric:
    """Base class of stateful metrics.

    Class attributes:
        direction: "up" (bigger is better), "down", or None (unknown); callbacks in
            mode "auto" read it.

    Args:
        name: the key in logs; default the snake-cased class name.
        dtype: dtype of float states (default float32, as Keras).
    """

    direction: str | None = None

    def __init__(self, name: str | None = None, dtype: torch.dtype | str | None = None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = _as_dtype(dtype)
        self._state_specs: dict[str, tuple[torch.Tensor, str]] = {}

    # -- state declaration ------------------------------------------------------------
    def add_state(self, name: str, default: torch.Tensor, reduce: str = "sum") -> None:
        """Declare state `name` starting at `default`, merged across copies by `reduce`."""
        if reduce not in _REDUCTIONS:
            raise ValueError(f"add_state(reduce=...) must be one of {_REDUCTIONS}; got {reduce!r}.")
        default = torch.as_tensor(default).detach()
        self._state_specs[name] = (default.clone(), reduce)
        setattr(self, name, default.clone())

    def state_names(self) -> list[str]:
        return list(self._state_specs)

    def states(self) -> dict[str, torch.Tensor]:
        """Current state tensors by name."""
        return {n: getattr(self, n) for n in self._state_specs}

    def state_reductions(self) -> dict[str, str]:
        return {n: spec[1] for n, spec in self._state_specs.items()}

    # -- the metric protocol ----------------------------------------------------------
    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Every state back to its declared default (in place when shapes allow)."""
        for name, (default, _) in self._state_specs.items():
            current = getattr(self, name)
            if current.shape == default.shape and current.dtype == default.dtype:
                current.copy_(default)
            else:
                setattr(self, name, default.to(current.device).clone())

    def reset_states(self) -> None:  # Keras 2 spelling
        self.reset_state()

    def merge_state(self, others) -> None:
        """Fold the states of `others` (metrics of the same class) into this one."""
        for other in others:
            for name, (default, reduce) in other._state_specs.items():
                if name not in self._state_specs:  # states built lazily from a first batch
                    self.add_state(name, default.to(self.device), reduce)
            for name, (_, reduce) in self._state_specs.items():
                if name not in other._state_specs:  # `other` saw no batch yet
                    continue
                mine = getattr(self, name)
                theirs = getattr(other, name).to(mine.device)
                if reduce == "sum":
                    mine.add_(theirs)
                elif reduce == "max":
                    torch.maximum(mine, theirs, out=mine)
                elif reduce == "min":
                    torch.minimum(mine, theirs, out=mine)
                else:
                    setattr(self, name, torch.cat([mine, theirs]))

    def to(self, device) -> Metric:
        """Move every state (and declared default) to `device`; returns self."""
        device = torch.device(device)
        for name, (default, reduce) in list(self._state_specs.items()):
            self._state_specs[name] = (default.to(device), reduce)
            setattr(self, name, getattr(self, name).to(device))
        return self

    @property
    def device(self) -> torch.device:
        for name in self._state_specs:
            return getattr(self, name).device
        return torch.device("cpu")

    # -- input checks (called by compile on the first batch, never per step) ---------------
    def check_shapes(self, y_true, y_pred) -> None:
        """Raise ValueError if the shapes cannot work (e.g. `k` > classes). No device sync."""

    def check_values(self, y_true, y_pred) -> None:
        """Raise ValueError on bad values (e.g. non-integer sparse labels). May sync; call once."""

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        """Update with this batch, then return the result so far (it accumulates)."""
        self.update_state(*args, **kwargs)
        return self.result()

    # -- serialization ----------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "dtype": str(self.dtype).replace("torch.", "")}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _as_dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    raise TypeError(f"Metric dtype must be a torch dtype or its name; got {dtype!r}.")
