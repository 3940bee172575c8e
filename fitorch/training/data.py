"""The data path: every input kind becomes a `DataSource` of device batches.

`adapt(x, y, sample_weight, ...)` is the single entry point. A source yields, per epoch,
batches `(x, y, sample_weight)` where `x` keeps the user's structure (tensor, list or dict),
`y` is a list with one tensor per model output (or None) and `sample_weight` is a list per
output (or None). Sources:
- `ArraySource`: NumPy arrays / torch tensors in any list/dict structure (a dict `x` keyed
  by the model's input names, a dict `y` by its output names). Converted to tensors once per
  fit; `shuffle=True` draws one `randperm` per epoch and gathers batches with `index_select`,
  `shuffle='batch'` shuffles within each batch (Keras 3), `False` slices views; on CUDA the
  tensors live on the device when they fit, else in pinned memory.
- `IterableSource`: Python generators and iterators, `utils.Sequence`, torch `Dataset` and
  `DataLoader` (see `fitorch.training.iterables`).
Weights: `sample_weight` (N,), (N, 1) or (N, T), one for all outputs, a list or a dict by
output name; `class_weight` (`ClassWeights`) becomes per-sample weights multiplied into them.
All batches pass through `DataSource.to_device` (`batches.py`, with the structure, target
and weight helpers both paths share), the one place where a distributed run can shard and
where data moves to the model's device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from fitorch import distributed, tree
from fitorch.training.batches import (
    ClassWeights,
    DataSource,
    _leaves,
    _to_tensor,
    _tree_map,
    check_input_keys,
    flatten_targets,
    flatten_weights,
    is_array_like,
    is_string_list,
)

__all__ = ["ArraySource", "adapt", "split_validation"]

_ON_DEVICE_LIMIT = 2 << 30  # bytes of array data kept resident on an accelerator


class ArraySource(DataSource):
    """In-memory arrays sliced into batches; see the module docstring."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle=False, device=None,
                 class_weight=None, output_names=("output_1",), input_names=None):  # fmt: skip
        super().__init__(device)
        output_names = list(output_names)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}.")
        if isinstance(x, Mapping):
            check_input_keys(x, input_names)
        # Keras 2: a 1-D input array is one feature per sample, (N,) -> (N, 1).
        self.x = _tree_map(x, lambda v, p: _expand_1d(_to_tensor(v, p)))
        if not _leaves(self.x):
            raise ValueError(f"x holds no arrays; got {x!r}.")
        y_list = flatten_targets(y, output_names)
        self.y = None if y_list is None else [
            None if v is None else _to_tensor(v, f"y[{i}]") for i, v in enumerate(y_list)
        ]  # fmt: skip
        sw = flatten_weights(sample_weight, output_names)
        self.sw = None if sw is None else [
            None if v is None else _to_tensor(v, "sample_weight").float() for v in sw
        ]  # fmt: skip
        self.num_samples = _common_length(self.x, self.y, self.sw)
        if class_weight is not None:
            if self.y is None:
                raise ValueError("class_weight needs targets y.")
            self.sw = ClassWeights(class_weight, output_names).apply(self.y, self.sw)
        if self.num_samples == 0:
            raise ValueError("The data is empty: x has 0 samples.")
        self.batch_size = int(batch_size)
        self.num_batches = math.ceil(self.num_samples / self.batch_size)
        self.shuffle = shuffle
        self._place()

    def _place(self):
        self._pinned = False  # (asking `is_pinned()` per batch costs ~30 us per tensor)
        if self.device.type == "cpu":
            return
        tensors = [t for t in _leaves((self.x, self.y, self.sw)) if isinstance(t, torch.Tensor)]
        size = sum(t.numel() * t.element_size() for t in tensors)
        self._pinned = size > _ON_DEVICE_LIMIT and self.device.type == "cuda"
        if self._pinned:
            move = lambda t, _: t.pin_memory() if isinstance(t, torch.Tensor) else t  # noqa: E731
        else:
            move = lambda t, _: t.to(self.device) if isinstance(t, torch.Tensor) else t  # noqa: E731
        self.x, self.y, self.sw = _tree_map((self.x, self.y, self.sw), move)

    def _order(self) -> torch.Tensor | None:
        # Data-parallel: every rank uses rank 0's draw (one broadcast per epoch).
        return distributed.shared_order(self._draw_order())

    def _draw_order(self) -> torch.Tensor | None:
        n = self.num_samples
        if self.shuffle is True:
            return torch.randperm(n)
        if self.shuffle == "batch":
            # Keras 3: shuffle within each consecutive batch, keep the batch order. A random
            # key in [0, 1) plus the batch index sorts blocks in order, randomly inside each.
            keys = torch.rand(n, dtype=torch.float64) + torch.arange(n) // self.batch_size
            return torch.argsort(keys)
        return None

    def epoch_batches(self):
        yield from self._epoch_slices(self.batch_size)

    def epoch_blocks(self, batches_per_block: int):
        """The epoch's batches (the rows and order of `epoch_batches`) grouped by
        `batches_per_block`: each item is one `(x, y, sw)` of the next batches' rows (fewer
        at the end), gathered with one `index_select` per array (views when unshuffled), so
        that `steps_per_execution` batches cost one slice of the data."""
        yield from self._epoch_slices(self.batch_size * batches_per_block)

    def _epoch_slices(self, rows_per_item: int):
        order = self._order()
        # Flatten the (x, y, sw) structure once per epoch; per item only slice and repack.
        data = (self.x, self.y, self.sw)
        arrays, pack = tree.flatten(data), tree.packer(data)
        move = self.batch_mover()
        if order is not None:
            tensors = [t for t in arrays if isinstance(t, torch.Tensor)]
            order = order.to(tensors[0].device if tensors else "cpu")
        for lo in range(0, self.num_samples, rows_per_item):
            hi = min(lo + rows_per_item, self.num_samples)
            if order is None:  # rows lo:hi of every array (views)
                rows = [None if t is None else t[lo:hi] for t in arrays]
            else:  # rows order[lo:hi]: one gather per array
                idx = order[lo:hi]
                rows = [None if t is None else _gather(t, idx, self._pinned) for t in arrays]
            yield move(pack(rows))


def _gather(t: torch.Tensor, idx: torch.Tensor, pinned: bool) -> torch.Tensor:
    """`t[idx]`; from pinned memory into pinned memory, so the copy to the GPU stays
    asynchronous (torch's caching host allocator reuses the buffers). A string column
    (NumPy) is indexed on the host."""
    if isinstance(t, np.ndarray):
        return t[idx.cpu().numpy()]
    if pinned:
        out = torch.empty((idx.numel(), *t.shape[1:]), dtype=t.dtype, pin_memory=True)
        return torch.index_select(t, 0, idx, out=out)
    return t.index_select(0, idx)


def _expand_1d(t):
    """(N,) -> (N, 1) for tensors and string columns alike (Keras 2's one feature per sample)."""
    if t.ndim != 1:
        return t
    return t[:, None] if isinstance(t, np.ndarray) else t.unsqueeze(-1)


def _first_length(x) -> int:
    """Samples in the first array of `x`, without converting anything (1 for a scalar,
    which `ArraySource` then rejects with a clear error)."""
    while isinstance(x, Mapping) or (
        isinstance(x, (list, tuple))
        and x
        and not isinstance(x[0], (int, float, np.number))
        and not is_string_list(x)
    ):
        if not x:
            return 0
        x = next(iter(x.values())) if isinstance(x, Mapping) else x[0]
    shape = getattr(x, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else 1
    return len(x) if isinstance(x, (list, tuple)) else 1


def _common_length(x, y, sw) -> int:
    lengths = {}
    for name, part in (("x", x), ("y", y), ("sample_weight", sw)):
        for t in _leaves(part):
            lengths.setdefault(name, set()).add(int(t.shape[0]))
    all_lengths = set().union(*lengths.values()) if lengths else {0}
    if len(all_lengths) > 1:
        detail = ", ".join(f"{k}: {sorted(v)}" for k, v in lengths.items())
        raise ValueError(f"Data cardinality is ambiguous: x, y and sample_weight must have the "
                         f"same number of samples; got {detail}.")  # fmt: skip
    return all_lengths.pop()


def split_validation(x, y, sample_weight, validation_split: float):
    """Keras' `validation_split`: the last fraction of samples, taken before shuffling."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}.")
    if not is_array_like(x):
        raise ValueError(
            "validation_split works only with arrays or tensors; for a generator, Sequence or "
            "DataLoader pass validation_data= instead."
        )
    n = _first_length(x)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty split of {n} samples "
            f"(training {split_at}, validation {n - split_at})."
        )

    def cut(part, lo, hi):
        return None if part is None else _tree_map(part, lambda t, _: _to_tensor(t, "data")[lo:hi])

    train = (cut(x, 0, split_at), cut(y, 0, split_at), cut(sample_weight, 0, split_at))
    val = (cut(x, split_at, n), cut(y, split_at, n), cut(sample_weight, split_at, n))
    return train, val


def adapt(x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False,
          class_weight=None, device=None, output_names=("output_1",), input_names=None,
          **iterable_options):  # fmt: skip
    """Turn any supported input into a `DataSource` (see module docstring).

    `input_names` (see `model_input_names`): the keys a dict `x` must have. `iterable_options`
    (`workers`, `use_multiprocessing`, `max_queue_size`) apply to Sequences and generators.
    """
    if x is None:
        raise ValueError("No data: x is None.")
    if is_array_like(x):
        if batch_size is None:
            n = _first_length(x)
            batch_size = math.ceil(n / steps) if steps else 32
        if int(batch_size) <= 0:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
        return ArraySource(x, y, sample_weight, batch_size, shuffle, device, class_weight,
                           output_names, input_names)  # fmt: skip
    from fitorch.training.iterables import adapt_iterable

    return adapt_iterable(x, y=y, sample_weight=sample_weight, batch_size=batch_size,
                          shuffle=shuffle, class_weight=class_weight, device=device,
                          output_names=list(output_names), input_names=input_names,
                          **iterable_options)  # fmt: skip
