"""`TerminateOnNaN`: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

import torch

from fitorch.callbacks.base import Callback
from fitorch.utils import console

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """After each training batch, if the running loss is NaN or Inf: print
    `Batch {b}: Invalid loss, terminating training` and set `model.stop_training` (fit ends
    after this batch), or raise RuntimeError when `raise_error=True`.

    It reads one scalar (the loss tracker), never the whole logs. On an accelerator that read
    would stall every step, so there the check of batch b is copied to the host without
    blocking and looked at after batch b + 1 (and at epoch end): training stops one batch
    later than Keras would, and the message names the batch that produced the bad loss.
    """

    accepts_lazy_logs = True
    _defer_on = ("cuda", "xpu", "mps")  # device types whose reads would stall the queue

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error
        self._pending = None  # (batch, host flag, event) of a deferred check

    def on_batch_end(self, batch, logs=None):
        if not callable(logs) or getattr(self.model, "trainer", None) is None:
            loss = (logs() if callable(logs) else logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self._invalid(batch, loss)
            return
        value = self.model.trainer.loss_tracker.result().detach()
        if value.device.type not in self._defer_on:
            if not bool(torch.isfinite(value)):
                self._invalid(batch, float(value))
            return
        self._check_pending()
        bad = ~torch.isfinite(value)
        host = torch.empty((), dtype=torch.bool, pin_memory=value.device.type == "cuda")
        host.copy_(bad, non_blocking=True)
        event = None
        if value.device.type == "cuda":
            event = torch.cuda.Event()
            event.record()
        self._pending = (batch, host, event, value)

    def _check_pending(self) -> None:
        if self._pending is None:
            return
        batch, host, event, value = self._pending
        self._pending = None
        if event is not None:
            event.synchronize()  # the previous step: normally finished already
        if bool(host):
            self._invalid(batch, float(value))

    def on_epoch_end(self, epoch, logs=None):
        self._check_pending()

    def on_train_end(self, logs=None):
        self._check_pending()

    def _invalid(self, batch: int, loss) -> None:
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        console.print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
