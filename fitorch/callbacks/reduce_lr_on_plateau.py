"""`ReduceLROnPlateau`: multiply the learning rate by `factor` when a value plateaus."""

from __future__ import annotations

import warnings

import numpy as np

from fitorch.callbacks.monitor import MonitorCallback
from fitorch.optimizers import get_learning_rate, set_learning_rate
from fitorch.utils import console

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when `monitor` stops improving (Keras 3 rules).

    At each epoch end, first `logs["learning_rate"]` = the rate used this epoch (History
    answers it as `lr` too). Then: in cooldown, `cooldown_counter -= 1` and `wait = 0`; an
    improvement sets best and `wait = 0`; otherwise, out of cooldown, `wait += 1` and when
    `wait >= patience` and `lr > float32(min_lr)`: `lr = max(lr * factor, min_lr)`,
    `cooldown_counter = cooldown`, `wait = 0`.

    Args:
        monitor, mode, min_delta: see `MonitorCallback` (Keras 2's `epsilon` = min_delta).
        factor: multiplier, < 1.
        patience: epochs without improvement before a reduction.
        verbose: 1 prints `Epoch {n}: ReduceLROnPlateau reducing learning rate to {lr}.`
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound of the learning rate.
        strict: raise when `monitor` is missing from the logs (fitorch).
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        *,
        strict=False,
        **kwargs,
    ):
        if "epsilon" in kwargs:  # Keras 2 name
            min_delta = kwargs.pop("epsilon")
            warnings.warn(
                "`epsilon` argument is deprecated; use `min_delta` instead.", stacklevel=2
            )
        if kwargs:
            raise TypeError(
                f"ReduceLROnPlateau() got an unexpected keyword argument {next(iter(kwargs))!r}."
            )
        super().__init__(monitor, mode, min_delta, strict=strict)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        if min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau(min_lr=...) must be >= 0; got {min_lr}.")
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()
        self.check_monitor()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = get_learning_rate(optimizer)
        current = self._scalar(self.get_monitor_value(logs))
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                self._reduce(optimizer, epoch, logs["learning_rate"])

    def _reduce(self, optimizer, epoch: int, old_lr: float) -> None:
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            set_learning_rate(optimizer, new_lr)
            if self.verbose > 0:
                console.print_msg(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}."
                )
            self.cooldown_counter = self.cooldown
            self.wait = 0

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {"best": self.best, "cooldown_counter": self.cooldown_counter, "wait": self.wait}

    def load_state(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
