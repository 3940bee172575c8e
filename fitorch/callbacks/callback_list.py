"""`CallbackList`: dispatch of Keras' hooks that skips what nobody overrides.

It orders user callbacks first, then `History`, then `ProgbarLogger`, so values a user
callback writes into `logs` reach both; a callback with `saves_training_state` sees the
`*_begin` hooks first and the `*_end` hooks last (it records what all the others did).
For each hook it keeps only the callbacks that
implement it, so an un-overridden batch hook costs nothing per batch. Batch hooks may
receive `logs` as a zero-argument callable (computed once, on first use) so nothing reads
metric values from the device unless a callback asks for them. Every other hook gets its
own copy of the logs (Keras converts them anew at each hook), so a key a callback adds in
`on_epoch_end` (`learning_rate`) reaches the later callbacks of that hook but not the
caller's dict: `on_train_end` and `evaluate`'s return value do not see it.
"""

from __future__ import annotations

import torch

from fitorch.callbacks.base import HOOKS, Callback
from fitorch.callbacks.history import History
from fitorch.callbacks.progbar import ProgbarLogger

__all__ = ["CallbackList"]


class CallbackList:
    """Calls each hook on the callbacks that implement it, in order."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be fitorch.callbacks.Callback instances; "
                    f"got {type(cb).__name__}."
                )
        user = [cb for cb in callbacks if not isinstance(cb, (History, ProgbarLogger))]
        history = [cb for cb in callbacks if isinstance(cb, History)]
        progbar = [cb for cb in callbacks if isinstance(cb, ProgbarLogger)]
        if add_history and not history:
            history = [History()]
        if add_progbar and not progbar:
            progbar = [ProgbarLogger()]
        self.callbacks = user + history + progbar
        self.history = history[0] if history else None
        self.model = model
        self.params = params
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self._refresh()

    def _refresh(self) -> None:
        self._by_hook = {h: _hook_order(h, self.callbacks) for h in HOOKS}

    @property
    def needs_built_state(self) -> bool:
        """Whether a callback saves or restores the training state (see `Callback`)."""
        return any(cb.saves_training_state for cb in self.callbacks)

    def set_model(self, model) -> None:
        """Give every callback `model` (the History among them becomes `model.history`)."""
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)
        self._refresh()

    def wants(self, hook: str) -> bool:
        return bool(self._by_hook[hook])

    def _call(self, hook, *args):
        for cb in self._by_hook[hook]:
            getattr(cb, hook)(*args)

    def _call_batch(self, hook, batch, logs):
        targets = self._by_hook[hook]
        if not targets:
            return
        if callable(logs):
            logs = _Memo(logs)
        elif logs:
            logs = _plain_logs(logs)
        for cb in targets:
            lazy = getattr(cb, "accepts_lazy_logs", False)
            getattr(cb, hook)(batch, logs if lazy or not isinstance(logs, _Memo) else logs())

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", _plain_logs(logs))  # noqa: E704

    def on_train_end(self, logs=None):
        self._call("on_train_end", _plain_logs(logs))  # noqa: E704

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, _plain_logs(logs))  # noqa: E704

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, _plain_logs(logs))  # noqa: E704

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", _plain_logs(logs))  # noqa: E704

    def on_test_end(self, logs=None):
        self._call("on_test_end", _plain_logs(logs))  # noqa: E704

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", _plain_logs(logs))  # noqa: E704

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", _plain_logs(logs))  # noqa: E704

    def on_batch_begin(self, batch, logs=None):  # Keras 2 name: only `on_batch_begin` runs
        logs = _plain_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        logs = _plain_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs or {})

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs or {})

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs or {})

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)


def _plain_logs(logs: dict | None) -> dict:
    """A new dict of `logs` with the values Keras's callback list hands on: nested dicts
    flattened into it, tensors as NumPy, and every value `float()` accepts as a Python float
    (a one-element tensor, a NumPy scalar, an int); arrays of several values stay arrays.
    fit's own logs are floats already; this serves loops that call the hooks themselves."""
    out = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            out.update(_plain_logs(value))
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        out[key] = value
    return out


def _hook_order(hook: str, callbacks: list) -> list:
    """The callbacks implementing `hook`; state savers first for `*_begin`, last otherwise."""
    implementing = [cb for cb in callbacks if cb.implements(hook)]
    savers = [cb for cb in implementing if cb.saves_training_state]
    others = [cb for cb in implementing if not cb.saves_training_state]
    return savers + others if hook.endswith("_begin") else others + savers


class _Memo:
    """A zero-argument logs provider evaluated at most once."""

    def __init__(self, fn):
        self.fn, self.value = fn, None

    def __call__(self):
        if self.value is None:
            self.value = self.fn()
        return self.value
