"""`Callback`: Keras' hooks, `self.model` and `self.params` (dispatch: `callback_list.py`)."""

from __future__ import annotations

__all__ = ["Callback", "HOOKS"]

HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_LEGACY = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class Callback:
    """Base class: override any of Keras' hooks. `self.model` and `self.params` are set by fit.

    `params` holds `epochs`, `steps`, `verbose` and the Keras 2 keys `batch_size`,
    `samples`, `do_validation`, `metrics` (the training and validation log keys, filled in
    once the compiled metrics are known: at the first batch of the first fit).

    `saves_training_state = True` marks a callback that backs up or restores the whole
    training state (BackupAndRestore): its `*_begin` hooks run before every other
    callback's and its `*_end` hooks after them, and fit builds the model, the optimizer
    binding and the metrics before the first `on_train_batch_begin`.
    """

    saves_training_state = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def implements(self, hook: str) -> bool:
        """Whether this callback overrides `hook` (or its Keras 2 alias)."""
        names = [hook] + ([_LEGACY[hook]] if hook in _LEGACY else [])
        return any(getattr(type(self), n) is not getattr(Callback, n) for n in names)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def state(self) -> dict:
        """JSON-able state to back up (BackupAndRestore); override with `load_state`."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore what `state()` returned."""
