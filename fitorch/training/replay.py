"""Validation on a one-shot iterator: keep its first `validation_steps` batches and validate
on those same batches every epoch (a generator cannot be restarted; reading on would judge
each epoch on different data, so epoch-to-epoch comparisons such as EarlyStopping drift)."""

from __future__ import annotations

from fitorch.training.batches import DataSource


class FirstBatches(DataSource):
    """The first `steps` batches of `source`, read once (already on the device), then replayed."""

    def __init__(self, source: DataSource, steps: int):
        super().__init__(source.device)
        self.source, self.steps = source, int(steps)
        self.batch_size = source.batch_size
        self.num_batches = self.steps
        self._kept: list | None = None

    def epoch_batches(self):
        if self._kept is None:
            self._kept = []
            for batch in self.source.epoch_batches():
                self._kept.append(batch)
                if len(self._kept) == self.steps:
                    break
        yield from self._kept

    def close(self) -> None:
        self.source.close()


def first_batches(source: DataSource, steps: int | None) -> tuple[DataSource, int | None]:
    """`(source, steps)` for validation: a one-shot source with `steps` becomes `FirstBatches`
    read as one full pass per epoch (steps None); any other source is returned unchanged."""
    if steps is None or not getattr(source, "one_shot", False):
        return source, steps
    return FirstBatches(source, steps), None
