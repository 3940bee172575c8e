"""fitorch.utils.plot_history: one panel per metric, train and validation curves, PNG file."""

import builtins

import numpy as np
import pytest

from fitorch.callbacks import History
from fitorch.utils import plot_history


def _history():
    h = History()
    for epoch in range(4):
        h.on_epoch_end(
            epoch,
            {"loss": 1.0 / (epoch + 1), "mse": 2.0 - epoch, "val_loss": 1.5 - 0.1 * epoch,
             "val_mse": 3.0 - epoch},
        )  # fmt: skip
    h.history.aliases["mean_squared_error"] = "mse"
    return h


def test_panels_hold_train_and_validation_curves(tmp_path):
    path = tmp_path / "plots" / "history.png"
    fig = plot_history(_history(), path=path)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mse"]
    loss_ax = fig.axes[0]
    train, val = loss_ax.lines
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4])  # 1-based epochs
    np.testing.assert_allclose(train.get_ydata(), [1.0, 0.5, 1 / 3, 0.25])
    np.testing.assert_allclose(val.get_ydata(), [1.5, 1.4, 1.3, 1.2])
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_selected_metric_by_alias_and_plain_dict():
    fig = plot_history(_history(), metrics=["mean_squared_error"])
    (ax,) = fig.axes
    assert ax.get_title() == "mean_squared_error"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [3.0, 2.0, 1.0, 0.0])  # val_mse
    fig = plot_history({"loss": [3.0, 2.0]}, metrics="loss")
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1


def test_unknown_metric_names_the_closest():
    with pytest.raises(ValueError, match=r"'mes' is not in the history\. Did you mean 'mse'\?"):
        plot_history(_history(), metrics=["mes"])
    with pytest.raises(TypeError, match="History"):
        plot_history([1.0, 2.0])


def test_without_matplotlib_a_clear_import_error(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(_history())


def test_seed_history_plots(run_seed):
    run = run_seed("seed003_fit_arguments")
    fig = plot_history(run["history_all"])
    assert [ax.get_title() for ax in fig.axes] == ["loss", "acc"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), [3, 4, 5, 6])  # initial_epoch=2
