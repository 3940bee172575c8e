"""`plot_history`: training curves from a `History`, one panel per metric.

    history = model.fit(x, y, validation_split=0.2, epochs=50)
    plot_history(history, path="out/history.png")           # loss and every metric
    plot_history(history, metrics=["mean_squared_error"])   # aliases work as in History

matplotlib is optional (`pip install fitorch[plot]`): it is imported only here, and the figure
is drawn on a `matplotlib.figure.Figure` with the Agg canvas, so no display and no pyplot
state are needed. `pyplot.plot(history.history["loss"])`, as the seeds do, works as well.
"""

from __future__ import annotations

import os

from fitorch.registry import suggest

__all__ = ["plot_history"]


def plot_history(history, metrics=None, path=None):
    """Plot train (and validation, when logged) curves per metric; return the Figure.

    Args:
        history: a `History` (what `fit` returns), or its `.history` dict of per-epoch lists.
        metrics: names to plot (e.g. `["loss", "mse"]`; aliases such as
            `"mean_squared_error"` resolve as in `History.history`). None: every logged key
            without the `val_` prefix, in log order. `val_<name>` is drawn next to `<name>`.
        path: where to save the figure as PNG (folders are created); None: do not save.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: a requested metric is not in the history (closest names are listed).
    """
    logs, epochs = _logs_and_epochs(history)
    names = _select(logs, metrics)
    Figure = _figure_class()  # noqa: N806 (a class)
    cols = min(len(names), 3)
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(4.5 * cols, 3.2 * rows), layout="constrained")
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        train = logs[name]
        ax.plot(epochs[: len(train)], train, label="train")
        val_key = _val_key(logs, name)
        if val_key is not None:
            ax.plot(epochs[: len(logs[val_key])], logs[val_key], label="validation")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    if path is not None:
        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig


def _logs_and_epochs(history):
    logs = getattr(history, "history", history)
    if not hasattr(logs, "keys") or not hasattr(logs, "__getitem__"):
        raise TypeError(
            "plot_history(history) needs a History (what fit returns) or its .history dict; "
            f"got {type(history).__name__}."
        )
    lengths = [len(v) for k, v in logs.items()]
    epoch_ids = list(getattr(history, "epoch", None) or [])
    if len(epoch_ids) == max(lengths, default=0):
        return logs, [e + 1 for e in epoch_ids]  # 1-based, as the progress lines print them
    return logs, list(range(1, max(lengths, default=0) + 1))


def _select(logs, metrics) -> list[str]:
    keys = list(logs.keys())
    if metrics is None:
        names = [k for k in keys if not k.startswith("val_")]
        return names or keys
    if isinstance(metrics, str):
        metrics = [metrics]
    for name in metrics:
        if name not in logs:
            close = suggest(name, keys)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"plot_history: {name!r} is not in the history.{hint} Logged: {keys}.")
    return list(metrics)


def _val_key(logs, name: str):
    """`val_<name>`, through History aliases (`val_mse` for "mean_squared_error"), or None."""
    real = getattr(logs, "aliases", {}).get(name, name)
    for key in (f"val_{name}", f"val_{real}"):
        if key in logs:
            return key
    return None


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # optional dependency
        raise ImportError(
            "plot_history needs matplotlib: pip install matplotlib (or fitorch[plot])."
        ) from err
    return Figure
