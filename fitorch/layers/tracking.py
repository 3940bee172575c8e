"""Keras' tracking of layers held in list, tuple and dict attributes.

Keras tracks a sublayer assigned to a layer attribute directly or inside a (nested) list,
tuple or dict (`self.blocks = [Dense(4), Dense(2)]`): its weights count in the owner's
`weights`, it trains, it is saved. torch registers only direct `nn.Module` attributes, so
`Layer.__setattr__` passes containers through `wrap` and `register`: the attribute keeps the
user's items (a list or dict of layers, or an empty one, becomes a `TrackedList` /
`TrackedDict`: `list` / `dict` subclasses that re-register when items are added, replaced or
removed) and the modules found in it are registered under the same attribute name as a
`LayerGroup`, so `state_dict()`, `.to(device)`, `parameters()` and the Keras weight order
(assignment order) see them. A module the owner already registers is not registered twice.
"""

from __future__ import annotations

from torch import nn

__all__ = ["LayerGroup", "TrackedDict", "TrackedList", "rebind", "register", "untrack", "wrap"]


class LayerGroup(nn.ModuleList):
    """The modules found in one container attribute, in container order."""


def _modules_in(value, out: list) -> list:
    """Append the `nn.Module`s in a (nested) list/tuple/dict `value` to `out`, in order."""
    if isinstance(value, nn.Module):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _modules_in(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _modules_in(item, out)
    return out


class _Tracking:
    """Mixin: after every mutation, re-register the owner's modules for this attribute."""

    def _bind(self, owner, attr):
        self._owner, self._attr = owner, attr

    def _retrack(self):
        owner = getattr(self, "_owner", None)
        if owner is not None and owner.__dict__.get(self._attr) is self:
            untrack(owner, self._attr)
            register(owner, self._attr, self)


def _mutator(base, method):
    def wrapped(self, *args, **kwargs):
        result = getattr(base, method)(self, *args, **kwargs)
        self._retrack()
        return result

    wrapped.__name__ = method
    return wrapped


class TrackedList(_Tracking, list):
    """A layer's list attribute: adding or replacing items re-registers its layers."""

    def __reduce_ex__(self, protocol):
        # Copies and pickles hold the items only; the owner rebinds them (`rebind`).
        return (TrackedList, (list(self),))


class TrackedDict(_Tracking, dict):
    """A layer's dict attribute: adding or replacing values re-registers its layers."""

    def __reduce_ex__(self, protocol):
        return (TrackedDict, (dict(self),))


for _name in ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
              "__setitem__", "__delitem__", "__iadd__", "__imul__"):  # fmt: skip
    setattr(TrackedList, _name, _mutator(list, _name))
for _name in ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault",
              "__ior__"):  # fmt: skip
    setattr(TrackedDict, _name, _mutator(dict, _name))


def wrap(owner: nn.Module, attr: str, value):
    """The value to store for `owner.attr = value`: a plain list or dict holding modules,
    or an empty one under a public name (to be filled by `append`), becomes a tracked copy
    of itself bound to `owner.attr`; other values pass unchanged."""
    if type(value) not in (list, dict):
        return value
    if not (_modules_in(value, []) or (not value and not attr.startswith("_"))):
        return value
    value = TrackedList(value) if type(value) is list else TrackedDict(value)
    value._bind(owner, attr)
    return value


def _held(owner: nn.Module) -> set[int]:
    """Ids of the modules `owner` already registers (directly or in a container module)."""
    held = set()
    for child in owner._modules.values():
        if child is not None:
            held.add(id(child))
            if isinstance(child, (nn.ModuleList, nn.ModuleDict, nn.Sequential)):
                held.update(id(m) for m in child.children())
    return held


def register(owner: nn.Module, attr: str, value) -> None:
    """After `owner.attr = value`: register the modules held in a list/tuple/dict `value`
    (those `owner` does not register already) under `attr` as a `LayerGroup`; other values
    (a module is torch's own case) are left."""
    if isinstance(value, (list, tuple, dict)) and not isinstance(value, nn.Module):
        modules = _modules_in(value, [])
        if modules:
            held = _held(owner)
            modules = [m for m in dict.fromkeys(modules) if id(m) not in held]
        if modules:
            owner._modules[attr] = LayerGroup(modules)


def untrack(owner: nn.Module, attr: str) -> None:
    """Drop the modules registered for a container attribute (before it is reassigned)."""
    if isinstance(owner._modules.get(attr), LayerGroup):
        del owner._modules[attr]


def rebind(owner: nn.Module) -> None:
    """Bind the tracked containers in `owner.__dict__` to `owner` (after a copy or unpickle)."""
    for attr, value in owner.__dict__.items():
        if isinstance(value, _Tracking):
            value._bind(owner, attr)
