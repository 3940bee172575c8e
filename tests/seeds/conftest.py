"""Runs the seed example scripts of examples/seeds/ in this process (runpy) and captures
what they print: `run_seed("seed000_regression_metrics")` -> SeedRun(globals, out)."""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import runpy
import warnings
from dataclasses import dataclass

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")  # the seeds call pyplot.show()

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "seeds"


@dataclass
class SeedRun:
    globals: dict
    out: str

    def __getitem__(self, name):
        return self.globals[name]

    @property
    def workdir(self) -> pathlib.Path:
        return self.globals["__workdir__"]

    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def run_seed(tmp_path_factory):
    """Run one example script in a fresh temporary directory with a fixed random seed.

    `epochs` sets FITORCH_SEED_EPOCHS (the scripts that train longer read it). Runs are
    cached per (name, epochs, seed) for the session: tests only read their results. Torch
    runs on one thread meanwhile: these models are tiny and the test machine is shared.
    """
    cache: dict = {}

    def run(name: str, epochs: int | None = None, seed: int = 0) -> SeedRun:
        key = (name, epochs, seed)
        if key not in cache:
            cache[key] = _run(name, epochs, seed, tmp_path_factory.mktemp(name))
        return cache[key]

    return run


def _run(name: str, epochs: int | None, seed: int, workdir: pathlib.Path) -> SeedRun:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    import fitorch

    threads, cwd = torch.get_num_threads(), os.getcwd()
    saved_env = os.environ.get("FITORCH_SEED_EPOCHS")
    out = io.StringIO()
    torch.set_num_threads(1)
    os.chdir(workdir)
    if epochs is not None:
        os.environ["FITORCH_SEED_EPOCHS"] = str(epochs)
    try:
        pyplot.close("all")
        fitorch.utils.set_random_seed(seed)
        with warnings.catch_warnings(), contextlib.redirect_stdout(out):
            warnings.filterwarnings("ignore", message=".*non-interactive.*")  # pyplot.show()
            namespace = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
        namespace["__figure_lines__"] = [line.get_ydata() for line in pyplot.gca().lines]
        namespace["__workdir__"] = workdir
    finally:
        pyplot.close("all")
        os.chdir(cwd)
        torch.set_num_threads(threads)
        if saved_env is None:
            os.environ.pop("FITORCH_SEED_EPOCHS", None)
        else:
            os.environ["FITORCH_SEED_EPOCHS"] = saved_env
    return SeedRun(namespace, out.getvalue())
