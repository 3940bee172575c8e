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
All batches pass through `DataSource.to_device`, the one place where a distributed run can
shard and where data moves to the model's device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from fitorch import distributed

__all__ = [
    "DataSource", "ArraySource", "ClassWeights", "adapt", "is_array_like", "split_validation",
    "class_weight_to_sample_weight", "check_input_keys", "model_input_names", "flatten_targets",
    "flatten_weights", "unpack_batch",
]  # fmt: skip

_ON_DEVICE_LIMIT = 2 << 30  # bytes of array data kept resident on an accelerator


def is_array_like(x) -> bool:
    """True for arrays/tensors/numbers and nested lists/tuples/dicts of arrays."""
    if isinstance(x, (np.ndarray, torch.Tensor, int, float, np.number)):
        return True
    if isinstance(x, Mapping):
        return all(is_array_like(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        if x and all(isinstance(v, (int, float, np.number)) for v in x):
            return True
        return len(x) > 0 and all(is_array_like(v) for v in x)
    return False


def _to_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"{name}: expected a numeric array; got an array of Python objects.")
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.ndim == 0:
        raise ValueError(f"{name}: expected an array with a batch dimension; got a scalar.")
    return torch.from_numpy(np.ascontiguousarray(array))


def _tree_map(x, fn, path="x"):
    if x is None:
        return None
    if isinstance(x, Mapping):
        return {k: _tree_map(v, fn, f"{path}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (list, tuple)) and not (x and isinstance(x[0], (int, float, np.number))):
        return type(x)(_tree_map(v, fn, f"{path}[{i}]") for i, v in enumerate(x))
    return fn(x, path)


def _leaves(x) -> list:
    if isinstance(x, Mapping):
        return [leaf for v in x.values() for leaf in _leaves(v)]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    return [] if x is None else [x]


def flatten_targets(y, output_names: list[str], name: str = "y") -> list | None:
    """`y` (one array, a list, or a dict by output name) as a list in output order."""
    if y is None:
        return None
    n = len(output_names)
    if isinstance(y, Mapping):
        unknown = [k for k in y if k not in output_names]
        if unknown:
            raise _unknown_key_error(name, unknown[0], output_names, "output", y)
        return [y.get(k) for k in output_names]
    if isinstance(y, (list, tuple)) and n > 1:
        if len(y) != n:
            raise ValueError(
                f"{name}: the model has {n} outputs {output_names}; got {len(y)} arrays."
            )
        return list(y)
    if n > 1:
        raise ValueError(
            f"{name}: the model has {n} outputs {output_names}; pass a list or a dict of {n} "
            "arrays."
        )
    return [y]


def flatten_weights(sample_weight, output_names: list[str]) -> list | None:
    """One weight array for all outputs, a list per output, or a dict by output name."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Mapping) or (
        isinstance(sample_weight, (list, tuple)) and len(output_names) > 1
        and not isinstance(sample_weight[0], (int, float, np.number))
    ):  # fmt: skip
        return flatten_targets(sample_weight, output_names, "sample_weight")
    return [sample_weight] * len(output_names)


def _is_class_index(key) -> bool:
    if isinstance(key, bool):
        return False
    if isinstance(key, (int, np.integer)):
        return True
    return isinstance(key, (float, np.floating)) and float(key).is_integer()


def _class_table(class_weight: Mapping, where: str) -> torch.Tensor:
    """`{class: weight}` -> a float32 lookup table (classes not in the dict weigh 1.0)."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"{where} must be a dict {{class_index: weight}}; "
                        f"got {type(class_weight).__name__}.")  # fmt: skip
    bad = [k for k in class_weight if not _is_class_index(k)]
    if bad:
        raise ValueError(f"{where} keys must be integer class indices; got the key {bad[0]!r} "
                         f"(keys: {list(class_weight)}).")  # fmt: skip
    negative = [k for k in class_weight if int(k) < 0]
    if negative:
        raise ValueError(f"{where}: class indices must be >= 0; got {negative[0]}.")
    table = torch.ones(max((int(k) for k in class_weight), default=-1) + 1)
    for k, v in class_weight.items():
        if not isinstance(v, (int, float, np.number)) or isinstance(v, bool):
            raise TypeError(f"{where}[{k!r}] must be a number; got {type(v).__name__}.")
        table[int(k)] = float(v)
    return table


def _labels(y: torch.Tensor) -> torch.Tensor:
    """Class indices from targets: one-hot (..., C>1) argmaxed, (..., 1) squeezed, rounded."""
    if y.ndim > 1:
        y = y.argmax(dim=-1) if y.shape[-1] > 1 else y.squeeze(-1)
    if y.is_floating_point():
        y = torch.round(y)
    return y.long()


def class_weight_to_sample_weight(y: torch.Tensor, class_weight: Mapping) -> torch.Tensor:
    """Per-sample weights `w[i] = class_weight[label[i]]` (1.0 for classes not in the dict).

    Labels: one-hot targets are argmaxed, (N, 1) squeezed, values rounded; targets of shape
    (N, T, C) give per-timestep weights (N, T) (for `sample_weight_mode='temporal'`).
    `class_weight_to_sample_weight(torch.tensor([0, 1, 1]), {1: 3.0})` -> `[1., 3., 3.]`.
    """
    return _lookup(_labels(y), _class_table(class_weight, "class_weight"), "class_weight")


def _lookup(labels: torch.Tensor, table: torch.Tensor, where: str) -> torch.Tensor:
    if labels.numel() and bool((labels < 0).any()):  # labels are host tensors here: no sync
        raise ValueError(f"{where}: labels must be class indices >= 0; got {int(labels.min())}.")
    table = table.to(labels.device)
    if table.numel() == 0:
        return torch.ones(labels.shape, device=labels.device)
    inside = labels < table.numel()
    return torch.where(inside, table[labels.clamp(max=table.numel() - 1)], 1.0)


def _multiply_weights(sw: torch.Tensor | None, w: torch.Tensor) -> torch.Tensor:
    """`sw * w` aligned on the batch axis: (N,) or (N, 1) times (N,) or (N, T)."""
    if sw is None:
        return w
    sw = sw.to(w.dtype)
    if sw.ndim == 2 and sw.shape[1] == 1:
        sw = sw.reshape(-1)
    while w.ndim < sw.ndim:
        w = w.unsqueeze(-1)
    while sw.ndim < w.ndim:
        sw = sw.unsqueeze(-1)
    return sw * w


class ClassWeights:
    """`class_weight` for every output, parsed once: `{class: w}` (every output), a list of
    such dicts (one per output, None to skip), or a dict of them by output name.
    `apply(y_list, sw_list)` multiplies the class weights into the sample weights."""

    def __init__(self, class_weight, output_names: list[str]):
        self.tables: list[torch.Tensor | None] = [None] * len(output_names)
        self.active = class_weight is not None
        if class_weight is None:
            return
        n = len(output_names)
        if (
            isinstance(class_weight, Mapping)
            and class_weight
            and all(isinstance(v, Mapping) for v in class_weight.values())
        ):  # {output_name: {class: weight}}
            unknown = [k for k in class_weight if k not in output_names]
            if unknown:
                raise _unknown_key_error(
                    "class_weight", unknown[0], output_names, "output", class_weight
                )
            per_output = [class_weight.get(k) for k in output_names]
        elif isinstance(class_weight, (list, tuple)):
            if len(class_weight) != n:
                raise ValueError(f"class_weight: got a list of {len(class_weight)} dicts for "
                                 f"{n} output(s) {output_names}.")  # fmt: skip
            per_output = list(class_weight)
        else:
            per_output = [class_weight] * n
        for i, cw in enumerate(per_output):
            if cw is not None:
                where = "class_weight" if n == 1 else f"class_weight[{output_names[i]!r}]"
                self.tables[i] = _class_table(cw, where)

    def apply(self, y_list: list, sw_list: list | None) -> list | None:
        if not self.active:
            return sw_list
        out = list(sw_list) if sw_list is not None else [None] * len(self.tables)
        for i, (yt, table) in enumerate(zip(y_list, self.tables)):
            if table is not None and yt is not None:
                out[i] = _multiply_weights(out[i], _lookup(_labels(yt), table, "class_weight"))
        return out


def _unknown_key_error(argument: str, key, names: list[str], what: str, given=()) -> ValueError:
    """Did-you-mean among the names not given yet (a typo replaces a missing name)."""
    from fitorch.registry import suggest

    close = suggest(str(key), [n for n in names if n not in given] or names)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"{argument} has the key {key!r}, which is not an {what} name of the model.{hint} "
        f"{what.capitalize()} names: {names}."
    )


def check_input_keys(x: Mapping, input_names: list[str] | None, argument: str = "x") -> None:
    """A dict `x` must be keyed by the model's input names (did-you-mean otherwise)."""
    if not input_names:
        return
    unknown = [k for k in x if k not in input_names]
    if unknown:
        raise _unknown_key_error(argument, unknown[0], list(input_names), "input", x)
    missing = [k for k in input_names if k not in x]
    if missing:
        raise ValueError(f"{argument} is missing the input(s) {missing}; the model's inputs are "
                         f"{list(input_names)}.")  # fmt: skip


def model_input_names(model) -> list[str] | None:
    """The keys a dict `x` must have: a functional model's input names, else None (a
    subclassed model receives the dict as it is)."""
    if not hasattr(model, "_input_tensors"):
        return None
    struct = getattr(model, "_inputs_struct", None)
    return list(struct) if isinstance(struct, Mapping) else list(model.input_names)


class DataSource:
    """A source of batches: `epoch_batches()` iterates one pass; `num_batches` may be None."""

    num_batches: int | None = None
    num_samples: int | None = None
    batch_size: int | None = None

    def __init__(self, device=None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")

    def epoch_batches(self):
        raise NotImplementedError

    def on_epoch_end(self) -> None:
        """Called after each epoch (Sequences reshuffle here)."""

    def close(self) -> None:
        """Release workers or files."""

    def to_device(self, batch):
        """Move one `(x, y, sw)` batch to the model's device (non-blocking from pinned memory).

        Under data-parallel training (`fitorch.distributed`) `batch` is a global batch: this
        rank keeps its slice of the rows (before the copy) and gets a `distributed.Shard`,
        which carries the global row count the loss scaling needs.
        """
        batch, global_rows = distributed.shard_batch(batch)
        if self.device.type != "cpu":
            batch = _tree_map(batch, lambda t, _: t.to(self.device, non_blocking=True)
                              if isinstance(t, torch.Tensor) else t)  # fmt: skip
        return batch if global_rows is None else distributed.Shard(batch, global_rows)


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
        size = sum(t.numel() * t.element_size() for t in _leaves((self.x, self.y, self.sw)))
        self._pinned = size > _ON_DEVICE_LIMIT and self.device.type == "cuda"
        if self._pinned:
            move = lambda t, _: t.pin_memory()  # noqa: E731
        else:
            move = lambda t, _: t.to(self.device)  # noqa: E731
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
        order = self._order()
        # Flatten the (x, y, sw) structure once per epoch; per batch only slice and rebuild.
        arrays, rebuild = _flatten((self.x, self.y, self.sw))
        if order is not None:
            order = order.to(arrays[0].device)
        for i in range(self.num_batches):
            lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, self.num_samples)
            if order is None:  # rows lo:hi of every array (views)
                rows = [t[lo:hi] for t in arrays]
            else:  # rows order[lo:hi]: one gather per array
                idx = order[lo:hi]
                rows = [_gather(t, idx, self._pinned) for t in arrays]
            yield self.to_device(rebuild(rows))


def _flatten(data):
    """The tensors of a nested list/tuple/dict (Nones skipped) and a function that rebuilds
    the same structure from a list of replacements, in the same order."""
    leaves = []

    def spec(x):
        if x is None:
            return lambda it: None
        if isinstance(x, Mapping):
            parts = {k: spec(v) for k, v in x.items()}
            return lambda it: {k: part(it) for k, part in parts.items()}
        if isinstance(x, (list, tuple)):
            parts, kind = [spec(v) for v in x], type(x)
            return lambda it: kind([part(it) for part in parts])
        leaves.append(x)
        return next

    build = spec(data)
    return leaves, lambda values: build(iter(values))


def _gather(t: torch.Tensor, idx: torch.Tensor, pinned: bool) -> torch.Tensor:
    """`t[idx]`; from pinned memory into pinned memory, so the copy to the GPU stays
    asynchronous (torch's caching host allocator reuses the buffers)."""
    if pinned:
        out = torch.empty((idx.numel(), *t.shape[1:]), dtype=t.dtype, pin_memory=True)
        return torch.index_select(t, 0, idx, out=out)
    return t.index_select(0, idx)


def _expand_1d(t: torch.Tensor) -> torch.Tensor:
    return t.unsqueeze(-1) if t.ndim == 1 else t


def _first_length(x) -> int:
    """Samples in the first array of `x`, without converting anything (1 for a scalar,
    which `ArraySource` then rejects with a clear error)."""
    while isinstance(x, Mapping) or (
        isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float, np.number))
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


def unpack_batch(item, output_names, where="the generator"):
    """`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` -> `(x, y_list, sw_list)`.

    A list of 1 to 3 items reads as the tuple (Keras 3; a DataLoader collates `(x, y)`
    samples into `[x, y]`); pass several inputs as `((x1, x2), y)` or a dict.
    """
    if isinstance(item, list) and 1 <= len(item) <= 3:
        item = tuple(item)
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], flatten_targets(item[1], output_names, "y"), None
        if len(item) == 3:
            return (item[0], flatten_targets(item[1], output_names, "y"),
                    flatten_weights(item[2], output_names))  # fmt: skip
        raise ValueError(
            f"{where} must yield x, (x,), (x, y) or (x, y, sample_weight); got a tuple of "
            f"{len(item)} items."
        )
    if isinstance(item, list):
        raise ValueError(
            f"{where} must yield x, (x,), (x, y) or (x, y, sample_weight); got a list of "
            f"{len(item)} items (wrap several inputs as a tuple: ((x1, x2, ...), y))."
        )
    return item, None, None
