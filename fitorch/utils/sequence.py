"""`Sequence` (alias `PyDataset`): a re-iterable, indexable source of batches."""

from __future__ import annotations

__all__ = ["Sequence", "PyDataset"]


class Sequence:
    """Subclass and implement `__len__` (batches per epoch) and `__getitem__(index)`
    returning `x`, `(x, y)` or `(x, y, sample_weight)` for batch `index`.

    `fit`/`evaluate`/`predict` read the batches in order (a new random order each epoch with
    `fit(shuffle=True)`) and call `on_epoch_begin()` before and `on_epoch_end()` after each
    pass. With `workers > 1` (threads) or `use_multiprocessing=True` (processes) batches load
    in parallel, `max_queue_size` ahead, in the same order; `__getitem__` must then be safe to
    call from several threads, or be picklable for processes. The arguments given to `fit`
    (Keras 2: `fit_generator(..., workers=4)`) take precedence over these (Keras 3).

    Args:
        workers: threads or processes loading batches (1: load in the training loop).
        use_multiprocessing: processes instead of threads.
        max_queue_size: batches loaded ahead of the training step.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):  # fmt: skip
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__.")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__.")

    @property
    def num_batches(self) -> int:
        """Batches per epoch (Keras 3 `PyDataset.num_batches`)."""
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each pass over the data."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the data (reshuffle an index here)."""

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence
