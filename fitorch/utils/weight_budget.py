"""A cap on the bytes of weights layers may create while a model is rebuilt from a file.

A file's config declares layer sizes (`Dense(units=100_000_000)`) that its weights must then
fill; a config asking for far more weights than the file holds is hostile or damaged, and is
refused before the allocation, not after a multi-GB initialisation. `saving.api` opens a
budget (twice the file's weight bytes plus 16 MiB: dtypes and a few unsaved variables differ)
around building the model; `Layer.add_weight` charges each weight before creating it.
Outside a budget nothing is charged.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["weight_budget", "charge", "budget_for"]

_BUDGET: contextvars.ContextVar[dict | None] = contextvars.ContextVar("weight_budget", default=None)


def budget_for(file_weight_bytes: int) -> int:
    """The budget for a file holding `file_weight_bytes` bytes of weights."""
    return 2 * int(file_weight_bytes) + 16 * 2**20


@contextlib.contextmanager
def weight_budget(nbytes: int, where: str):
    """Within the block, layers may create at most `nbytes` bytes of weights (`where`: the
    file, named in the error)."""
    token = _BUDGET.set({"left": int(nbytes), "total": int(nbytes), "where": where})
    try:
        yield
    finally:
        _BUDGET.reset(token)


def charge(nbytes: int, what: str) -> None:
    """Count `nbytes` against the open budget; ValueError (naming the file and `what`) before
    the caller allocates when it would be exceeded."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget["left"] -= int(nbytes)
    if budget["left"] < 0:
        raise ValueError(
            f"{budget['where']!r}: the config asks for more weights than the file holds: "
            f"{what} alone needs {int(nbytes):,} bytes, over the {budget['total']:,} bytes "
            "allowed for this file's weights; refusing it before allocating."
        )
