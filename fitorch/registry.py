"""Name -> object lookup shared by every family (losses, metrics, optimizers, ...).

One `Registry` per family. Objects register beside their definition together with their
Keras aliases, so the alias table lives next to the object:

    LOSSES.register(mean_squared_error, "mse", "MSE")

`get` accepts the identifiers Keras accepts: None, a string, a `{"class_name", "config"}`
record, a class, an instance or a callable. An unknown string raises a `ValueError` that
names the family, suggests the closest registered names and lists the valid ones.

Custom objects (`register_serializable`) live in one process-wide table keyed
`"package>name"`, as Keras does; `saving` and every registry consult it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

__all__ = [
    "Registry",
    "register_serializable",
    "get_registered_object",
    "get_registered_name",
    "custom_objects",
    "suggest",
]

# "package>name" -> object, and object -> "package>name".
_CUSTOM_OBJECTS: dict[str, Any] = {}
_CUSTOM_NAMES: dict[int, str] = {}
# Objects this process used in compile (notebook workflow): short name -> object.
_SEEN_OBJECTS: dict[str, Any] = {}
# Stack of `custom_object_scope` dicts (innermost last).
_SCOPES: list[dict[str, Any]] = []


def suggest(name: str, candidates, n: int = 3) -> list[str]:
    """The closest names to `name` among `candidates` (case-insensitive), best first.

    Candidates come from difflib's similarity; they are ranked by edit distance counting a
    swap of two neighbours as one edit, so `'haed'` suggests `'head'` before `'shared'`.
    """
    candidates = sorted(set(candidates))
    lowered = {c.lower(): c for c in candidates}
    key = name.lower()
    hits = difflib.get_close_matches(key, list(lowered), n=max(n, 8), cutoff=0.6)
    hits.sort(key=lambda h: _edit_distance(key, h))
    return [lowered[h] for h in hits[:n]]


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, adjacent swap)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def unknown_name_error(kind: str, name: str, candidates) -> ValueError:
    """A ValueError for an unknown `name` of family `kind`, with a did-you-mean."""
    close = suggest(name, candidates)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(repr(c) for c in sorted(set(candidates))[:60])
    return ValueError(f"Unknown {kind} {name!r}.{hint} Known {kind} names: {shown}.")


class Registry:
    """Lookup table of one family of objects (`kind` names it in error messages).

    Args:
        kind: "loss", "metric", "optimizer", ... used in messages.
        case_insensitive: match names ignoring case (Keras does so for optimizers).
    """

    def __init__(self, kind: str, case_insensitive: bool = False):
        self.kind = kind
        self.case_insensitive = case_insensitive
        self._by_name: dict[str, Any] = {}

    def _key(self, name: str) -> str:
        return name.lower() if self.case_insensitive else name

    def register(self, obj, *aliases: str, name: str | None = None):
        """Register `obj` under `name` (default `obj.__name__`) and every alias; returns obj."""
        canonical = name or obj.__name__
        for key in (canonical, *aliases):
            self._by_name[self._key(key)] = obj
        return obj

    def __contains__(self, name: str) -> bool:
        return self._key(name) in self._by_name

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def aliases_of(self, obj) -> list[str]:
        """Every registered name that resolves to `obj`."""
        return [k for k, v in self._by_name.items() if v is obj]

    def lookup(self, name: str):
        """The object registered under `name`, else custom objects, else ValueError."""
        hit = self._by_name.get(self._key(name))
        if hit is not None:
            return hit
        custom = get_registered_object(name)
        if custom is not None:
            return custom
        raise unknown_name_error(self.kind, name, self._by_name)

    def get(self, identifier, instantiate: Callable | None = None):
        """Resolve a Keras identifier.

        None -> None; str -> the registered object; a `{"class_name", "config"}` dict -> the
        class built with `from_config(config)`; anything else is returned unchanged.
        `instantiate(obj)` (optional) post-processes a string hit (e.g. builds a class).
        """
        if identifier is None:
            return None
        if isinstance(identifier, str):
            obj = self.lookup(identifier)
            return instantiate(obj) if instantiate else obj
        if isinstance(identifier, dict):
            if "class_name" not in identifier:
                raise ValueError(
                    f"A {self.kind} given as a dict needs a 'class_name' key; got keys "
                    f"{sorted(identifier)}."
                )
            if identifier["class_name"] == "function":
                return self._function_record(identifier)
            cls = self.lookup(identifier["class_name"])
            config = identifier.get("config") or {}
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        return identifier

    def _function_record(self, record: dict):
        """Keras 3's record of a plain function, `{"class_name": "function", "config": name,
        "registered_name": "package>name" or name, "module": ...}`: resolved by name only
        (registered name first, then the plain name) among this registry's names and the
        custom objects (`register_serializable`, `custom_objects=`, where `"pkg>fn"` also
        finds a custom object named `fn`); the module is never imported, so
        `{"config": "eval", "module": "builtins"}` is an unknown name."""
        names = [
            n for n in (record.get("registered_name"), record.get("config"))
            if isinstance(n, str) and n and n != "function"
        ]  # fmt: skip
        if not names:
            raise ValueError(
                f"A {self.kind} function record must name the function in 'config'; got {record!r}."
            )
        for name in names:
            hit = self._by_name.get(self._key(name)) or get_registered_object(name)
            if not callable(hit) and ">" in name:  # `custom_objects={"triple": fn}` for
                hit = get_registered_object(name.split(">")[-1])  # "pkg>triple", never a built-in
            if callable(hit):
                return hit
        raise unknown_name_error(self.kind, names[-1], self._by_name)


def register_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: register a class or function under `"package>name"` for loading."""

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        _CUSTOM_OBJECTS[key] = obj
        _CUSTOM_NAMES[id(obj)] = key
        return obj

    return decorator


def remember(obj) -> None:
    """Note an object used in compile so this process can load it back without registration."""
    name = getattr(obj, "__name__", None) or type(obj).__name__
    _SEEN_OBJECTS[name] = obj  # the latest definition wins, as when a notebook cell reruns


def get_registered_name(obj) -> str:
    """`"package>name"` if registered, else the object's (class) name."""
    return _CUSTOM_NAMES.get(id(obj)) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, extra: dict | None = None):
    """Resolve a custom object by name: `extra`, open scopes, the registry, then compile-seen."""
    for table in ([extra] if extra else []) + list(reversed(_SCOPES)):
        if name in table:
            return table[name]
    if name in _CUSTOM_OBJECTS:
        return _CUSTOM_OBJECTS[name]
    short = name.split(">")[-1]
    for key, obj in _CUSTOM_OBJECTS.items():
        if key.split(">")[-1] == short:
            return obj
    return _SEEN_OBJECTS.get(short)


def custom_objects() -> dict[str, Any]:
    """A copy of the process-wide `"package>name" -> object` table."""
    return dict(_CUSTOM_OBJECTS)


class custom_object_scope:  # noqa: N801 (Keras spelling)
    """Context manager making `objects` (name -> object) resolvable while it is open."""

    def __init__(self, objects: dict[str, Any] | None = None):
        self.objects = dict(objects or {})

    def __enter__(self):
        _SCOPES.append(self.objects)
        return self

    def __exit__(self, *exc):
        _SCOPES.remove(self.objects)
        return False
