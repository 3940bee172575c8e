"""`python -m fitorch.demo`: Keras progress lines, the History the seed reads, PNG plots."""

import re

import torch

from fitorch import demo


def test_demo_prints_progress_history_and_writes_plots(tmp_path, capsys):
    threads = torch.get_num_threads()
    try:
        assert demo.main(["--epochs", "6", "--out", str(tmp_path / "out")]) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    for title in ("regression_metrics", "classification_accuracy", "custom_rmse"):
        assert f"=== {title} (6 epochs) ===" in out
        assert (tmp_path / "out" / f"{title}.png").read_bytes()[:4] == b"\x89PNG"
    assert out.count("Epoch 6/6\n") == 3
    num = r"-?\d+\.\d{4}(?:e[+-]\d\d)?"
    metrics = " - ".join(f"{k}: {num}" for k in ["loss", "mse", "mae", "mape", "cosine"])
    line = rf"1/1 - \d+s - \S+/step - {metrics}"
    assert len(re.findall(line, out)) == 6
    assert "History keys: ['loss', 'mse', 'mae', 'mape', 'cosine']" in out
    assert "history.history['mean_squared_error']: 6 values" in out
    assert "history.history['rmse']: 6 values" in out
