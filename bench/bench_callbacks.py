"""Cost of the usual callback set in `fit`: with vs without callbacks on the core MLP.

    python bench/bench_callbacks.py [--samples 60000] [--repeats 3] [--device cpu|cuda]

Model: MLP 784-512-512-10 (relu, softmax), Adam, sparse categorical crossentropy with
accuracy, batch 128, 1 epoch on synthetic data, plus a 10% validation set in both runs.
Callbacks: ModelCheckpoint(save_best_only=True), EarlyStopping, ReduceLROnPlateau,
CSVLogger, TensorBoard(update_freq='epoch'). Runs alternate (plain, with callbacks) so both
see the same machine load; the median and fastest fit times are reported with their ratio
(target: <= 1.03). None of these callbacks has a batch hook, so the difference is the
per-epoch work: one checkpoint write, one CSV row, a few TensorBoard scalars.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
import fitorch  # noqa: E402
from fitorch import callbacks as C  # noqa: E402
from fitorch import layers  # noqa: E402


def make_model(device: str):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([
        layers.Dense(512, activation="relu", input_shape=(784,)),
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.to(device)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def callback_set(directory: str) -> list:
    return [
        C.ModelCheckpoint(f"{directory}/best.weights.h5", save_best_only=True,
                          save_weights_only=True),
        C.EarlyStopping(patience=2),
        C.ReduceLROnPlateau(patience=2),
        C.CSVLogger(f"{directory}/log.csv"),
        C.TensorBoard(f"{directory}/tb", update_freq="epoch"),
    ]  # fmt: skip


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_test_begin", "on_test_end",
          "on_train_end")  # fmt: skip


def _timed_hooks(callbacks: list, spent: dict) -> None:
    """Wrap each callback's epoch-level hooks to add their time to spent[class name]
    (measured directly, so the cost shows even when the machine's load makes fit times
    noisy)."""
    for cb in callbacks:
        name = type(cb).__name__
        spent.setdefault(name, 0.0)
        for hook in _HOOKS:
            if not cb.implements(hook):
                continue
            fn = getattr(cb, hook)

            def wrapped(*args, _fn=fn, _name=name):
                t0 = time.perf_counter()
                try:
                    return _fn(*args)
                finally:
                    spent[_name] += time.perf_counter() - t0

            setattr(cb, hook, wrapped)


def timed_fit(data, device: str, with_callbacks: bool, spent: dict | None = None) -> float:
    x, y, xv, yv = data
    model = make_model(device)
    with tempfile.TemporaryDirectory() as directory:
        cbs = callback_set(directory) if with_callbacks else None
        if cbs is not None and spent is not None:
            _timed_hooks(cbs, spent)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, validation_data=(xv, yv),
                  callbacks=cbs)  # fmt: skip
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_val = max(args.samples // 10, 128)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    xv, yv = rng.random((n_val, 784), dtype=np.float32), rng.integers(0, 10, n_val)
    data = (x, y, xv, yv)
    timed_fit(data, args.device, True)  # warm-up: imports (tensorboard), allocator, caches
    plain, with_cb, hooks = [], [], []
    for _ in range(args.repeats):
        plain.append(timed_fit(data, args.device, False))
        spent: dict = {}
        with_cb.append(timed_fit(data, args.device, True, spent))
        hooks.append(spent)
    med_p, med_c = statistics.median(plain), statistics.median(with_cb)
    print(f"device={args.device} samples={args.samples} batch=128 epochs=1 repeats={args.repeats}")
    print(f"no callbacks   : median {med_p:.3f}s  min {min(plain):.3f}s")
    print(f"with callbacks : median {med_c:.3f}s  min {min(with_cb):.3f}s")
    print(f"ratio (median) : {med_c / med_p:.3f}")
    print(f"ratio (min)    : {min(with_cb) / min(plain):.3f}")
    med_h = statistics.median(sum(h.values()) for h in hooks)
    share, share_min = med_h / med_p, med_h / min(plain)
    print(f"callback hooks : median {med_h * 1e3:.1f}ms per fit = {share:.2%} of the median "
          f"plain fit, {share_min:.2%} of the fastest "
          f"(hook-time ratio {1 + share_min:.3f})")  # fmt: skip
    for name in hooks[0]:
        print(f"  {name:18s} {statistics.median(h[name] for h in hooks) * 1e3:7.1f}ms")


if __name__ == "__main__":
    main()
