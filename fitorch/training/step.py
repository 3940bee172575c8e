"""One step of training, testing and prediction.

`train_step` does forward, loss, backward, optimizer update, constraints and metric updates
in one function, with no host-device synchronisation: losses and metric states stay on the
device. Metrics see the predictions made before the update (as Keras).
"""

from __future__ import annotations

import torch

from fitorch.layers.base import collect_losses
from fitorch.layers.input import executing

__all__ = ["train_step", "test_step", "predict_step", "flat_outputs", "batch_size_of"]


def flat_outputs(y_pred) -> list[torch.Tensor]:
    """Model outputs as a list in output order (a dict keeps its insertion order)."""
    if isinstance(y_pred, torch.Tensor):
        return [y_pred]
    if isinstance(y_pred, dict):
        return list(y_pred.values())
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    raise TypeError(
        f"A model must return a tensor, or a list/dict of tensors; got {type(y_pred).__name__}."
    )


def batch_size_of(x) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if isinstance(x, dict):
        return batch_size_of(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return batch_size_of(x[0])
    raise TypeError(f"Cannot find the batch size of an input of type {type(x).__name__}.")


def forward_loss(model, state, x, y, sw, training: bool):
    """Forward pass and total loss: compiled losses (weighted) + add_loss + regularizers."""
    with collect_losses() as extra:
        y_pred = model(x, training=training) if _accepts_training(model) else model(x)
    y_list = flat_outputs(y_pred)
    if not state.built:
        with torch.inference_mode(False):  # states built here must outlive evaluate()
            state.build(model, y, y_list)
    total, parts = (None, [])
    if y is not None and state.loss.active:
        with executing():  # a loss may close over the model's symbolic tensors (Keras 2 VAE)
            total, parts = state.loss(y, y_list, sw)
    for term in extra:
        total = term if total is None else total + term
    if training:
        for param, regularizer in state.regularized:
            penalty = regularizer(param)
            total = penalty if total is None else total + penalty
    if total is None:
        raise ValueError(
            "No loss to compute. Provide a `loss` argument in `compile()`, or add losses in the "
            "model with `add_loss()`" + ("" if y is not None else ", or pass targets y") + "."
        )
    return y_list, total, parts


def _accepts_training(model) -> bool:
    return getattr(model, "_call_takes_training", True)


def _record(state, y, y_list, sw, total, parts, n):
    state.loss_tracker.update(total, n)
    for (_, tracker), part in zip(state.output_trackers, parts):
        tracker.update(part, n)
    if y is not None and state.metrics.entries:
        state.metrics.update(y, [p.detach() for p in y_list], sw)


def train_step(model, state, batch) -> None:
    x, y, sw = batch
    optimizer = state.optimizer
    y_list, total, parts = forward_loss(model, state, x, y, sw, training=True)
    optimizer.zero_grad(set_to_none=True)
    scale = getattr(optimizer, "scale_loss", None)
    (scale(total) if scale is not None else total).backward()
    optimizer.step()
    with torch.no_grad():
        for param, constraint in state.constrained:
            param.copy_(constraint(param))
        _record(state, y, y_list, sw, total.detach(), [p.detach() for p in parts], batch_size_of(x))


def test_step(model, state, batch) -> None:
    x, y, sw = batch
    y_list, total, parts = forward_loss(model, state, x, y, sw, training=False)
    _record(state, y, y_list, sw, total, parts, batch_size_of(x))


def predict_step(model, x):
    return model(x, training=False) if _accepts_training(model) else model(x)
