"""`keras.ops.rearrange`: einops-style axis rearrangement on torch.

A pattern names the input axes and the output axes, `"b h w c -> b c h w"`; parentheses
group axes, merging them on the output side (`"b h w c -> b (h w c)"`) or splitting one
input axis (`"b (h1 h) w -> b h1 h w"`, with the lengths given as keywords: `h1=2`). Each name
appears once on each side. Computed as one reshape (split), one permute and one reshape
(merge).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from fitorch.ops.core import convert_to_tensor

__all__ = ["rearrange"]

_TOKEN = re.compile(r"\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S")


def _parse_side(side: str, pattern: str) -> list[list[str]]:
    """`"b (h w) c"` -> `[["b"], ["h", "w"], ["c"]]`."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for token in _TOKEN.findall(side):
        if token == "(":
            if current is not None:
                raise ValueError(f"rearrange: nested parentheses in pattern {pattern!r}.")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"rearrange: unbalanced ')' in pattern {pattern!r}.")
            groups.append(current)
            current = None
        elif token.isidentifier() and current is None:
            groups.append([token])
        elif token.isidentifier():
            current.append(token)
        else:
            raise ValueError(
                f"rearrange: unexpected {token!r} in pattern {pattern!r}; "
                "expected axis names and parentheses."
            )
    if current is not None:
        raise ValueError(f"rearrange: unbalanced '(' in pattern {pattern!r}.")
    names = [n for g in groups for n in g]
    if len(set(names)) != len(names):
        raise ValueError(f"rearrange: an axis name repeats in {side.strip()!r} of {pattern!r}.")
    return groups


def _sizes(
    groups: list[list[str]], shape: tuple[int, ...], lengths: dict[str, int], pattern: str
) -> dict[str, int]:
    """The length of every input axis name, inferring at most one unknown per group."""
    sizes = dict(lengths)
    for group, dim in zip(groups, shape):
        unknown = [n for n in group if n not in sizes]
        known = math.prod(sizes[n] for n in group if n in sizes)
        if len(unknown) > 1:
            raise ValueError(
                f"rearrange: cannot infer the lengths of {unknown} in "
                f"{pattern!r}; give all but one as keywords."
            )
        if unknown:
            if known == 0 or dim % known:
                raise ValueError(
                    f"rearrange: axis of length {dim} does not split into "
                    f"{group} with the given lengths {lengths}."
                )
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise ValueError(
                f"rearrange: the lengths of {group} multiply to {known}, but the "
                f"axis has length {dim}."
            )
    return sizes


def rearrange(tensor: Any, pattern: str, **axes_lengths: int) -> torch.Tensor:
    """`tensor` with its axes reordered, merged and split as `pattern` says (module docs).

    Example: for `x` of shape (32, 30, 40, 3),
    `rearrange(x, "b (h1 h) (w1 w) c -> (b h1 w1) h w c", h1=2, w1=2).shape` is
    (128, 15, 20, 3).
    """
    x = convert_to_tensor(tensor)
    if pattern.count("->") != 1:
        raise ValueError(f"rearrange: pattern must have one '->'; received {pattern!r}.")
    left, right = pattern.split("->")
    inputs, outputs = _parse_side(left, pattern), _parse_side(right, pattern)
    if len(inputs) != x.ndim:
        raise ValueError(
            f"rearrange: the pattern names {len(inputs)} input axes, the tensor "
            f"has shape {tuple(x.shape)}."
        )
    in_names = [n for g in inputs for n in g]
    out_names = [n for g in outputs for n in g]
    if set(in_names) != set(out_names):
        raise ValueError(
            f"rearrange: both sides must name the same axes; received "
            f"{sorted(set(in_names))} -> {sorted(set(out_names))}."
        )
    sizes = _sizes(inputs, tuple(x.shape), axes_lengths, pattern)
    split = x.reshape([sizes[n] for n in in_names])
    moved = split.permute([in_names.index(n) for n in out_names])
    return moved.reshape([math.prod(sizes[n] for n in g) for g in outputs])
