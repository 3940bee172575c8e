"""fit vs a hand-written PyTorch loop doing the same work, in the same process.

(a) MLP 784-512-512-10, 60,000 synthetic samples, batch 128, metrics=['accuracy'];
(b) the seed's regression Dense(2, input_dim=1) -> Dense(1), 100,000 samples, batch 32,
    metrics=['mse', 'mae', 'mape'].
The raw loop shuffles with one randperm per epoch, slices batches with index_select, runs
forward/loss/backward/Adam (torch.optim, foreach) and accumulates the same metrics on the
device, reading them once per epoch. Prints seconds per epoch (best of `--repeats`) and the
ratio fit / raw. Usage: python bench/bench_core.py [--case a|b|both] [--repeats 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import fitorch
from fitorch import layers, optimizers


def raw_epoch(model, opt, loss_fn, metric_fns, x, y, batch_size):
    n = x.shape[0]
    perm = torch.randperm(n)
    totals = torch.zeros(1 + len(metric_fns))
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        pred = model(xb)
        loss = loss_fn(pred, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            values = [loss * len(idx)] + [f(pred, yb).sum() for f in metric_fns]
            totals += torch.stack(values)
    return (totals / n).tolist()


def time_best(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def case_a(repeats, scale):
    n = int(60000 * scale)
    x = torch.randn(n, 784)
    y = torch.randint(0, 10, (n,))
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    ce = torch.nn.CrossEntropyLoss()

    def acc(pred, yb):
        return (pred.argmax(-1) == yb).float()

    raw = time_best(lambda: raw_epoch(net, opt, ce, [acc], x, y, 128), repeats)
    model = fitorch.Sequential([
        layers.Dense(512, activation="relu", input_dim=784), layers.Dense(512, activation="relu"),
        layers.Dense(10),
    ])  # fmt: skip
    model.compile(optimizers.Adam(1e-3), loss=fitorch.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])  # fmt: skip
    xn, yn = x.numpy(), y.numpy()
    fit = time_best(lambda: model.fit(xn, yn, batch_size=128, epochs=1, verbose=0), repeats)
    return raw, fit


def case_b(repeats, scale):
    n = int(100000 * scale)
    x = torch.rand(n, 1)
    y = x.clone()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    mse = torch.nn.MSELoss()

    def se(p, t):
        return (p - t).square().mean(-1)

    def ae(p, t):
        return (p - t).abs().mean(-1)

    def ape(p, t):
        return 100.0 * ((t - p).abs() / t.abs().clamp_min(1e-7)).mean(-1)

    raw = time_best(lambda: raw_epoch(net, opt, mse, [se, ae, ape], x, y, 32), repeats)
    model = fitorch.Sequential([layers.Dense(2, input_dim=1), layers.Dense(1)])
    model.compile(optimizers.Adam(1e-3), loss="mse", metrics=["mse", "mae", "mape"])
    xn, yn = x.numpy(), y.numpy()
    fit = time_best(lambda: model.fit(xn, yn, batch_size=32, epochs=1, verbose=0), repeats)
    return raw, fit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="both", choices=["a", "b", "both"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    np.random.seed(0)
    cases = {"a": ("(a) MLP 784-512-512-10, batch 128", case_a),
             "b": ("(b) Dense(2)->Dense(1), batch 32, mse/mae/mape", case_b)}  # fmt: skip
    for key in ("a", "b") if args.case == "both" else (args.case,):
        title, fn = cases[key]
        raw, fit = fn(args.repeats, args.scale)
        print(f"{title}: raw loop {raw:.3f}s/epoch, fitorch fit {fit:.3f}s/epoch, "
              f"ratio {fit / raw:.3f}x")  # fmt: skip


if __name__ == "__main__":
    main()
