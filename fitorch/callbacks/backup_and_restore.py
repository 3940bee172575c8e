"""`BackupAndRestore`: resume an interrupted `fit` exactly where it stopped.

Keras restores the epoch and repeats part of it; here a backup holds everything the rest
of the run depends on, so a run killed at any moment (even `kill -9` during a write) and
started again ends with the same weights and History, bit for bit on CPU:

- weights and buffers (`model.state_dict()`), optimizer state (slots, iterations, lr);
- the position: epoch and batches done in it; the running metric states of that epoch;
- RNG states (torch, CUDA, NumPy, Python `random`) at the start of the epoch, which
  reproduce its shuffle order, and after the last batch done, which reproduce what follows;
- the state of every callback that has one (`Callback.state()`: History, best values,
  wait and cooldown counters, the CSV written so far...).

It works through Keras's hooks and the model's declared training state (`model.trainer`,
see `fitorch.training.compile_utils.CompiledState`); `saves_training_state = True` makes
its begin hooks run before, and its end hooks after, every other callback's.
`on_train_begin` reads the backup and sets `model.trainer.initial_epoch`;
`on_epoch_begin` records the RNG states (or, in the resumed epoch, restores callback
states and the epoch-start RNG, and sets `model.trainer.skip_batches` so fit draws the
batches already trained without training them); the first `on_train_batch_begin` after that
restores weights, optimizer, metric states and the RNG; `on_train_batch_end` and
`on_epoch_end` write backups once every other callback has seen the batch or epoch.

The backup is one file `backup_dir/backup.pt` (torch format of plain containers and
tensors, read back with `weights_only=True`), written atomically by the main process.
Limits: a data source must replay the same batches from the same RNG state (arrays,
`Sequence`, seeded generators that restart each epoch); an endless generator consumed
across epochs with `steps_per_epoch` restarts from its beginning.
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings

import numpy as np
import torch

from fitorch import tree
from fitorch.callbacks import files
from fitorch.callbacks.base import Callback

__all__ = ["BackupAndRestore"]

_FORMAT = 1


# -- RNG states -------------------------------------------------------------------------------
def capture_rng() -> dict:
    """Every RNG state that training may draw from, as tensors and plain values."""
    py = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state = {
        "torch": torch.get_rng_state(),
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Inverse of `capture_rng`."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cpu(state):
    """Detached CPU clones of the tensors in a nested container (others unchanged)."""

    def clone(leaf):
        return leaf.detach().to("cpu", copy=True) if isinstance(leaf, torch.Tensor) else leaf

    return tree.map_structure(clone, state)


class BackupAndRestore(Callback):
    """Back up the complete training state and resume from it exactly (module docstring).

    Args:
        backup_dir: directory for the backup (created; one file `backup.pt`).
        save_freq: "epoch" (after every epoch) or an int: every that many batches (counted
            across epochs, as Keras) and after every epoch.
        double_checkpoint: accepted for Keras compatibility; writes are atomic, so the
            previous backup is always intact and no second copy is needed.
        delete_checkpoint: delete the backup when fit finishes normally.
    """

    def __init__(
        self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore(backup_dir=...) is required: a directory path.")
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq='epoch' or a "
                "positive integer (a number of batches)."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self.path = os.path.join(self.backup_dir, "backup.pt")
        self._pending: dict | None = None
        self._weights_loaded = False
        self._epoch_rng: dict | None = None
        self._batches_since_save = 0

    # -- Callback hooks (saves_training_state: begin hooks first, end hooks last) ------------
    saves_training_state = True
    accepts_lazy_logs = True  # never reads the logs: no device read for them

    def on_train_begin(self, logs=None):
        self._pending, self._weights_loaded = None, False
        self._batches_since_save = 0
        if files.is_main_process():
            files.check_dir_target(self.backup_dir, "BackupAndRestore(backup_dir=...)")
            files.remove_stale_temps(self.path)  # torn writes of a killed run
        if os.path.exists(self.path):
            backup = torch.load(self.path, map_location="cpu", weights_only=True)
            if backup.get("format") != _FORMAT:
                raise ValueError(f"{self.path} is not a fitorch BackupAndRestore backup.")
            self._pending = backup
            self.model.trainer.initial_epoch = backup["epoch"]

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and files.is_main_process():
            files.remove_tree(self.path)
            files.remove_stale_temps(self.path)
            if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)

    def on_epoch_begin(self, epoch, logs=None):
        """Record the RNG states that draw this epoch's shuffle order; resuming, restore the
        callbacks' states, the epoch-start RNG, and skip the batches already trained."""
        backup = self._pending
        if backup is None or backup["epoch"] != epoch:
            self._epoch_rng = capture_rng()
            return
        # Callbacks first (on_train_begin has reset them), then the optimizer so that the
        # other on_epoch_begin hooks (LearningRateScheduler) see the saved learning rate.
        state = self.model.trainer
        self._load_callbacks(state.callbacks, backup["callbacks"])
        if state.built:
            self._load_weights(backup)
        else:  # weights come at the first batch (fit builds them first); the rate is needed now
            _restore_learning_rate(self.model.optimizer, backup["optimizer"])
        self._epoch_rng = backup["epoch_rng"]
        restore_rng(self._epoch_rng)
        state.skip_batches = backup["batch"]

    def on_train_batch_begin(self, batch, logs=None):
        """Resuming, at the first batch not trained before: weights, optimizer, the epoch's
        running metric states and the RNG as they were after the last trained batch."""
        backup = self._pending
        if backup is None:
            return
        state = self.model.trainer
        if not self._weights_loaded:
            self._load_weights(backup)
        if backup["batch"] > 0:
            for metric, saved in zip(state.metric_objects(), backup["metrics"]):
                for name, value in saved.items():
                    current = getattr(metric, name)
                    setattr(metric, name, value.to(device=current.device, dtype=current.dtype))
            restore_rng(backup["rng"])
        self._pending = None

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save < self.save_freq:
            return
        self._batches_since_save = 0
        state = self.model.trainer
        if state.step + 1 == self.params.get("steps"):
            return  # the epoch-end backup follows; an epoch-end position resumes cleanly
        self._write(state.epoch, state.step + 1)

    def on_epoch_end(self, epoch, logs=None):
        # Every epoch end is backed up, also with an integer save_freq (whose batch count
        # runs on across epochs, as in Keras): a kill just after the boundary then resumes
        # at the next epoch instead of repeating up to save_freq batches and the epoch end.
        if self.model.stop_training:
            return  # a stopping run ends here; resuming from the previous backup repeats it
        if epoch + 1 >= self.params.get("epochs", 0):
            return  # finished: on_train_end deletes the backup (or a rerun repeats the epoch)
        self._epoch_rng = capture_rng()
        self._write(epoch + 1, 0)

    # -- reading and writing ----------------------------------------------------------------
    def _write(self, epoch: int, batch: int) -> None:
        if not files.is_main_process():
            return
        model = self.model
        state = model.trainer
        optimizer = model.optimizer
        backup = {
            "format": _FORMAT,
            "epoch": epoch,
            "batch": batch,
            "epoch_rng": self._epoch_rng,
            "rng": capture_rng() if batch else None,
            "model": _cpu(model.state_dict()),
            "optimizer": _cpu(optimizer.state_dict()) if optimizer is not None else None,
            "metrics": [_cpu(m.states()) for m in state.metric_objects()] if batch else [],
            "callbacks": [
                {"class": type(cb).__name__, "state": _cpu(cb.state())}
                for cb in state.callbacks
                if cb is not self
            ],
        }
        with files.atomic_path(self.path) as tmp:
            torch.save(backup, tmp)

    def _load_weights(self, backup: dict) -> None:
        self.model.load_state_dict(backup["model"])
        if backup["optimizer"] is not None and self.model.optimizer is not None:
            self.model.optimizer.load_state_dict(backup["optimizer"])
        self._weights_loaded = True

    def _load_callbacks(self, cbs, saved: list) -> None:
        mine = [cb for cb in cbs if cb is not self]
        names = [type(cb).__name__ for cb in mine]
        if names != [s["class"] for s in saved]:
            warnings.warn(
                "BackupAndRestore: the callbacks changed since the backup "
                f"({[s['class'] for s in saved]} -> {names}); restoring the states of those "
                "that match by class and order.",
                stacklevel=2,
            )
        pool = list(saved)
        for cb in mine:
            for i, entry in enumerate(pool):
                if entry["class"] == type(cb).__name__:
                    cb.load_state(entry["state"])
                    del pool[i]
                    break


def _restore_learning_rate(optimizer, saved: dict | None) -> None:
    if optimizer is None or not saved or not saved.get("param_groups"):
        return
    from fitorch.optimizers import set_learning_rate

    with contextlib.suppress(TypeError):  # a schedule: nothing to set
        set_learning_rate(optimizer, float(saved["param_groups"][0]["lr"]))
