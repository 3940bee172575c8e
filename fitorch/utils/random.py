"""`set_random_seed`: one call seeds Python, NumPy and torch for reproducible training."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seed `random`, NumPy and torch (CPU and CUDA). Same seed, same training on CPU."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed(seed) needs an int; got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
