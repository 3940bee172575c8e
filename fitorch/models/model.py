"""`Model`: a `Layer` with Keras' training API (compile, fit, evaluate, predict, ...).

Three ways to make one, as in Keras:
- functional: `Model(inputs, outputs)` (returns a `Functional`);
- `Sequential([...])`;
- subclassing: `class M(Model): def call(self, x): ...`.
`Model.wrap(module)` turns any `torch.nn.Module` into a trainable model.
The training loops live in `fitorch.training.trainer` as plain functions; the methods here
only document the Keras signatures and delegate.
"""

from __future__ import annotations

import inspect

from torch import nn

from fitorch.layers.base import Layer
from fitorch.metrics.base import Metric
from fitorch.utils.keywords import checked_keywords
from fitorch.utils.traceback_utils import filter_traceback

__all__ = ["Model"]


class Model(Layer):
    """A layer that can be compiled and trained."""

    def __new__(cls, *args, **kwargs):
        outputs = args[1] if len(args) > 1 else kwargs.get("outputs")
        if _is_symbolic_structure(outputs):
            from fitorch.models.functional import Functional

            if not issubclass(cls, Functional):
                # `Model(inputs, outputs)`, or a subclass built the functional way (Keras's
                # pattern for overriding train_step on a functional model): a Functional
                # that keeps the subclass's methods.
                cls = Functional if cls is Model else _functional_subclass(cls)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}() takes keyword arguments only; got {args!r}.")
        super().__init__(**kwargs)
        # The declared training state (fitorch.training.compile_utils.CompiledState): what
        # compile set up and fit runs with; None before compile.
        self.trainer = None
        self._assigned_output_names = ["output_1"]
        self.stop_training = False
        self.stop_evaluating = False  # set by a callback: evaluate ends after the batch
        self.stop_predicting = False  # set by a callback: predict ends after the batch
        self.history = None

    @staticmethod
    def wrap(module: nn.Module, name: str | None = None) -> Model:
        """A `Model` running `module(*inputs)`; its parameters are trained by fit."""
        return _WrappedModule(module, name=name)

    # -- structure --------------------------------------------------------------------
    @property
    def layers(self) -> list:
        return [m for m in self._sublayers() if not isinstance(m, _Tracked)]

    def get_layer(self, name: str | None = None, index: int | None = None):
        """The layer named `name` (or at position `index`)."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"get_layer: index {index} out of range for {len(self.layers)} layers."
                )
            return self.layers[index]
        for layer in self.layers:
            if getattr(layer, "name", None) == name:
                return layer
        from fitorch.registry import suggest

        names = [getattr(layer, "name", "") for layer in self.layers]
        close = suggest(str(name), names)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"No layer named {name!r} in model {self.name!r}.{hint} Layers: {names}.")

    @property
    def output_names(self) -> list[str]:
        """The outputs' names: `["output_1"]` for a subclassed model until set (compile
        sets `output_1..n` when it gets a list of n losses, as Keras)."""
        return list(self._assigned_output_names)

    @output_names.setter
    def output_names(self, names) -> None:
        self._assigned_output_names = [str(n) for n in names]

    @property
    def input_names(self) -> list[str]:
        return ["input_1"]

    @checked_keywords
    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ) -> None:
        """Print Keras 3's table of layers, output shapes and parameter counts (summary.py).

        Args:
            line_length: total width of the table (default 98, wider with more columns).
            positions: the columns' right edges, as fractions of `line_length` or widths.
            print_fn: called with each line instead of `print`.
            expand_nested: also list the layers of nested models.
            show_trainable: add a column saying whether each layer is trainable.
            layer_range: `[first, last]` layer names (or patterns) bounding the rows shown.
        """
        from fitorch.models.summary import print_summary

        print_summary(self, line_length, positions, print_fn, expand_nested, show_trainable,
                      layer_range)  # fmt: skip

    @checked_keywords
    def export(self, filepath, format="torch", input_signature=None, verbose=True):
        """Write an inference artifact (saving/export.py).

        Args:
            filepath: where to write it.
            format: "torch" (a torch.export `.pt2` program with a dynamic batch) or "onnx".
            input_signature: example inputs or shapes for tracing (default: the model's inputs).
            verbose: print what was written.
        """
        from fitorch.saving.export import export_model

        return export_model(self, filepath, format, input_signature, verbose)

    # -- training API (see fitorch.training.trainer) -----------------------------------
    @checked_keywords
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
        sample_weight_mode=None,
        target_tensors=None,
    ) -> None:
        """Configure the model for training (Keras 3 signature; unknown names fail here).

        Args:
            optimizer: a name (`"adam"`), a fitorch optimizer, or a `torch.optim` optimizer
                (or its class: bound to the model's trainable weights).
            loss: a name, a `Loss`, a function `(y_true, y_pred)`, a torch loss module, or a
                list/dict of them, one per output (None: the step's `add_loss` terms only).
            loss_weights: a scalar, list or dict weighting each output's loss. (A list of
                metrics here, with `metrics` not given, is Keras 2's positional
                `compile(optimizer, loss, metrics)` and is taken as `metrics`.)
            metrics: a list (or per-output list/dict) of metric names, objects or functions.
            weighted_metrics: metrics that also receive `sample_weight`/`class_weight`.
            run_eagerly: run the steps eagerly (turns `jit_compile` off).
            steps_per_execution: batches per execution; the batch hooks of callbacks see
                one call per execution (`on_train_batch_end` at the execution's last index).
            jit_compile: True compiles the step with `torch.compile`; "auto"/False run eagerly.
            auto_scale_loss: dynamic loss scaling under a float16 mixed-precision policy.
            sample_weight_mode: Keras 2; None or "temporal" (weights of shape (N, T)).
            target_tensors: Keras 2 / TensorFlow 1 only; refused with an explanation.
        """
        from fitorch.training import trainer

        self.__dict__.pop("_loss_argument", None)  # `model.loss` is this compile's again
        if metrics is None and _holds_metrics(loss_weights):
            # Keras 2's positional order was (optimizer, loss, metrics, loss_weights).
            metrics, loss_weights = loss_weights, None
        trainer.compile(
            self, optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=loss_weights,
            weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution, jit_compile=jit_compile,
            auto_scale_loss=auto_scale_loss, sample_weight_mode=sample_weight_mode,
            target_tensors=target_tensors,
        )  # fmt: skip

    @filter_traceback
    def fit(
        self,
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
        distribute=None,
        **kwargs,
    ):
        """Train the model; returns the `History` callback (Keras 3 signature).

        Args:
            x: arrays/tensors (a list or dict for several inputs), a `DataLoader`, a
                `Sequence`/`PyDataset`, a generator, or an iterable of `(x, y[, sw])` tuples.
            y: targets (omit when `x` yields them).
            batch_size: rows per step for array inputs (default 32).
            epochs: index of the last epoch to train (from `initial_epoch`).
            verbose: "auto" (1), 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: a list of `fitorch.callbacks.Callback`.
            validation_split: fraction of the array data (the last rows) kept for validation.
            validation_data: `(x_val, y_val[, sample_weight_val])` or a dataset.
            shuffle: shuffle the array rows before each epoch.
            class_weight: `{class_index: weight}` applied to the loss (and weighted metrics).
            sample_weight: per-row (or per-timestep) weights of the loss.
            initial_epoch: epoch to start at (resuming a run).
            steps_per_epoch: batches per epoch (required for endless generators).
            validation_steps: validation batches per validation run.
            validation_batch_size: rows per validation step (default `batch_size`).
            validation_freq: validate every that many epochs, or at the epochs listed.
            distribute: fitorch: None, "ddp" or "fsdp" under `torchrun`.
            **kwargs: the Keras 2 loader options `max_queue_size`, `workers`,
                `use_multiprocessing`, and `nb_epoch`; any other name is a TypeError.
        """
        from fitorch.training import trainer

        return trainer.fit(
            self, x, y, batch_size, epochs, verbose, callbacks,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
            initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps, validation_batch_size=validation_batch_size,
            validation_freq=validation_freq, distribute=distribute, **kwargs,
        )  # fmt: skip

    @filter_traceback
    def evaluate(
        self,
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
        """Loss and metrics on the data: a scalar (loss only), a list in `metrics_names`
        order, or a dict with `return_dict=True` (Keras 3 signature).

        Args:
            x, y, batch_size, sample_weight: as in `fit`.
            verbose: "auto" (1), 0 or 1.
            steps: batches to evaluate (default: the whole data).
            callbacks: a list of callbacks (their test hooks run).
            return_dict: return `{name: value}`.
            **kwargs: the Keras 2 loader options `max_queue_size`, `workers`,
                `use_multiprocessing`; any other name is a TypeError.
        """
        from fitorch.training import trainer

        return trainer.evaluate(
            self, x, y, batch_size, verbose, sample_weight=sample_weight, steps=steps,
            callbacks=callbacks, return_dict=return_dict, **kwargs,
        )  # fmt: skip

    @filter_traceback
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """The model's outputs as NumPy arrays, concatenated over batches (a list or dict
        for several outputs; Keras 3 signature).

        Args:
            x: as in `fit` (targets in the data are ignored).
            batch_size: rows per step for array inputs (default 32).
            verbose: "auto" (1), 0 or 1.
            steps: batches to predict (default: the whole data).
            callbacks: a list of callbacks (their predict hooks run).
            **kwargs: the Keras 2 loader options `max_queue_size`, `workers`,
                `use_multiprocessing`; any other name is a TypeError.
        """
        from fitorch.training import trainer

        return trainer.predict(self, x, batch_size, verbose, steps, callbacks, **kwargs)

    @checked_keywords
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on one batch; returns its loss and metrics (before the update).

        Args:
            x, y, sample_weight: one batch (all rows are one step).
            class_weight: `{class_index: weight}` (a list of dicts for several outputs).
            return_dict: return `{name: value}` instead of a scalar or list.
        """
        from fitorch.training import trainer

        return trainer.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    @checked_keywords
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, no update.

        Args:
            x, y, sample_weight: one batch.
            return_dict: return `{name: value}` instead of a scalar or list.
        """
        from fitorch.training import trainer

        return trainer.test_on_batch(self, x, y, sample_weight, return_dict)

    @checked_keywords
    def predict_on_batch(self, x):
        """The model's outputs for one batch `x`, as NumPy.

        Args:
            x: one batch of inputs.
        """
        from fitorch.training import trainer

        return trainer.predict_on_batch(self, x)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, **kwargs):
        """Keras 2: `fit` on a generator or Sequence."""
        return self.fit(
            generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose, **kwargs
        )

    def evaluate_generator(self, generator, steps=None, verbose=0, **kwargs):
        """Keras 2: `evaluate` on a generator or Sequence."""
        return self.evaluate(generator, steps=steps, verbose=verbose, **kwargs)

    def predict_generator(self, generator, steps=None, verbose=0, **kwargs):
        """Keras 2: `predict` on a generator or Sequence."""
        return self.predict(generator, steps=steps, verbose=verbose, **kwargs)

    # -- the steps (fit/evaluate/predict call these; override them as in Keras) ----------
    def train_step(self, data):
        """One training step on `data` (`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`, as
        `fit` hands it to a step; an override may call `super().train_step(data)`).

        Default: forward, `compute_loss`, backward, optimizer update, weight constraints and
        metric updates (fitorch.training.step). Returns a dict of logs, or None: then the
        results of `model.metrics` are the logs.
        """
        from fitorch.training import step

        step.train_step(self, self.trainer, self._step_batch(data, "train_step"))

    def test_step(self, data):
        """One evaluation step on `data` (as `train_step` takes it): forward, loss and
        metric updates, no update."""
        from fitorch.training import step

        step.test_step(self, self.trainer, self._step_batch(data, "test_step"))

    def _step_batch(self, data, kind: str):
        """Keras's step `data` as the training package's `(x, y_list, sw_list)` batch."""
        from fitorch.training import batches

        state = self._require_trainer(kind)
        return batches.unpack_batch(data, state.output_names, f"{kind}'s `data`")

    def predict_step(self, data):
        """The model's outputs for one batch `data` (`x`, or a tuple whose first item is x)."""
        from fitorch.training import step

        return step.predict_step(self, data)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Total loss of one batch: compiled losses (weighted by `sample_weight` and
        `loss_weights`) + the `add_loss` terms of the last call + weight regularizers."""
        from fitorch.training import batches, step

        state = self._require_trainer("compute_loss")
        y_list = step.flat_outputs(y_pred)
        names = state.output_names
        y_flat = None if y is None else batches.flatten_targets(_as_tensors(y), names)
        sw_flat = (
            None
            if sample_weight is None
            else batches.flatten_weights(_as_tensors(sample_weight), names)
        )
        # `self.losses` already holds the regularization penalties (Keras's compute_loss adds
        # `model.losses`), so total_loss must not add them again: training=False there.
        total, _ = step.total_loss(self, state, x, y_flat, y_list, sw_flat, self.losses, False)
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with one batch; returns every metric's result."""
        from fitorch.training import batches, step

        state = self._require_trainer("compute_metrics")
        names = state.output_names
        y_list = [p.detach() for p in step.flat_outputs(y_pred)]
        y_flat = batches.flatten_targets(_as_tensors(y), names)
        if not state.built:
            state.build(self, y_flat, y_list)
        sw_flat = (
            None
            if sample_weight is None
            else batches.flatten_weights(_as_tensors(sample_weight), names)
        )
        state.metrics.update(y_flat, y_list, sw_flat)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """`{name: result}` of every metric in `model.metrics` (dict results flattened)."""
        logs = {}
        for metric in self.metrics:
            value = metric.result()
            if isinstance(value, dict):
                logs.update(value)
            else:
                logs[metric.name] = value
        return logs

    def _require_trainer(self, what: str):
        if self.trainer is None:
            raise ValueError(f"{what}: compile the model first (`model.compile(...)`).")
        return self.trainer

    @property
    def metrics(self) -> list:
        """The loss tracker(s) and compiled metrics (after the first batch), then the
        `Metric` objects a subclass holds as attributes (`self.loss_tracker = Mean()`)."""
        compiled = [] if self.trainer is None else self.trainer.metric_objects()
        own = [m for m in vars(self).values() if isinstance(m, Metric) and m not in compiled]
        return compiled + own

    @property
    def metrics_names(self) -> list[str]:
        """Flat list of log keys: `loss`, per-output losses, metrics in compile order."""
        return ["loss"] if self.trainer is None else self.trainer.log_keys()

    def reset_metrics(self) -> None:
        """Reset every metric in `model.metrics` (fit does at each epoch start)."""
        for metric in self.metrics:
            metric.reset_state()

    def reset_states(self) -> None:
        """Zero the carried states of every stateful layer (Keras 2 `model.reset_states()`)."""
        for module in self.modules():
            nested_model = isinstance(module, Model)
            if module is not self and hasattr(module, "reset_states") and not nested_model:
                module.reset_states()

    @property
    def optimizer(self):
        return None if self.trainer is None else self.trainer.optimizer

    @property
    def compiled(self) -> bool:
        """Whether `compile` has run (Keras 3's `model.compiled`)."""
        return self.trainer is not None

    @property
    def loss(self):
        """The `loss` given to `compile`, as given (None before `compile`). Assignable, as in
        Keras, where it is a plain record: the compiled loss and compile config stay."""
        if "_loss_argument" in self.__dict__:
            return self.__dict__["_loss_argument"]
        return None if self.trainer is None else self.trainer.config["loss"]

    @loss.setter
    def loss(self, value) -> None:
        self.__dict__["_loss_argument"] = value

    @property
    def run_eagerly(self) -> bool:
        return self.trainer is not None and self.trainer.run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value) -> None:
        """`model.run_eagerly = True` after compile runs the next steps eagerly (jit off);
        before compile, compile's own argument decides (Keras)."""
        if value not in (True, False):
            raise ValueError(f"model.run_eagerly must be True or False; got {value!r}.")
        if self.trainer is not None:
            self.trainer.run_eagerly = value
            if value:
                self.trainer.jit_compile = False

    @property
    def jit_compile(self) -> bool:
        """Whether the steps run through `torch.compile` (`jit_compile=True`; 'auto' is
        False, as Keras on torch)."""
        return self.trainer is not None and self.trainer.jit_compile is True

    @jit_compile.setter
    def jit_compile(self, value) -> None:
        """`model.jit_compile = True/False` after compile switches the next steps; before
        compile, compile's own argument decides (Keras)."""
        if value not in (True, False, "auto"):
            raise ValueError(f"model.jit_compile must be True, False or 'auto'; got {value!r}.")
        if self.trainer is None:
            return
        if value is True and self.trainer.run_eagerly:
            raise ValueError("model.jit_compile=True needs model.run_eagerly=False first.")
        self.trainer.jit_compile = value

    @property
    def steps_per_execution(self) -> int:
        """Batches per execution (`compile(steps_per_execution=...)`; 1 before `compile`)."""
        return 1 if self.trainer is None else self.trainer.steps_per_execution

    @property
    def compiled_loss(self):
        return None if self.trainer is None else self.trainer.loss

    # -- saving (see fitorch.saving) ----------------------------------------------------
    def save(self, filepath, overwrite=True, **kwargs) -> None:
        from fitorch import distributed, saving

        if not distributed.is_main_process():  # data-parallel: rank 0 writes (no barrier)
            return
        saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs) -> None:
        from fitorch import distributed, saving

        if not distributed.is_main_process():
            return
        saving.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs) -> None:
        from fitorch import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A model from `get_config()`, as Keras' `Model.from_config`: a functional config
        (`name`, `layers`, `input_layers`, `output_layers`) rebuilds the graph when `cls` is
        `Model` or takes `(inputs, outputs, name)` or `*args, **kwargs`; otherwise
        `cls(**config)` (a subclassed model's own config)."""
        functional_keys = ("name", "layers", "input_layers", "output_layers")
        if all(key in config for key in functional_keys) and _revivable_as_functional(cls):
            from fitorch.models.graph_config import functional_from_config

            return functional_from_config(cls, config, custom_objects)
        return cls(**config)

    def to_json(self, **kwargs) -> str:
        """The model's record (`module`, `class_name`, `config`) as JSON, as Keras'
        `model.to_json()`; `fitorch.models.model_from_json` rebuilds it (new weights).
        `kwargs` go to `json.dumps`."""
        import json

        from fitorch.serialization import serialize_object

        return json.dumps(serialize_object(self), **kwargs)

    def get_compile_config(self) -> dict | None:
        return None if self.trainer is None else self.trainer.config

    def compile_from_config(self, config: dict) -> None:
        self.compile(**config)


def _revivable_as_functional(cls) -> bool:
    """Keras' rule: `Model`, or an `__init__` taking Functional's arguments or anything."""
    if cls is Model:
        return True
    spec = inspect.getfullargspec(cls.__init__)
    return spec.args[1:] == ["inputs", "outputs", "name"] or (
        spec.varargs is not None and spec.varkw is not None
    )


def _holds_metrics(value) -> bool:
    """Whether `value` is a non-empty list/tuple of metrics (known metric names, `Metric`
    objects or functions), not of loss weights (numbers)."""
    from fitorch import metrics as metrics_mod

    if not isinstance(value, (list, tuple)) or not value:
        return False
    for item in value:
        if isinstance(item, str):
            try:
                metrics_mod.get(item)
            except ValueError:
                return False
        elif not callable(item):
            return False
    return True


def _functional_subclass(cls: type) -> type:
    """`cls` mixed with Functional (cached), so `cls(inputs, outputs)` builds a graph."""
    from fitorch.models.functional import Functional

    mixed = _FUNCTIONAL_SUBCLASSES.get(cls)
    if mixed is None:
        mixed = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
        _FUNCTIONAL_SUBCLASSES[cls] = mixed
    return mixed


_FUNCTIONAL_SUBCLASSES: dict[type, type] = {}


def _is_symbolic_structure(value) -> bool:
    """A KerasTensor, or a list/tuple/dict holding one (a functional model's inputs)."""
    from fitorch.layers.input import KerasTensor

    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_symbolic_structure(v) for v in value)
    return isinstance(value, KerasTensor)


def _as_tensors(value):
    """Arrays in a target/weight structure as tensors (what the step's containers take)."""
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        return torch.as_tensor(value)
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    return value


class _Tracked(nn.Module):
    """Marker base for helper modules a model holds that are not layers."""


class _WrappedModule(Model):
    """`Model.wrap(module)`: `call` runs the torch module."""

    def __init__(self, module: nn.Module, name=None):
        if not isinstance(module, nn.Module):
            raise TypeError(f"Model.wrap needs a torch.nn.Module; got {type(module).__name__}.")
        from fitorch.utils.naming import to_snake_case

        super().__init__(name=name or to_snake_case(type(module).__name__))
        self.module = module
        self.train(False)  # inference outside fit, as every layer (see layers/base.py)
        self.built = True

    def call(self, *args, **kwargs):
        kwargs.pop("training", None)
        return self.module(*args, **kwargs)

    @property
    def layers(self) -> list:
        return [self.module]
