"""Time of `optimizer.step()` on a ~20M-parameter model: fitorch vs torch.optim (foreach).

    python bench/bench_optimizers.py [--device cuda] [--params 20e6] [--repeats 5]

Gradients are set once (random) and `step()` is timed alone, alternating fitorch and torch
in rounds so that both see the same machine load; the median per-step time is reported with
the ratio fitorch / torch (and the ratio of the fastest rounds, steadier on a busy machine).
Pairs (hyperparameters chosen so both do the same work):
  Adam          fitorch Adam            vs torch.optim.Adam(foreach=True)
  SGD-momentum  fitorch SGD(momentum)   vs torch.optim.SGD(momentum=0.9, foreach=True)
  RMSprop       fitorch RMSprop         vs torch.optim.RMSprop(foreach=True)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
from fitorch import optimizers as O  # noqa: E402

PAIRS = {
    "Adam": (
        lambda ps: O.Adam(ps, learning_rate=1e-3),
        lambda ps: torch.optim.Adam(ps, lr=1e-3, eps=1e-7, foreach=True),
    ),
    "SGD-momentum": (
        lambda ps: O.SGD(ps, learning_rate=1e-2, momentum=0.9),
        lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, foreach=True),
    ),
    "RMSprop": (
        lambda ps: O.RMSprop(ps, learning_rate=1e-3),
        lambda ps: torch.optim.RMSprop(ps, lr=1e-3, alpha=0.9, eps=1e-7, foreach=True),
    ),
}


def make_params(total: int, device: str) -> list[torch.nn.Parameter]:
    """Eight square weight matrices plus their biases, about `total` elements in all."""
    width = int((total / 8) ** 0.5)
    params = []
    for _ in range(8):
        params.append(torch.nn.Parameter(torch.randn(width, width, device=device) * 0.01))
        params.append(torch.nn.Parameter(torch.zeros(width, device=device)))
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(opt, steps: int, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
    sync(device)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--params", type=float, default=20e6)
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    results = {}
    for name, (make_fitorch, make_torch) in PAIRS.items():
        ps_f = make_params(int(args.params), args.device)
        ps_t = [torch.nn.Parameter(p.detach().clone()) for p in ps_f]
        for p, q in zip(ps_f, ps_t):
            q.grad = p.grad.clone()
        fit, ref = make_fitorch(ps_f), make_torch(ps_t)
        fit.step(), ref.step()  # warm-up: creates the slots
        times_f, times_t = [], []
        for _ in range(args.repeats):
            times_f.append(time_steps(fit, args.steps, args.device))
            times_t.append(time_steps(ref, args.steps, args.device))
        results[name] = (
            statistics.median(times_f),
            statistics.median(times_t),
            min(times_f) / min(times_t),
        )
        del ps_f, ps_t, fit, ref

    n = sum(p.numel() for p in make_params(int(args.params), "cpu"))
    print(
        f"step() time, {n / 1e6:.1f}M parameters in 16 tensors, device={args.device}, "
        f"threads={torch.get_num_threads()}, torch {torch.__version__}"
    )
    print(f"{'optimizer':<14}{'fitorch ms':>12}{'torch ms':>12}{'ratio':>8}{'ratio(min)':>12}")
    for name, (tf, tt, best) in results.items():
        print(f"{name:<14}{tf * 1e3:>12.2f}{tt * 1e3:>12.2f}{tf / tt:>8.2f}{best:>12.2f}")
    adam_f, adam_t, _ = results["Adam"]
    print(f"target: fitorch Adam <= 1.2x torch foreach Adam -> {adam_f / adam_t:.2f}x (medians)")


if __name__ == "__main__":
    main()
