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
from fitorch.variables import Variable

__all__ = ["Metric", "METRICS", "register_metric", "synced_states"]

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

    def add_variable(
        self, shape=(), initializer="zeros", dtype=None, aggregation: str = "sum", name=None
    ) -> Variable:
        """Keras 3's metric state API: a state holding `initializer(shape)`, returned as a
        `fitorch.Variable` that `update_state` changes with `assign`/`assign_add` and
        `result()` may return. It is a declared state (`reset_state` restores the initial
        value, merges and process syncs add it up), so `aggregation` must be "sum"."""
        if aggregation != "sum":
            raise ValueError(
                f"add_variable(aggregation=...): fitorch merges metric variables by sum; "
                f"expected 'sum', received {aggregation!r}."
            )
        name = name or f"variable_{len(self._state_specs)}"
        if name in self._state_specs or hasattr(type(self), name):
            raise ValueError(
                f"add_variable(name={name!r}): {type(self).__name__} already has an attribute "
                "or state of that name; pass another name."
            )
        var = Variable(initializer, shape=shape, dtype=dtype or self.dtype, trainable=False,
                       name=name)  # fmt: skip
        self.add_state(name, var.detach(), "sum")
        setattr(self, name, var)  # the state is the Variable itself, changed in place
        return var

    def add_weight(self, shape=(), initializer="zeros", dtype=None, name=None) -> Variable:
        """Keras's older spelling of `add_variable` (aggregation "sum")."""
        return self.add_variable(shape, initializer, dtype, "sum", name)

    def state_names(self) -> list[str]:
        return list(self._state_specs)

    def states(self) -> dict[str, torch.Tensor]:
        """Current state tensors by name."""
        return {n: getattr(self, n) for n in self._state_specs}

    @property
    def variables(self) -> list[torch.Tensor]:
        """Keras' `metric.variables`: the state tensors in declaration order (the
        `fitorch.Variable`s of `add_variable`, so `v.assign(...)` works on those)."""
        return list(self.states().values())

    def state_reductions(self) -> dict[str, str]:
        return {n: spec[1] for n, spec in self._state_specs.items()}

    def set_state(self, name: str, value: torch.Tensor) -> None:
        """Replace the value of declared state `name` (used by merges and process syncs);
        a Variable state keeps its identity (user code holds it) and takes the new data."""
        if name not in self._state_specs:
            raise KeyError(
                f"{type(self).__name__} has no state {name!r}; it has {self.state_names()}."
            )
        current = getattr(self, name)
        if isinstance(current, Variable):
            current.data = value.detach()
        else:
            setattr(self, name, value)

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
                with torch.no_grad():
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
            self.set_state(name, getattr(self, name).to(device))
        return self

    @property
    def device(self) -> torch.device:
        for name in self._state_specs:
            return getattr(self, name).device
        return torch.device("cpu")

    def build_states(self, y_true, y_pred) -> None:
        """Create the states whose shape comes from the data (R2Score's columns, F1Score's
        classes, a multi-label AUC's labels); a metric whose states are fixed does nothing.

        Compile calls it once, eagerly, on the first batch, and `update_state` calls it while
        the states are missing, so a traced update never changes the metric's structure (a
        change would make `torch.compile` guard on it and recompile).
        """

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


# -- cross-process reduction -------------------------------------------------------------------
class synced_states:  # noqa: N801 (a context manager used like a function)
    """Within the block, `metrics` hold the states of every process; outside, their own.

        with synced_states(model_metrics):
            logs = {m.name: m.result() for m in model_metrics}

    Every "sum" state of every metric goes into one flat buffer per dtype and is reduced with
    ONE collective; "max"/"min" states take one collective each kind; "cat" states are
    all-gathered. On exit the local states come back, so syncing twice never double counts.
    Without an initialized process group (or with world size 1) it does nothing.

    Args:
        metrics: Metric objects.
        group: the torch.distributed process group (default: the world).
        all_reduce: `(tensor, op) -> None` reducing in place; default `dist.all_reduce`.
    """

    def __init__(self, metrics, group=None, all_reduce=None):
        import torch.distributed as dist

        self.metrics = list(metrics)
        self.group = group
        self._all_reduce = all_reduce
        self._active = all_reduce is not None or (
            dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1
        )
        self._saved: list[dict[str, torch.Tensor]] = []

    def _reduce(self, tensor: torch.Tensor, op: str) -> None:
        if self._all_reduce is not None:
            self._all_reduce(tensor, op)
            return
        import torch.distributed as dist

        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
        dist.all_reduce(tensor, op=ops[op], group=self.group)

    def __enter__(self):
        if not self._active:
            return self
        self._saved = [{k: v.clone() for k, v in m.states().items()} for m in self.metrics]
        by_kind: dict[tuple[str, torch.dtype, torch.device], list] = {}
        for metric in self.metrics:
            reductions = metric.state_reductions()
            for name, value in metric.states().items():
                kind = reductions.get(name, "sum")
                if kind == "cat":
                    metric.set_state(name, _all_gather_cat(value, self.group))
                    continue
                by_kind.setdefault((kind, value.dtype, value.device), []).append(
                    (metric, name, value)
                )
        for (kind, _, _), entries in by_kind.items():
            flat = torch.cat([value.reshape(-1) for _, _, value in entries])
            self._reduce(flat, kind)
            offset = 0
            for metric, name, value in entries:
                n = value.numel()
                metric.set_state(name, flat[offset : offset + n].view_as(value).clone())
                offset += n
        return self

    def __exit__(self, *exc):
        for metric, saved in zip(self.metrics, self._saved):
            for name, value in saved.items():
                metric.set_state(name, value)
        self._saved = []
        return False


def _all_gather_cat(value: torch.Tensor, group) -> torch.Tensor:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    parts = [torch.empty_like(value) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, value.contiguous(), group=group)  # equal sizes assumed per process
    return torch.cat(parts)
