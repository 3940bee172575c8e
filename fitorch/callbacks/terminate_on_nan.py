"""`TerminateOnNaN`: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

import torch

from fitorch.callbacks.base import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """After each training batch, if the running loss is NaN or Inf: print
    `Batch {b}: Invalid loss, terminating training` and set `model.stop_training` (fit ends
    after this batch), or raise RuntimeError when `raise_error=True`.

    Reads one scalar (the loss tracker) per batch, not the whole logs dict.
    """

    accepts_lazy_logs = True

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def _loss(self, logs):
        if not callable(logs):
            return (logs or {}).get("loss")
        state = getattr(self.model, "_compiled", None)
        if state is None:
            return logs().get("loss")
        value = state.loss_tracker.result()
        return value if bool(torch.isfinite(value)) else float(value)

    def on_batch_end(self, batch, logs=None):
        loss = self._loss(logs)
        if loss is None or isinstance(loss, torch.Tensor) or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
