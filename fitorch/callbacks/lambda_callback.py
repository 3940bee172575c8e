"""`LambdaCallback`: a callback built from plain functions."""

from __future__ import annotations

from fitorch.callbacks.base import HOOKS, Callback
from fitorch.registry import suggest

__all__ = ["LambdaCallback"]

_NAMES = set(HOOKS) | {"on_batch_begin", "on_batch_end"}


class LambdaCallback(Callback):
    """Call the given functions at the matching hooks.

    Signatures: `on_epoch_begin/on_epoch_end(epoch, logs)`, `on_train_begin/on_train_end(logs)`,
    `on_*_batch_begin/end(batch, logs)`. Keras 3 names are the parameters; any other hook goes
    in `**kwargs`, including Keras 2's `on_batch_begin`/`on_batch_end` (training batches).
    An unknown hook name raises TypeError with the closest valid name.
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, fn in given.items():
            if name not in _NAMES:
                close = suggest(name, _NAMES)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"LambdaCallback() got an unknown hook {name!r}.{hint}")
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback({name}=...) must be callable; got {fn!r}.")
            setattr(self, name, fn)

    def implements(self, hook: str) -> bool:
        names = [hook] + {
            "on_train_batch_begin": ["on_batch_begin"],
            "on_train_batch_end": ["on_batch_end"],
        }.get(hook, [])
        return any(n in self.__dict__ for n in names)
