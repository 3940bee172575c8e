"""Keras's helpers for the `data` a step receives: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""

from __future__ import annotations

__all__ = ["pack_x_y_sample_weight", "unpack_x_y_sample_weight"]


def unpack_x_y_sample_weight(data) -> tuple:
    """`data` -> `(x, y, sample_weight)`, None for what it lacks.

    A tuple (or list) of 1 to 3 items reads as `(x, y, sample_weight)`; anything else is `x`.
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(
            "unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, sample_weight); "
            f"got a tuple of {len(data)} items."
        )
    return (*data, *(None,) * (3 - len(data)))


def pack_x_y_sample_weight(x, y=None, sample_weight=None) -> tuple:
    """The inverse: `(x,)`, `(x, y)` or `(x, y, sample_weight)` (a lone x stays a 1-tuple
    only when it is itself a tuple, so it is not read as `(x, y)`)."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight
