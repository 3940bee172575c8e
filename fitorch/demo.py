"""`python -m fitorch.demo`: the seed tutorial's Keras examples, trained by fitorch.

Runs the three examples of the Keras metrics tutorial (examples/seeds/seed000_*.py) as the
seed writes them: a regression reporting mse/mae/mape/cosine, a binary classifier reporting
'acc', and a custom RMSE metric. For each it prints, briefly:
- the first three epochs and the last (Keras' log format); the epochs between are redrawn in
  place on a terminal or in a notebook and left out of files and CI logs;
- the History the seed reads (`history.history['mean_squared_error']`, ...): its first and
  last values;
- where its curves went (`out/<example>.png`; `--out` to change; needs matplotlib);
- a save/load round trip (`out/<example>.keras`) and how far the reloaded model's `predict`
  is from the original's.

    python -m fitorch.demo                 # the seed's epoch counts (500, 400, 500)
    python -m fitorch.demo --epochs 50     # shorter
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

import fitorch
from fitorch import backend
from fitorch.callbacks import Callback
from fitorch.callbacks.progbar import format_logs
from fitorch.layers import Dense
from fitorch.models import Sequential, load_model
from fitorch.utils import console, plot_history

__all__ = [
    "main", "regression_metrics", "classification_accuracy", "custom_rmse", "BriefEpochs",
    "show_history",
]  # fmt: skip

X = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
Y_CLASS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])


def regression_metrics(epochs: int = 500, verbose=0, callbacks=None):
    """Seed 000: the four regression metrics, read back under their long names.

    Each example returns its trained model; `model.history` is what `fit` returned.
    """
    model = Sequential()
    model.add(Dense(2, input_dim=1))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam", metrics=["mse", "mae", "mape", "cosine"])
    model.fit(X, X, epochs=epochs, batch_size=len(X), verbose=verbose,
              callbacks=callbacks)  # fmt: skip
    return model


def classification_accuracy(epochs: int = 400, verbose=0, callbacks=None):
    """Seed 000: a binary classifier reporting 'acc'."""
    model = Sequential()
    model.add(Dense(2, input_dim=1))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])
    model.fit(X, Y_CLASS, epochs=epochs, batch_size=len(X), verbose=verbose,
              callbacks=callbacks)  # fmt: skip
    return model


def rmse(y_true, y_pred):
    """The seed's custom metric: per-sample root mean squared error."""
    return backend.sqrt(backend.mean(backend.square(y_pred - y_true), axis=-1))


def custom_rmse(epochs: int = 500, verbose=0, callbacks=None):
    """Seed 000: the custom `rmse` metric function."""
    model = Sequential()
    model.add(Dense(2, input_dim=1, activation="relu"))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam", metrics=[rmse])
    model.fit(X, X, epochs=epochs, batch_size=len(X), verbose=verbose,
              callbacks=callbacks)  # fmt: skip
    return model


# (title, function, seed's epochs, the History keys the seed reads, custom objects)
EXAMPLES = [
    ("regression_metrics", regression_metrics, 500,
     ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
      "cosine_proximity"], {}),
    ("classification_accuracy", classification_accuracy, 400, ["acc"], {}),
    ("custom_rmse", custom_rmse, 500, ["rmse"], {"rmse": rmse}),
]  # fmt: skip

SHOWN_FIRST = 3  # epochs printed at the start; the last one is printed too


class BriefEpochs(Callback):
    """Print epochs 1..SHOWN_FIRST and the last; redraw the others in place where watched."""

    def __init__(self, stream=None, interval: float | None = None):
        super().__init__()
        self.stream = stream or sys.stdout
        self._live = console.is_interactive(self.stream)
        self._interval = console.redraw_interval(self.stream) if interval is None else interval
        self._last_draw = 0.0

    def on_epoch_end(self, epoch, logs=None):
        epochs = self.params["epochs"]
        line = f"Epoch {epoch + 1}/{epochs} - {format_logs(logs or {})}"
        if epoch < SHOWN_FIRST or epoch + 1 == epochs:
            if epoch + 1 == epochs and epochs > SHOWN_FIRST + 1:
                hidden = f"  ... epochs {SHOWN_FIRST + 1}-{epochs - 1} not shown ..."
                self._write("\r" + hidden.ljust(len(line)) + "\n" if self._live else hidden + "\n")
            self._write(line + "\n")
        elif self._live and time.perf_counter() - self._last_draw >= self._interval:
            self._last_draw = time.perf_counter()
            self._write("\r" + line)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _brief(values) -> str:
    """`[v1, v2, ..., v-2, v-1]` with 4 significant digits."""
    shown = [f"{v:.4g}" for v in values]
    if len(shown) > 4:
        shown = shown[:2] + ["..."] + shown[-2:]
    return "[" + ", ".join(shown) + "]"


def show_history(history, keys) -> None:
    """Print the History's keys and, for each of `keys`, its first and last values."""
    h = history.history
    print(f"History: {', '.join(h)} ({len(h['loss'])} epochs each)")
    for key in keys:
        print(f"  history.history[{key!r}]: {_brief(h[key])}")


def _plot(history, path: str) -> None:
    try:
        plot_history(history, path=path)
        print(f"plot: {path}")
    except ImportError as err:
        print(f"plot skipped: {err}")


def _round_trip(model, path: str, custom_objects: dict) -> None:
    model.save(path)
    reloaded = load_model(path, custom_objects=custom_objects)
    gap = np.abs(model.predict(X, verbose=0) - reloaded.predict(X, verbose=0)).max()
    print(f"saved {path}; the reloaded model's predict differs by at most {gap:.1e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fitorch.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per example (default: seed's)"
    )
    parser.add_argument("--out", default="out", help="folder for plots and models (default: out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    fitorch.utils.set_random_seed(args.seed)
    torch.set_num_threads(1)  # models of a few weights: threads only add overhead
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    for title, example, seed_epochs, keys, custom_objects in EXAMPLES:
        epochs = args.epochs or seed_epochs
        print(f"\n=== {title} ({epochs} epochs) ===")
        model = example(epochs=epochs, callbacks=[BriefEpochs()])
        show_history(model.history, keys)
        _plot(model.history, os.path.join(args.out, f"{title}.png"))
        _round_trip(model, os.path.join(args.out, f"{title}.keras"), custom_objects)
    print(f"\nfitorch {fitorch.__version__}, torch {torch.__version__}: "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
