"""The data path: every input kind becomes a `DataSource` of device batches.

`adapt(x, y, sample_weight, ...)` is the single entry point. A source yields, per epoch,
batches `(x, y, sample_weight)` where `x` keeps the user's structure (tensor, list or dict),
`y` is a list with one tensor per model output (or None) and `sample_weight` is a list per
output (or None). Sources:
- `ArraySource`: NumPy arrays / torch tensors in any list/dict structure. Converted to
  tensors once per fit; each epoch draws one `randperm` and slices batches with
  `index_select`; on CUDA the tensors live on the device when they fit, else in pinned memory.
- `IterableSource`: Python generators and iterators, `utils.Sequence`, torch `Dataset` and
  `DataLoader` (see `fitorch.training.iterables`).
All batches pass through `DataSource.to_device`, the one place where a distributed run can
shard and where data moves to the model's device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "DataSource", "ArraySource", "adapt", "is_array_like", "split_validation",
    "class_weight_to_sample_weight", "flatten_targets", "flatten_weights",
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
            from fitorch.registry import suggest

            close = suggest(str(unknown[0]), output_names)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{name} has key {unknown[0]!r}, which is not an output name.{hint} "
                f"Outputs: {output_names}."
            )
        return [y.get(k) for k in output_names]
    if isinstance(y, (list, tuple)) and n > 1:
        if len(y) != n:
            raise ValueError(f"{name}: the model has {n} outputs {output_names}; got {len(y)} arrays.")
        return list(y)
    if n > 1:
        raise ValueError(
            f"{name}: the model has {n} outputs {output_names}; pass a list or a dict of {n} arrays."
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


def class_weight_to_sample_weight(y: torch.Tensor, class_weight: Mapping) -> torch.Tensor:
    """Per-sample weights from `{class: weight}`: one-hot labels are argmaxed, (N,1)
    squeezed, values rounded; classes not in the dict weigh 1.0."""
    try:
        table = {int(k): float(v) for k, v in class_weight.items()}
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"class_weight keys must be integer class indices; got keys {list(class_weight)}."
        ) from err
    if y.ndim > 1 and y.shape[-1] > 1:
        labels = y.argmax(dim=-1)
    else:
        labels = y.reshape(y.shape[0], -1)[:, 0] if y.ndim > 1 else y
        labels = torch.round(labels.float()).long()
    if labels.ndim > 1:
        labels = labels.reshape(labels.shape[0], -1)[:, 0]
    size = max(max(table) + 1, int(labels.max()) + 1 if labels.numel() else 1)
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"class_weight: labels must be >= 0; got {int(labels.min())}.")
    lookup = torch.ones(size, dtype=torch.float32, device=labels.device)
    for k, v in table.items():
        if k < 0:
            raise ValueError(f"class_weight: class index must be >= 0; got {k}.")
        lookup[k] = v
    return lookup[labels]


def _combine_class_weight(y_list, sw_list, class_weight, output_names):
    """Multiply per-sample class weights into the sample weights (per output)."""
    if class_weight is None:
        return sw_list
    if isinstance(class_weight, Mapping) and all(k in output_names for k in class_weight) and (
        class_weight and isinstance(next(iter(class_weight.values())), Mapping)
    ):
        per_output = [class_weight.get(k) for k in output_names]
    elif isinstance(class_weight, (list, tuple)):
        if len(class_weight) != len(output_names):
            raise ValueError(
                f"class_weight: got {len(class_weight)} dicts for {len(output_names)} outputs."
            )
        per_output = list(class_weight)
    else:
        per_output = [class_weight] + [None] * (len(output_names) - 1)
        if len(output_names) > 1:
            per_output = [class_weight] * len(output_names)
    sw_list = list(sw_list) if sw_list is not None else [None] * len(output_names)
    for i, (yt, cw) in enumerate(zip(y_list, per_output)):
        if cw is None or yt is None:
            continue
        w = class_weight_to_sample_weight(yt, cw)
        sw_list[i] = w if sw_list[i] is None else sw_list[i].to(w.dtype).reshape(w.shape[0], -1).squeeze(-1) * w
    return sw_list


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
        """Move one `(x, y, sw)` batch to the model's device (non-blocking from pinned memory)."""
        if self.device.type == "cpu":
            return batch
        return _tree_map(batch, lambda t, _: t.to(self.device, non_blocking=True)
                         if isinstance(t, torch.Tensor) else t)  # fmt: skip


class ArraySource(DataSource):
    """In-memory arrays sliced into batches; see the module docstring."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle=False, device=None,
                 class_weight=None, output_names=("output_1",)):  # fmt: skip
        super().__init__(device)
        output_names = list(output_names)
        # Keras 2: a 1-D input array is one feature per sample, (N,) -> (N, 1).
        self.x = _tree_map(x, lambda v, p: _expand_1d(_to_tensor(v, p)))
        y_list = flatten_targets(y, output_names)
        self.y = None if y_list is None else [
            None if v is None else _to_tensor(v, f"y[{i}]") for i, v in enumerate(y_list)
        ]  # fmt: skip
        sw = flatten_weights(sample_weight, output_names)
        self.sw = None if sw is None else [
            None if v is None else _to_tensor(v, "sample_weight").float() for v in sw
        ]  # fmt: skip
        if class_weight is not None:
            if self.y is None:
                raise ValueError("class_weight needs targets y.")
            self.sw = _combine_class_weight(self.y, self.sw, class_weight, output_names)
        self.num_samples = _common_length(self.x, self.y, self.sw)
        if self.num_samples == 0:
            raise ValueError("The data is empty: x has 0 samples.")
        self.batch_size = int(batch_size)
        self.num_batches = math.ceil(self.num_samples / self.batch_size)
        self.shuffle = shuffle
        self._place()

    def _place(self):
        if self.device.type == "cpu":
            return
        size = sum(t.numel() * t.element_size() for t in _leaves((self.x, self.y, self.sw)))
        move = (lambda t, _: t.to(self.device)) if size <= _ON_DEVICE_LIMIT else (
            lambda t, _: t.pin_memory())  # fmt: skip
        self.x, self.y, self.sw = _tree_map((self.x, self.y, self.sw), move)

    def _order(self) -> torch.Tensor | None:
        n = self.num_samples
        if self.shuffle is True:
            return torch.randperm(n)
        if self.shuffle == "batch":
            order = torch.arange(n)
            for start in range(0, n, self.batch_size):
                block = order[start:start + self.batch_size]
                order[start:start + self.batch_size] = block[torch.randperm(len(block))]
            return order
        return None

    def epoch_batches(self):
        order = self._order()
        data = (self.x, self.y, self.sw)
        if order is not None:
            order = order.to(_first_device(data))
        for i in range(self.num_batches):
            lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, self.num_samples)
            if order is None:
                batch = _tree_map(data, lambda t, _: t[lo:hi])
            else:
                idx = order[lo:hi]
                batch = _tree_map(data, lambda t, _: t.index_select(0, idx))
            yield self.to_device(batch)


def _expand_1d(t: torch.Tensor) -> torch.Tensor:
    return t.unsqueeze(-1) if t.ndim == 1 else t


def _first_device(data):
    for t in _leaves(data):
        return t.device
    return torch.device("cpu")


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
    n = int(_leaves(_tree_map(x, _to_tensor))[0].shape[0])
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
          class_weight=None, device=None, output_names=("output_1",), **iterable_options):  # fmt: skip
    """Turn any supported input into a `DataSource` (see module docstring)."""
    if x is None:
        raise ValueError("No data: x is None.")
    if is_array_like(x):
        if batch_size is None:
            n = len(_leaves(_tree_map(x, _to_tensor))[0])
            batch_size = math.ceil(n / steps) if steps else 32
        if int(batch_size) <= 0:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
        return ArraySource(x, y, sample_weight, batch_size, shuffle, device, class_weight,
                           output_names)  # fmt: skip
    from fitorch.training.iterables import adapt_iterable

    return adapt_iterable(x, y=y, sample_weight=sample_weight, batch_size=batch_size,
                          shuffle=shuffle, class_weight=class_weight, device=device,
                          output_names=list(output_names), **iterable_options)  # fmt: skip


def unpack_batch(item, output_names, where="the generator"):
    """`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` -> `(x, y_list, sw_list)`."""
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], flatten_targets(item[1], output_names), None
        if len(item) == 3:
            return (item[0], flatten_targets(item[1], output_names),
                    flatten_weights(item[2], output_names))  # fmt: skip
        raise ValueError(
            f"{where} must yield x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(item)}."
        )
    return item, None, None

