"""What `compile` builds: the loss and metric containers for any output structure.

`CompiledState` holds the optimizer, one `CompileLoss` and one `CompileMetrics`. Names and
structure are checked at `compile` (unknown names, a loss list or dict that does not match
the outputs); losses and metrics whose kind depends on the data (`'acc'`, `'crossentropy'`)
are resolved on the first batch, before the first step, where the targets are validated.

Log keys, in order: `loss`, `<output>_loss` per output (several outputs only), then the
metrics in compile order (output by output, prefixed `<output>_` for several outputs);
duplicates get `_1`, `_2`; a weighted metric whose name is taken becomes `weighted_<name>`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch

from fitorch import losses as losses_mod
from fitorch import metrics as metrics_mod
from fitorch import optimizers as optimizers_mod
from fitorch.layers.base import Layer
from fitorch.metrics.reduction import Mean
from fitorch.registry import remember
from fitorch.utils.naming import unique_name

__all__ = ["CompiledState", "CompileLoss", "CompileMetrics", "LossTracker", "align_target"]


class LossTracker(Mean):
    """Batch-size-weighted mean of a scalar loss: `total += loss * n`, `count += n`."""

    direction = "down"

    def update(self, value: torch.Tensor, n: int) -> None:
        value = value.detach()
        if value.dtype != self.total.dtype:
            value = value.to(self.total.dtype)
        self.total.add_(value, alpha=n)
        self.count.add_(n)


def align_target(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """A (N,) target for a (N, 1) output becomes (N, 1) (Keras 2; no (N, N) broadcast)."""
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    return y_true


def _per_output(value, output_names: list[str], what: str, allow_broadcast: bool = True) -> list:
    """Normalize a compile argument to one entry per output (None where absent)."""
    n = len(output_names)
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in output_names]
        if unknown:
            from fitorch.registry import suggest

            close = suggest(str(unknown[0]), output_names)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"compile({what}=...): key {unknown[0]!r} is not an output name.{hint} "
                f"Expected keys among {output_names}."
            )
        return [value.get(k) for k in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"compile({what}=...): got a list of {len(value)} entries for a model with {n} "
                f"output(s) {output_names}."
            )
        return list(value)
    if not allow_broadcast and n > 1 and value is not None:
        raise ValueError(f"compile({what}=...): give one entry per output {output_names}.")
    return [value] * n


def _loss_weight(value, given) -> float:
    """A finite number, else a ValueError naming `loss_weights` and what was given."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(
        "compile(loss_weights=...) must be a finite number, or a list or dict of finite numbers "
        f"(one per output). Received: loss_weights={given!r}"
    )


class CompileLoss:
    """Per-output losses and their weights; `__call__` returns (total, per-output losses)."""

    def __init__(self, loss, loss_weights, output_names: list[str]):
        self.identifiers = _per_output(loss, output_names, "loss")
        for ident in self.identifiers:
            if ident is not None:
                losses_mod.get(ident)  # unknown names fail here, at compile
                if not isinstance(ident, str):
                    remember(ident)
        if loss_weights is None:
            self.weights = [1.0] * len(output_names)
        elif isinstance(loss_weights, (int, float)) and not isinstance(loss_weights, bool):
            self.weights = [_loss_weight(loss_weights, loss_weights)] * len(output_names)
        else:
            if isinstance(loss_weights, str):
                _loss_weight(loss_weights, loss_weights)  # raises, naming the argument
            weights = _per_output(loss_weights, output_names, "loss_weights")
            self.weights = [1.0 if w is None else _loss_weight(w, loss_weights) for w in weights]
        self.output_names = output_names
        self.losses: list = [None] * len(output_names)
        self.built = False
        # The outputs that have a loss (fixed at compile; read every step).
        self._active = [i for i, ident in enumerate(self.identifiers) if ident is not None]

    @property
    def active(self) -> list[int]:
        return self._active

    def build(self, y_true: list, y_pred: list) -> None:
        for i in self.active:
            if y_true is None or y_true[i] is None:
                raise ValueError(
                    f"A loss is compiled for output {self.output_names[i]!r} but no target y "
                    "was given for it."
                )
            yt = align_target(y_true[i], y_pred[i])
            loss = losses_mod.resolve(self.identifiers[i], yt, y_pred[i])
            losses_mod.validate_targets(loss, yt, y_pred[i])
            self.losses[i] = loss
        self.built = True

    def __call__(self, y_true: list, y_pred: list, sample_weight: list | None):
        total, parts = None, []
        for i in self.active:
            yt = align_target(y_true[i], y_pred[i])
            sw = None if sample_weight is None else sample_weight[i]
            value = self.losses[i](yt, y_pred[i], sample_weight=sw)
            parts.append(value)
            weighted = value if self.weights[i] == 1.0 else value * self.weights[i]
            total = weighted if total is None else total + weighted
        return total, parts


class CompileMetrics:
    """Per-output metric objects (plain and weighted) with their log keys."""

    def __init__(self, metrics, weighted_metrics, output_names: list[str]):
        if isinstance(metrics, str) or isinstance(weighted_metrics, str):
            raise TypeError(
                "compile(metrics=...) must be a list or dict of metrics; got the string "
                f"{metrics if isinstance(metrics, str) else weighted_metrics!r} "
                "(write metrics=['...'])."
            )
        self.output_names = output_names
        self.plain = _metric_groups(metrics, output_names, "metrics")
        self.weighted = _metric_groups(weighted_metrics, output_names, "weighted_metrics")
        for ident in [i for group in self.plain + self.weighted for i in group]:
            metrics_mod.get(ident)  # unknown names fail here, at compile
            if not isinstance(ident, str):
                remember(ident)
        self.entries: list[tuple[str, int, object, bool]] = []  # key, output, metric, weighted
        self.aliases: dict[str, str] = {}
        self.built = False

    def build(self, y_true: list, y_pred: list, losses: list, taken: set[str]) -> None:
        multi = len(self.output_names) > 1
        for i, out in enumerate(self.output_names):
            for weighted, group in ((False, self.plain[i]), (True, self.weighted[i])):
                for ident in group:
                    if y_true is None or y_true[i] is None:
                        raise ValueError(
                            f"Metrics are compiled for output {out!r} but no target was given."
                        )
                    yt = align_target(y_true[i], y_pred[i])
                    metric = metrics_mod.resolve(ident, yt, y_pred[i], loss=losses[i])
                    metrics_mod.validate(metric, yt, y_pred[i])
                    metric.to(y_pred[i].device)
                    metric.build_states(yt, y_pred[i])  # before any (traced) update
                    base = f"{out}_{metric.name}" if multi else metric.name
                    if weighted and base in taken:
                        base = f"weighted_{base}" if not multi else f"{out}_weighted_{metric.name}"
                    key = unique_name(base, taken)
                    self.entries.append((key, i, metric, weighted))
                    for alias in metrics_mod.history_aliases(ident):
                        alias_key = f"{out}_{alias}" if multi else alias
                        self.aliases.setdefault(alias_key, key)
        self.built = True

    def update(self, y_true: list, y_pred: list, sample_weight: list | None) -> None:
        for _, i, metric, weighted in self.entries:
            sw = sample_weight[i] if (weighted and sample_weight is not None) else None
            metric.update_state(align_target(y_true[i], y_pred[i]), y_pred[i], sample_weight=sw)


def _metric_groups(value, output_names: list[str], what: str) -> list[list]:
    """Per-output metric lists. A flat list applies to every output (Keras 2); a list of
    lists (or None) or a dict by output name is per output."""
    n = len(output_names)
    if isinstance(value, (list, tuple)) and n > 1:
        if not any(isinstance(v, (list, tuple)) or v is None for v in value):
            return [list(value) for _ in range(n)]
    if isinstance(value, (list, tuple)) and n == 1:
        return [list(value)]
    return [_as_list(v) for v in _per_output(value, output_names, what)]


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class CompiledState:
    """The model's training state (`model.trainer`): what `compile` configured, built on the
    model's first batch, and the position of the run in progress.

    Configured by `compile`: `optimizer`, `loss` (`CompileLoss`), `metrics`
    (`CompileMetrics`), `loss_tracker`, `output_trackers`, `config`, and the execution
    options `run_eagerly`, `steps_per_execution`, `jit_compile`.

    Set by `fit` while it runs (callbacks may read them; the two marked *may be set*):
    - `callbacks`: the run's `CallbackList` (None outside fit);
    - `epoch`, `step`: the epoch and the batch index within it being trained;
    - `initial_epoch` (*may be set* in `on_train_begin`): the epoch fit starts at
      (`BackupAndRestore` sets it to resume);
    - `skip_batches` (*may be set* in `on_epoch_begin`): how many batches of this epoch are
      drawn from the data but not trained (reset to 0 before each epoch).
    """

    def __init__(
        self, model, optimizer, loss, metrics, loss_weights, weighted_metrics, output_names, config
    ):
        self.optimizer_identifier = optimizer
        self.optimizer = optimizers_mod.get(optimizer)
        self.output_names = list(output_names)
        self.loss = CompileLoss(loss, loss_weights, self.output_names)
        self.metrics = CompileMetrics(metrics, weighted_metrics, self.output_names)
        self.config = config
        self.run_eagerly = bool(config.get("run_eagerly", False))
        self.steps_per_execution = config.get("steps_per_execution", 1)
        self.jit_compile = config.get("jit_compile", "auto")
        self.callbacks = None
        self.epoch = 0
        self.step = 0
        self.initial_epoch = 0
        self.skip_batches = 0
        self.loss_tracker = LossTracker(name="loss")
        self.output_trackers: list[tuple[str, LossTracker]] = []
        self.built = False
        self.regularized: list = []
        self.constrained: list = []
        if any(True for _ in model.parameters()):
            self.bind_optimizer(model)

    def bind_optimizer(self, model) -> None:
        params = [p for p in model.parameters() if p.requires_grad]
        if not params and not isinstance(self.optimizer, torch.optim.Optimizer):
            return
        self.optimizer = optimizers_mod.bind(self.optimizer, params)

    def build(self, model, y_true: list | None, y_pred: list) -> None:
        """Resolve losses and metrics from the first batch; bind the optimizer."""
        self.loss.build(y_true, y_pred)
        device = y_pred[0].device
        taken = {"loss"}
        self.loss_tracker.to(device)
        if len(self.loss.active) > 1:
            for i in self.loss.active:
                key = unique_name(f"{self.output_names[i]}_loss", taken)
                self.output_trackers.append((key, LossTracker(name=key).to(device)))
        self.metrics.build(y_true, y_pred, self.loss.losses, taken)
        if not getattr(self.optimizer, "param_groups", None):
            self.bind_optimizer(model)
        self.regularized = model.regularized_weights() if isinstance(model, Layer) else []
        self.constrained = model.constrained_weights() if isinstance(model, Layer) else []
        self.built = True

    def log_keys(self) -> list[str]:
        return (
            ["loss"] + [k for k, _ in self.output_trackers] + [e[0] for e in self.metrics.entries]
        )

    def metric_objects(self) -> list:
        return (
            [self.loss_tracker]
            + [t for _, t in self.output_trackers]
            + [e[2] for e in self.metrics.entries]
        )

    def results(self) -> dict[str, torch.Tensor]:
        out = {"loss": self.loss_tracker.result()}
        for key, tracker in self.output_trackers:
            out[key] = tracker.result()
        for key, _, metric, _ in self.metrics.entries:
            out[key] = _metric_result(metric)
        return out

    def reset(self) -> None:
        for m in self.metric_objects():
            m.reset_state()

    def history_aliases(self) -> dict[str, str]:
        """alias -> real key, including `val_` forms, for `History.history` lookups."""
        aliases = {k: v for k, v in self.metrics.aliases.items() if k not in self.log_keys()}
        return {**aliases, **{f"val_{k}": f"val_{v}" for k, v in aliases.items()}}


def _metric_result(metric) -> torch.Tensor:
    value = metric.result()
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(value)
    return value
