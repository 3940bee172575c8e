"""The training step's speed: fitorch (eager, `jit_compile=True`, `steps_per_execution=25`)
against a raw PyTorch loop, Keras 3 on torch and Keras 3 on JAX, in one run.

Workloads (synthetic data, one epoch per timing):
- overhead: Dense(2) -> Dense(1) on 1 feature, batch 32, loss mse, metrics mse/mae/mape (the
  per-step cost of the framework: the model itself is almost free);
- mlp: 784-512-512-10, batch 128, sparse categorical crossentropy (logits), accuracy;
- evaluate / predict: the mlp, batch 1024 (raw loop: the same work under inference_mode).

The raw loop shuffles with one randperm per epoch, slices batches with index_select, runs
forward/loss/backward/torch.optim.Adam (default arguments:
single-tensor on the CPU, foreach on CUDA) and accumulates the same metrics on
the device, reading them once per epoch. "raw loop, fused Adam" is the same loop with
`torch.optim.Adam(fused=True)`, the kernel fitorch's eager CPU step runs: the floor of the
eager step. Every contender is timed once per round, rounds are
interleaved (the order rotates), the first epoch of each (compilation) is timed apart as its
warm-up; the table gives the median epoch time over the rounds as a ratio to the raw loop's.

Keras on JAX runs in a worker process (`--jax-python`, a Python with jax and keras; skipped
when not given or not found) that trains when told to, so its epochs interleave with the rest.

Usage: python bench/bench_step.py [--workloads overhead,mlp,evaluate,predict] [--rounds 7]
       [--jax-python /path/to/python] [--no-keras] [--device cpu|cuda]
       [--only "jit_compile,keras 3 jax"] (contenders to time beside the raw loop)
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402
from step_workloads import (  # noqa: E402
    WORKLOADS,
    LineWorker,
    build_keras_style,
    keras_style_epoch,
    median_rows,
    rotated_rounds,
    workload_data,
)


# ------------------------------------------------------------------------------ raw loop
def _raw_net(name: str, device):
    torch.manual_seed(0)
    if name == "overhead":
        return torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Linear(2, 1)).to(device)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    ).to(device)  # fmt: skip


def _regression_metrics(p, t):
    return [(p - t).square().mean(-1).sum(), (p - t).abs().mean(-1).sum(),
            (100.0 * (t - p).abs() / t.abs().clamp_min(1e-7)).mean(-1).sum()]  # fmt: skip


class RawLoop:
    """The hand-written PyTorch loop doing the workload's work; `fused_adam=True` uses
    torch's fused Adam kernel (`torch.optim.Adam(fused=True)`), the rule fitorch's eager
    CPU step runs, instead of torch's default."""

    def __init__(self, name: str, x, y, device, fused_adam: bool = False):
        self.name, self.spec = name, WORKLOADS[name]
        self.x = torch.as_tensor(x, device=device)
        self.y = torch.as_tensor(y, device=device)
        self.net = _raw_net(name, device)
        self.opt = torch.optim.Adam(self.net.parameters(), fused=fused_adam or None)
        self.loss = torch.nn.MSELoss() if name == "overhead" else torch.nn.CrossEntropyLoss()

    def epoch(self) -> None:
        n, b = self.x.shape[0], self.spec["batch"]
        if self.spec["kind"] != "fit":
            return self._inference(n, b)
        perm = torch.randperm(n, device=self.x.device)
        totals = None
        for i in range(0, n, b):
            idx = perm[i : i + b]
            xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            pred = self.net(xb)
            loss = self.loss(pred, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                values = torch.stack([loss * len(idx)] + self._metrics(pred, yb))
                totals = values if totals is None else totals + values
        totals.tolist()

    def _metrics(self, pred, yb):
        if self.name == "overhead":
            return _regression_metrics(pred, yb)
        return [(pred.argmax(-1) == yb).float().sum()]

    @torch.inference_mode()
    def _inference(self, n, b):
        outs, totals = [], None
        for i in range(0, n, b):
            xb = self.x[i : i + b]
            pred = self.net(xb)
            if self.spec["kind"] == "predict":
                outs.append(pred)
                continue
            yb = self.y[i : i + b]
            values = torch.stack([self.loss(pred, yb) * len(xb)] + self._metrics(pred, yb))
            totals = values if totals is None else totals + values
        if outs:
            torch.cat(outs).cpu().numpy()
        else:
            totals.tolist()


# --------------------------------------------------------------------------- contenders
class KerasStyle:
    """A fitorch or in-process Keras model run through fit/evaluate/predict."""

    def __init__(self, lib, name: str, x, y, **compile_args):
        self.model = build_keras_style(lib, name, **compile_args)
        self.name, self.x, self.y = name, x, y

    def epoch(self) -> None:
        keras_style_epoch(self.model, self.name, self.x, self.y)


class JaxWorker(LineWorker):
    """Keras on JAX in a worker process: each `epoch()` asks it for one epoch and waits."""

    def __init__(self, python: str, name: str):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "step_workloads.py")
        super().__init__([python, script, name], dict(os.environ, KERAS_BACKEND="jax"))
        self.ask("ready")

    def epoch(self) -> None:
        if self.ask("epoch") != "done":
            raise RuntimeError("the Keras-on-JAX worker failed")


def contenders(name: str, device, jax_python, with_keras: bool, only=()) -> dict:
    """The workload's contenders, built: the raw loop always, the others when their name
    contains one of the substrings `only` (all when empty)."""
    makers = _makers(name, device, jax_python, with_keras)
    return {
        key: make()
        for key, make in makers.items()
        if key == "raw torch loop" or not only or any(part in key for part in only)
    }


def _makers(name: str, device, jax_python: str | None, with_keras: bool) -> dict:
    """{contender name: a function building it}."""
    import fitorch

    x, y = workload_data(name)
    out = {"raw torch loop": lambda: RawLoop(name, x, y, device)}
    if WORKLOADS[name]["kind"] == "fit":  # the eager step's floor: the same loop, fused Adam
        out["raw loop, fused Adam"] = lambda: RawLoop(name, x, y, device, fused_adam=True)
    out["fitorch eager"] = lambda: KerasStyle(fitorch, name, x, y)
    out["fitorch jit_compile"] = lambda: KerasStyle(fitorch, name, x, y, jit_compile=True)
    if WORKLOADS[name]["kind"] == "fit":
        out["fitorch jit + steps_per_execution=25"] = lambda: KerasStyle(
            fitorch, name, x, y, jit_compile=True, steps_per_execution=25
        )
    if with_keras:
        import keras

        out["keras 3 torch"] = lambda: KerasStyle(keras, name, x, y)
    if jax_python and os.path.exists(jax_python):
        out["keras 3 jax"] = lambda: JaxWorker(jax_python, name)
    return out


def measure(name: str, rounds: int, device, jax_python, with_keras, only=()) -> dict:
    """{contender: (warm-up seconds, [epoch seconds per round])}."""
    runners = contenders(name, device, jax_python, with_keras, only)
    warmup = {}
    for key, runner in runners.items():
        t0 = time.perf_counter()
        runner.epoch()
        warmup[key] = time.perf_counter() - t0
    times = rotated_rounds(runners, rounds, _wall_seconds_of_epoch)
    for runner in runners.values():
        if isinstance(runner, JaxWorker):
            runner.close()
    return {k: (warmup[k], times[k]) for k in runners}


def _wall_seconds_of_epoch(runner) -> float:
    t0 = time.perf_counter()
    runner.epoch()
    return time.perf_counter() - t0


def table(results: dict) -> str:
    lines = ["| workload | contender | median epoch (s) | ratio to raw loop | first epoch (s) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, key, median, ratio, warm in median_rows(results):
        lines.append(f"| {name} | {key} | {median:.4f} | {ratio:.2f}x | {warm:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="overhead,mlp,evaluate,predict")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jax-python", default=None)
    parser.add_argument("--no-keras", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the raw timings here")
    parser.add_argument(
        "--only", default="", help="comma-separated substrings: time only these contenders"
    )
    args = parser.parse_args()
    results = {
        name: measure(
            name,
            args.rounds,
            torch.device(args.device),
            args.jax_python,
            not args.no_keras,
            tuple(filter(None, args.only.split(","))),
        )  # fmt: skip
        for name in args.workloads.split(",")
    }
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
