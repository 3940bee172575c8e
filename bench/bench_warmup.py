"""Compile warm-up of `jit_compile=True`: the first epoch of each workload in a fresh process,
with a cold and with a warm inductor cache.

For each workload of bench/step_workloads.py (overhead, mlp, evaluate, predict; and, with
`--spe K,...`, the overhead workload with `steps_per_execution=K`) two fresh Python
processes run one after the other on one new, empty `TORCHINDUCTOR_CACHE_DIR`:
- cold: nothing compiled yet (inductor generates and g++-compiles every kernel);
- warm: the same directory again (FX graph and AOTAutograd caches hit; dynamo still
  traces, the kernels' shared objects are loaded).
Each process builds the model (`jit_compile=True`), times the first epoch (eager first
batch + compilation + the rest of the epoch) and a second epoch (steady state), and reads
dynamo's compile-time breakdown. The warm-up reported is first epoch minus second epoch.

Not cold here: inductor's precompiled header (under the default cache dir, not under
TORCHINDUCTOR_CACHE_DIR) is built once per torch version and compiler on a machine
(about 30-40 s of g++) and shared by every later process; the Python import of torch and
fitorch (reported apart).

Usage: python bench/bench_warmup.py [--workloads overhead,mlp,evaluate,predict] [--spe 2,5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# dynamo's timers (torch._dynamo.utils.compile_times) reported, in seconds per process.
PHASES = {
    "trace": "bytecode_tracing",  # dynamo: Python bytecode -> FX graph (every attempt)
    "backend": "OutputGraph.call_user_compiler",  # AOTAutograd + inductor (or cache load)
    "codegen": "Scheduler.codegen",  # inductor: kernels' C++ source
    "g++ wait": "async_compile.wait",  # waiting for the kernels' g++ workers
}


def child(name: str, spe: int) -> None:
    """One process: first and second epoch of `name`, printed as one JSON line."""
    start = time.perf_counter()
    os.environ.setdefault("KERAS_BACKEND", "torch")
    sys.path.insert(0, HERE)
    from step_workloads import build_keras_style, keras_style_epoch, workload_data
    from torch._dynamo.utils import compile_times, counters

    import fitorch

    imported = time.perf_counter() - start
    x, y = workload_data(name)
    extra = {"steps_per_execution": spe} if spe > 1 else {}
    model = build_keras_style(fitorch, name, jit_compile=True, **extra)
    epochs = []
    for _ in range(2):
        begin = time.perf_counter()
        keras_style_epoch(model, name, x, y)
        epochs.append(time.perf_counter() - begin)
    headers, values = compile_times(repr="csv", aggregate=True)
    times = {k: float(v) for k, v in zip(headers, values)}
    print(json.dumps({
        "import": imported, "first": epochs[0], "second": epochs[1],
        "phases": {k: times.get(v, 0.0) for k, v in PHASES.items()},
        "traces": counters["stats"]["calls_captured"],
        "graphs": counters["stats"]["unique_graphs"],
        "fx_cache": {k: v for k, v in counters["inductor"].items() if k.startswith("fxgraph")},
    }))  # fmt: skip


def run_child(name: str, spe: int, cache_dir: str) -> dict:
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache_dir, KERAS_BACKEND="torch")
    args = [sys.executable, os.path.abspath(__file__), "--child", name, str(spe)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def load() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def measure(name: str, spe: int) -> list[tuple[str, str, dict]]:
    """[(phase, load average at start, result)] for cold then warm, on one new cache dir."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_warmup_") as cache_dir:
        for phase in ("cold", "warm"):
            before = load()
            rows.append((phase, before, run_child(name, spe, cache_dir)))
    return rows


def table_row(label: str, phase: str, before: str, r: dict) -> str:
    phases = " / ".join(f"{r['phases'][k]:.1f}" for k in PHASES)
    return (
        f"| {label} | {phase} | {r['first'] - r['second']:.1f} | {r['first']:.1f} | "
        f"{r['second']:.2f} | {phases} | {r['traces']}/{r['graphs']} | {before} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="overhead,mlp,evaluate,predict")
    parser.add_argument("--spe", default="", help="steps_per_execution values (overhead)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))
    cases = [(w, 1) for w in args.workloads.split(",") if w]
    cases += [("overhead", int(k)) for k in args.spe.split(",") if k]
    print(
        "| workload | cache | warm-up (s) | first epoch (s) | second epoch (s) | "
        f"{' / '.join(PHASES)} (s) | traced calls/graphs | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, spe in cases:
        label = name if spe == 1 else f"{name}, steps_per_execution={spe}"
        for phase, before, result in measure(name, spe):
            print(table_row(label, phase, before, result), flush=True)


if __name__ == "__main__":
    main()
