"""Where progress goes (utils/console.py + ProgbarLogger): a pseudo-terminal and a real
Jupyter kernel get a bar redrawn in place, files and pipes one line per epoch, and
`verbose='auto'` is 1 where interactive and 2 elsewhere (Keras 3)."""

import io
import os
import re
import select
import time

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from fitorch import layers
from fitorch.callbacks import LambdaCallback, ProgbarLogger
from fitorch.models import Sequential
from fitorch.utils import console

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _fit(verbose, stream=None, steps=8, pause=0.0, epochs=2):
    model = Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((steps * 4, 3), "float32")
    slow = LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(pause))
    callbacks = [slow] + ([ProgbarLogger(stream=stream)] if stream is not None else [])
    return model.fit(x, x[:, :1], batch_size=4, epochs=epochs, verbose=verbose,
                     callbacks=callbacks)  # fmt: skip


@pytest.mark.parametrize(
    "verbose, tty, expected",
    [("auto", True, 1), ("auto", False, 2), (1, False, 1), (2, True, 2), (0, True, 0),
     (True, False, 1)],
)  # fmt: skip
def test_resolve_verbose(verbose, tty, expected):
    stream = _Tty() if tty else io.StringIO()
    assert console.resolve_verbose(verbose, stream) == expected


@pytest.mark.parametrize("bad", [3, -1, "yes", 1.0, None])
def test_resolve_verbose_rejects_other_values(bad):
    with pytest.raises(ValueError, match=r"verbose must be 0, 1, 2 or 'auto'; got"):
        console.resolve_verbose(bad, io.StringIO())


def test_plain_streams_are_not_interactive():
    assert not console.is_interactive(io.StringIO())
    assert not console.is_notebook(io.StringIO())
    assert console.is_interactive(_Tty())
    assert console.redraw_interval(_Tty()) == console.TERMINAL_REDRAW_SECONDS


def test_file_gets_one_line_per_epoch_without_carriage_returns():
    out = io.StringIO()
    _fit(1, stream=out, pause=0.02)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert [lines[0], lines[2]] == ["Epoch 1/2", "Epoch 2/2"]
    assert len(lines) == 4
    assert re.fullmatch(r"8/8 ━{20} \d+s \d+[mu]?s/step - loss: \S+", lines[3])


def test_pty_redraws_the_bar_in_place():
    master, slave = os.openpty()
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        assert tty.isatty()
        start = time.perf_counter()
        _fit(1, stream=tty, pause=0.06, epochs=1)
        elapsed = time.perf_counter() - start
        data = b""  # read while the slave end is open (a closed one reads as EIO)
        while chunk := _read_ready(master):
            data += chunk
    os.close(master)
    text = data.decode("utf-8").replace("\r\n", "\n")  # the tty's own newline translation
    redraws = text.split("\n")[1].split("\r")
    # 8 steps of >= 60 ms with redraws >= 100 ms apart: a few live frames, then the final one.
    live = len(redraws) - 2
    assert 1 <= live <= min(7, elapsed / console.TERMINAL_REDRAW_SECONDS + 1), (elapsed, redraws)
    assert all(re.match(r"\d/8 [━─]{20} ", r) for r in redraws[1:-1])
    assert re.match(r"8/8 ━{20} \d+s ", redraws[-1])


def _read_ready(fd):
    ready, _, _ = select.select([fd], [], [], 0.2)
    return os.read(fd, 65536) if ready else b""


def test_auto_on_a_pipe_prints_the_verbose_2_line(capsys):
    _fit("auto", epochs=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/1"
    assert re.fullmatch(r"8/8 - \d+s - \d+[mu]?s/step - loss: \S+", lines[1])


def test_jupyter_kernel_gets_a_live_bar_and_auto_is_1():
    code = (
        "import sys, time, numpy as np\n"
        f"sys.path.insert(0, {ROOT!r})\n"
        "from fitorch import layers, models\n"
        "from fitorch.callbacks import LambdaCallback\n"
        "from fitorch.utils import console\n"
        "print('auto ->', console.resolve_verbose('auto'))\n"
        "m = models.Sequential([layers.Dense(1, input_shape=(3,))])\n"
        "m.compile(optimizer='sgd', loss='mse')\n"
        "slow = LambdaCallback(on_train_batch_end=lambda b, logs: time.sleep(0.25))\n"
        "x = np.ones((32, 3), 'float32')\n"
        "start = time.perf_counter()\n"
        "_ = m.fit(x, x[:, :1], batch_size=4, epochs=1, callbacks=[slow])\n"
        "print(f'elapsed {time.perf_counter() - start:.3f}')\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    text = "".join(
        o.get("text", "") for o in notebook.cells[0].outputs if o.output_type == "stream"
    )
    assert text.startswith("auto -> 1\nEpoch 1/1\n")
    bar, elapsed = text.split("Epoch 1/1\n")[1].rstrip("\n").rsplit("\nelapsed ", 1)
    frames = bar.split("\r")
    # 8 steps of >= 250 ms with redraws >= 500 ms apart: a few live frames and the final one.
    live = len(frames) - 2
    assert 2 <= live <= float(elapsed) / console.NOTEBOOK_REDRAW_SECONDS + 1, (elapsed, frames)
    assert re.match(r"8/8 ━{20} \d+s ", frames[-1])
    assert "Traceback" not in text


def test_with_interactive_logging_off_progress_goes_to_logging_as_keras(capsys, caplog):
    import logging

    import numpy as np

    import fitorch

    model = fitorch.Sequential([fitorch.Input((2,)), fitorch.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    fitorch.config.disable_interactive_logging()
    try:
        assert fitorch.utils.is_interactive_logging_enabled() is False
        with caplog.at_level(logging.INFO, logger="fitorch"):
            model.fit(x, y, batch_size=2, epochs=2, verbose=1)
    finally:
        fitorch.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    lines = [r.getMessage() for r in caplog.records if r.name == "fitorch"]
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("2/2 ") and "loss:" in lines[1] and "\r" not in lines[1]
    model.fit(x, y, epochs=1, verbose=2)
    assert capsys.readouterr().out.startswith("Epoch 1/1\n")


def test_callback_messages_follow_interactive_logging(capsys, caplog):
    import logging

    from fitorch.callbacks import EarlyStopping

    stopper = EarlyStopping(monitor="loss", patience=0, verbose=1)
    stopper.stopped_epoch = 2
    console.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO, logger="fitorch"):
            stopper.on_train_end()
    finally:
        console.enable_interactive_logging()
    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == ["Epoch 3: early stopping"]
    stopper.on_train_end()
    assert capsys.readouterr().out == "Epoch 3: early stopping\n"
