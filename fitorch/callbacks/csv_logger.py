"""`CSVLogger`: one CSV row per epoch, rewritten atomically after every epoch."""

from __future__ import annotations

import collections.abc
import csv
import io
import os

from fitorch.callbacks import files
from fitorch.callbacks.base import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    """Keras' cell format: strings as is, numbers by `str`, sequences as `"[a, b]"` with
    the quotes inside the cell (csv then doubles them, byte for byte as Keras writes it)."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not getattr(value, "ndim", 1) == 0:
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Stream epoch results to a CSV file (Keras format).

    Header `epoch,<sorted log keys>`; when the logs hold no `val_` key, a `val_<k>` column
    per key is added and filled with `NA` (as Keras). Rows end with `\\r\\n` (Python's csv
    "excel" dialect, as Keras writes them). `append=True` keeps an existing file and writes
    the header only if the file is empty. The whole file is rewritten atomically after each
    epoch (a kill never leaves a torn row); only the main process writes.

    Args:
        filename: the CSV path (directories are created).
        separator: the column separator.
        append: append to an existing file instead of overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger(separator=...) must be one character; got {separator!r}.")
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self._text = ""
        self._header_pending = True

    def on_train_begin(self, logs=None):
        if files.is_main_process():
            files.check_file_target(self.filename, "CSVLogger(filename=...)")
        self._text = ""
        self._header_pending = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8", newline="") as f:
                self._text = f.read()
            self._header_pending = not self._text

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["epoch", *self.keys], delimiter=self.sep)
        if self._header_pending:
            writer.writeheader()
            self._header_pending = False
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        writer.writerow(row)
        self._text += out.getvalue()
        if files.is_main_process():
            files.atomic_write(self.filename, self._text)

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {"text": self._text, "keys": self.keys, "header_pending": self._header_pending}

    def load_state(self, state: dict) -> None:
        self._text = state["text"]
        self.keys = state["keys"]
        self._header_pending = state["header_pending"]
