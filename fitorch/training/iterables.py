"""Sources for iterables: Python generators/iterators, `utils.Sequence`, torch `Dataset`
and `DataLoader`. Each item is `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (a list of
two or three is read as that tuple, as Keras does, so a `DataLoader` over `(x, y)` samples
works as is).

- A `Sequence` is indexed in order (or in a new random order each pass with `shuffle=True`);
  with `workers > 1` or `use_multiprocessing=True` (from fit, else from the Sequence's own
  Keras 3 attributes) batches load in a pool of threads or processes, order kept
  (`fitorch.training.enqueuer`). `on_epoch_begin`/`on_epoch_end` run around each pass.
- A `DataLoader` is iterated as is (its own workers, sampler and collate); a map-style
  `Dataset` is wrapped in a `DataLoader(batch_size, shuffle)`.
- A generator (a one-shot iterator) is consumed as it goes: with `steps_per_epoch` the
  trainer keeps drawing from it across epochs; without, a second pass raises a clear error
  (Keras silently replays two cached batches). With `workers > 1` one thread prefetches it.
Every batch is checked against the first one (same structure, one batch size within a
batch), converted to tensors, weighted by `class_weight`, then moved by `to_device`.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Iterator, Mapping

import torch

from fitorch.training.batches import (
    ClassWeights,
    DataSource,
    _leaves,
    _to_tensor,
    _tree_map,
    check_input_keys,
    unpack_batch,
)
from fitorch.training.enqueuer import GeneratorEnqueuer, OrderedEnqueuer

__all__ = ["IterableSource", "adapt_iterable"]


class IterableSource(DataSource):
    """Batches from an iterable re-iterated each pass, or from a one-shot iterator."""

    def __init__(self, iterable, device=None, output_names=("output_1",), class_weight=None,
                 input_names=None, where="the generator"):  # fmt: skip
        super().__init__(device)
        self.iterable = iterable
        self.output_names = list(output_names)
        self.input_names = input_names
        self.class_weights = ClassWeights(class_weight, self.output_names)
        self.where = where
        self.one_shot = isinstance(iterable, Iterator) or getattr(iterable, "one_shot", False)
        self.num_batches = _length(iterable)
        self._passes = 0
        self._first = None  # structure of the first batch, the reference for the others
        self._live = weakref.WeakSet()  # passes not finished (steps_per_epoch, errors)
        self.batch_check = None  # called as batch_check((x, y, sw), position) on each batch

    def epoch_batches(self):
        if self.one_shot and self._passes > 0:
            raise ValueError(
                f"{self.where} was exhausted in an earlier epoch (a Python generator can be "
                "read only once). Make it loop forever and pass steps_per_epoch (and "
                "validation_steps), as Keras 2's fit_generator expects, or pass a re-iterable "
                "source such as a utils.Sequence or a DataLoader."
            )
        self._passes += 1
        generator = self._batches()
        self._live.add(generator)
        return generator

    def _batches(self):
        move = self.batch_mover()
        for position, item in enumerate(self.iterable):
            batch = self._prepare(item, position)
            if self.batch_check is not None:  # validation.StreamCheck, set by the trainer
                self.batch_check(batch, position)
            yield move(batch)

    def _prepare(self, item, position: int):
        """Unpack, check and convert one yielded item to `(x, y_list, sw_list)` tensors."""
        x, y, sw = unpack_batch(item, self.output_names, self.where)
        structure = (_structure(x), _structure(y), _structure(sw))
        if self._first is None:
            self._first = structure
            if isinstance(x, Mapping):
                check_input_keys(x, self.input_names, f"x (yielded by {self.where})")
        elif structure != self._first:
            raise ValueError(
                f"{self.where} yielded batches of different structures: batch {position} is "
                f"{_describe(structure)}, but the first batch was {_describe(self._first)}."
            )
        x, y, sw = _tree_map((x, y, sw), lambda v, path: _to_tensor(v, path))
        _check_batch_size(x, y, sw, position, self.where)
        if y is not None:
            sw = self.class_weights.apply(y, sw)
        return x, y, sw

    def on_epoch_end(self) -> None:
        hook = getattr(self.iterable, "on_epoch_end", None)
        if callable(hook):
            hook()

    def close(self) -> None:
        """Finish unfinished passes (a DataLoader iterator then stops its workers), and stop
        our own loaders' workers."""
        for generator in list(self._live):
            generator.close()
        hook = getattr(self.iterable, "close", None)
        if callable(hook) and not isinstance(self.iterable, Iterator):
            hook()  # our wrappers stop their workers; a user's generator is left alone


class _SequencePasses:
    """One pass over a Sequence per `__iter__`, directly or through an `OrderedEnqueuer`."""

    def __init__(self, seq, shuffle, workers, use_multiprocessing, max_queue_size):
        self.seq, self.shuffle = seq, shuffle
        parallel = workers > 1 or use_multiprocessing
        self.enqueuer = OrderedEnqueuer(seq, workers, use_multiprocessing, max_queue_size) if (
            parallel) else None  # fmt: skip

    def __len__(self):
        return len(self.seq)

    def __iter__(self):
        hook = getattr(self.seq, "on_epoch_begin", None)
        if callable(hook):
            hook()
        n = len(self.seq)
        order = torch.randperm(n).tolist() if self.shuffle is True else range(n)
        if self.enqueuer is not None:
            yield from self.enqueuer.batches(order)
        else:
            for i in order:
                yield self.seq[i]

    def on_epoch_end(self):
        hook = getattr(self.seq, "on_epoch_end", None)
        if callable(hook):
            hook()

    def close(self):
        if self.enqueuer is not None:
            self.enqueuer.close()


class _Prefetched:
    """A one-shot generator read ahead by one background thread."""

    one_shot = True

    def __init__(self, generator, max_queue_size):
        self.enqueuer = GeneratorEnqueuer(generator, max_queue_size)

    def __iter__(self):
        return iter(self.enqueuer)

    def close(self):
        self.enqueuer.close()


def _structure(value):
    """A hashable description: nesting, dict keys and tensor ranks (not sizes, which may
    vary per batch, e.g. padded sequences)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return ("dict", tuple((k, _structure(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_structure(v) for v in value))
    return ("rank", getattr(value, "ndim", 0))


def _describe(structure) -> str:
    x, y, sw = structure
    parts = [f"x={_describe_one(x)}"]
    parts.append(f"y={_describe_one(y)}")
    parts.append(f"sample_weight={_describe_one(sw)}")
    return "(" + ", ".join(parts) + ")"


def _describe_one(s) -> str:
    if s is None:
        return "None"
    kind, body = s
    if kind == "rank":
        return f"{body}-D array"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_describe_one(v)}" for k, v in body) + "}"
    return "[" + ", ".join(_describe_one(v) for v in body) + "]"


def _check_batch_size(x, y, sw, position: int, where: str) -> None:
    sizes = {}
    for name, part in (("x", x), ("y", y), ("sample_weight", sw)):
        for t in _leaves(part):
            if t.ndim == 0:
                raise ValueError(f"{where} yielded a scalar in {name} at batch {position}; "
                                 "every array needs a batch dimension.")  # fmt: skip
            sizes.setdefault(name, set()).add(int(t.shape[0]))
    if len(set().union(*sizes.values())) > 1:
        detail = ", ".join(f"{k}: {sorted(v)}" for k, v in sizes.items())
        raise ValueError(f"{where} yielded batch {position} whose arrays have different batch "
                         f"sizes ({detail}); x, y and sample_weight must agree.")  # fmt: skip


def _length(iterable):
    if isinstance(iterable, Iterator):
        return None
    try:
        return len(iterable)
    except TypeError:  # e.g. a DataLoader over an IterableDataset
        return None


def _options(x, options: dict) -> tuple[int, bool, int]:
    """workers, use_multiprocessing, max_queue_size: fit's (Keras 2) first, else the
    Sequence's own (Keras 3 PyDataset), else 1, False, 10."""
    workers = options.get("workers", getattr(x, "workers", 1))
    multi = options.get("use_multiprocessing", getattr(x, "use_multiprocessing", False))
    queue = options.get("max_queue_size", getattr(x, "max_queue_size", 10))
    workers = 1 if workers in (None, 0) else workers
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}.")
    if not isinstance(queue, int) or queue < 1:
        raise ValueError(f"max_queue_size must be a positive integer; got {queue!r}.")
    return workers, bool(multi), queue


def adapt_iterable(x, y=None, sample_weight=None, batch_size=None, shuffle=False,
                   class_weight=None, device=None, output_names=("output_1",), input_names=None,
                   **options):  # fmt: skip
    """An `IterableSource` for generators, Sequences, Datasets and DataLoaders."""
    unknown = set(options) - {"workers", "use_multiprocessing", "max_queue_size"}
    if unknown:
        raise TypeError(f"Unexpected data option(s) {sorted(unknown)}.")
    if y is not None or sample_weight is not None:
        raise ValueError(
            "y and sample_weight must be None when x is a generator, Sequence or DataLoader: "
            f"it yields them itself (got y={type(y).__name__}, "
            f"sample_weight={type(sample_weight).__name__})."
        )
    from torch.utils.data import DataLoader, Dataset, IterableDataset

    from fitorch.utils.sequence import Sequence

    if isinstance(x, Sequence):
        iterable = _SequencePasses(x, shuffle, *_options(x, options))
        where = f"the Sequence {type(x).__name__}"
    elif isinstance(x, DataLoader):
        iterable, where = x, "the DataLoader"
    elif isinstance(x, Dataset):
        size = batch_size or 32
        if isinstance(x, IterableDataset):
            iterable = DataLoader(x, batch_size=size)
        else:
            iterable = DataLoader(x, batch_size=size, shuffle=shuffle is True)
        where = f"the Dataset {type(x).__name__}"
    elif isinstance(x, Iterator):
        workers, multi, queue = _options(x, options)
        if multi:
            warnings.warn("use_multiprocessing=True is ignored for a Python generator: it cannot "
                          "be shared between processes without repeating its data; use a "
                          "utils.Sequence. It is prefetched in a thread instead.",
                          stacklevel=4)  # fmt: skip
        iterable = _Prefetched(x, queue) if (workers > 1 or multi) else x
        where = "the generator"
    elif hasattr(x, "__iter__"):
        iterable, where = x, f"the iterable {type(x).__name__}"
    else:
        raise TypeError(
            "x must be arrays/tensors (or lists/dicts of them), a generator, a utils.Sequence, "
            f"a torch Dataset or DataLoader; got {type(x).__name__}."
        )
    return IterableSource(iterable, device, output_names, class_weight, input_names, where)
