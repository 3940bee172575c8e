"""`LearningRateScheduler`: set the learning rate from `schedule(epoch, lr)` each epoch."""

from __future__ import annotations

import numbers

from fitorch.callbacks.base import Callback
from fitorch.optimizers import get_learning_rate, set_learning_rate
from fitorch.utils import console

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """At each epoch begin: `lr = schedule(epoch, current_lr)` (or `schedule(epoch)`, the
    Keras 2 one-argument form, tried when the two-argument call raises TypeError).

    The schedule must return a real number (float, NumPy float; fitorch also takes an int),
    else ValueError. At epoch end `logs["learning_rate"]` holds the rate (History: `lr`).
    verbose=1 prints `Epoch {n}: LearningRateScheduler setting learning rate to {lr}.`
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler(schedule=...) must be callable; got {schedule!r}."
            )
        self.schedule = schedule
        self.verbose = verbose
        self._lr_in: tuple[int, float] | None = None  # (epoch, rate before the schedule)
        self._resumed: tuple[int, float] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr_in = get_learning_rate(optimizer)
        if self._resumed is not None and self._resumed[0] == epoch:
            # Resumed mid-epoch: the saved optimizer already holds this epoch's rate; apply
            # the schedule to the rate it started from, as the interrupted run did.
            lr_in = self._resumed[1]
        self._resumed = None
        self._lr_in = (epoch, lr_in)
        try:
            lr = self.schedule(epoch, lr_in)
        except TypeError:  # Keras 2 schedules take only the epoch
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {lr!r}"
            )
        set_learning_rate(optimizer, float(lr))
        if self.verbose > 0:
            console.print_msg(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model.optimizer)

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {"lr_in": list(self._lr_in) if self._lr_in is not None else None}

    def load_state(self, state: dict) -> None:
        lr_in = state.get("lr_in")
        self._resumed = tuple(lr_in) if lr_in is not None else None
