"""Per-step cost of the compiled loss and metric containers against the same sums by hand.

    python bench/bench_metric_step.py [--rounds 15] [--number 2000] [--threads 1]

The issue-18 workload: a Dense(1) regression model, batch 32, `loss="mse"`,
`metrics=["mae", "mape"]`. Timed per call, in microseconds (median over interleaved rounds,
each round `number` calls of every candidate in turn):
- `metrics`: `state.metrics.update(y, preds, None)` vs `by hand`: the four state updates
  (`total += sum(mean(|p - y|, -1))`, `count += n`, and MAPE's) written in torch;
- `loss`: `state.loss(y, preds, None)` vs `mean((p - y)**2)`;
- `tracker`: `state.loss_tracker.update(total, n)` vs `total += loss * n; count += n`.
Ratios are to the by-hand line of the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fitorch  # noqa: E402


def _state(batch: int):
    model = fitorch.Sequential([fitorch.Input((1,)), fitorch.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "mape"])
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(batch, 1, generator=g), torch.randn(batch, 1, generator=g)
    preds = [model(x).detach()]
    model.trainer.build(model, [y], preds)
    return model.trainer, [y], preds


def _candidates(state, y, preds):
    y0, p0 = y[0], preds[0]
    n = p0.shape[0]
    mae_t, mae_c, mape_t, mape_c = (torch.zeros(()) for _ in range(4))
    tot, cnt = torch.zeros(()), torch.zeros(())
    loss = state.loss(y, preds, None)[0]

    def metrics_by_hand():
        diff = p0 - y0
        mae_t.add_(diff.abs().mean(-1).sum())
        mae_c.add_(n)
        mape_t.add_((100.0 * diff.abs() / y0.abs().clamp_min(1e-7)).mean(-1).sum())
        mape_c.add_(n)

    def tracker_by_hand():
        tot.add_(loss.detach(), alpha=n)
        cnt.add_(n)

    return {
        "metrics": (lambda: state.metrics.update(y, preds, None), metrics_by_hand),
        "loss": (lambda: state.loss(y, preds, None), lambda: torch.mean((p0 - y0) ** 2)),
        "tracker": (lambda: state.loss_tracker.update(loss, n), tracker_by_hand),
    }


def _per_call_us(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    candidates = _candidates(*_state(args.batch))
    times = {(k, side): [] for k in candidates for side in ("fitorch", "by hand")}
    for _ in range(args.rounds):  # interleaved: every candidate once per round
        for key, (ours, hand) in candidates.items():
            times[key, "fitorch"].append(_per_call_us(ours, args.number))
            times[key, "by hand"].append(_per_call_us(hand, args.number))
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, "
          f"median of {args.rounds} rounds x {args.number} calls")  # fmt: skip
    print(f"{'part':<10}{'fitorch us':>12}{'by hand us':>12}{'ratio':>8}")
    for key in candidates:
        ours = statistics.median(times[key, "fitorch"])
        hand = statistics.median(times[key, "by hand"])
        print(f"{key:<10}{ours:>12.1f}{hand:>12.1f}{ours / hand:>8.2f}")


if __name__ == "__main__":
    main()
