"""What a batch is: structures of tensors, targets and weights per output, the source base.

Shared by the array path (`data.py`) and the iterable path (`iterables.py`):
- structure helpers (`_tree_map`, `_leaves`, `_to_tensor`, `is_array_like`);
- targets and sample weights as one entry per model output (`flatten_targets`,
  `flatten_weights`, `unpack_batch`), dict keys checked against input/output names;
- `ClassWeights`: `{class: weight}` (one dict, a list, or a dict by output name) as per-sample
  weights multiplied into `sample_weight`;
- `DataSource`, the base of every source, whose `to_device` is the one place where a batch
  is sharded (data-parallel) and moved to the model's device.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch

from fitorch import distributed

__all__ = [
    "DataSource", "ClassWeights", "is_array_like", "class_weight_to_sample_weight",
    "check_input_keys", "model_input_names", "flatten_targets", "flatten_weights",
    "unpack_batch",
]  # fmt: skip


def is_string_list(x) -> bool:
    """A non-empty list/tuple of Python strings: one string column (one string per sample)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, str) for v in x)


def is_array_like(x) -> bool:
    """True for arrays/tensors/numbers, lists of strings, and nested lists/tuples/dicts of
    arrays."""
    if isinstance(x, (np.ndarray, torch.Tensor, int, float, np.number)) or is_string_list(x):
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
    if array.dtype.kind in "US" or (array.dtype == object and array.size and all(
        isinstance(v, (str, bytes)) for v in array.reshape(-1)
    )):  # fmt: skip
        # strings stay a NumPy str array, sliced like the tensors, for TextVectorization
        return array.astype(str)
    if array.dtype == object:
        raise TypeError(f"{name}: expected a numeric array; got an array of Python objects.")
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.ndim == 0:
        raise ValueError(f"{name}: expected an array with a batch dimension; got a scalar.")
    return torch.from_numpy(np.ascontiguousarray(array))


# Not fitorch.tree: here a list of numbers or strings is one array (a leaf), and `path`
# names the entry in error messages.
def _tree_map(x, fn, path="x"):
    if x is None:
        return None
    if is_string_list(x):
        return fn(x, path)
    if isinstance(x, Mapping):
        return {k: _tree_map(v, fn, f"{path}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (list, tuple)) and not (x and isinstance(x[0], (int, float, np.number))):
        return type(x)(_tree_map(v, fn, f"{path}[{i}]") for i, v in enumerate(x))
    return fn(x, path)


def _leaves(x) -> list:
    if is_string_list(x):
        return [x]
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
        self.where = [
            "class_weight" if n == 1 else f"class_weight[{name!r}]" for name in output_names
        ]
        self.keys: list[set[int]] = [set() for _ in output_names]
        for i, cw in enumerate(per_output):
            if cw is not None:
                self.tables[i] = _class_table(cw, self.where[i])
                self.keys[i] = {int(k) for k in cw}

    def apply(self, y_list: list, sw_list: list | None) -> list | None:
        """Check each weighted target's labels against its dict (`check_class_weight_labels`),
        then multiply the class weights into the sample weights."""
        if not self.active:
            return sw_list
        out = list(sw_list) if sw_list is not None else [None] * len(self.tables)
        for i, (yt, table) in enumerate(zip(y_list, self.tables)):
            if table is not None and yt is not None:
                labels = _labels(yt)
                check_class_weight_labels(labels, self.keys[i], _num_classes(yt), self.where[i])
                out[i] = _multiply_weights(out[i], _lookup(labels, table, "class_weight"))
        return out


def _num_classes(y: torch.Tensor) -> int | None:
    """Classes a target can hold: its width when one-hot, 2 for 0/1 columns, else unknown."""
    if y.ndim > 1 and y.shape[-1] > 1:
        return int(y.shape[-1])
    if y.is_floating_point() and bool(((y == 0) | (y == 1)).all()):
        return 2
    return None


def check_class_weight_labels(labels: torch.Tensor, keys: set[int], num_classes: int | None,
                              where: str = "class_weight") -> None:  # fmt: skip
    """ValueError when labels occurring in the targets have no class_weight entry, or when the
    dict holds classes the targets cannot hold (>= num_classes, when that is known). Keras
    would silently weigh the first 1 (or 0) and ignore the second."""
    present = (
        {int(v) for v in torch.unique(labels.reshape(-1)).tolist()} if labels.numel() else set()
    )
    missing = sorted(present - keys)
    unknown = sorted(k for k in keys if num_classes is not None and k >= num_classes)
    if missing or unknown:
        parts = [f"labels {missing} occur in y but have no weight" if missing else "",
                 f"classes {unknown} cannot occur in targets of {num_classes} classes"
                 if unknown else ""]  # fmt: skip
        raise ValueError(
            f"{where} {sorted(keys)} does not match the targets: "
            + "; ".join(p for p in parts if p)
            + ". Give a weight for every class (1.0 for "
            "unweighted ones) and only for classes the targets hold."
        )


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
    """A dict `x` must hold every input name of the model. When one is missing, an unknown
    key is reported as the likely misspelling (did-you-mean), else the missing names. Keys
    beyond the inputs, with every input present, are ignored with a warning (Keras: the
    model takes the inputs it declares)."""
    if not input_names:
        return
    unknown = [k for k in x if k not in input_names]
    missing = [k for k in input_names if k not in x]
    if missing and unknown:
        raise _unknown_key_error(argument, unknown[0], list(input_names), "input", x)
    if missing:
        raise ValueError(f"{argument} is missing the input(s) {missing}; the model's inputs are "
                         f"{list(input_names)}.")  # fmt: skip
    if unknown:
        names = list(input_names)
        warnings.warn(f"{argument} has the key(s) {unknown}, which are not inputs of the model "
                      f"(inputs: {names}); they are ignored.", stacklevel=4)  # fmt: skip


def model_input_names(model) -> list[str] | None:
    """The keys a dict `x` must have: a functional model's input names, else None (a
    subclassed model receives the dict as it is)."""
    from fitorch.models.functional import Functional  # models import training: call time

    if not isinstance(model, Functional):
        return None
    return list(model.input) if isinstance(model.input, Mapping) else list(model.input_names)


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

    def batch_mover(self):
        """`to_device`, or the identity where it would change nothing (one process, CPU):
        decided once per epoch by the sources, so a batch pays no check."""
        if self.device.type == "cpu" and not distributed.is_active():
            return _unchanged
        return self.to_device

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


def _unchanged(batch):
    return batch


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
