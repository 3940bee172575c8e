"""Time of `optimizer.step()` on a ~20M-parameter model: fitorch vs torch.optim (foreach).

    python bench/bench_optimizers.py [--device cuda] [--params 20e6] [--repeats 5]
    python bench/bench_optimizers.py --mlp [--repeats 9] [--steps 50]

`--mlp` times Adam on the parameters of bench_step.py's MLP (784-512-512-10, 670k
elements): fitorch's eager `step()`, fitorch's `update` compiled alone with inductor (as the
compiled training step traces it: `plan_update` on the host, then `update` on tensors),
torch.optim.Adam with foreach and with fused=True, rounds interleaved, medians and the ratio
to torch's foreach Adam.

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


MLP_SHAPES = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]


def mlp_contenders(device: str) -> dict:
    """name -> one Adam step on its own copy of the MLP parameters (same gradients)."""
    torch.manual_seed(0)
    base = [torch.randn(s, device=device) * 0.05 for s in MLP_SHAPES]
    grads = [torch.randn_like(p) for p in base]

    def params():
        out = [torch.nn.Parameter(p.clone()) for p in base]
        for p, g in zip(out, grads):
            p.grad = g.clone()
        return out

    fit_eager = O.Adam(params(), learning_rate=1e-3)
    fit_jit = O.Adam(params(), learning_rate=1e-3)
    jit_grads = [p.grad for p in fit_jit.bound_parameters()]
    update = torch.compile(fit_jit.update, fullgraph=True)

    def compiled_step():
        update(jit_grads, fit_jit.plan_update(tensor_learning_rates=True))

    foreach = torch.optim.Adam(params(), lr=1e-3, eps=1e-7, foreach=True)
    fused = torch.optim.Adam(params(), lr=1e-3, eps=1e-7, fused=True)
    return {
        "torch Adam foreach": foreach.step,
        "torch Adam fused": fused.step,
        "fitorch Adam step()": fit_eager.step,
        "fitorch Adam update, compiled": compiled_step,
    }


def time_calls(fn, steps: int, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / steps


def main_mlp(args) -> None:
    contenders = mlp_contenders(args.device)
    for fn in contenders.values():  # warm-up: slots, compilation
        for _ in range(3):
            fn()
    times = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            times[name].append(time_calls(contenders[name], args.steps, args.device))
    ref = statistics.median(times["torch Adam foreach"])
    print(
        f"Adam step on the MLP's parameters (670k elements), device={args.device}, "
        f"threads={torch.get_num_threads()}, torch {torch.__version__}, "
        f"{args.repeats} rounds x {args.steps} steps"
    )
    print(f"{'contender':<32}{'median ms':>10}{'min ms':>9}{'ratio':>7}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:<32}{median * 1e3:>10.3f}{min(ts) * 1e3:>9.3f}{median / ref:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--params", type=float, default=20e6)
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--mlp", action="store_true", help="Adam on the MLP, eager and compiled")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mlp:
        main_mlp(args)
        return

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
