"""`ModelCheckpoint`: save the model or its weights during training, atomically."""

from __future__ import annotations

import os
import string

from fitorch.callbacks import files
from fitorch.callbacks.log_keys import expected_log_keys, misspelled
from fitorch.callbacks.monitor import MonitorCallback, _alias_table
from fitorch.registry import suggest
from fitorch.utils import console

__all__ = ["ModelCheckpoint"]


class _FormatLogs(dict):
    """Log values for `filepath.format_map`, answering metric aliases (`val_acc`)."""

    def __init__(self, values: dict, aliases: dict):
        super().__init__(values)
        self.aliases = aliases

    def __missing__(self, key):
        prefix = "val_" if key.startswith("val_") else ""
        real = self.aliases.get(key[len(prefix) :])
        if real is not None and dict.__contains__(self, prefix + real):
            return self[prefix + real]
        raise KeyError(key)


class ModelCheckpoint(MonitorCallback):
    """Save the model (`model.save`) or its weights (`model.save_weights`) while training.

    `filepath` may hold `{epoch}` (1-based), `{batch}` (1-based, batch-level saving) and any
    log key with a format spec, e.g. `"w-{epoch:02d}-{val_loss:.2f}.weight"`; any name and
    extension work (the saving module picks the format from it), and missing directories are
    created. Every file is written atomically (`fitorch.callbacks.files`), only by the main
    process.

    When to save: `save_freq="epoch"` at each epoch end (every `period` epochs, Keras 2), or
    an int: every `save_freq` batches. With `save_best_only`, only when `logs[monitor]`
    improves on the best so far (which starts at `initial_value_threshold`); a missing or
    non-scalar monitor warns and saves anyway (Keras 3).
    verbose=1 prints Keras' messages (`Epoch 3: val_loss improved from 0.50000 to 0.40000,
    saving model to ...`, `... did not improve from ...`, `Epoch 1: saving model to ...`),
    and after each save `Epoch 3: finished saving model to ...`.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
        *,
        period=None,
        strict=False,
        **kwargs,
    ):
        kwargs.pop("options", None)  # tf.keras SaveOptions: nothing to configure here
        if kwargs:
            raise TypeError(
                f"ModelCheckpoint() got an unexpected keyword argument {next(iter(kwargs))!r}."
            )
        super().__init__(monitor, mode, strict=strict)
        self.filepath = os.fspath(filepath)
        if not isinstance(self.filepath, str) or not self.filepath:
            raise ValueError(
                f"ModelCheckpoint(filepath=...) must be a non-empty path; got {filepath!r}."
            )
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq='epoch' or a positive "
                "integer (a number of batches)."
            )
        if period is not None and (not isinstance(period, int) or period < 1):
            raise ValueError(f"ModelCheckpoint(period=...) must be a positive int; got {period!r}.")
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.period = period or 1
        self.initial_value_threshold = initial_value_threshold
        self.best = initial_value_threshold
        self._epochs_since_save = 0
        self._batches_since_save = 0
        self._current_epoch = 0

    accepts_lazy_logs = True  # batch logs are read only when a batch-level save happens

    def implements(self, hook: str) -> bool:
        if hook in ("on_train_batch_end", "on_batch_end"):
            return self.save_freq != "epoch"
        return super().implements(hook)

    def on_train_begin(self, logs=None):
        """Before the first step: the target can be written, the template's keys are no
        misspellings of the keys the logs will hold (callbacks/log_keys.py) and, for
        `save_best_only`, neither is `monitor` (a warning, as at save time)."""
        if files.is_main_process():
            static = self.filepath.split("{")[0]  # the part no formatting can change
            files.remove_stale_template_temps(self.filepath)  # torn writes of a killed run
            if static == self.filepath:
                files.check_file_target(self.filepath, "ModelCheckpoint(filepath=...)")
            else:
                files.check_dir_target(
                    os.path.dirname(static) or ".", "ModelCheckpoint(filepath=...)"
                )
        self._check_template_keys()
        if self.save_best_only:
            self.check_monitor()

    def _check_template_keys(self) -> None:
        """A template key that misspells a key the logs will hold fails before training."""
        keys = expected_log_keys(self.model, bool(self.params.get("do_validation")))
        if keys is None:
            return
        allowed = keys | {"epoch"} | ({"batch"} if self.save_freq != "epoch" else set())
        for _, field, _, _ in string.Formatter().parse(self.filepath):
            name = (field or "").split(".")[0].split("[")[0]
            close = misspelled(name, allowed) if name else None
            if close is not None:
                raise ValueError(
                    f"ModelCheckpoint(filepath={self.filepath!r}): the key {name!r} will not "
                    f"be in the logs. Did you mean {close!r}? Keys the logs will hold: "
                    f"{', '.join(sorted(allowed))}."
                )

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            values = logs() if callable(logs) else (logs or {})
            self._save(self._current_epoch, batch, values)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq != "epoch":
            return
        self._epochs_since_save += 1
        if self._epochs_since_save >= self.period:
            self._epochs_since_save = 0
            self._save(epoch, None, logs or {})

    # -- saving ---------------------------------------------------------------------------
    def format_filepath(self, epoch: int, batch: int | None, logs: dict) -> str:
        """The file name for this save: `filepath` formatted with epoch, batch and logs."""
        values = {k: v for k, v in logs.items() if k != "batch" or batch is None}
        values["epoch"] = epoch + 1
        if batch is not None:
            values["batch"] = batch + 1
        try:
            return self.filepath.format_map(_FormatLogs(values, _alias_table(self.model)))
        except KeyError as e:
            close = suggest(str(e.args[0]), values, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: the key '
                f"{e} is not in the logs.{hint} Available keys: {', '.join(sorted(values))}."
            ) from None

    def _should_save(self, epoch: int, path: str, logs: dict) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                console.print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        raw = self.get_monitor_value(logs)
        current = self._scalar(raw)
        if current is None:
            if raw is not None:
                import warnings

                warnings.warn(
                    f"Can save best model only when `monitor` is a scalar value. Received: {raw}. "
                    "Falling back to `save_best_only=False`.",
                    stacklevel=3,
                )
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                console.print_msg(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            console.print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch: int, batch: int | None, logs: dict) -> None:
        path = self.format_filepath(epoch, batch, logs)
        if not self._should_save(epoch, path, logs) or not files.is_main_process():
            return
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"ModelCheckpoint: the filepath {path!r} is an existing directory; give a file "
                "name (e.g. 'ckpt/model-{epoch:02d}.weights.h5')."
            )
        with files.atomic_path(path) as tmp:
            if self.save_weights_only:
                self.model.save_weights(tmp, overwrite=True)
            else:
                self.model.save(tmp, overwrite=True)
        if self.verbose > 0:
            console.print_msg(f"\nEpoch {epoch + 1}: finished saving model to {path}")

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "best": self.best,
            "epochs_since_save": self._epochs_since_save,
            "batches_since_save": self._batches_since_save,
        }

    def load_state(self, state: dict) -> None:
        self.best = state["best"]
        self._epochs_since_save = state["epochs_since_save"]
        self._batches_since_save = state["batches_since_save"]
