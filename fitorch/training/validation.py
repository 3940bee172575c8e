"""Up-front checks of fit/evaluate/predict: bad input fails before the first step.

Two entry points, each called once from the trainer:
- `check_fit_arguments(...)`: the loop arguments (`steps_per_epoch`, `validation_steps`,
  `validation_freq`) and the `class_weight` values, before any data is converted.
- `check_arrays(model, state, source, what)`: the in-memory arrays of an `ArraySource` once
  they are tensors. Every floating array of `x`, `y` and `sample_weight` must be finite (one
  device reduction per array; the first bad sample is located only when one is found), and
  every target must suit its compiled loss over the whole array, not only the first batch:
  sparse-crossentropy labels integer-valued and in `[0, num_classes)` (`num_classes` read
  from the model's output shape when the model is built; `ignore_class` excepted), binary
  crossentropy targets in `[0, 1]`, `class_weight` keys below `num_classes`.
Validation arrays must also have the training arrays' structure and per-sample shapes.
Streamed sources (generators, Sequences, DataLoaders) are not read here: `check_arrays`
gives them a `StreamCheck`, which judges every batch the same way as it is read (shapes
against the model's inputs, dtypes against the first batch, values), naming the batch.
Every error is a ValueError naming the argument (`x`, `y`, `sample_weight`, ...), the position
of the first bad value and what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch

from fitorch import losses as losses_mod
from fitorch.training.data import ArraySource

__all__ = ["check_fit_arguments", "check_steps", "check_arrays", "StreamCheck"]


# -- arguments -------------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_steps(name: str, value) -> None:
    """`value` is None or a positive integer, else a ValueError naming `name`."""
    if value is None or (_is_int(value) and value > 0):
        return
    raise ValueError(f"`{name}` must be None or a positive integer. Received: {name}={value!r}")


def check_validation_freq(value) -> None:
    """An integer >= 1 (validate every that many epochs) or a collection of epoch numbers >= 1."""
    if _is_int(value) and value >= 1:
        return
    if (
        isinstance(value, (list, tuple, set, range))
        and value
        and all(_is_int(v) and v >= 1 for v in value)
    ):
        return
    raise ValueError(
        "`validation_freq` must be an integer >= 1 or a list of epoch numbers >= 1. "
        f"Received: validation_freq={value!r}"
    )


def _class_weight_tables(class_weight) -> list[tuple[str, Mapping]]:
    """(position, {class: weight}) for every table in the accepted class_weight forms."""
    if isinstance(class_weight, Mapping) and all(
        isinstance(v, Mapping) for v in class_weight.values()
    ):
        if class_weight:  # {output_name: {class: weight}}
            return [(f"class_weight[{k!r}]", v) for k, v in class_weight.items()]
    if isinstance(class_weight, (list, tuple)):
        return [(f"class_weight[{i}]", v) for i, v in enumerate(class_weight) if v is not None]
    return [("class_weight", class_weight)]


def check_class_weight_values(class_weight) -> None:
    """Every weight in `class_weight` is a finite number >= 0 (a ValueError names the class)."""
    if class_weight is None:
        return
    for where, table in _class_weight_tables(class_weight):
        if not isinstance(table, Mapping):
            continue  # the data path reports a wrong type with its own message
        for key, weight in table.items():
            if isinstance(weight, numbers.Real) and not isinstance(weight, bool):
                if not math.isfinite(weight) or weight < 0:
                    raise ValueError(
                        f"{where}[{key!r}] must be a finite weight >= 0. Received: {weight!r}"
                    )


def check_fit_arguments(steps_per_epoch, validation_steps, validation_freq, class_weight) -> None:
    """The fit arguments that need no data; raises ValueError naming the argument."""
    check_steps("steps_per_epoch", steps_per_epoch)
    check_steps("validation_steps", validation_steps)
    check_validation_freq(validation_freq)
    check_class_weight_values(class_weight)


# -- arrays ----------------------------------------------------------------------------------
def _named_leaves(value, name: str) -> list[tuple[str, torch.Tensor]]:
    """(position, tensor) for the tensors of a nested list/tuple/dict, Nones skipped."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [leaf for k, v in value.items() for leaf in _named_leaves(v, f"{name}[{k!r}]")]
    if isinstance(value, (list, tuple)):
        return [leaf for i, v in enumerate(value) for leaf in _named_leaves(v, f"{name}[{i}]")]
    return [(name, value)]


def _first_bad(t: torch.Tensor, bad: torch.Tensor) -> tuple[int, object]:
    """(sample index, value) of the first entry of `t` where `bad` is True (row-major)."""
    rows = bad.reshape(bad.shape[0], -1)
    row = int(torch.nonzero(rows.any(dim=1))[0].item())
    return row, t.reshape(t.shape[0], -1)[row][rows[row]][0].item()


def check_finite(name: str, t: torch.Tensor, what: str) -> None:
    """A floating tensor holds no NaN or inf; the error names the first bad sample. Arrays
    the data path keeps as NumPy (strings for preprocessing layers) are not numbers."""
    if not isinstance(t, torch.Tensor):
        return
    if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
        return
    # One reduction, one transfer per array: any NaN/inf makes the sum NaN/inf; a sum that
    # overflowed from finite values is settled by the exact element check below.
    if bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all()):
        return
    row, value = _first_bad(t, ~torch.isfinite(t))
    raise ValueError(
        f"{what}: `{name}` holds a non-finite value ({value}) at sample {row}. "
        "Remove or impute NaN/inf values before training."
    )


def _output_shapes(model) -> list[tuple] | None:
    """Static output shapes of a built Sequential or functional model, else None."""
    outputs = getattr(model, "outputs", None)
    if isinstance(outputs, list) and outputs:
        return [tuple(t.shape) for t in outputs]
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple):
        return [shape]
    return None


def _target_name(i: int, output_names: list[str]) -> str:
    return "y" if len(output_names) == 1 else f"y[{output_names[i]!r}]"


def _sparse_axis_and_ignore(loss) -> tuple[int, object]:
    """The class axis of a sparse loss's y_pred and its ignored label (None if none)."""
    module = getattr(loss, "module", None)  # a torch.nn loss wrapped as TorchLoss
    if module is not None:
        return 1, getattr(module, "ignore_index", None)
    kwargs = getattr(loss, "fn_kwargs", {})
    return kwargs.get("axis", -1), kwargs.get("ignore_class")


def check_sparse_labels(name: str, y: torch.Tensor, loss, num_classes: int | None, what: str):
    """Integer-valued labels in [0, num_classes) (upper bound skipped when unknown)."""
    _, ignore = _sparse_axis_and_ignore(loss)
    bad = torch.zeros(y.shape, dtype=torch.bool, device=y.device)
    if y.is_floating_point():
        bad |= y != torch.round(y)
    bad |= y < 0
    if num_classes is not None:
        bad |= y >= num_classes
    if ignore is not None:
        bad &= y != ignore
    if not bool(bad.any()):
        return
    row, value = _first_bad(y, bad)
    expected = f"in [0, {num_classes})" if num_classes is not None else ">= 0"
    raise ValueError(
        f"{what}: `{name}` holds {value!r} at sample {row}, which is not a class label for the "
        f"loss {_loss_name(loss)!r}: labels must be integers {expected}."
    )


def check_binary_targets(name: str, y: torch.Tensor, loss, what: str) -> None:
    """Binary crossentropy targets lie in [0, 1]."""
    bad = (y < 0) | (y > 1)
    if not bool(bad.any()):
        return
    row, value = _first_bad(y, bad)
    raise ValueError(
        f"{what}: `{name}` holds {value!r} at sample {row}; the loss {_loss_name(loss)!r} needs "
        "targets in [0, 1]."
    )


def _loss_name(loss) -> str:
    return getattr(loss, "name", None) or type(loss).__name__


def _num_classes(shapes, i: int, loss) -> int | None:
    if shapes is None or i >= len(shapes):
        return None
    shape = shapes[i]
    axis, _ = _sparse_axis_and_ignore(loss)
    size = shape[axis % len(shape)] if len(shape) > 1 else None
    return int(size) if isinstance(size, int) else None


def _check_class_weight_keys(class_weight, output_names, i: int, num_classes, what: str):
    tables = dict(_class_weight_tables(class_weight))
    if len(output_names) > 1:
        table = tables.get(f"class_weight[{output_names[i]!r}]", tables.get(f"class_weight[{i}]"))
        where = f"class_weight[{output_names[i]!r}]"
    else:
        table, where = next(iter(tables.values()), None), next(iter(tables), "class_weight")
    if not isinstance(table, Mapping):
        return
    extra = [k for k in table if int(k) >= num_classes]
    if extra:
        raise ValueError(
            f"{what}: {where} has the key {extra[0]!r}, which is not a class of the model's "
            f"output ({num_classes} classes: 0..{num_classes - 1})."
        )


def _check_targets(model, state, ys, what: str, class_weight) -> None:
    shapes = _output_shapes(model)
    names = state.output_names
    for i in state.loss.active:
        y = ys[i] if ys is not None and i < len(ys) else None
        ident = state.loss.identifiers[i]
        if y is None or (isinstance(ident, str) and ident.lower() in ("crossentropy", "ce")):
            continue  # the kind of "crossentropy" depends on y_pred: judged at the first batch
        loss = losses_mod.resolve(ident)
        name = _target_name(i, names)
        if getattr(loss, "targets", "dense") == "sparse":
            num_classes = _num_classes(shapes, i, loss)
            check_sparse_labels(name, y, loss, num_classes, what)
            if class_weight is not None and num_classes is not None:
                _check_class_weight_keys(class_weight, names, i, num_classes, what)
        elif losses_mod.binary_like(loss):
            check_binary_targets(name, y, loss, what)


def _sample_shape(t: torch.Tensor, part: str) -> tuple:
    """Per-sample shape; for targets a trailing 1 is dropped ((N,) and (N, 1) labels agree)."""
    shape = tuple(t.shape[1:])
    return shape[:-1] if part == "y" and shape[-1:] == (1,) else shape


def check_same_sample_shapes(source: ArraySource, reference, what: str) -> None:
    """Validation arrays have the training arrays' structure and per-sample shapes."""
    if not isinstance(reference, ArraySource):
        return
    for part, mine, theirs in (("x", source.x, reference.x), ("y", source.y, reference.y)):
        if mine is None or theirs is None:
            continue
        got, want = _named_leaves(mine, part), _named_leaves(theirs, part)
        if [n for n, _ in got] != [n for n, _ in want]:
            raise ValueError(
                f"{what}: `{part}` holds {[n for n, _ in got]} but the training data holds "
                f"{[n for n, _ in want]}; give validation data the training data's structure."
            )
        for (name, t), (_, ref) in zip(got, want):
            if _sample_shape(t, part) != _sample_shape(ref, part):
                raise ValueError(
                    f"{what}: `{name}` has samples of shape {tuple(t.shape[1:])}, the training "
                    f"`{name}` of shape {tuple(ref.shape[1:])}; they must be equal."
                )


def _check_values(model, state, x, ys, sws, what: str, class_weight=None) -> None:
    """Finite `x`, `y`, `sample_weight` and targets fit for their losses (`ys`, `sws`: one
    entry per output)."""
    for name, t in _named_leaves(x, "x"):
        check_finite(name, t, what)
    if state is None:  # predict: x only
        return
    for i, y in enumerate(ys or []):
        if y is not None:
            check_finite(_target_name(i, state.output_names), y, what)
    for sw in sws or []:
        if sw is not None:  # class weights, already checked, are multiplied in
            check_finite("sample_weight", sw, what)
    if ys is not None:
        _check_targets(model, state, ys, what, class_weight)


def check_arrays(model, state, source, what: str, class_weight=None, reference=None) -> None:
    """Finite arrays and targets fit for their losses, for an in-memory source (see module
    docstring); a streamed source gets a `StreamCheck` that judges each batch as it is read.
    `what` names the call (`"fit"`, ...); `reference`: the training source, whose per-sample
    shapes validation data must have."""
    if not isinstance(source, ArraySource):
        if hasattr(source, "batch_check"):
            source.batch_check = StreamCheck(model, state, what, getattr(source, "where", None))
        return
    check_same_sample_shapes(source, reference, what)
    _check_values(model, state, source.x, source.y, source.sw, what, class_weight)


# -- streamed batches ------------------------------------------------------------------------
def _model_input_shapes(model) -> dict[str, tuple] | None:
    """{position: batch shape} of the model's declared inputs (`x`, `x[0]`, `x['name']`), or
    None when the model declares none (a subclassed or lazily built model)."""
    inputs = getattr(model, "inputs", None)
    if isinstance(inputs, list) and inputs:
        if len(inputs) == 1:
            return {"x": tuple(inputs[0].shape)}
        shapes = {f"x[{i}]": tuple(t.shape) for i, t in enumerate(inputs)}
        names = getattr(model, "input_names", None) or []
        shapes.update({f"x[{n!r}]": tuple(t.shape) for n, t in zip(names, inputs)})
        return shapes
    shape = getattr(model, "input_shape", None)
    return {"x": tuple(shape)} if isinstance(shape, tuple) else None


def _dtype_kind(t: torch.Tensor) -> str:
    if t.dtype == torch.bool:
        return "bool"
    return "float" if (t.is_floating_point() or t.is_complex()) else "integer"


class StreamCheck:
    """Judges the batches of a streamed source (generator, Sequence, DataLoader) as they are
    read, before each reaches a step; `source.batch_check(batch, position)` calls it.

    Every batch: each array's rank and per-sample sizes against the model's declared inputs
    (dims declared None, such as a padded sequence length, may vary), and its dtype kind
    (float, integer, bool) against the first batch's; then, as for in-memory arrays, NaN/inf
    in `x`, `y`, `sample_weight` and labels fit for the losses (integer-valued and in range
    for sparse losses, in [0, 1] for binary ones). These value checks are reductions over the
    batch where it lies (the host, for loaders and generators), before it moves to the
    device, so they cost no device sync. Errors are ValueErrors naming the call, the batch
    index and what changed or is wrong.
    """

    def __init__(self, model, state, what: str, where: str | None = None):
        self.model, self.state = model, state
        self.what, self.where = what, where or "the data"
        self.expected = _model_input_shapes(model)
        self.kinds: dict[str, str] | None = None  # dtype kinds of the first batch

    def __call__(self, batch, position: int) -> None:
        x, ys, sws = batch
        where = f"{self.what}: batch {position} of {self.where}"
        leaves = _named_leaves(x, "x") + [
            (_target_name(i, self.state.output_names) if self.state else f"y[{i}]", y)
            for i, y in enumerate(ys or [])
            if y is not None
        ]
        self._check_shapes(leaves, where)
        self._check_kinds(leaves, where, position)
        _check_values(self.model, self.state, x, ys, sws, where)

    def _check_shapes(self, leaves, where: str) -> None:
        if self.expected is None:
            return
        for name, t in leaves:
            want = self.expected.get(name)
            if want is None or not isinstance(t, torch.Tensor):
                continue
            got = tuple(t.shape)
            fits = len(got) == len(want) and all(
                w is None or g == w for g, w in zip(got[1:], want[1:])
            )
            if not fits:
                raise ValueError(
                    f"{where}: `{name}` has shape {got}, but the model's input expects "
                    f"{want} (None: any size)."
                )

    def _check_kinds(self, leaves, where: str, position: int) -> None:
        kinds = {n: _dtype_kind(t) for n, t in leaves if isinstance(t, torch.Tensor)}
        if self.kinds is None:
            self.kinds = kinds
            return
        for name, kind in kinds.items():
            first = self.kinds.get(name)
            if first is not None and kind != first:
                raise ValueError(
                    f"{where}: `{name}` holds {kind} values, but the first batch held "
                    f"{first} values; every batch must have the same dtypes."
                )
