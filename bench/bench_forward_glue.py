"""Per-call glue of an eager forward and fit epoch vs raw PyTorch, in the same run.

Workload (issue 18's per-step overhead model): Input((1,)) -> Dense(2) -> Dense(1);
fit with Adam(1e-3), loss "mse", metrics ["mse", "mae", "mape"], 16,000 rows, batch 32,
verbose=0. Each round times, interleaved:
- forward: `model(x, training=True)` against the same two `torch.nn.Linear` calls
  (x of 32 rows, `--calls` calls per round);
- epoch: one `model.fit(..., epochs=1)` against a raw loop doing the same work (one
  randperm, index_select batches, forward/mse/backward/torch Adam, the three metric sums
  accumulated on the device and read once).
Prints the median over `--rounds` rounds of each time and of each round's ratio.
Usage: python bench/bench_forward_glue.py [--rounds 15] [--calls 2000] [--rows 16000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import fitorch
from fitorch import layers, optimizers


def build_model():
    model = fitorch.Sequential([fitorch.Input((1,)), layers.Dense(2), layers.Dense(1)])
    model.compile(optimizers.Adam(1e-3), loss="mse", metrics=["mse", "mae", "mape"])
    return model


def time_calls(fn, x, calls: int) -> float:
    """Seconds per call of `fn(x)` over `calls` calls (grad mode on, as in a train step)."""
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(x)
    return (time.perf_counter() - t0) / calls


def raw_epoch(net, opt, x, y, batch_size: int) -> list[float]:
    n = x.shape[0]
    perm = torch.randperm(n)
    totals = torch.zeros(4)
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        pred = net(xb)
        loss = torch.nn.functional.mse_loss(pred, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            err = pred - yb
            ape = 100.0 * err.abs() / yb.abs().clamp_min(1e-7)
            totals += torch.stack([loss * len(idx), err.square().sum(), err.abs().sum(), ape.sum()])
    return (totals / n).tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=16000)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(args.rows, 1)).astype("float32")
    y_np = (3.0 * x_np + 2.0).astype("float32")
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    xb = x[:32]

    model = build_model()
    net = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    model.fit(x_np, y_np, batch_size=32, epochs=1, verbose=0)  # warm-up
    raw_epoch(net, opt, x, y, 32)

    fwd, fwd_raw, ep, ep_raw = [], [], [], []
    for _ in range(args.rounds):
        fwd.append(time_calls(lambda v: model(v, training=True), xb, args.calls))
        fwd_raw.append(time_calls(net, xb, args.calls))
        t0 = time.perf_counter()
        model.fit(x_np, y_np, batch_size=32, epochs=1, verbose=0)
        ep.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw_epoch(net, opt, x, y, 32)
        ep_raw.append(time.perf_counter() - t0)

    med = statistics.median
    print(f"rounds={args.rounds} calls={args.calls} rows={args.rows} torch={torch.__version__}")
    print(
        f"forward: fitorch {med(fwd) * 1e6:.1f} us, raw {med(fwd_raw) * 1e6:.1f} us, "
        f"ratio {med([a / b for a, b in zip(fwd, fwd_raw)]):.2f}x"
    )
    print(
        f"epoch:   fitorch {med(ep):.3f} s, raw {med(ep_raw):.3f} s, "
        f"ratio {med([a / b for a, b in zip(ep, ep_raw)]):.2f}x"
    )


if __name__ == "__main__":
    main()
