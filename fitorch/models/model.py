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

from torch import nn

from fitorch.layers.base import Layer

__all__ = ["Model"]


class Model(Layer):
    """A layer that can be compiled and trained."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from fitorch.models.functional import Functional

            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}() takes keyword arguments only; got {args!r}.")
        super().__init__(**kwargs)
        self._compiled = None
        self.stop_training = False
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
        n = getattr(self, "_num_outputs", 1)
        return [f"output_{i + 1}" for i in range(n)] if n > 1 else ["output_1"]

    @property
    def input_names(self) -> list[str]:
        return ["input_1"]

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
        """Print a table of layers, output shapes and parameter counts."""
        from fitorch.models.summary import print_summary

        print_summary(self, line_length=line_length, print_fn=print_fn)

    # -- training API (see fitorch.training.trainer) -----------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        from fitorch.training import trainer

        return trainer.compile(self, optimizer, loss, metrics, loss_weights, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, **kw):
        from fitorch.training import trainer

        return trainer.fit(self, x, y, batch_size, epochs, verbose, callbacks, **kw)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", **kwargs):
        from fitorch.training import trainer

        return trainer.evaluate(self, x, y, batch_size, verbose, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        from fitorch.training import trainer

        return trainer.predict(self, x, batch_size, verbose, steps, callbacks, **kwargs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        from fitorch.training import trainer

        return trainer.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        from fitorch.training import trainer

        return trainer.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x):
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

    @property
    def metrics(self) -> list:
        """The loss tracker(s) and compiled metrics (after the first batch)."""
        return [] if self._compiled is None else self._compiled.metric_objects()

    @property
    def metrics_names(self) -> list[str]:
        """Flat list of log keys: `loss`, per-output losses, metrics in compile order."""
        return ["loss"] if self._compiled is None else self._compiled.log_keys()

    def reset_metrics(self) -> None:
        if self._compiled is not None:
            self._compiled.reset()

    def reset_states(self) -> None:
        """Zero the carried states of every stateful layer (Keras 2 `model.reset_states()`)."""
        for module in self.modules():
            nested_model = isinstance(module, Model)
            if module is not self and hasattr(module, "reset_states") and not nested_model:
                module.reset_states()

    @property
    def optimizer(self):
        return None if self._compiled is None else self._compiled.optimizer

    @property
    def compiled_loss(self):
        return None if self._compiled is None else self._compiled.loss

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

    def get_compile_config(self) -> dict | None:
        return None if self._compiled is None else self._compiled.config

    def compile_from_config(self, config: dict) -> None:
        self.compile(**config)


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
        self.built = True

    def call(self, *args, **kwargs):
        kwargs.pop("training", None)
        return self.module(*args, **kwargs)

    @property
    def layers(self) -> list:
        return [self.module]
