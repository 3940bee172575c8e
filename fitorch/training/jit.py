"""`compile(jit_compile=True)`: the step's forward and loss through `torch.compile`.

What is compiled: `forward_loss` (the forward pass, the compiled losses, `add_loss` terms and
regularizers); AOTAutograd compiles its backward too. The optimizer update and the metric
updates stay eager (they are foreach kernels and a few small ops already). The first batch of a
run is always eager, because it builds the layers, resolves the losses and metrics and checks
the targets (Python work that should not be traced); every later batch goes through one
compiled function.

- **Once per fit/evaluate/predict**: `begin(model, kind)` makes the compiled callable at the
  start of each run; `dynamic=True` compiles the batch dimension symbolically, so the short
  last batch does not recompile (torch specialises sizes 0 and 1, so a last batch of exactly
  one row compiles once more).
- **Fallback**: if compiling (or the compiled call) fails, the step reruns eagerly and the
  run continues eagerly, after ONE warning naming the error.
- **Overridden steps** (a `train_step`/`test_step` the user wrote) are compiled whole, as
  Keras compiles them: dynamo traces the forward and loss, breaks the graph at `backward()`
  and goes on; the first call of each run is eager.
- `jit_compile="auto"` means False (Keras 3 on torch does the same); True compiles.
- `set_backend(name)` picks torch.compile's backend (default "inductor"; tests use
  "aot_eager" to skip code generation on slow machines).
"""

from __future__ import annotations

import warnings
import weakref

import torch

__all__ = ["begin", "end", "enabled", "run", "set_backend"]

_BACKEND = {"name": "inductor"}
_ACTIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {kind: fn|None}


def set_backend(name: str) -> None:
    """The torch.compile backend for compiled steps ('inductor', 'aot_eager', ...)."""
    _BACKEND["name"] = name


def enabled(model) -> bool:
    """Whether `compile(jit_compile=...)` asked for a compiled step ('auto' -> False;
    `run_eagerly=True` turned it off at compile)."""
    state = model.trainer
    return state is not None and state.jit_compile is True


class _Run:
    """A run's compiled callable and how many calls still run eagerly first."""

    def __init__(self, compiled, eager_calls: int):
        self.compiled = compiled
        self.eager_calls = eager_calls


def begin(model, kind: str, fn, eager_calls: int = 0) -> None:
    """Start a run: compile `fn` (the step function of `kind`) for `model` if jit is on; the
    first `eager_calls` calls run eagerly (an overridden step builds what it uses then)."""
    runs = _ACTIVE.setdefault(model, {})
    if enabled(model):
        runs[kind] = _Run(torch.compile(fn, dynamic=True, backend=_BACKEND["name"]), eager_calls)
    else:
        runs[kind] = None


def end(model, kind: str) -> None:
    """End a run: drop the compiled callable (the next run compiles afresh)."""
    runs = _ACTIVE.get(model)
    if runs is not None:
        runs.pop(kind, None)


def run(model, kind: str, fn, *args):
    """`fn(*args)` through this run's compiled callable if there is one, else eagerly."""
    current = _ACTIVE.get(model, {}).get(kind)
    if current is None:
        return fn(*args)
    if current.eager_calls:
        current.eager_calls -= 1
        return fn(*args)
    try:
        return current.compiled(*args)
    except Exception as error:  # noqa: BLE001 - any compiler failure falls back to eager
        _ACTIVE[model][kind] = None
        warnings.warn(
            f"jit_compile: torch.compile failed for the {kind} step "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "continuing eagerly.",
            RuntimeWarning,
            stacklevel=3,
        )
        return fn(*args)
