"""The training step's work on one thread: fitorch (eager, `jit_compile=True`) against the raw
PyTorch loop and Keras 3 on JAX, each epoch timed by the CPU time it costs.

bench_step.py times wall clock with torch's default thread count. On the shared 2-core
machine, with other processes on both cores, a 2-thread OpenMP region stalls whenever one of
its threads is descheduled, so wall-clock ratios there describe the scheduler more than the
contenders (bench/README.md, "Matrix multiplies on this CPU"). Here torch runs one thread and
each epoch is timed by `time.process_time()` (all threads of the process), which other
processes inflate far less. Rounds interleave the contenders; the table gives the median
epoch CPU time and its ratio to the raw loop's.

- "raw loop, fused Adam" (training workloads): the raw loop with `torch.optim.Adam(fused=True)`,
  the kernel fitorch's eager CPU step runs: what is left between it and "fitorch eager" is
  fitorch's own glue (losses, metrics, trackers, the data path, Python).

- Keras on JAX (`--jax-python`, a Python with jax and keras) runs in a worker process that
  reports each epoch's CPU time; XLA's multi-threaded Eigen is switched off so it computes on
  one thread like the others.
- `--options '{"cpp_wrapper": true}'` adds a contender "fitorch jit + options": the same
  model with these inductor options on top of `fitorch.training.jit.compile_options` while it
  compiles (its first two epochs), to A/B an option in one process (a key that
  `compile_options` itself sets keeps compile_options' value). "first epoch (s)" is the
  wall time of each contender's first epoch (compilation included; the inductor cache is
  whatever `TORCHINDUCTOR_CACHE_DIR` holds).

Usage: python bench/bench_step_cpu.py [--workloads mlp,evaluate,predict] [--rounds 5]
       [--jax-python /path/to/python] [--options JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from step_workloads import (
    WORKLOADS,
    LineWorker,
    build_keras_style,
    keras_style_epoch,
    median_rows,
    rotated_rounds,
    workload_data,
)


def cpu_timed(epoch) -> float:
    """CPU seconds (every thread of this process) of one call of `epoch`."""
    start = time.process_time()
    epoch()
    return time.process_time() - start


# --------------------------------------------------------------------------- JAX worker
def jax_worker(name: str) -> None:
    """Worker: build the workload with keras (JAX backend), answer each stdin line 'epoch'
    with one epoch and its CPU seconds, any other line with 'ready'."""
    import keras

    x, y = workload_data(name)
    model = build_keras_style(keras, name)
    for line in sys.stdin:
        if line.strip() == "epoch":
            print(cpu_timed(lambda: keras_style_epoch(model, name, x, y)), flush=True)
        else:
            print("ready", flush=True)


class JaxContender(LineWorker):
    """Keras on JAX in a worker process; `epoch()` returns the worker's CPU seconds."""

    def __init__(self, python: str, name: str):
        env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false")
        super().__init__([python, os.path.abspath(__file__), "--jax-worker", name], env)
        self.ask("ready")

    def epoch(self) -> float:
        return float(self.ask("epoch"))


# --------------------------------------------------------------------------- contenders
class TorchContender:
    """A contender running in this process; `epoch()` returns its CPU seconds. `options`
    (inductor settings) are applied while its first two epochs compile the steps."""

    def __init__(self, epoch, options: dict | None = None):
        self._epoch, self.options = epoch, options

    def warm_up(self) -> float:
        """Wall seconds of the first epoch (compilation included); runs a second one too."""
        import torch._inductor.config as inductor_config

        with inductor_config.patch(self.options or {}):
            start = time.perf_counter()
            self._epoch()
            seconds = time.perf_counter() - start
            self._epoch()
        return seconds

    def epoch(self) -> float:
        return cpu_timed(self._epoch)


def contenders(name: str, jax_python: str | None, options: dict | None) -> dict:
    """{contender name: contender} for the workload, built."""
    import torch
    from bench_step import RawLoop

    import fitorch

    x, y = workload_data(name)
    raw = RawLoop(name, x, y, torch.device("cpu"))

    def keras_style(**compile_args):
        model = build_keras_style(fitorch, name, **compile_args)
        return lambda: keras_style_epoch(model, name, x, y)

    out = {"raw torch loop": TorchContender(raw.epoch)}
    if WORKLOADS[name]["kind"] == "fit":  # the eager step's floor: the same loop, fused Adam
        fused = RawLoop(name, x, y, torch.device("cpu"), fused_adam=True)
        out["raw loop, fused Adam"] = TorchContender(fused.epoch)
    out |= {
        "fitorch eager": TorchContender(keras_style()),
        "fitorch jit_compile": TorchContender(keras_style(jit_compile=True)),
    }
    if options:
        out["fitorch jit + options"] = TorchContender(keras_style(jit_compile=True), options)
    if jax_python and os.path.exists(jax_python):
        out["keras 3 jax"] = JaxContender(jax_python, name)
    return out


def measure(name: str, rounds: int, jax_python: str | None, options: dict | None) -> dict:
    """{contender: (first-epoch wall seconds or None, [epoch CPU seconds per round])}."""
    runners = contenders(name, jax_python, options)
    first = {}
    for key, runner in runners.items():
        first[key] = runner.warm_up() if isinstance(runner, TorchContender) else None
        if first[key] is None:
            runner.epoch()
    times = rotated_rounds(runners, rounds, lambda runner: runner.epoch())  # CPU seconds
    for runner in runners.values():
        if isinstance(runner, JaxContender):
            runner.close()
    return {k: (first[k], times[k]) for k in runners}


def table(results: dict) -> str:
    lines = ["| workload | contender | epoch CPU (s) | ratio to raw loop | first epoch (s) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, key, median, ratio, first in median_rows(results):
        warm = "-" if first is None else f"{first:.1f}"
        lines.append(f"| {name} | {key} | {median:.4f} | {ratio:.3f}x | {warm} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mlp,evaluate,predict")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jax-python", default=None)
    parser.add_argument("--options", default="", help="inductor options (JSON) to A/B")
    parser.add_argument("--jax-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jax_worker:
        jax_worker(args.jax_worker)
        return
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import torch

    torch.set_num_threads(1)
    options = json.loads(args.options) if args.options else None
    results = {
        name: measure(name, args.rounds, args.jax_python, options)
        for name in args.workloads.split(",")
    }
    print(f"torch {torch.__version__}, 1 thread, load {os.getloadavg()}")
    print(table(results))


if __name__ == "__main__":
    main()
