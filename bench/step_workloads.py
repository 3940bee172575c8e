"""The workloads of bench_step.py, written once for fitorch and Keras (the same API), with
NumPy only, so that a Python with Keras on JAX and no torch can run them: run as a script,
this module is bench_step.py's Keras-on-JAX worker (`python step_workloads.py <workload>`:
answers each stdin line 'epoch' with one epoch of training and 'done')."""

from __future__ import annotations

import statistics
import subprocess
import sys

import numpy as np

WORKLOADS = {
    "overhead": {"n": 16000, "batch": 32, "kind": "fit"},
    "mlp": {"n": 5120, "batch": 128, "kind": "fit"},
    "evaluate": {"n": 20480, "batch": 1024, "kind": "evaluate"},
    "predict": {"n": 20480, "batch": 1024, "kind": "predict"},
}


# ----------------------------------------------------------------------------------- data
def workload_data(name: str):
    """(x, y) float32/int64 NumPy arrays of the workload, the same for every contender."""
    rng = np.random.default_rng(0)
    n = WORKLOADS[name]["n"]
    if name == "overhead":
        x = rng.uniform(0.5, 1.5, size=(n, 1)).astype("float32")
        return x, (2 * x + 1).astype("float32")
    return rng.normal(size=(n, 784)).astype("float32"), rng.integers(0, 10, size=n)


def build_keras_style(lib, name: str, **compile_args):
    """The workload's model built and compiled with `lib` (fitorch or keras: same API)."""
    if name == "overhead":
        model = lib.Sequential([lib.Input((1,)), lib.layers.Dense(2), lib.layers.Dense(1)])
        model.compile(optimizer=lib.optimizers.Adam(1e-3), loss="mse",
                      metrics=["mse", "mae", "mape"], **compile_args)  # fmt: skip
        return model
    model = lib.Sequential([
        lib.Input((784,)), lib.layers.Dense(512, activation="relu"),
        lib.layers.Dense(512, activation="relu"), lib.layers.Dense(10),
    ])  # fmt: skip
    loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"],
                  **compile_args)  # fmt: skip
    return model


def keras_style_epoch(model, name: str, x, y):
    """One epoch of the workload through the Keras API (fit / evaluate / predict)."""
    spec = WORKLOADS[name]
    if spec["kind"] == "fit":
        model.fit(x, y, batch_size=spec["batch"], epochs=1, verbose=0, shuffle=True)
    elif spec["kind"] == "evaluate":
        model.evaluate(x, y, batch_size=spec["batch"], verbose=0)
    else:
        model.predict(x, batch_size=spec["batch"], verbose=0)


def rotated_rounds(runners: dict, rounds: int, timed) -> dict:
    """{key: [timed(runner) for each round]}: every runner once per round, the order rotated
    by one each round, so no contender always runs first or after the same neighbour."""
    keys = list(runners)
    times = {k: [] for k in keys}
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            times[key].append(timed(runners[key]))
    return times


def median_rows(results: dict):
    """(workload, contender, median seconds, ratio to the raw loop's median, first epoch)
    for each contender of `results` = {workload: {contender: (first epoch, [seconds per
    round])}}: the rows of bench_step.py's and bench_step_cpu.py's tables."""
    for name, per in results.items():
        raw = statistics.median(per["raw torch loop"][1])
        for key, (first, times) in per.items():
            median = statistics.median(times)
            yield name, key, median, median / raw, first


class LineWorker:
    """A worker process that answers each line written to its stdin with one line on its
    stdout (the Keras-on-JAX workers of bench_step.py and bench_step_cpu.py)."""

    def __init__(self, argv: list, env: dict):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )

    def ask(self, line: str) -> str:
        """Send `line`, return the worker's answer (stripped)."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def worker_main(name: str) -> None:
    """The JAX worker: build the workload with keras, answer 'ready', then one epoch per
    'epoch' line read from stdin."""
    import keras

    x, y = workload_data(name)
    model = build_keras_style(keras, name)
    for line in sys.stdin:
        if line.strip() == "epoch":
            keras_style_epoch(model, name, x, y)
            print("done", flush=True)
        else:
            print("ready", flush=True)


if __name__ == "__main__":
    worker_main(sys.argv[1])
