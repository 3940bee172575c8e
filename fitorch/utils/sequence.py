"""`Sequence` (alias `PyDataset`): a re-iterable, indexable source of batches."""

from __future__ import annotations

__all__ = ["Sequence", "PyDataset"]


class Sequence:
    """Subclass and implement `__len__` (batches per epoch) and `__getitem__(index)`
    returning `x`, `(x, y)` or `(x, y, sample_weight)`; `on_epoch_end` runs after each epoch.

    Args (Keras 3 PyDataset): workers, use_multiprocessing, max_queue_size.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence
