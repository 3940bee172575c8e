"""Data-path overhead of `fit`: arrays, a DataLoader and a Sequence vs raw PyTorch loops.

    python bench/bench_data.py [--hidden 512] [--samples 8192] [--batch 128] [--rounds 3]
                               [--threads 1] [--device cpu]

Same model (MLP 784-H-H-10, softmax + sparse categorical crossentropy, SGD), same data,
same process. Each round times one epoch of every variant (after a warm-up epoch), in
turn, so that all see the same machine load; medians are reported:
  arrays       fitorch fit(x, y, shuffle=True)          vs raw loop: randperm + index_select
  DataLoader   fitorch fit(loader)                       vs raw loop over the same DataLoader
  Sequence     fitorch fit(seq, workers=2), 5 ms sleep   vs the arrays step time, vs the
               same Sequence without the sleep, and fit(seq, workers=1) (no overlap)
Issue 8 targets: arrays <= 1.05x raw; DataLoader <= 1.05x raw; Sequence with workers=2
<= 1.2x the step time when the step itself takes more than 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from fitorch import layers, optimizers  # noqa: E402
from fitorch.models import Sequential  # noqa: E402
from fitorch.utils import Sequence  # noqa: E402

EPS = 1e-7  # Keras' epsilon: the probability clip of sparse_categorical_crossentropy


def fitorch_model(hidden: int, device: str, lr: float):
    model = Sequential([
        layers.Dense(hidden, activation="relu", input_dim=784),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.to(device)
    model.compile(optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy")
    return model


def torch_model(hidden: int, device: str):
    return torch.nn.Sequential(
        torch.nn.Linear(784, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10), torch.nn.Softmax(dim=-1),
    ).to(device)  # fmt: skip


def raw_step(model, opt, xb, yb, total):
    """The same work as fitorch's step: forward, clipped CE, backward, update, loss mean."""
    p = model(xb).clamp(EPS, 1 - EPS)
    loss = -torch.log(p.gather(1, yb.view(-1, 1))).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    total.add_(loss.detach())  # a running loss on the device, as fit's tracker (no sync)


def raw_arrays_epoch(model, opt, x, y, batch, device):
    total = torch.zeros((), device=device)
    order = torch.randperm(len(x), device=x.device)
    for lo in range(0, len(x), batch):
        idx = order[lo : lo + batch]
        raw_step(model, opt, x.index_select(0, idx), y.index_select(0, idx), total)
    return total.item()


def raw_loader_epoch(model, opt, loader, device):
    total = torch.zeros((), device=device)
    for xb, yb in loader:
        raw_step(model, opt, xb.to(device, non_blocking=True), yb.to(device, non_blocking=True),
                 total)  # fmt: skip
    return total.item()


class SleepySequence(Sequence):
    """Batches of the arrays after a 5 ms sleep (simulated decoding / disk reads)."""

    def __init__(self, x, y, batch, sleep=0.005, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch, self.sleep = x, y, batch, sleep

    def __len__(self):
        return (len(self.x) + self.batch - 1) // self.batch

    def __getitem__(self, i):
        time.sleep(self.sleep)
        sl = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[sl], self.y[sl]


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev, lr, b = args.device, 0.01, args.batch
    x_np = np.random.default_rng(0).random((args.samples, 784), dtype=np.float32)
    y_np = np.random.default_rng(1).integers(0, 10, args.samples)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    x_dev, y_dev = x.to(dev), y.to(dev)
    loader = DataLoader(TensorDataset(x, y), batch_size=b, shuffle=True,
                        pin_memory=dev.startswith("cuda"))  # fmt: skip
    steps = len(loader)

    fm_arrays, fm_loader, fm_seq2, fm_seq1, fm_seq0 = (
        fitorch_model(args.hidden, dev, lr) for _ in range(5)
    )
    tm_arrays, tm_loader = torch_model(args.hidden, dev), torch_model(args.hidden, dev)
    opt_a = torch.optim.SGD(tm_arrays.parameters(), lr=lr)
    opt_l = torch.optim.SGD(tm_loader.parameters(), lr=lr)
    seq2 = SleepySequence(x_np, y_np, b, workers=2)
    seq1 = SleepySequence(x_np, y_np, b, workers=1)
    seq0 = SleepySequence(x_np, y_np, b, sleep=0.0, workers=1)  # the Sequence path's own step

    def sync():
        if dev.startswith("cuda"):
            torch.cuda.synchronize()

    variants = {
        "fit arrays": lambda: fm_arrays.fit(x_np, y_np, batch_size=b, epochs=1, verbose=0),
        "raw arrays": lambda: raw_arrays_epoch(tm_arrays, opt_a, x_dev, y_dev, b, dev),
        "fit DataLoader": lambda: fm_loader.fit(loader, epochs=1, verbose=0),
        "raw DataLoader": lambda: raw_loader_epoch(tm_loader, opt_l, loader, dev),
        "fit Sequence w=2": lambda: fm_seq2.fit(seq2, epochs=1, verbose=0, shuffle=False),
        "fit Sequence w=1": lambda: fm_seq1.fit(seq1, epochs=1, verbose=0, shuffle=False),
        "fit Sequence 0 ms": lambda: fm_seq0.fit(seq0, epochs=1, verbose=0, shuffle=False),
    }
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(timed(lambda fn=fn: (fn(), sync())))
    med = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
    print(f"device={dev} threads={args.threads} MLP 784-{args.hidden}-{args.hidden}-10, "
          f"{args.samples} samples, batch {b}, {steps} steps/epoch, "
          f"{args.rounds} rounds (median)")  # fmt: skip
    for name, t in med.items():
        print(f"  {name:<18} {t * 1e3:8.1f} ms/epoch  {t / steps * 1e3:6.2f} ms/step  "
              f"(CPU {cpu[name] / steps * 1e3:6.2f} ms/step)")  # fmt: skip
    print(f"CPU-time ratios (insensitive to other load): arrays fit/raw = "
          f"{cpu['fit arrays'] / cpu['raw arrays']:.3f}, DataLoader fit/raw = "
          f"{cpu['fit DataLoader'] / cpu['raw DataLoader']:.3f}")  # fmt: skip
    step = med["fit arrays"] / steps
    print(f"arrays      fit / raw loop           = {med['fit arrays'] / med['raw arrays']:.3f}"
          "  (target <= 1.05)")  # fmt: skip
    print(f"DataLoader  fit / raw loop           = "
          f"{med['fit DataLoader'] / med['raw DataLoader']:.3f}  (target <= 1.05)")  # fmt: skip
    print(f"Sequence    workers=2 step / step    = {med['fit Sequence w=2'] / steps / step:.3f}"
          f"  (target <= 1.2; step {step * 1e3:.1f} ms, sleep 5 ms)")  # fmt: skip
    print(f"Sequence    workers=2 / no-sleep Seq = "
          f"{med['fit Sequence w=2'] / med['fit Sequence 0 ms']:.3f}"
          "  (the same step without the sleep)")  # fmt: skip
    print(f"Sequence    workers=1 step / step    = {med['fit Sequence w=1'] / steps / step:.3f}"
          "  (no overlap, for reference)")  # fmt: skip


if __name__ == "__main__":
    main()
