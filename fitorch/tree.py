"""`fitorch.tree`: Keras 3's nested-structure utilities, the one structure walker of fitorch.

A structure is a leaf or a container of structures. Containers are `list`, `tuple`
(named tuples included) and `dict`; everything else (tensors, arrays, numbers, strings,
`None`) is a leaf. Flattening visits a `dict` in sorted key order (an `OrderedDict` in
insertion order), as Keras does, so `flatten({"b": 1, "a": 2}) == [2, 1]`.

    >>> flatten({"b": 1, "a": [2, (3, None)]})
    [2, 3, None, 1]
    >>> map_structure(lambda a, b: a + b, [1, (2,)], [10, (20,)])
    [11, (22,)]
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAP_TO_NONE",
    "assert_same_paths",
    "assert_same_structure",
    "flatten",
    "flatten_with_path",
    "is_nested",
    "lists_to_tuples",
    "map_shape_structure",
    "map_structure",
    "map_structure_up_to",
    "pack_sequence_as",
    "packer",
    "traverse",
]


class _MapToNone:
    """Returned by a `traverse` function to replace a subtree with `None`."""

    def __repr__(self) -> str:
        return "MAP_TO_NONE"


MAP_TO_NONE = _MapToNone()


def is_nested(structure: Any) -> bool:
    """True for a list, tuple or dict (even an empty one): a container, not a leaf."""
    return isinstance(structure, (list, tuple, dict))


def _keys(structure: dict) -> list:
    if isinstance(structure, collections.OrderedDict):
        return list(structure)
    try:
        return sorted(structure)
    except TypeError:  # keys of mixed types keep insertion order
        return list(structure)


def _children(structure) -> list:
    """The direct children of a container, in flattening order."""
    if isinstance(structure, dict):
        return [structure[k] for k in _keys(structure)]
    return list(structure)


def _rebuild(structure, children: list):
    """A container of the same kind as `structure` holding `children`."""
    if isinstance(structure, dict):
        values = dict(zip(_keys(structure), children))
        return type(structure)((k, values[k]) for k in structure)
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure: Any) -> list:
    """All leaves of `structure`, depth first (dict values in sorted key order)."""
    if not is_nested(structure):
        return [structure]
    return [leaf for child in _children(structure) for leaf in flatten(child)]


def flatten_with_path(structure: Any) -> list[tuple[tuple, Any]]:
    """`(path, leaf)` pairs; a path is the tuple of keys/indices leading to the leaf."""
    if not is_nested(structure):
        return [((), structure)]
    keys = _keys(structure) if isinstance(structure, dict) else range(len(structure))
    return [
        ((key, *path), leaf)
        for key, child in zip(keys, _children(structure))
        for path, leaf in flatten_with_path(child)
    ]


def pack_sequence_as(structure: Any, flat_sequence) -> Any:
    """`flat_sequence` (leaves in `flatten` order) poured into the shape of `structure`."""
    flat_sequence = list(flat_sequence)
    expected = len(flatten(structure))
    if len(flat_sequence) != expected:
        raise ValueError(
            f"pack_sequence_as: the structure holds {expected} leaves; flat_sequence has "
            f"{len(flat_sequence)} items."
        )
    it = iter(flat_sequence)

    def pack(s):
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [pack(c) for c in _children(s)])

    return pack(structure)


def packer(structure: Any) -> Callable[[list], Any]:
    """A function `f` with `f(values) == pack_sequence_as(structure, values)` for every list
    `values` of `len(flatten(structure))` leaves, the structure walked once here instead of
    at every call (the data path rebuilds each batch's structure with it). `f` does not check
    the length."""
    count = [0]

    def build(s) -> Callable[[list], Any]:
        if not is_nested(s):
            index = count[0]
            count[0] += 1
            return lambda values: values[index]
        children = [build(c) for c in _children(s)]
        kind = type(s)
        if isinstance(s, dict):
            slots = dict(zip(_keys(s), children))
            pairs = [(k, slots[k]) for k in s]  # insertion order, as `_rebuild`
            return lambda values: kind((k, f(values)) for k, f in pairs)
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return lambda values: kind(*(f(values) for f in children))
        return lambda values: kind([f(values) for f in children])

    return build(structure)


def assert_same_structure(a: Any, b: Any) -> None:
    """Raise ValueError unless `a` and `b` nest the same containers (types and lengths/keys)."""
    _check_same(a, b, ())


def assert_same_paths(a: Any, b: Any) -> None:
    """Raise ValueError unless `a` and `b` have the same leaf paths (container types may differ)."""
    paths_a = {p for p, _ in flatten_with_path(a)}
    paths_b = {p for p, _ in flatten_with_path(b)}
    if paths_a != paths_b:
        raise ValueError(
            f"The structures do not have the same paths: only in the first "
            f"{sorted(map(str, paths_a - paths_b))}, only in the second "
            f"{sorted(map(str, paths_b - paths_a))}."
        )


def _check_same(a, b, path) -> None:
    where = f" at path {path}" if path else ""
    if is_nested(a) != is_nested(b):
        raise ValueError(
            f"The structures do not have the same nested structure{where}: "
            f"{type(a).__name__} vs {type(b).__name__}."
        )
    if not is_nested(a):
        return
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        raise ValueError(
            f"The structures differ in container type{where}: expected "
            f"{type(a).__name__}, got {type(b).__name__}."
        )
    if isinstance(a, dict) and set(a) != set(b):
        raise ValueError(
            f"The dicts{where} have different keys: {sorted(map(str, a))} vs {sorted(map(str, b))}."
        )
    if len(a) != len(b):
        raise ValueError(f"The structures{where} have different lengths: {len(a)} vs {len(b)}.")
    keys = _keys(a) if isinstance(a, dict) else range(len(a))
    for key, ca, cb in zip(keys, _children(a), _children(b)):
        _check_same(ca, cb, (*path, key))


def map_structure(func: Callable, *structures) -> Any:
    """`func` applied to the matching leaves of `structures`; the result has their structure."""
    if not structures:
        raise TypeError("map_structure needs at least one structure; got none.")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats)])


def map_structure_up_to(shallow_structure: Any, func: Callable, *structures) -> Any:
    """Like `map_structure`, but only down to the leaves of `shallow_structure`: the
    matching subtrees of `structures` are passed to `func` whole."""

    def walk(shallow, subtrees):
        if not is_nested(shallow):
            return func(*subtrees)
        for s in subtrees:
            if not is_nested(s) or len(s) != len(shallow):
                raise ValueError(
                    f"map_structure_up_to: a structure does not contain the shallow "
                    f"structure's {type(shallow).__name__} of length {len(shallow)}; got {s!r}."
                )
        parts = zip(*[_children(s) for s in subtrees])
        return _rebuild(shallow, [walk(c, p) for c, p in zip(_children(shallow), parts)])

    return walk(shallow_structure, structures)


def map_shape_structure(func: Callable, structure: Any) -> Any:
    """`map_structure` where a shape (a tuple/list of ints and None) counts as one leaf."""

    def is_shape(s) -> bool:
        return isinstance(s, (tuple, list)) and all(d is None or isinstance(d, int) for d in s)

    if is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _rebuild(structure, [map_shape_structure(func, c) for c in _children(structure)])


def traverse(func: Callable, structure: Any, top_down: bool = True) -> Any:
    """Apply `func` to every subtree (containers and leaves).

    Top down: where `func` returns None the subtree is kept and its children visited;
    any other value replaces the subtree (`MAP_TO_NONE` replaces it with None).
    Bottom up (`top_down=False`): children first, then `func` on the rebuilt subtree with
    the same rule for its return value.
    """

    def result(value, default):
        if value is None:
            return default
        return None if value is MAP_TO_NONE else value

    def down(s):
        out = func(s)
        if out is not None:
            return result(out, s)
        return _rebuild(s, [down(c) for c in _children(s)]) if is_nested(s) else s

    def up(s):
        if is_nested(s):
            s = _rebuild(s, [up(c) for c in _children(s)])
        return result(func(s), s)

    return down(structure) if top_down else up(structure)


def lists_to_tuples(structure: Any) -> Any:
    """The same structure with every list turned into a tuple."""
    if not is_nested(structure):
        return structure
    children = [lists_to_tuples(c) for c in _children(structure)]
    if isinstance(structure, list):
        return tuple(children)
    return _rebuild(structure, children)
