"""One step of training, testing and prediction.

`train_step` does forward, loss, backward, optimizer update, constraints and metric updates
in one function, with no host-device synchronisation: losses and metric states stay on the
device. Metrics see the predictions made before the update (as Keras).
"""

from __future__ import annotations

import numpy as np
import torch

from fitorch import distributed, mixed_precision
from fitorch.layers.base import collect_losses
from fitorch.layers.input import executing, unbinding
from fitorch.optimizers.base import Optimizer
from fitorch.optimizers.loss_scale import LossScaleOptimizer
from fitorch.training import jit

__all__ = [
    "train_step",
    "test_step",
    "predict_step",
    "flat_outputs",
    "batch_size_of",
    "total_loss",
    "record",
    "train_block",
    "rows_of",
    "stack_rows",
    "whole_step_applies",
]


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
    """Rows of the batch `x` (a tensor's size stays symbolic inside a compiled step)."""
    if isinstance(x, torch.Tensor):
        return x.shape[0]
    if isinstance(x, np.ndarray):  # NumPy: a string column (TextVectorization)
        return int(x.shape[0])
    if isinstance(x, dict):
        return batch_size_of(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return batch_size_of(x[0])
    raise TypeError(f"Cannot find the batch size of an input of type {type(x).__name__}.")


def forward_loss(model, state, x, y, sw, training: bool, net=None):
    """Forward pass and total loss: compiled losses (weighted) + add_loss + regularizers.

    `net` is what runs the forward (the model's DDP wrapper in data-parallel training; default
    the model). Under a mixed-precision policy the forward runs under autocast and its outputs
    (and `add_loss` terms) are cast to float32 before any loss or metric sees them.
    """
    net = model if net is None else net
    with unbinding():  # the symbolic tensors' values serve the losses, then are released
        with collect_losses(detach_recorded=True) as extra, mixed_precision.autocast(model, x):
            y_pred = net(x, training=training)
        y_list = [mixed_precision.to_float32(o) for o in flat_outputs(y_pred)]
        extra = [mixed_precision.to_float32(term) for term in extra]
        total, parts = total_loss(model, state, x, y, y_list, sw, extra, training)
    return y_list, total, parts


def total_loss(model, state, x, y, y_list, sw, extra, training: bool):
    """Compiled losses (weighted) + `add_loss` terms `extra` + regularizers (when training).

    Returns `(total, per_output_parts)`; builds the losses and metrics on the first call.
    """
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
    return total, parts


def record(state, y, y_list, sw, total, parts, n) -> None:
    """Update the loss trackers and the compiled metrics with one batch's results."""
    state.loss_tracker.update(total, n)
    for (_, tracker), part in zip(state.output_trackers, parts):
        tracker.update(part, n)
    if y is not None and state.metrics.entries:
        state.metrics.update(y, [_detach_keep_mask(p) for p in y_list], sw)


def _detach_keep_mask(p: torch.Tensor) -> torch.Tensor:
    """`p.detach()` keeping the Keras mask attached to `p` (metrics skip masked steps)."""
    out = p.detach()
    mask = getattr(p, "_keras_mask", None)
    if mask is not None:
        out._keras_mask = mask
    return out


def _forward(kind, model, state, x, y, sw, training, net=None):
    # The first batch builds layers, losses and metrics: always eager (see training/jit.py).
    if not state.built:
        return forward_loss(model, state, x, y, sw, training, net)
    return jit.run(model, kind, forward_loss, model, state, x, y, sw, training, net)


def whole_step_applies(model, state, batch) -> bool:
    """Whether `jit_compile=True` compiles this training step whole (`_train_body`): the
    state is built, the optimizer is a fitorch one whose update is written on tensors (not a
    `torch.optim` optimizer nor `LossScaleOptimizer`) and the run is not data-parallel."""
    return (
        state.built
        and jit.enabled(model)
        and isinstance(state.optimizer, Optimizer)
        and not isinstance(state.optimizer, LossScaleOptimizer)
        and getattr(batch, "global_size", None) is None
    )


def _train_body(model, state, x, y, sw, plan) -> None:
    """Forward, losses, gradients (`torch.autograd.grad`, so no `.grad` is written), the
    optimizer update of `plan`, constraints and metric updates: the step on tensors only,
    traced whole by `jit_compile=True`. Equals the eager `train_step` for fitorch optimizers."""
    optimizer = state.optimizer
    y_list, total, parts = forward_loss(model, state, x, y, sw, True)
    params = [p for group in plan.parameters for p in group]
    grads = torch.autograd.grad(optimizer.scale_loss(total), params, allow_unused=True)
    optimizer.update(grads, plan)
    with torch.no_grad():
        for param, constraint in state.constrained:
            param.copy_(constraint(param))
        record(state, y, y_list, sw, total.detach(), [p.detach() for p in parts], batch_size_of(x))


def train_step(model, state, batch) -> None:
    """One training step on the data layer's `(x, y_list, sw_list)` batch (or a `Shard` of
    it): the whole step compiled when `whole_step_applies`, else eager (the forward and
    losses compiled alone under `jit_compile=True` with a `torch.optim` optimizer)."""
    x, y, sw = batch
    optimizer = state.optimizer
    jit_on = jit.enabled(model)
    if jit_on and whole_step_applies(model, state, batch):
        plan = optimizer.plan_update(tensor_learning_rates=True)  # host side, outside the graph
        jit.run(model, "train", _train_body, model, state, x, y, sw, plan)
        return
    n = batch_size_of(x)
    # Data-parallel (fitorch.distributed): `batch` is this rank's Shard of a global batch.
    global_rows = getattr(batch, "global_size", None)
    net = distributed.ddp_model(model, x) if global_rows is not None else None
    if net is not None and n == 0:
        # This rank's slice of a short last global batch is empty: it still joins DDP's
        # gradient all-reduce (zero gradients) and steps, so the replicas stay identical.
        out = net(x, training=True)
        loss = total = sum(o.float().sum() for o in flat_outputs(out)) * 0.0
        y_list = None
    else:
        if jit_on:
            y_list, total, parts = _forward("train_forward", model, state, x, y, sw, True, net)
        else:  # the default: no compiled function to look up
            y_list, total, parts = forward_loss(model, state, x, y, sw, True, net)
        loss = total
        if net is not None and n * distributed.world_size() != global_rows:
            # DDP averages gradients over ranks; n * W / m makes that mean the gradient of
            # the global batch's mean loss when shards differ in size (the short last batch).
            loss = total * distributed.loss_factor(n, global_rows)
    optimizer.zero_grad(set_to_none=True)
    scale = getattr(optimizer, "scale_loss", None)
    (scale(loss) if scale is not None else loss).backward()
    step = getattr(optimizer, "step_in_fit", None)  # fitorch's: torch's wrapper where it works
    (step if step is not None else optimizer.step)()
    with torch.no_grad():
        for param, constraint in state.constrained:
            param.copy_(constraint(param))
        if y_list is not None:  # (the loss trackers detach the values they add)
            record(state, y, y_list, sw, total, parts, n)


def _train_block_body(model, state, block, plans, batch_rows: int) -> None:
    """`_train_body` on each `batch_rows` rows of `block` in turn, one plan each: one
    compiled call runs a whole execution of `steps_per_execution` steps."""
    for i, plan in enumerate(plans):
        x, y, sw = rows_of(block, i * batch_rows, (i + 1) * batch_rows)
        _train_body(model, state, x, y, sw, plan)


def rows_of(data, start: int, stop: int):
    """Rows `start:stop` of every array in `data` (nested lists, tuples and dicts; None
    kept)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: rows_of(v, start, stop) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        parts = [rows_of(v, start, stop) for v in data]
        return parts if isinstance(data, list) else tuple(parts)
    return data[start:stop]


def stack_rows(batches: list):
    """The batches `(x, y, sw)` (same structure) as one of their rows concatenated."""
    first = batches[0]
    if first is None:
        return None
    if isinstance(first, dict):
        return {k: stack_rows([b[k] for b in batches]) for k in first}
    if isinstance(first, (list, tuple)):
        parts = [stack_rows([b[i] for b in batches]) for i in range(len(first))]
        return parts if isinstance(first, list) else tuple(parts)
    return torch.cat(batches) if isinstance(first, torch.Tensor) else np.concatenate(batches)


def train_block(model, state, block, batch_rows: int, count: int) -> None:
    """Train on the `count` batches of `batch_rows` rows that make `block` (one execution of
    `steps_per_execution`, rows in order), as one compiled call when `whole_step_applies`
    (the caller checks), with the same numbers as one `train_step` per batch."""
    optimizer = state.optimizer
    plans = [optimizer.plan_update(tensor_learning_rates=True) for _ in range(count)]
    kind = f"train_block_{count}"
    jit.run(model, kind, _train_block_body, model, state, block, plans, batch_rows, block=True)


def _test_body(model, state, x, y, sw) -> None:
    """Forward, losses and metric updates of one test batch (compiled whole under jit)."""
    y_list, total, parts = forward_loss(model, state, x, y, sw, False)
    record(state, y, y_list, sw, total, parts, batch_size_of(x))


def test_step(model, state, batch) -> None:
    x, y, sw = batch
    n = batch_size_of(x)
    if n == 0 and getattr(batch, "global_size", None) is not None:
        # This rank's slice of a short last batch is empty: nothing to count. An FSDP model
        # still runs the forward, whose parameter all-gathers every rank must join.
        if distributed.is_sharded(model):
            predict_step(model, x)
        return
    if not state.built:  # the first batch builds the losses and metrics: eager
        _test_body(model, state, x, y, sw)
        return
    jit.run(model, "test", _test_body, model, state, x, y, sw)


def _predict(model, x):
    with mixed_precision.autocast(model, x):
        out = model(x, training=False)
    return mixed_precision.to_float32(out)


def predict_step(model, x):
    """Model outputs for `x` (float32 under a mixed policy); compiled with jit_compile once
    the model is built, after one eager call: the layers' first call creates Python state
    (layers/base.py: the thread-local training scope, the cache of call signatures);
    traced in a compiled call instead, the graph's replay creates it, its guards saw it
    missing, and the next call would compile a second graph. A lazily built model's first
    call builds it eagerly."""
    if not getattr(model, "built", True):
        return _predict(model, x)
    return jit.run(model, "predict", _predict, model, x, first_call_eager=True)
