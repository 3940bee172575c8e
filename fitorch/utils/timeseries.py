"""`timeseries_dataset_from_array`: sliding windows over a time axis, in batches fit reads."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class _WindowBatches(Dataset):
    """Map-style dataset whose item `i` is batch `i`: windows (and targets) gathered at once."""

    def __init__(self, data, targets, starts: np.ndarray, offsets: np.ndarray, batch_size):
        self.data = torch.as_tensor(np.asarray(data))
        self.targets = None if targets is None else torch.as_tensor(np.asarray(targets))
        self.starts = torch.as_tensor(starts, dtype=torch.long)
        self.offsets = torch.as_tensor(offsets, dtype=torch.long)
        self.batch_size = batch_size

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        if self.batch_size is None:
            pos = self.starts[i : i + 1]
        else:
            pos = self.starts[i * self.batch_size : (i + 1) * self.batch_size]
        windows = self.data[pos[:, None] + self.offsets[None, :]]
        if self.batch_size is None:
            windows = windows[0]
        if self.targets is None:
            return windows
        y = self.targets[pos]
        return windows, (y[0] if self.batch_size is None else y)


def _positive_int(name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def timeseries_dataset_from_array(
    data,
    targets,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> DataLoader:
    """Batches of windows `data[s + k * sampling_rate]`, `k < sequence_length`, plus `targets[p]`.

    Window `p` (p = 0, sequence_stride, 2 * sequence_stride, ...) starts at
    `s = start_index + p` and must end before `end_index`; its target is `targets[start_index
    + p]`, so `targets[i]` is the target of the window starting at `data[i]` (Keras). With
    `shuffle` the start positions are permuted by `np.random.RandomState(seed)` (Keras's own
    permutation; Keras's tf.data path adds a second buffer shuffle that is not reproduced).
    Returns a re-iterable `DataLoader` yielding `(windows, targets)` (or `windows`) tensors,
    which `fit` takes directly.
    """
    sequence_length = _positive_int("sequence_length", sequence_length)
    sequence_stride = _positive_int("sequence_stride", sequence_stride)
    sampling_rate = _positive_int("sampling_rate", sampling_rate)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
    start_index = 0 if start_index is None else start_index
    end_index = len(data) if end_index is None else end_index
    if not 0 <= start_index < len(data):
        raise ValueError(f"start_index must be in [0, {len(data)}), got {start_index}")
    if not start_index < end_index <= len(data):
        raise ValueError(f"end_index must be in ({start_index}, {len(data)}], got {end_index}")
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride)
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(starts)
    offsets = np.arange(sequence_length) * sampling_rate
    window_data = np.asarray(data)[start_index:end_index]
    window_targets = None if targets is None else np.asarray(targets)[start_index:]
    batches = _WindowBatches(window_data, window_targets, starts, offsets, batch_size)
    return DataLoader(batches, batch_size=None, shuffle=False)
