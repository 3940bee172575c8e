"""`python -m fitorch.demo`: a short first impression (first epochs and the last, a brief
History, PNG plots, a save/load round trip whose predict agrees)."""

import io
import re

import torch

from fitorch import demo

NUM = r"-?\d+\.\d{4}(?:e[+-]\d\d)?"


def _run(tmp_path, capsys, epochs):
    threads = torch.get_num_threads()
    try:
        assert demo.main(["--epochs", str(epochs), "--out", str(tmp_path / "out")]) == 0
    finally:
        torch.set_num_threads(threads)
    return capsys.readouterr().out


def test_demo_output_is_short_and_complete(tmp_path, capsys):
    out = _run(tmp_path, capsys, 7)
    lines = out.strip().splitlines()
    assert len(lines) < 50, "the demo's output must stay a screenful"
    for title in ("regression_metrics", "classification_accuracy", "custom_rmse"):
        assert f"=== {title} (7 epochs) ===" in out
        assert (tmp_path / "out" / f"{title}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"plot: {tmp_path / 'out' / title}.png" in out
        saved = tmp_path / "out" / f"{title}.keras"
        assert f"saved {saved}; the reloaded model's predict differs by at most 0.0e+00" in out
    epoch_lines = [line for line in lines if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epoch_lines] == [
        f"Epoch {i}/7" for i in (1, 2, 3, 7)
    ] * 3
    assert out.count("  ... epochs 4-6 not shown ...\n") == 3
    metrics = " - ".join(f"{k}: {NUM}" for k in ["loss", "mse", "mae", "mape", "cosine"])
    assert re.fullmatch(rf"Epoch 1/7 - {metrics}", epoch_lines[0])
    assert "History: loss, mse, mae, mape, cosine (7 epochs each)" in out
    brief = r"\[\S+, \S+, \.\.\., \S+, \S+\]"
    assert re.search(rf"history.history\['mean_squared_error'\]: {brief}\n", out)
    assert re.search(rf"history.history\['rmse'\]: {brief}\n", out)


def test_demo_history_values_are_the_first_and_last_epochs(tmp_path, capsys):
    model = demo.regression_metrics(epochs=5)
    mse = model.history.history["mean_squared_error"]
    shown = f"[{mse[0]:.4g}, {mse[1]:.4g}, ..., {mse[3]:.4g}, {mse[4]:.4g}]"
    demo.show_history(model.history, ["mean_squared_error"])
    assert f"history.history['mean_squared_error']: {shown}" in capsys.readouterr().out


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_brief_epochs_redraws_hidden_epochs_in_place_on_a_terminal():
    stream = _Tty()
    cb = demo.BriefEpochs(stream, interval=0.0)  # redraw every hidden epoch, to count them
    cb.set_params({"epochs": 6})
    for epoch in range(6):
        cb.on_epoch_end(epoch, {"loss": 0.5})
    text = stream.getvalue()
    assert text.count("\r") == 3  # epochs 4 and 5 redrawn, then the note over them
    assert text.splitlines()[-2].endswith("... epochs 4-5 not shown ...")
    assert text.endswith("Epoch 6/6 - loss: 0.5000\n")
