"""`SwapEMAWeights`: evaluate (and optionally checkpoint) with the EMA of the weights."""

from __future__ import annotations

import torch

from fitorch.callbacks.base import Callback

__all__ = ["SwapEMAWeights"]


def _ema_pairs(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, its EMA slot) pairs of the model's optimizer; ValueError without EMA."""
    optimizer = model.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", None) or optimizer  # LossScaleOptimizer
    if not getattr(optimizer, "use_ema", False):
        raise ValueError(
            "SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
            f"Received: use_ema={getattr(optimizer, 'use_ema', False)} "
            f"({type(optimizer).__name__})."
        )
    return [
        (p, optimizer.state[p]["ema"])
        for g in optimizer.param_groups
        for p in g["params"]
        if "ema" in optimizer.state.get(p, {})
    ]


class SwapEMAWeights(Callback):
    """Swap the optimizer's moving average (`use_ema=True`) into the model around evaluation
    and prediction, so validation metrics and `predict` inside callbacks use the EMA weights.

    With `swap_on_epoch=True` the EMA weights are also in the model from each epoch end to the
    next epoch begin, so a `ModelCheckpoint` listed after this callback saves them. At the
    last epoch the slots are set to the swapped-in values, so fit's final EMA copy keeps them.
    Before the first update (no EMA yet) nothing is swapped.
    """

    def __init__(self, swap_on_epoch: bool = False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_in_model = False

    @torch.no_grad()
    def _swap(self) -> None:
        pairs = _ema_pairs(self.model)
        if not pairs:
            return
        params, averages = [p for p, _ in pairs], [a for _, a in pairs]
        saved = [p.detach().clone() for p in params]
        torch._foreach_copy_(params, averages)
        torch._foreach_copy_(averages, saved)
        self._ema_in_model = not self._ema_in_model

    def on_train_begin(self, logs=None):
        _ema_pairs(self.model)  # fail early without use_ema
        self._ema_in_model = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_in_model:
            self._swap()

    @torch.no_grad()
    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_in_model:
            self._swap()
            if epoch == self.params.get("epochs", 0) - 1:
                # fit copies the slots into the weights at the end: make them the EMA values.
                for p, average in _ema_pairs(self.model):
                    average.copy_(p)

    def on_test_begin(self, logs=None):
        if not self._ema_in_model:
            self._swap()

    def on_test_end(self, logs=None):
        if self._ema_in_model:
            self._swap()

    on_predict_begin = on_test_begin
    on_predict_end = on_test_end
