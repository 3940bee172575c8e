"""`checked_keywords`: a method whose unknown keyword arguments raise with a suggestion.

Python's own error (`got an unexpected keyword argument 'metric'`) names the argument but
not what was meant; a decorated function raises

    TypeError: compile() got an unexpected keyword argument 'metric'. Did you mean 'metrics'?

before it runs. The signature stays the function's own (`inspect.signature`, `help()`).
"""

from __future__ import annotations

import functools
import inspect

from fitorch.registry import suggest

__all__ = ["checked_keywords"]


def checked_keywords(fn):
    """Wrap `fn` (no `**kwargs` of its own) so an unknown keyword raises a TypeError that
    names it, the closest accepted names and the function."""
    accepted = [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
    ]
    known = frozenset(accepted)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for key in kwargs:
            if key not in known:
                raise TypeError(unexpected_keyword(fn.__name__, key, accepted))
        return fn(*args, **kwargs)

    return wrapper


def unexpected_keyword(function: str, key: str, accepted) -> str:
    """The message for an unknown keyword `key` of `function` given the accepted names."""
    close = suggest(key, accepted)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{function}() got an unexpected keyword argument {key!r}.{hint}"
