"""`History`: records epoch logs; `history.history[key]` also answers metric aliases."""

from __future__ import annotations

import numpy as np
import torch

from fitorch.callbacks.base import Callback

__all__ = ["History", "HistoryDict"]


class HistoryDict(dict):
    """A dict of per-epoch lists that also resolves aliases of the keys it holds.

    `h['mean_squared_error']` returns `h['mse']` when the metric was compiled as 'mse';
    iteration, `keys()` and `len()` show only the real keys.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}

    def _real(self, key):
        return self.aliases.get(key, key)

    def __missing__(self, key):
        real = self.aliases.get(key)
        if real is not None and dict.__contains__(self, real):
            return dict.__getitem__(self, real)
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._real(key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __repr__(self) -> str:
        return dict.__repr__(self)


class History(Callback):
    """Appends each epoch's logs to `self.history` (a `HistoryDict`); `model.history` is self."""

    def __init__(self):
        super().__init__()
        self.history = HistoryDict()
        self.epoch: list[int] = []

    def set_model(self, model) -> None:
        super().set_model(model)
        if model is not None:
            model.history = self

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def state(self) -> dict:
        """The recorded epochs; array values (vector metrics) as tensors, which a backup
        read with `torch.load(weights_only=True)` accepts."""
        history = {k: [_to_saved(v) for v in values] for k, values in self.history.items()}
        return {"history": history, "epoch": list(self.epoch)}

    def load_state(self, state: dict) -> None:
        self.history.clear()
        for key, values in state.get("history", {}).items():
            self.history[key] = [_from_saved(v) for v in values]
        self.epoch = list(state.get("epoch", []))


def _to_saved(value):
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else value


def _from_saved(value):
    return value.numpy() if isinstance(value, torch.Tensor) else value
