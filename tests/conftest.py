"""Shared test setup: Keras 3 as oracle runs on its torch backend; deterministic seeds."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    from fitorch.utils.naming import reset_names

    torch.manual_seed(0)
    reset_names()  # default layer names count per session, as Keras: each test starts a fresh one
    yield
