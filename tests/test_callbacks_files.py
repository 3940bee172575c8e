"""callbacks/files.py crash leftovers and full disks: a killed writer's temporary files are
removed by the next write of the target and by the owning callback at on_train_begin, never
another program's or a live writer's; ENOSPC names the target and keeps the previous file."""

import errno
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import BackupAndRestore, ModelCheckpoint, files


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has it (reuse within the test is negligible)


def _leftover(directory, name, pid):
    path = directory / f".fitorch-tmp-{pid}-abc123_x-{name}"
    path.write_bytes(b"torn")
    return path


def test_next_write_removes_a_killed_writers_temp_only(tmp_path):
    target = tmp_path / "w.bin"
    stale = _leftover(tmp_path, "w.bin", _dead_pid())
    live = _leftover(tmp_path, "w.bin", os.getppid())  # a running process: a live writer
    other_target = _leftover(tmp_path, "other.bin", _dead_pid())
    foreign = tmp_path / ".tmp-abc-w.bin"  # another program's naming
    foreign.write_bytes(b"theirs")
    files.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert not stale.exists()
    assert live.exists() and other_target.exists() and foreign.read_bytes() == b"theirs"


def test_own_pid_leftover_counts_as_stale(tmp_path):
    # A restarted container often gives the trainer the same pid as the killed run.
    stale = _leftover(tmp_path, "w.bin", os.getpid())
    files.remove_stale_temps(tmp_path / "w.bin")
    assert not stale.exists()


def _model():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([fitorch.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_model_checkpoint_template_removes_its_stale_temps_at_train_begin(tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    dead = _dead_pid()
    mine = _leftover(ck, "w-03-0.51.weights.h5", dead)
    unrelated = _leftover(ck, "notes.txt", dead)
    seen = []

    class Probe(fitorch.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(mine.exists())

    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")  # loss exactly 0
    template = str(ck / "w-{epoch:02d}-{loss:.2f}.weights.h5")
    _model().fit(x, y, verbose=0, callbacks=[ModelCheckpoint(template, save_weights_only=True),
                                             Probe()])  # fmt: skip
    assert seen == [False]  # gone before the first step
    assert unrelated.exists()
    assert [p.name for p in ck.iterdir() if not p.name.startswith(".")] == ["w-01-0.00.weights.h5"]


def test_full_disk_during_a_backup_names_the_path_and_keeps_the_previous_backup(
    tmp_path, monkeypatch
):
    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(f)
        if len(calls) == 2:  # the second backup: half written, then the disk is full
            with open(f, "wb") as fh:
                fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    backup = tmp_path / "b" / "backup.pt"
    model = _model()
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    with pytest.raises(
        OSError, match=r"could not write '.*b/backup.pt' \(No space left on device\)"
    ) as info:
        model.fit(x, y, batch_size=4, epochs=3, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path / "b", save_freq=1)])  # fmt: skip
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(backup.parent) == ["backup.pt"]  # the torn temporary file is gone
    kept = torch.load(backup, weights_only=True)
    assert (kept["epoch"], kept["batch"]) == (0, 1)  # the first backup, loadable
