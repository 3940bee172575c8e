"""Keras-style names: snake case, per-owner uniquification, and Keras's session-wide counters
for unnamed objects (`auto_name`, reset by `clear_session`)."""

from __future__ import annotations

import re

import torch

__all__ = ["to_snake_case", "unique_name"]


def to_snake_case(name: str) -> str:
    """Keras' rule: `"MeanSquaredError"` -> `"mean_squared_error"`, `"Conv2D"` -> `"conv2d"`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return name.lstrip("_") or "object"


def unique_name(base: str, taken: set[str]) -> str:
    """`base` if free in `taken`, else `base_1`, `base_2`, ...; the result is added to `taken`."""
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


# Keras' session-wide name counters: the n-th unnamed object of a kind is `kind_n` (the
# first is `kind`), across models, until `clear_session()` resets them.
_COUNTS: dict[str, int] = {}


def auto_name(kind: str) -> str:
    """The next session-wide name for an unnamed `kind` (`"Dense"` -> `dense`, `dense_1`, ...)."""
    base = to_snake_case(kind)
    if torch.compiler.is_compiling():
        # A layer made inside a compiled call (`layers.Add()(...)` in a `call`): counting
        # would mutate this dict in the trace and break the step's graph; its name is unseen.
        return base
    count = _COUNTS.get(base, 0)
    _COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Start the name counters over (Keras' `clear_session()`)."""
    _COUNTS.clear()
