"""compile / fit / evaluate / predict and the *_on_batch functions, as plain functions.

The loops follow Keras 3 (see ../shared/reference/keras-semantics.md section 5) with the
fitorch rules of DESIGN.md: metric values are read from the device only when something
displays or records them (one transfer for all of them), batch hooks run only for the
callbacks that implement them, and `evaluate`/`predict` run under `torch.inference_mode()`.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

from fitorch import distributed, mixed_precision
from fitorch.callbacks.callback_list import CallbackList
from fitorch.models.functional import Functional
from fitorch.models.sequential import Sequential
from fitorch.training import batches, jit, replay, validation
from fitorch.training import data as data_mod
from fitorch.training import step as step_mod
from fitorch.training.compile_utils import CompiledState
from fitorch.training.step import flat_outputs, forward_loss
from fitorch.utils import console
from fitorch.utils.keywords import unexpected_keyword

__all__ = [
    "compile",
    "fit",
    "evaluate",
    "predict",
    "train_on_batch",
    "test_on_batch",
    "predict_on_batch",
]

_FIT_KWARGS = {
    "validation_split",
    "validation_data",
    "shuffle",
    "class_weight",
    "sample_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
    "max_queue_size",
    "workers",
    "use_multiprocessing",
    "distribute",
}


_SIGNATURE_NAMES = {
    "x",
    "y",
    "batch_size",
    "epochs",
    "verbose",
    "callbacks",
    "steps",
    "sample_weight",
    "return_dict",
}


class UnrecognizedArgumentError(TypeError, ValueError):
    """An unknown keyword of `evaluate`: Keras raises ValueError there (its `**kwargs` are
    checked in the body), Python a TypeError; this is both."""


def _check_kwargs(fn_name: str, kwargs: dict, allowed, error=TypeError) -> None:
    for key in kwargs:
        if key not in allowed:
            raise error(unexpected_keyword(fn_name, key, set(allowed) | _SIGNATURE_NAMES))


def _device_of(model) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


# -- compile --------------------------------------------------------------------------------
def compile(
    model,
    optimizer="rmsprop",
    loss=None,
    metrics=None,
    loss_weights=None,
    weighted_metrics=None,
    run_eagerly=False,
    steps_per_execution=1,
    jit_compile="auto",
    sample_weight_mode=None,
    target_tensors=None,
    auto_scale_loss=True,
    **kwargs,
):
    """Configure the model for training (Keras `Model.compile`).

    Unknown loss/metric/optimizer names, and loss or metric lists/dicts that do not match the
    outputs, raise here. Keras 2's `sample_weight_mode` is accepted ('temporal' works as
    weights of shape (N, T) do); `target_tensors` is refused.
    """
    _check_kwargs("compile", kwargs, set())
    if target_tensors is not None:
        raise NotImplementedError(
            "compile(target_tensors=...) is a TensorFlow-1 feature fitorch does not support: "
            "pass the targets to fit() as y instead."
        )
    if sample_weight_mode not in (None, "temporal", "samplewise"):
        raise ValueError(
            f"sample_weight_mode must be None or 'temporal'; got {sample_weight_mode!r}."
        )
    _default_device(model)
    if not isinstance(model, (Functional, Sequential)):
        # A subclassed model shows its output count only when called; a list of losses tells.
        if isinstance(loss, (list, tuple)) and len(loss) > 1:
            model.output_names = [f"output_{i + 1}" for i in range(len(loss))]
    config = {
        "optimizer": optimizer,
        "loss": loss,
        "metrics": metrics,
        "loss_weights": loss_weights,
        "weighted_metrics": weighted_metrics,
        "run_eagerly": run_eagerly,
        "steps_per_execution": steps_per_execution,
        "jit_compile": jit_compile,
    }
    run_eagerly, jit_compile = _execution_mode(run_eagerly, jit_compile, steps_per_execution)
    config["jit_compile"] = jit_compile
    model.trainer = CompiledState(
        model,
        optimizer,
        loss,
        metrics,
        loss_weights,
        weighted_metrics,
        _output_names(model),
        config,
    )
    # Mixed precision (fitorch/mixed_precision.py): sub-layers with their own policy run under
    # their own autocast; a float16 policy wraps the optimizer for dynamic loss scaling (Keras).
    mixed_precision.prepare(model)
    model.trainer.optimizer = mixed_precision.wrap_optimizer(
        model.trainer.optimizer, model, auto_scale_loss
    )
    model.stop_training = False


def _execution_mode(run_eagerly, jit_compile, steps_per_execution) -> tuple[bool, object]:
    """Checked `(run_eagerly, jit_compile)`; `run_eagerly=True` turns jit off (Keras)."""
    if run_eagerly not in (True, False, None):
        raise ValueError(f"compile(run_eagerly=...) must be True or False; got {run_eagerly!r}.")
    if jit_compile not in (True, False, "auto", None):
        raise ValueError(
            f"compile(jit_compile=...) must be True, False or 'auto'; got {jit_compile!r}."
        )
    if (
        isinstance(steps_per_execution, bool)
        or not isinstance(steps_per_execution, (int, np.integer))
        or steps_per_execution < 1
    ):
        raise ValueError(
            "compile(steps_per_execution=...) must be a positive integer; got "
            f"{steps_per_execution!r}."
        )
    if run_eagerly and jit_compile is True:
        warnings.warn(
            "compile(run_eagerly=True) runs the steps eagerly: jit_compile=True is ignored.",
            stacklevel=3,
        )
        jit_compile = False
    return bool(run_eagerly), jit_compile


def _default_device(model) -> None:
    """Keras uses the GPU when there is one: a model whose weights are all on the CPU moves
    to CUDA (this rank's GPU under torchrun) at compile. Without CUDA nothing happens; a model
    the user placed on an accelerator stays there (the model's device is the truth)."""
    if not torch.cuda.is_available():
        return
    params = list(model.parameters())
    if params and all(p.device.type == "cpu" for p in params):
        model.to(distributed.device())


def _synced_results(state: CompiledState) -> dict:
    """Metric results over every process (one collective; see fitorch.distributed)."""
    with distributed.sync_metric_states(state.metric_objects()):
        return state.results()


def _setup_distributed(verbose: int) -> int:
    """Join the torchrun process group if there is one; only rank 0 prints progress."""
    distributed.setup()
    return verbose if distributed.is_main_process() else 0


def _output_names(model) -> list[str]:
    return list(model.output_names)


def _require_compiled(model, what: str) -> CompiledState:
    if model.trainer is None:
        raise ValueError(f"You must call compile() before {what}() (as Keras requires).")
    return model.trainer


# -- reading values -----------------------------------------------------------------------
def run_step(model, kind: str, batch):
    """Run `model.train_step` or `model.test_step` (`kind`) on one batch.

    Returns a function giving that step's results as tensors (read only when a callback or
    the epoch end asks): the dict an overridden step returned, else the metrics' results.
    The default steps take the data layer's batch as it is; an override (or a step set on
    the instance) gets Keras's tuple.
    """
    return step_runner(model, kind)(batch)


def step_runner(model, kind: str):
    """`lambda batch: run_step(model, kind, batch)` with the per-run decisions (which step
    runs, where its results come from) taken once, here: the loops build one per epoch (as
    Keras builds its train function once per fit), so a batch pays only for its step."""
    if _is_default_step(model, kind):
        method = getattr(model, kind)
        results = model.trainer.results
        default = getattr(step_mod, kind) if _is_unchanged_method(method, kind) else None
        if default is not None:  # the step itself, without Model's forwarding method
            state = model.trainer

            def run_default(batch):
                default(model, state, batch)
                return results

            return run_default

        def run_instance(batch):  # a step set on the instance: Keras's data, as an override
            method(keras_data(batch))
            return results

        return run_instance
    override = getattr(type(model), kind)

    def run_override(batch):
        returned = jit.run(model, kind, override, model, keras_data(batch), reuse_signatures=False)
        if returned is None:
            return lambda: _tensor_logs(model.get_metrics_result())
        logs = _tensor_logs(returned)
        return lambda: logs

    return run_override


def _is_unchanged_method(method, kind: str) -> bool:
    """Whether the bound `method` is `Model`'s own `kind` (no function set on the instance)."""
    from fitorch.models.model import Model

    return getattr(method, "__func__", None) is getattr(Model, kind)


def _is_default_step(model, kind: str) -> bool:
    from fitorch.models.model import Model

    return getattr(type(model), kind) is getattr(Model, kind)


def keras_data(batch) -> tuple:
    """The data layer's `(x, y_list, sw_list)` as Keras yields it to a step: `(x,)`,
    `(x, y)` or `(x, y, sample_weight)`, a single output's target not in a list."""
    x, y, sw = batch
    one = lambda v: v[0] if isinstance(v, list) and len(v) == 1 else v  # noqa: E731
    if sw is not None:
        return x, one(y), one(sw)
    return (x,) if y is None else (x, one(y))


def _tensor_logs(logs: dict) -> dict:
    """A step's logs as flat `{name: tensor}` (nested dicts flattened, as Keras)."""
    out = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            out.update(_tensor_logs(value))
        else:
            out[key] = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    return out


def _epoch_results(model, state: CompiledState, feed: StepFeed, kind: str) -> dict:
    """An epoch's results: the compiled state's (reduced over processes) for the default
    step. For an overridden one, Keras's `_get_metrics_result_or_logs`: the model's metric
    results when the last step's logs have exactly their keys (a step returning batch values
    under the metrics' names still logs the metrics), else the last step's logs."""
    if _is_default_step(model, kind):
        return _synced_results(state)
    last = feed.last_results()
    metrics = _tensor_logs(model.get_metrics_result())
    return metrics if set(metrics) == set(last) else last


def results_to_logs(results: dict, prefix: str = "") -> dict:
    """Tensor results -> Python floats, one device read. A result that is not a scalar (a
    per-class F1Score) becomes a NumPy array of its shape, float32 unless it is float64 (as
    Keras's logs hold it)."""
    if not results:
        return {}
    values = [v.detach().reshape(-1).to(torch.float64) for v in results.values()]
    device = values[0].device
    flat = torch.cat([v.to(device) for v in values]).tolist()  # the one transfer to the host
    logs, i = {}, 0
    for (key, result), v in zip(results.items(), values):
        n = v.numel()
        chunk = flat[i : i + n]
        i += n
        logs[prefix + key] = chunk[0] if result.ndim == 0 else _array(chunk, result)
    return logs


def _array(values: list, like: torch.Tensor) -> np.ndarray:
    dtype = np.float64 if like.dtype == torch.float64 else np.float32
    return np.asarray(values, dtype=dtype).reshape(tuple(like.shape))


# -- fit ------------------------------------------------------------------------------------
def _validate_fit_args(batch_size, epochs, initial_epoch, validation_split):
    if batch_size is not None and (
        not isinstance(batch_size, (int, np.integer)) or batch_size <= 0
    ):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs!r}.")
    if epochs < initial_epoch:
        raise ValueError(f"epochs ({epochs}) must be >= initial_epoch ({initial_epoch}).")
    if validation_split and not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}.")


def _verbose(verbose) -> int:
    return console.resolve_verbose(verbose)


def _should_validate(epoch: int, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1; got {validation_freq}.")
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in validation_freq


class StepFeed:
    """Takes a fixed number of batches per epoch from a source, continuing across epochs
    (Keras semantics with `steps_per_epoch`); without steps, one full pass per epoch.

    With steps, a source of known length (arrays, Sequences, DataLoaders) is read as Keras's
    `EpochIterator` reads it: an epoch that reaches the end of a pass stops there (with a
    warning when that is before `steps` batches) and the next epoch starts a new pass, so an
    epoch never spans two passes. A one-shot source (a generator) continues across epochs
    until it runs dry. `restart()` makes the next epoch begin a new pass (Keras resets the
    validation iterator before every evaluation).
    """

    def __init__(self, source: batches.DataSource, steps: int | None):
        self.source = source
        self.steps = steps
        self._it = None
        self._seen = 0  # batches drawn from the pass in progress
        self.exhausted = False
        self.last_results = None  # the last step's results function (see run_step)

    @property
    def num_steps(self) -> int | None:
        return self.steps if self.steps is not None else self.source.num_batches

    def _pass_length(self) -> int | None:
        if getattr(self.source, "one_shot", False):
            return None
        return self.source.num_batches

    def restart(self) -> None:
        """Begin a new pass of the source at the next epoch."""
        self._it, self._seen = None, 0

    def epoch(self):
        if self.steps is None:
            yield from self.source.epoch_batches()
            self.source.on_epoch_end()
            return
        length = self._pass_length()
        taken = 0
        while taken < self.steps:
            if length and self._seen >= length:  # the pass ended inside this epoch
                _ran_out_warning(taken, self.steps)
                break
            if self._it is None:
                self._it, self._seen = iter(self.source.epoch_batches()), 0
            try:
                batch = next(self._it)
            except StopIteration:
                self._it = None
                self.source.on_epoch_end()
                if taken == 0 or getattr(self.source, "one_shot", False):
                    self.exhausted = True
                    _ran_out_warning(taken, self.steps)
                    return
                continue
            taken += 1
            self._seen += 1
            yield batch
        if length and self._seen >= length:
            self.restart()
            self.source.on_epoch_end()


def _ran_out_warning(taken: int, steps: int) -> None:
    warnings.warn(
        f"Your input ran out of data after {taken} of {steps} steps; interrupting training. "
        "Make sure the source can generate at least steps_per_epoch * epochs batches.",
        stacklevel=5,
    )


def fit(
    model,
    x=None,
    y=None,
    batch_size=None,
    epochs=1,
    verbose="auto",
    callbacks=None,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    class_weight=None,
    sample_weight=None,
    initial_epoch=0,
    steps_per_epoch=None,
    validation_steps=None,
    validation_batch_size=None,
    validation_freq=1,
    **kwargs,
):
    """Train the model (Keras `Model.fit`); returns the `History` callback."""
    if "nb_epoch" in kwargs:
        epochs = kwargs.pop("nb_epoch")
    options = _pop_iterable_options(kwargs)
    _check_kwargs("fit", kwargs, _FIT_KWARGS)
    distribute = kwargs.pop("distribute", None)
    state = _require_compiled(model, "fit")
    _validate_fit_args(batch_size, epochs, initial_epoch, validation_split)
    validation.check_fit_arguments(steps_per_epoch, validation_steps, validation_freq, class_weight)
    verbose = _setup_distributed(_verbose(verbose))
    distributed.check_global_batch(batch_size)
    if distribute not in (None, "ddp", "fsdp"):
        raise ValueError(f"fit(distribute=...) must be None, 'ddp' or 'fsdp'; got {distribute!r}.")
    if distribute == "fsdp":  # shard the parameters with torch's FSDP2 (fitorch.distributed)
        distributed.shard_model(model, state)
    if validation_split and validation_data is None:
        (x, y, sample_weight), validation_data = data_mod.split_validation(
            x, y, sample_weight, validation_split
        )
    source = _source(model, x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                     class_weight, options)  # fmt: skip
    validation.check_arrays(model, state, source, "fit", class_weight)
    feed = StepFeed(source, steps_per_epoch)
    val_feed = None
    if validation_data is not None:
        val_source = _validation_source(
            model, validation_data, validation_batch_size or batch_size, validation_steps, options
        )
        validation.check_arrays(model, state, val_source, "fit(validation_data)", reference=source)
        val_feed = StepFeed(*replay.first_batches(val_source, validation_steps))
    cbs = _callback_list(
        callbacks, model, verbose, epochs, feed.num_steps, add_history=True,
        batch_size=source.batch_size, samples=source.num_samples,
        do_validation=val_feed is not None, metrics=[],
    )  # fmt: skip
    _begin_jit(model, "train", "test")
    was_training = model.training  # after fit, calls are inference again (Keras)
    # An overridden train_step calls the model, not DDP's wrapper: average its gradients.
    overridden = not _is_default_step(model, "train_step")
    sync = distributed.averaged_gradients(model) if overridden else contextlib.nullcontext()
    try:
        with sync:
            _fit_loop(model, state, feed, val_feed, cbs, initial_epoch, epochs, validation_freq)
    finally:  # stop Sequence workers and prefetch threads, also on errors and Ctrl-C
        model.train(was_training)
        source.close()
        if val_feed is not None:
            val_feed.source.close()
    return cbs.history if cbs.history is not None else model.history


def _fit_loop(model, state, feed, val_feed, cbs, initial_epoch, epochs, validation_freq):
    """The epochs of `fit`: train, validate, epoch-end hooks; then finalize (EMA).

    The run's position lives on `state` (`model.trainer`, see `CompiledState`): a callback
    may move `state.initial_epoch` in `on_train_begin` and set `state.skip_batches` in
    `on_epoch_begin` (BackupAndRestore does both to resume).
    """
    model.stop_training = False
    state.callbacks, state.initial_epoch = cbs, initial_epoch
    logs: dict = {}
    try:
        cbs.on_train_begin()
        epoch = state.initial_epoch
        while epoch < epochs:  # stop_training is read after a batch and an epoch (Keras)
            state.epoch = epoch
            trained = _train_epoch(model, state, feed, cbs, epoch)
            if not trained:
                break
            logs = results_to_logs(_epoch_results(model, state, feed, "train_step"))
            if val_feed is not None and _should_validate(epoch, validation_freq):
                val_logs = _run_evaluation(model, state, val_feed, cbs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if feed.exhausted or model.stop_training:
                break
            epoch += 1
        finalize = getattr(state.optimizer, "finalize_variable_values", None)
        if callable(finalize):
            finalize()
        cbs.on_train_end(logs)
    finally:
        state.callbacks = None


def _train_epoch(model, state, feed, cbs, epoch: int) -> bool:
    """One epoch of training steps; False when the data ran out before its first step.

    Batches run in executions of `steps_per_execution` steps: the batch hooks see each
    execution once, `on_train_batch_begin(first)` and `on_train_batch_end(first + N - 1)`
    (Keras's indices, also for a short last execution).
    """
    # Data-parallel: every rank starts the epoch with rank 0's random state, so
    # DataLoader/Sequence shuffles agree even if the ranks drew differently before.
    distributed.sync_rng_from_main()
    model.reset_metrics()
    model.train()
    state.skip_batches = 0
    cbs.on_epoch_begin(epoch)
    if _trains_in_blocks(model, state, feed):
        _train_epoch_in_blocks(model, state, feed, cbs, epoch)
        return True
    per_execution = state.steps_per_execution
    train = step_runner(model, "train_step")
    step, execution = -1, None  # execution: the first batch of the one in progress
    block = None  # the execution's batches, when they run as one compiled call
    for step, batch in enumerate(feed.epoch()):
        if step < state.skip_batches:
            continue  # drawn (the data stream advances as before) but not trained
        if not state.built and cbs.needs_built_state:
            build_state(model, state, batch)
        state.step = step
        if execution is None:
            execution = step
            cbs.on_train_batch_begin(step)
            block = [] if _runs_as_block(model, state, batch) else None
        if block is None:
            feed.last_results = train(batch)
        else:
            block.append(batch)
            if len(block) == per_execution:
                feed.last_results = _train_collected_block(model, state, block)
        if epoch == state.initial_epoch and step == state.skip_batches:
            _publish_log_keys(model, state, cbs, feed)
        if step - execution == per_execution - 1:
            _end_execution(cbs, feed, execution + per_execution - 1)
            execution = None
            if model.stop_training:
                break
    if execution is not None:  # a short last execution
        for batch in block or []:  # fewer batches than a block: one step each
            feed.last_results = run_step(model, "train_step", batch)
        _end_execution(cbs, feed, execution + per_execution - 1)
    if step < 0 and not feed.exhausted:
        raise ValueError("fit: the training data produced no batches (is it empty?).")
    return step >= 0 or not feed.exhausted


def _train_collected_block(model, state: CompiledState, block: list):
    """One execution's batches as one compiled call when they have the same number of rows
    (their rows concatenated, see `step.train_block`), else one step each; returns the last
    step's results function."""
    rows = {step_mod.batch_size_of(batch[0]) for batch in block}
    if len(rows) > 1:
        for batch in block:
            results = run_step(model, "train_step", batch)
        return results
    step_mod.train_block(model, state, step_mod.stack_rows(block), rows.pop(), len(block))
    return state.results


def _trains_in_blocks(model, state: CompiledState, feed: StepFeed) -> bool:
    """Whether this epoch's executions come from the source as blocks (`epoch_blocks`: one
    slice of the arrays per execution): compiled executions (see `_runs_as_block`) over
    in-memory arrays, one full pass per epoch, nothing to skip, one process."""
    return (
        state.steps_per_execution > 1
        and feed.steps is None
        and state.skip_batches == 0
        and hasattr(feed.source, "epoch_blocks")
        and distributed.world_size() == 1
        and state.built
        and _is_default_step(model, "train_step")
        and step_mod.whole_step_applies(model, state, None)
    )


def _train_epoch_in_blocks(model, state: CompiledState, feed: StepFeed, cbs, epoch: int):
    """`_train_epoch`'s loop when the source gives blocks: each full block of
    `steps_per_execution` batches is one compiled call; a short last block runs its batches
    one step each. The hooks and their indices are those of the batch loop."""
    per_execution, batch_rows = state.steps_per_execution, feed.source.batch_size
    first = 0
    for block in feed.source.epoch_blocks(per_execution):
        rows = step_mod.batch_size_of(block[0])
        count = -(-rows // batch_rows)
        cbs.on_train_batch_begin(first)
        state.step = first + count - 1
        if count == per_execution and rows == count * batch_rows:
            step_mod.train_block(model, state, block, batch_rows, count)
            feed.last_results = state.results
        else:
            for i in range(count):
                batch = step_mod.rows_of(block, i * batch_rows, (i + 1) * batch_rows)
                feed.last_results = run_step(model, "train_step", batch)
        if epoch == state.initial_epoch and first == 0:
            _publish_log_keys(model, state, cbs, feed)
        _end_execution(cbs, feed, first + per_execution - 1)
        first += count
        if model.stop_training:
            break
    feed.source.on_epoch_end()


def _runs_as_block(model, state: CompiledState, batch) -> bool:
    """Whether the execution starting with `batch` runs as one compiled call of
    `steps_per_execution` steps (jit_compile=True, default train_step, built state)."""
    return (
        state.steps_per_execution > 1
        and _is_default_step(model, "train_step")
        and step_mod.whole_step_applies(model, state, batch)
    )


def _publish_log_keys(model, state: CompiledState, cbs: CallbackList, feed: StepFeed) -> None:
    """After the run's first step, when the log keys are known: `params['metrics']` (the
    training keys, then `val_` ones with validation data: Keras 2) and History's aliases."""
    if _is_default_step(model, "train_step"):
        keys = state.log_keys()
    else:
        keys = list(feed.last_results())
    listed = cbs.params.get("metrics")
    if isinstance(listed, list) and not listed:
        validation = [f"val_{k}" for k in keys] if cbs.params.get("do_validation") else []
        listed.extend(keys + validation)
    if cbs.history is not None:
        cbs.history.history.aliases.update(_aliases(state))


def _begin_jit(model, *kinds: str) -> None:
    """Start a run under jit_compile (guards are evaluated again, see training/jit.py); the
    first call of each overridden `<kind>_step` is eager; the default steps compile in
    training/step.py."""
    jit.begin_run(model)
    for kind in kinds:
        step = f"{kind}_step"
        if not _is_default_step(model, step):
            jit.begin(model, step, getattr(type(model), step), eager_calls=1)


def _end_execution(cbs: CallbackList, feed: StepFeed, last_index: int) -> None:
    cbs.on_train_batch_end(last_index, lambda r=feed.last_results: results_to_logs(r()))


@torch.no_grad()
def build_state(model, state: CompiledState, batch) -> None:
    """Build lazily created weights, the loss and metric containers and the optimizer's
    binding with one inference pass on `batch` (what Keras's symbolic build does before the
    first step), so callbacks that save or restore training state see all of it."""
    x, y, sw = batch
    was_training = model.training
    model.eval()
    forward_loss(model, state, x, y, sw, training=False)
    model.train(was_training)


def _aliases(state: CompiledState) -> dict:
    return {**state.history_aliases(), "lr": "learning_rate", "val_lr": "val_learning_rate"}


def _pop_iterable_options(kwargs: dict) -> dict:
    """The Keras 2 loader options (`workers`, ...) taken out of `kwargs`."""
    names = ("max_queue_size", "workers", "use_multiprocessing")
    return {k: kwargs.pop(k) for k in names if k in kwargs}


def _source(model, x, y, sample_weight, batch_size, steps, shuffle=False, class_weight=None,
            options=None):  # fmt: skip
    """`data.adapt` for this model: its device, output and input names."""
    return data_mod.adapt(
        x, y, sample_weight, batch_size, steps, shuffle, class_weight, _device_of(model),
        _output_names(model), input_names=batches.model_input_names(model), **(options or {}),
    )  # fmt: skip


def _callback_list(callbacks, model, verbose, epochs, steps, add_history=False, **params):
    """The given CallbackList, or one around the user's callbacks (+ History, progress)."""
    if isinstance(callbacks, CallbackList):
        return callbacks
    return CallbackList(
        callbacks, add_history=add_history, add_progbar=verbose != 0, model=model,
        verbose=verbose, epochs=epochs, steps=steps, **params,
    )  # fmt: skip


def _validation_source(model, validation_data, batch_size, steps, options=None):
    if isinstance(validation_data, (tuple, list)) and all(
        v is None or batches.is_array_like(v) for v in validation_data
    ):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be (x_val, y_val) or (x_val, y_val, val_sample_weight); "
                f"got a {type(validation_data).__name__} of {len(validation_data)} items."
            )
        vx, vy, vsw = (tuple(validation_data) + (None,))[:3]
        return _source(model, vx, vy, vsw, batch_size, steps)  # None: ceil(n / steps) or 32
    return _source(model, validation_data, None, None, batch_size, steps, options=options)


def _run_evaluation(model, state, feed: StepFeed, cbs: CallbackList) -> dict:
    feed.restart()  # every evaluation starts at the first batch (Keras resets its iterator)
    model.reset_metrics()
    model.eval()
    model.stop_evaluating = False
    cbs.on_test_begin()
    step = -1
    test = step_runner(model, "test_step")
    with torch.inference_mode():
        for step, batch in enumerate(feed.epoch()):
            cbs.on_test_batch_begin(step)
            feed.last_results = test(batch)
            cbs.on_test_batch_end(step, lambda r=feed.last_results: results_to_logs(r()))
            if model.stop_evaluating:  # a callback ends the evaluation after this batch
                break
    if step < 0:
        raise ValueError("evaluate: the data produced no batches (is it empty?).")
    logs = results_to_logs(_epoch_results(model, state, feed, "test_step"))
    cbs.on_test_end(logs)
    return logs


# -- evaluate / predict -----------------------------------------------------------------------
def evaluate(
    model,
    x=None,
    y=None,
    batch_size=None,
    verbose="auto",
    sample_weight=None,
    steps=None,
    callbacks=None,
    return_dict=False,
    **kwargs,
):
    """Loss and metrics on the data (Keras `Model.evaluate`): a scalar when there is only the
    loss, else a list in `model.metrics_names` order, or a dict with `return_dict=True`."""
    options = _pop_iterable_options(kwargs)
    _check_kwargs("evaluate", kwargs, set(), error=UnrecognizedArgumentError)
    state = _require_compiled(model, "evaluate")
    if batch_size is not None and batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    verbose = _setup_distributed(_verbose(verbose))
    validation.check_steps("steps", steps)
    source = _source(model, x, y, sample_weight, batch_size, steps, options=options)
    validation.check_arrays(model, state, source, "evaluate")
    feed = StepFeed(source, steps)
    cbs = _callback_list(callbacks, model, verbose, 1, feed.num_steps)
    _begin_jit(model, "test")
    try:
        logs = _run_evaluation(model, state, feed, cbs)
    finally:
        source.close()
    return _as_result(model, logs, return_dict)


def _as_result(model, logs: dict, return_dict: bool):
    """Keras' return value: the dict, or values in `metrics_names` order followed by the
    other keys (an overridden step's own logs) sorted, as Keras's `_flatten_metrics_in_order`
    (a scalar if one)."""
    if return_dict:
        return logs
    names = [k for k in model.metrics_names if k in logs]
    values = [logs[k] for k in names] + [logs[k] for k in sorted(set(logs) - set(names))]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
    """Model outputs as NumPy, concatenated over batches (a list or dict for several)."""
    options = _pop_iterable_options(kwargs)
    _check_kwargs("predict", kwargs, set())
    verbose = _setup_distributed(_verbose(verbose))
    validation.check_steps("steps", steps)
    source = _source(model, x, None, None, batch_size, steps, options=options)
    validation.check_arrays(model, None, source, "predict")
    feed = StepFeed(source, steps)
    cbs = _callback_list(callbacks, model, verbose, 1, feed.num_steps)
    _begin_jit(model)
    model.eval()
    model.stop_predicting = False
    cbs.on_predict_begin()
    chunks, structure, global_rows = [], None, []
    try:
        with torch.inference_mode():
            for step, batch in enumerate(feed.epoch()):
                bx = batch[0]
                # Data-parallel: this rank predicts its rows of each global batch.
                global_rows.append(getattr(batch, "global_size", None))
                cbs.on_predict_batch_begin(step)
                out = model.predict_step(bx)
                structure = out
                chunks.append(flat_outputs(out))
                cbs.on_predict_batch_end(step, lambda o=out: predict_batch_logs(o))
                if model.stop_predicting:  # a callback ends the prediction after this batch
                    break
    finally:
        source.close()
    cbs.on_predict_end()
    if not chunks:
        raise ValueError("predict: the data produced no batches (is it empty?).")
    outputs = [torch.cat([c[i] for c in chunks]) for i in range(len(chunks[0]))]
    if global_rows[0] is not None:  # every rank gets the whole array, in the original order
        outputs = [distributed.gather_predictions(o, global_rows) for o in outputs]
    return _restructure(structure, [o.cpu().numpy() for o in outputs])


def predict_batch_logs(outputs) -> dict:
    """The logs `on_predict_batch_end` receives, as Keras's callback list makes them from
    `{"outputs": batch_outputs}`: one output tensor as `{"outputs": ndarray}`; a dict of
    outputs flattened into the logs by name (sorted); a list of outputs left as tensors."""
    if isinstance(outputs, dict):
        return {name: _host_value(outputs[name]) for name in sorted(outputs)}
    if isinstance(outputs, torch.Tensor):
        return {"outputs": _host_value(outputs)}
    return {"outputs": outputs}


def _host_value(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _restructure(structure, arrays):
    if isinstance(structure, torch.Tensor):
        return arrays[0]
    if isinstance(structure, dict):
        return dict(zip(structure, arrays))
    return arrays


# -- on_batch ------------------------------------------------------------------------------------
def _single_batch(model, x, y, sample_weight, class_weight=None):
    n = len(batches._leaves(batches._tree_map(x, batches._to_tensor))[0])
    source = _source(model, x, y, sample_weight, max(n, 1), None, class_weight=class_weight)
    return next(iter(source.epoch_batches()))


def _batch_result(model, state, results, kind: str, return_dict: bool):
    """A one-batch step's Keras return value (reduced over processes for the default step)."""
    values = _synced_results(state) if _is_default_step(model, kind) else results()
    return _as_result(model, results_to_logs(values), return_dict)


def train_on_batch(model, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    """One update on one batch; returns that batch's loss and metrics (computed before the
    update). `class_weight` may be a list of dicts for several outputs (seed 003)."""
    state = _require_compiled(model, "train_on_batch")
    batch = _single_batch(model, x, y, sample_weight, class_weight)
    _begin_jit(model)
    model.reset_metrics()
    model.train()
    results = run_step(model, "train_step", batch)
    return _batch_result(model, state, results, "train_step", return_dict)


def test_on_batch(model, x, y=None, sample_weight=None, return_dict=False):
    state = _require_compiled(model, "test_on_batch")
    batch = _single_batch(model, x, y, sample_weight)
    _begin_jit(model)
    model.reset_metrics()
    model.eval()
    with torch.inference_mode():
        results = run_step(model, "test_step", batch)
    return _batch_result(model, state, results, "test_step", return_dict)


def predict_on_batch(model, x):
    bx = _single_batch(model, x, None, None)[0]
    _begin_jit(model)
    model.eval()
    with torch.inference_mode():
        out = model.predict_step(bx)
    return _restructure(out, [t.cpu().numpy() for t in flat_outputs(out)])
