"""BackupAndRestore: a fit killed with SIGKILL (mid-epoch, during a backup write) and run
again ends with weights, History and CSV log bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers
from fitorch.callbacks import BackupAndRestore, Callback
from fitorch.callbacks.backup_and_restore import capture_rng, restore_rng

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    import fitorch
    from fitorch import layers
    from fitorch.callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping,
                                   ReduceLROnPlateau)

    out, work, save_freq, kill_batch, kill_write = sys.argv[1:6]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    kill_batch, kill_write = int(kill_batch), int(kill_write)

    if kill_write:  # die after the Nth backup's temporary file is written, before the rename
        real_replace, writes = os.replace, [0]
        def replace(src, dst):
            if dst.endswith("backup.pt"):
                writes[0] += 1
                if writes[0] == kill_write:
                    os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)
        os.replace = replace

    class Killer(Callback):
        seen = 0
        def on_train_batch_end(self, batch, logs=None):
            Killer.seen += 1
            if Killer.seen == kill_batch:
                os.kill(os.getpid(), signal.SIGKILL)

    fitorch.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = (x[:, :3].sum(1) > 0).astype("float32")
    model = fitorch.Sequential([layers.Dense(16, activation="relu", input_shape=(6,)),
                                layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")])
    model.compile(fitorch.optimizers.Adam(1e-2), "binary_crossentropy", metrics=["acc"])
    callbacks = [BackupAndRestore(os.path.join(work, "backup"), save_freq=save_freq),
                 EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True),
                 ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1.0,
                                   cooldown=2),
                 CSVLogger(os.path.join(work, "log.csv")), Killer()]
    history = model.fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0,
                        callbacks=callbacks)
    np.savez(out + ".npz", **{k: v.numpy() for k, v in model.state_dict().items()})
    with open(out + ".json", "w") as f:
        json.dump({"history": dict(history.history), "epoch": history.epoch}, f)
    """
)


def _start(tmp_path, name, save_freq, kill_batch=0, kill_write=0):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    work = tmp_path / name
    work.mkdir(exist_ok=True)
    cmd = [sys.executable, str(script), str(tmp_path / f"{name}-out"), str(work), str(save_freq),
           str(kill_batch), str(kill_write)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait(proc):
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def _result(tmp_path, name):
    weights = dict(np.load(tmp_path / f"{name}-out.npz"))
    with open(tmp_path / f"{name}-out.json") as f:
        return weights, json.load(f)


@pytest.mark.slow
def test_sigkill_mid_epoch_and_during_backup_write_then_resume_is_bit_identical(tmp_path):
    # Backups every 2 batches; 5 batches per epoch, 4 epochs.
    ref = _start(tmp_path, "ref", 2)  # the uninterrupted run, alongside the interrupted one
    # 1. killed after global batch 7 (epoch 1, batch 1): the last backup is after batch 6.
    rc, err = _wait(_start(tmp_path, "run", 2, kill_batch=7))
    assert rc == -signal.SIGKILL, err
    backup = tmp_path / "run" / "backup" / "backup.pt"
    assert torch.load(backup, weights_only=True)["batch"] == 1  # epoch 1, one batch done
    # 2. resumed, then killed inside its 3rd backup write (temporary file written, not renamed).
    rc, err = _wait(_start(tmp_path, "run", 2, kill_write=3))
    assert rc == -signal.SIGKILL, err
    leftovers = [p.name for p in backup.parent.iterdir() if p.name != "backup.pt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".fitorch-tmp-")  # the torn write
    assert torch.load(backup, weights_only=True)["epoch"] == 2  # the previous backup is intact
    # 3. resumed to the end.
    rc, err = _wait(_start(tmp_path, "run", 2))
    assert rc == 0, err
    rc, err = _wait(ref)
    assert rc == 0, err
    ref_weights, ref_log = _result(tmp_path, "ref")
    weights, log = _result(tmp_path, "run")
    assert log == ref_log  # History values compared as exact floats
    assert ref_log["epoch"] == [0, 1, 2, 3]
    assert ref_log["history"]["learning_rate"] == [0.01, 0.01, 0.005, 0.005]  # reduced, cooldown
    for key in ref_weights:
        np.testing.assert_array_equal(weights[key], ref_weights[key])
    log_csv = (tmp_path / "run" / "log.csv").read_bytes()
    assert log_csv == (tmp_path / "ref" / "log.csv").read_bytes()
    assert log_csv.count(b"\r\n") == 5  # header + 4 epochs, none repeated
    assert not backup.parent.exists()  # deleted at the end of a completed fit


def test_rng_capture_restore_round_trip():
    import random

    state = capture_rng()
    a = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def _model():
    model = fitorch.Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def test_backup_file_contents_and_cleanup(tmp_path):
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    seen = {}

    class Peek(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            path = tmp_path / "b" / "backup.pt"
            if path.exists():
                seen[epoch] = torch.load(path, weights_only=True)

    model = _model()
    model.fit(x, y, batch_size=4, epochs=3, verbose=0,
              callbacks=[BackupAndRestore(tmp_path / "b"), Peek()])  # fmt: skip
    assert sorted(seen) == [1, 2]
    assert seen[2]["epoch"] == 2 and seen[2]["batch"] == 0
    assert [c["class"] for c in seen[2]["callbacks"]] == ["Peek", "History"]
    assert seen[2]["callbacks"][1]["state"]["epoch"] == [0, 1]
    assert not (tmp_path / "b").exists()


def test_keep_backup_and_resume_epoch(tmp_path):
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model = _model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0,
              callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])  # fmt: skip
    # The last epoch writes no backup (a finished run has nothing to resume): epoch 1 remains.
    backup = torch.load(tmp_path / "backup.pt", weights_only=True)
    assert (backup["epoch"], backup["batch"]) == (1, 0)
    model2 = _model()
    history = model2.fit(x, y, batch_size=4, epochs=2, verbose=0,
                         callbacks=[BackupAndRestore(tmp_path)])  # fmt: skip
    assert history.epoch == [0, 1]  # epoch 0 restored from the backup, epoch 1 trained
    np.testing.assert_allclose(history.history["loss"][0], backup["callbacks"][0]["state"]
                               ["history"]["loss"][0])  # fmt: skip


def test_bad_save_freq():
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore("d", save_freq=0)


def _lazy_model():
    model = fitorch.Sequential([layers.Dense(8, activation="relu"), layers.Dropout(0.5),
                                layers.Dense(1)])  # built on the first batch  # fmt: skip
    model.compile(fitorch.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


class _Interrupt(Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt


def _lazy_run(tmp_path, interrupt_at=None):
    fitorch.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 5), dtype=np.float32), rng.random((40, 1), dtype=np.float32)
    model = _lazy_model()
    schedule = fitorch.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    cbs = [BackupAndRestore(tmp_path / "lazy", save_freq=3), schedule, _Interrupt(interrupt_at)]
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=cbs)
    return model, history


def test_interrupted_lazy_model_resumes_exactly_in_process(tmp_path):
    ref_model, ref_history = _lazy_run(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _lazy_run(tmp_path, interrupt_at=8)  # epoch 1, batch 2; last backup after batch 1
    model, history = _lazy_run(tmp_path)  # a fresh, unbuilt model resumes
    assert history.history == ref_history.history and history.epoch == [0, 1, 2]
    assert history.history["learning_rate"] == [0.005, 0.0025, 0.00125]  # halved once each
    for (name, a), b in zip(ref_model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_crashed_fit_leaves_no_active_backup_behind(tmp_path):
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    model = _model()
    callbacks = [BackupAndRestore(tmp_path / "b", save_freq=1), _Interrupt(3)]
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=callbacks)
    before = (tmp_path / "b" / "backup.pt").read_bytes()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)  # no BackupAndRestore this time
    assert (tmp_path / "b" / "backup.pt").read_bytes() == before


class _InterruptAtEpoch(Callback):
    def __init__(self, active):
        super().__init__()
        self.active = active

    def on_epoch_begin(self, epoch, logs=None):
        if self.active and epoch == 1:
            raise KeyboardInterrupt


def _boundary_run(tmp_path, interrupt=False):
    fitorch.utils.set_random_seed(5)
    rng = np.random.default_rng(1)
    x, y = rng.random((24, 2), dtype=np.float32), rng.random((24, 1), dtype=np.float32)
    model = _model()
    steps = []
    count = fitorch.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    cbs = [BackupAndRestore(tmp_path / "b", save_freq=100), count, _InterruptAtEpoch(interrupt)]
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=cbs)
    return model, history, steps


def test_integer_save_freq_also_backs_up_at_each_epoch_end(tmp_path):
    # save_freq=100 never fires within the 3 batches of an epoch; the epoch end still backs up.
    ref_model, ref_history, _ = _boundary_run(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _boundary_run(tmp_path, interrupt=True)  # killed just after epoch 0 ended
    backup = torch.load(tmp_path / "b" / "backup.pt", weights_only=True)
    assert (backup["epoch"], backup["batch"]) == (1, 0)
    model, history, steps = _boundary_run(tmp_path)
    assert steps == [0, 1, 2, 0, 1, 2]  # epochs 1 and 2 only: epoch 0 is not redone
    assert history.history == ref_history.history and history.epoch == [0, 1, 2]
    for (name, a), b in zip(ref_model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name
