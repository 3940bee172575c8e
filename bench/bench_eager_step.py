"""The eager (default) `fit` epoch of issue 18's overhead workload against the raw PyTorch
loop of bench_step.py, in one process: the per-step glue of the eager step.

Workload (bench/step_workloads.py 'overhead'): Dense(2) -> Dense(1) on 1 feature, 16,000 rows,
batch 32 (500 steps), mse with metrics mse/mae/mape, Adam. Each round times one epoch of each
contender (the order alternates), after one warm-up epoch each; prints the median epoch
times, the median of the per-round ratios and the extra time per step.

To compare two trees, run this script once per tree in turn (PYTHONPATH=<tree>) several
times and compare the ratios: each ratio's baseline is measured in the same process.
`--with-step-hook` adds a contender whose optimizer has an empty step pre-hook, so its
`step()` goes through torch's step wrapper (`Optimizer.step_in_fit` skips it otherwise).

Usage: PYTHONPATH=. python bench/bench_eager_step.py [--rounds 15] [--threads 1]
           [--with-step-hook]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
from bench_step import RawLoop  # noqa: E402
from step_workloads import WORKLOADS, build_keras_style, keras_style_epoch, workload_data  # noqa: E402


def measure(rounds: int, with_step_hook: bool = False) -> dict[str, list[float]]:
    """{contender: [epoch seconds per round]}, rounds interleaved (A B, B A, ...)."""
    import fitorch

    x, y = workload_data("overhead")
    raw = RawLoop("overhead", x, y, torch.device("cpu"))
    model = build_keras_style(fitorch, "overhead")
    runners = {
        "raw torch loop": raw.epoch,
        "fitorch eager": lambda: keras_style_epoch(model, "overhead", x, y),
    }
    if with_step_hook:
        hooked = build_keras_style(fitorch, "overhead")
        hooked.optimizer.register_step_pre_hook(lambda optimizer, args, kwargs: None)
        runners["fitorch eager, a step hook"] = lambda: keras_style_epoch(hooked, "overhead", x, y)
    for run in runners.values():
        run()  # warm-up: builds the model, losses and metrics
    times: dict[str, list[float]] = {k: [] for k in runners}
    keys = list(runners)
    for r in range(rounds):
        for key in keys if r % 2 == 0 else keys[::-1]:
            t0 = time.perf_counter()
            runners[key]()
            times[key].append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--with-step-hook", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    times = measure(args.rounds, args.with_step_hook)
    raw, ours = times["raw torch loop"], times["fitorch eager"]
    ratio = statistics.median(o / r for o, r in zip(ours, raw))
    steps = WORKLOADS["overhead"]["n"] // WORKLOADS["overhead"]["batch"]
    extra = (statistics.median(ours) - statistics.median(raw)) / steps * 1e6
    print(f"raw torch loop: {statistics.median(raw):.4f} s/epoch (median of {args.rounds})")
    print(f"fitorch eager:  {statistics.median(ours):.4f} s/epoch")
    print(f"ratio (median of per-round ratios): {ratio:.3f}x; extra per step: {extra:.0f} us")
    if args.with_step_hook:
        hooked = times["fitorch eager, a step hook"]
        ratio = statistics.median(h / r for h, r in zip(hooked, raw))
        print(f"with a step hook (torch's step wrapper): {ratio:.3f}x")


if __name__ == "__main__":
    main()
