"""`split_dataset`: two `torch.utils.data.Subset`s of a dataset or of in-memory arrays."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset


def _as_dataset(dataset) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, np.ndarray):
        return TensorDataset(torch.from_numpy(dataset))
    if (
        isinstance(dataset, (list, tuple))
        and dataset
        and all(isinstance(a, (np.ndarray, torch.Tensor)) for a in dataset)
    ):
        return TensorDataset(*(torch.as_tensor(a) for a in dataset))
    raise TypeError(
        "dataset must be a torch.utils.data.Dataset, a NumPy array or a list/tuple of arrays "
        f"of equal length, got {type(dataset).__name__}"
    )


def _size(name: str, value, total: int) -> int | None:
    """An int count in (0, total) or a fraction in (0, 1) -> a count (fractions rounded)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)):
        raise TypeError(f"{name} must be an int, a float or None, got {type(value).__name__}")
    if isinstance(value, float):
        if not 0 < value < 1:
            raise ValueError(f"{name} as a fraction must be in (0, 1), got {value}")
        return round(value * total)
    if not 0 < value < total:
        raise ValueError(f"{name} as a count must be in (0, {total}) for this dataset, got {value}")
    return int(value)


def split_sizes(left_size, right_size, total: int) -> tuple[int, int]:
    """Keras's size rules: give one or both; the missing side is the rest; none may be empty."""
    if left_size is None and right_size is None:
        raise ValueError("split_dataset needs left_size or right_size (or both), got neither")
    left, right = _size("left_size", left_size, total), _size("right_size", right_size, total)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total or min(left, right) <= 0:
        raise ValueError(
            f"left_size={left_size!r} and right_size={right_size!r} give splits of {left} and "
            f"{right} samples from {total}; each must be non-empty and together at most {total}"
        )
    return left, right


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False,
                  seed: int | None = None) -> tuple[Subset, Subset]:  # fmt: skip
    """`(left, right)` Subsets: the first `left_size` samples and the next `right_size`, in the
    original order, or of `torch.randperm(n)` from a generator seeded with `seed` when
    `shuffle` (the permutation Keras's torch path draws through `random_split`). Sizes are counts
    or fractions of `len(dataset)` (rounded); arrays become a `TensorDataset` first.
    """
    dataset = _as_dataset(dataset)
    total = len(dataset)
    left, right = split_sizes(left_size, right_size, total)
    if shuffle:
        generator = torch.Generator()
        generator.manual_seed(int(seed)) if seed is not None else generator.seed()
        order = torch.randperm(total, generator=generator).tolist()
    else:
        order = list(range(total))
    return Subset(dataset, order[:left]), Subset(dataset, order[left : left + right])
