"""Sources for iterables: Python generators/iterators, `utils.Sequence`, torch `Dataset`
and `DataLoader`. Each item is `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`.
"""

from __future__ import annotations

import torch

from fitorch.training.data import (
    DataSource,
    _combine_class_weight,
    _to_tensor,
    _tree_map,
    unpack_batch,
)

__all__ = ["IterableSource", "adapt_iterable"]


def _as_batch_tensors(batch):
    return _tree_map(batch, lambda v, path: v if v is None else _to_tensor(v, path))


class IterableSource(DataSource):
    """Batches from an iterable re-iterated each epoch, or a one-shot iterator.

    A one-shot iterator (a generator) is consumed as it goes; the trainer's step logic
    keeps taking from it across epochs when `steps_per_epoch` is set.
    """

    def __init__(self, iterable, device=None, output_names=("output_1",), class_weight=None):
        super().__init__(device)
        self.iterable = iterable
        self.output_names = list(output_names)
        self.class_weight = class_weight
        self.one_shot = iter(iterable) is iterable
        self.num_batches = _length(iterable)
        self._consumed = False

    def epoch_batches(self):
        if self.one_shot:
            if self._consumed:
                raise ValueError(
                    "The generator passed to fit/evaluate was exhausted in an earlier epoch. Pass "
                    "steps_per_epoch (and make the generator loop forever, as Keras 2's "
                    "fit_generator expects) or a re-iterable source such as a utils.Sequence."
                )
            self._consumed = True
        for item in self.iterable:
            x, y, sw = unpack_batch(item, self.output_names)
            x, y, sw = _as_batch_tensors((x, y, sw))
            if self.class_weight is not None and y is not None:
                sw = _combine_class_weight(y, sw, self.class_weight, self.output_names)
            yield self.to_device((x, y, sw))

    def on_epoch_end(self) -> None:
        hook = getattr(self.iterable, "on_epoch_end", None)
        if callable(hook):
            hook()


class _SequenceIterable:
    """Iterates a Sequence's batches in order (or shuffled order) each epoch."""

    def __init__(self, seq, shuffle):
        self.seq, self.shuffle = seq, shuffle

    def __len__(self):
        return len(self.seq)

    def __iter__(self):
        order = torch.randperm(len(self.seq)).tolist() if self.shuffle is True else range(len(self.seq))
        for i in order:
            yield self.seq[i]

    def on_epoch_end(self):
        hook = getattr(self.seq, "on_epoch_end", None)
        if callable(hook):
            hook()


def _length(iterable):
    try:
        return len(iterable)
    except TypeError:
        return None


def adapt_iterable(x, y=None, sample_weight=None, batch_size=None, shuffle=False,
                   class_weight=None, device=None, output_names=("output_1",), **options):  # fmt: skip
    """An `IterableSource` for generators, Sequences, Datasets and DataLoaders."""
    if y is not None or sample_weight is not None:
        raise ValueError(
            "y and sample_weight must be None when x is a generator, Sequence or DataLoader: "
            f"it yields them itself (got y={type(y).__name__}, "
            f"sample_weight={type(sample_weight).__name__})."
        )
    from torch.utils.data import DataLoader, Dataset

    from fitorch.utils.sequence import Sequence

    if isinstance(x, Sequence):
        iterable = _SequenceIterable(x, shuffle)
    elif isinstance(x, DataLoader):
        iterable = x
    elif isinstance(x, Dataset) and hasattr(x, "__len__"):
        iterable = DataLoader(x, batch_size=batch_size or 32, shuffle=shuffle is True)
    elif hasattr(x, "__iter__") or hasattr(x, "__next__"):
        iterable = x
    else:
        raise TypeError(
            "x must be arrays/tensors (or lists/dicts of them), a generator, a utils.Sequence, "
            f"a torch Dataset or DataLoader; got {type(x).__name__}."
        )
    return IterableSource(iterable, device, output_names, class_weight)
