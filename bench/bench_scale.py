"""Scale benchmark: data-parallel fit on the CPU (1 vs 2 processes) and eager vs jit_compile.

(a) The core MLP (784-512-512-10 at --scale 1; the hidden width scales), synthetic data, global
    batch 256, Adam, metrics=['accuracy']: `fit` in one process, then the same script under
    `torchrun --nproc_per_node=2` (gloo, one thread per process, so 1 process = 1 core and
    2 processes = 2 cores), and a plain torch DDP loop doing the same work as the baseline.
    Reports samples/s (best epoch after a warm-up epoch), the ratio,
    and the collectives per training step: DDP's gradient all-reduces (counted by a DDP
    communication hook) and fitorch's own (metric syncs, shuffle order), which happen per
    epoch, not per step.
(b) The same MLP in one process, eager vs `compile(jit_compile=True)` (inductor), seconds per
    epoch after the compiling epoch.
Usage: python bench/bench_scale.py [--scale 0.25] [--epochs 3] [--case a|b|both]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build(hidden: int, jit: bool = False):
    import fitorch
    from fitorch import layers

    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential(
        [
            layers.Input((784,)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
    return model


class EpochTimer:
    """A callback recording each epoch's wall time and the steps taken."""

    def __new__(cls):
        from fitorch.callbacks import Callback

        class _Timer(Callback):
            def __init__(self):
                super().__init__()
                self.times, self.steps = [], 0

            def on_epoch_begin(self, epoch, logs=None):
                self._t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._t)

        return _Timer()


def worker(args) -> None:
    """One process of case (a); under torchrun, every rank runs this."""
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    from fitorch import distributed

    hidden = max(16, int(512 * args.scale))
    n = int(60000 * args.scale) // 256 * 256
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 784)).astype("float32")
    y = rng.integers(0, 10, size=n)
    model = build(hidden)
    grad_allreduces = [0]
    if distributed.setup():
        ddp = distributed.ddp_model(model)

        def counting_hook(state, bucket):
            grad_allreduces[0] += 1
            return allreduce_hook(state, bucket)

        ddp.register_comm_hook(None, counting_hook)
    timer = EpochTimer()
    before = distributed.collective_count()
    model.fit(x, y, batch_size=256, epochs=args.epochs, verbose=0, callbacks=[timer])
    steps = args.epochs * (n // 256)
    if distributed.is_main_process():
        result = {
            "world": distributed.world_size(),
            "samples_per_s": n / min(timer.times[1:] or timer.times),
            "grad_allreduces_per_step": grad_allreduces[0] / steps,
            "fitorch_collectives": distributed.collective_count() - before,
            "epochs": args.epochs,
            "hidden": hidden,
            "samples": n,
        }
        with open(args.out, "w") as f:
            json.dump(result, f)


def raw_worker(args) -> None:
    """The same training as `worker` in plain torch: DDP, each rank its half of every batch
    of one shared permutation, torch.optim.Adam (foreach), accuracy summed on the device."""
    import torch.distributed as dist

    hidden = max(16, int(512 * args.scale))
    n = int(60000 * args.scale) // 256 * 256
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(n, 784)).astype("float32"))
    y = torch.from_numpy(rng.integers(0, 10, size=n))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(), torch.nn.Linear(hidden, 10),
    )  # fmt: skip
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    local = 256 // world
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        if world > 1:
            dist.broadcast(perm, 0)
        correct = torch.zeros(())
        for i in range(0, n, 256):
            idx = perm[i + rank * local : i + (rank + 1) * local]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += (logits.argmax(1) == yb).sum()
        if world > 1:
            dist.all_reduce(correct)
        correct.item()
        times.append(time.perf_counter() - t0)
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"samples_per_s": n / min(times[1:] or times)}, f)
    if world > 1:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_a(args) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT)
    results = {}
    for nproc, key, mode in ((1, 1, "--worker"), (2, 2, "--worker"), (1, "raw1", "--raw"),
                             (2, "raw2", "--raw")):  # fmt: skip
        out = os.path.join(args.tmp, f"scale_{key}.json")
        common = [__file__, mode, "--out", out, "--scale", str(args.scale),
                  "--epochs", str(args.epochs)]  # fmt: skip
        if nproc == 1:
            cmd = [sys.executable, *common]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                   "--master_addr=127.0.0.1", f"--master_port={_free_port()}", *common]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        with open(out) as f:
            results[key] = json.load(f)
    one, two = results[1], results[2]
    print(f"(a) MLP 784-{one['hidden']}-{one['hidden']}-10, {one['samples']} samples, global "
          f"batch 256, 1 thread per process")  # fmt: skip
    print(f"    1 process : {one['samples_per_s']:9.0f} samples/s")
    print(f"    2 processes: {two['samples_per_s']:9.0f} samples/s   ratio 2p/1p = "
          f"{two['samples_per_s'] / one['samples_per_s']:.2f}")  # fmt: skip
    print(f"    gradient all-reduces per step (DDP buckets): {two['grad_allreduces_per_step']:.2f}")
    print(
        f"    fitorch collectives in {two['epochs']} epochs: {two['fitorch_collectives']} "
        "(per epoch: 1 RNG-state broadcast, 1 shuffle order, 1 metric sync; per step: 0)"
    )
    raw1, raw2 = results["raw1"], results["raw2"]
    print(
        f"    raw torch DDP loop, same work: 1 process {raw1['samples_per_s']:.0f}, "
        f"2 processes {raw2['samples_per_s']:.0f} samples/s, ratio "
        f"{raw2['samples_per_s'] / raw1['samples_per_s']:.2f}"
    )


def case_b(args) -> None:
    hidden = max(16, int(512 * args.scale))
    n = int(60000 * args.scale) // 256 * 256
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 784)).astype("float32")
    y = rng.integers(0, 10, size=n)
    epochs = max(args.epochs, 2)
    times = {}
    for jit in (False, True):
        model = build(hidden, jit)
        timer = EpochTimer()
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=256, epochs=epochs, verbose=0, callbacks=[timer])
        times[jit] = (min(timer.times[1:]), timer.times[0], time.perf_counter() - t0)
    print(f"(b) MLP 784-{hidden}-{hidden}-10, {n} samples, batch 256, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"    eager          : {times[False][0]:.3f} s/epoch")
    print(
        f"    jit_compile    : {times[True][0]:.3f} s/epoch (first epoch, compiling: "
        f"{times[True][1]:.1f} s)   ratio jit/eager = {times[True][0] / times[False][0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="both", choices=["a", "b", "both"])
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--raw", action="store_true")
    parser.add_argument("--out", default="")
    parser.add_argument("--tmp", default="/tmp")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.raw:
        raw_worker(args)
        return
    if args.case in ("a", "both"):
        case_a(args)
    if args.case in ("b", "both"):
        case_b(args)


if __name__ == "__main__":
    main()
