"""`EarlyStopping`: stop training when a monitored value has stopped improving."""

from __future__ import annotations

from fitorch.callbacks.monitor import MonitorCallback
from fitorch.utils import console

__all__ = ["EarlyStopping", "snapshot_weights"]


def snapshot_weights(model) -> dict:
    """An in-memory copy of every parameter and buffer (`state_dict` tensors, cloned)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class EarlyStopping(MonitorCallback):
    """Stop when `monitor` has not improved for `patience` epochs (Keras 3 rules).

    Each epoch at or after `start_from_epoch` with the value present: `wait += 1`; an
    improvement (see `MonitorCallback`) records best/best_epoch (and a weight snapshot when
    `restore_best_weights`) and resets `wait` only if it also beats `baseline`; otherwise
    `wait >= patience` (and epoch > 0) sets `model.stop_training`. With
    `restore_best_weights`, the best epoch's weights are put back at the end of training,
    whether or not it stopped early (before any improvement the first watched epoch counts).
    Prints `Epoch {n}: early stopping` and `Restoring model weights from the end of the best
    epoch: {k}.` when verbose > 0.

    Args:
        monitor, mode, min_delta: see `MonitorCallback`.
        patience: epochs without improvement before stopping.
        verbose: 0 or 1.
        baseline: a value the monitor must beat for `wait` to reset.
        restore_best_weights: restore the best epoch's weights at the end of training.
        start_from_epoch: epochs to wait before watching (warm-up).
        strict: raise when `monitor` is missing from the logs (fitorch).
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
        *,
        strict=False,
    ):
        super().__init__(monitor, mode, min_delta, strict=strict)
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping(patience=...) must be an int >= 0; got {patience!r}.")
        if not isinstance(start_from_epoch, int) or start_from_epoch < 0:
            raise ValueError(
                "EarlyStopping(start_from_epoch=...) must be an int >= 0; got "
                f"{start_from_epoch!r}."
            )
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self._reset()  # an instance may serve several fit() calls
        self.check_monitor()

    def on_epoch_end(self, epoch, logs=None):
        current = self._scalar(self.get_monitor_value(logs))
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = snapshot_weights(self.model)
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = snapshot_weights(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            console.print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                console.print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.load_state_dict(self.best_weights)

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
