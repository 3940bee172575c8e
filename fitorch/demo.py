"""`python -m fitorch.demo`: the seed tutorial's Keras examples, trained by fitorch.

Runs the three examples of the Keras metrics tutorial (examples/seeds/seed000_*.py) as the
seed writes them: a regression reporting mse/mae/mape/cosine, a binary classifier reporting
'acc', and a custom RMSE metric. Each prints Keras' per-epoch lines (verbose=2), then the
History the seed reads (`history.history['mean_squared_error']`, ...), and writes its curves
to `out/<example>.png` (`--out` to change; needs matplotlib, skipped with a note without it).

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
from fitorch.layers import Dense
from fitorch.models import Sequential
from fitorch.utils import plot_history

__all__ = ["main", "regression_metrics", "classification_accuracy", "custom_rmse"]

X = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
Y_CLASS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])


def regression_metrics(epochs: int = 500, verbose: int = 2):
    """Seed 000: the four regression metrics, read back under their long names."""
    model = Sequential()
    model.add(Dense(2, input_dim=1))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam", metrics=["mse", "mae", "mape", "cosine"])
    return model.fit(X, X, epochs=epochs, batch_size=len(X), verbose=verbose)


def classification_accuracy(epochs: int = 400, verbose: int = 2):
    """Seed 000: a binary classifier reporting 'acc'."""
    model = Sequential()
    model.add(Dense(2, input_dim=1))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["acc"])
    return model.fit(X, Y_CLASS, epochs=epochs, batch_size=len(X), verbose=verbose)


def rmse(y_true, y_pred):
    """The seed's custom metric: per-sample root mean squared error."""
    return backend.sqrt(backend.mean(backend.square(y_pred - y_true), axis=-1))


def custom_rmse(epochs: int = 500, verbose: int = 2):
    """Seed 000: the custom `rmse` metric function."""
    model = Sequential()
    model.add(Dense(2, input_dim=1, activation="relu"))
    model.add(Dense(1))
    model.compile(loss="mse", optimizer="adam", metrics=[rmse])
    return model.fit(X, X, epochs=epochs, batch_size=len(X), verbose=verbose)


# (title, function, seed's epochs, the History keys the seed reads)
EXAMPLES = [
    ("regression_metrics", regression_metrics, 500,
     ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
      "cosine_proximity"]),
    ("classification_accuracy", classification_accuracy, 400, ["acc"]),
    ("custom_rmse", custom_rmse, 500, ["rmse"]),
]  # fmt: skip


def _show_history(history, keys) -> None:
    h = history.history
    print(f"History keys: {list(h)}")
    for key in keys:
        last = ", ".join(f"{v:.4g}" for v in h[key][-3:])
        print(f"history.history[{key!r}]: {len(h[key])} values, last three: [{last}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fitorch.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs per example (default: seed's)"
    )
    parser.add_argument("--out", default="out", help="folder for the plots (default: ./out)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    fitorch.utils.set_random_seed(args.seed)
    torch.set_num_threads(1)  # models of a few weights: threads only add overhead
    start = time.perf_counter()
    for title, example, seed_epochs, keys in EXAMPLES:
        epochs = args.epochs or seed_epochs
        print(f"\n=== {title} ({epochs} epochs) ===")
        history = example(epochs=epochs)
        _show_history(history, keys)
        try:
            path = os.path.join(args.out, f"{title}.png")
            plot_history(history, path=path)
            print(f"plot: {path}")
        except ImportError as err:
            print(f"plot skipped: {err}")
    print(f"\nfitorch {fitorch.__version__}, torch {torch.__version__}: "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
