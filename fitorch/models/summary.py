"""`model.summary()`: Keras 3's table of layers, output shapes and parameter counts.

Columns as Keras 3 prints them: `Layer (type)`, `Output Shape`, `Param #`, then for a
functional model that is not a plain chain `Connected to` (`layer[node][tensor]` of each
input), and with `show_trainable=True` a `Trainable` column (`Y`, `N`, `-` without weights).
A layer that has no weights yet shows `0 (unbuilt)` and output shape `?`. Functional models
list their `InputLayer`s; Sequential models do not. Totals carry the weights' memory size
(`Total params: 21 (84.00 B)`). Widths follow `line_length` (84, or 108 with `Connected
to`; +8 with `Trainable`) split at `positions` (fractions or absolute column ends); cells
that do not fit wrap onto the next line. `expand_nested=True` lists a nested model's layers
under its row, each level indented by `   └ `.
"""

from __future__ import annotations

import math

__all__ = ["print_summary", "readable_memory_size"]

_HEAD = ("┏", "━", "┳", "┓")
_RULE = ("┡", "━", "╇", "┩")
_SEP = ("├", "─", "┼", "┤")
_FOOT = ("└", "─", "┴", "┘")


def readable_memory_size(n_bytes: float) -> str:
    """`84.00 B`, `1.50 KB`, ... (powers of 1024, two decimals)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def _weights(layer) -> list[tuple[object, bool]]:
    """[(tensor, trainable)] of a fitorch layer or a plain torch module."""
    pairs = getattr(layer, "_all_weights", None)
    if pairs is not None:
        return list(pairs())
    return [(p, p.requires_grad) for p in layer.parameters()]


def _counts(layer) -> tuple[int, int, int]:
    """(trainable count, non-trainable count, bytes)."""
    pairs = _weights(layer)
    trainable = sum(w.numel() for w, t in pairs if t)
    frozen = sum(w.numel() for w, t in pairs if not t)
    return trainable, frozen, sum(w.numel() * w.element_size() for w, _ in pairs)


def _fmt_shape(shape) -> str:
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def _nodes(layer) -> list:
    return [n for n in getattr(layer, "_inbound_nodes", []) if n is not None]


def _output_shape(layer) -> str:
    nodes = _nodes(layer)
    if not nodes:
        shape = getattr(layer, "batch_shape", None)  # an InputLayer
        return "?" if shape is None else _fmt_shape(shape)
    shapes = [t.shape for t in nodes[-1].outputs]
    return _fmt_shape(shapes[0] if len(shapes) == 1 else shapes)


def _connections(layer) -> list[str]:
    """`name[node][tensor]` for every input of every call of `layer`."""
    out = []
    for node in _nodes(layer):
        for t in node.parents():
            source, calls = t.node.layer, _nodes(t.node.layer)
            index = calls.index(t.node) if t.node in calls else 0  # an Input's own node
            out.append(f"{source.name}[{index}][{t.index}]")
    return out


def _is_chain(layers) -> bool:
    """Whether every layer takes at most one input (then `Connected to` says nothing)."""
    return all(len(_connections(layer)) <= 1 for layer in layers)


def _is_built(layer) -> bool:
    return bool(getattr(layer, "built", True)) or any(True for _ in layer.parameters())


def _row(layer, connected: bool, show_trainable: bool) -> list[str]:
    trainable, frozen, _ = _counts(layer)
    total = trainable + frozen
    params = f"{total:,}" if total or _is_built(layer) else "0 (unbuilt)"
    cells = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), params]
    if connected:
        cells.append(",\n".join(_connections(layer)) or "-")
    if show_trainable:
        cells.append("-" if not total else ("Y" if getattr(layer, "trainable", True) else "N"))
    return cells


def _widths(line_length: int, positions, n: int) -> list[int]:
    if positions[-1] <= 1:
        positions = [math.floor(line_length * p) for p in positions]
    ends = [0, *positions[:n]]
    return [max(b - a - 3, 1) for a, b in zip(ends, ends[1:])]


def _wrap(text: str, width: int) -> list[str]:
    lines = []
    for part in text.split("\n"):
        while len(part) > width:
            cut = part.rfind(" ", 0, width + 1)
            cut = cut if cut > 0 else width
            lines.append(part[:cut].rstrip())
            part = part[cut:].lstrip()
        lines.append(part)
    return lines


def _border(chars, widths) -> str:
    left, fill, mid, right = chars
    return left + mid.join(fill * (w + 2) for w in widths) + right


def _cells(cells, widths, bar: str, aligns: dict[int, str]) -> list[str]:
    """The text lines of one table row (`aligns`: column -> 'r' right or 'c' centred)."""
    wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = []
        for col, (w, lines_of) in enumerate(zip(widths, wrapped)):
            text = lines_of[i] if i < len(lines_of) else ""
            align = {"r": text.rjust, "c": text.center}.get(aligns.get(col), text.ljust)
            parts.append(align(w))
        lines.append(bar + bar.join(f" {p} " for p in parts) + bar)
    return lines


def print_summary(
    model,
    line_length: int | None = None,
    positions=None,
    print_fn=None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    layer_range=None,
) -> None:
    """Print the summary table of `model` through `print_fn` (default `print`).

    Raises:
        ValueError: `positions` does not give one end per column, or `layer_range` names
            layers the model does not have.
    """
    print_fn = print_fn or print
    is_sequential = _is_sequential(model)
    layers = _select(_listed(model), layer_range)
    connected = not is_sequential and not _is_chain(layers)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    line_length = line_length or (108 if connected else 84)
    positions = positions or ([0.3, 0.6, 0.7, 1.0] if connected else [0.45, 0.84, 1.0])
    if connected:
        headers.append("Connected to")
    if show_trainable:
        line_length += 8
        positions = (
            [p * 0.88 for p in positions] + [1.0]
            if positions[-1] <= 1
            else [*positions, positions[-1] + 8]
        )
        headers.append("Trainable")
    if len(positions) != len(headers):
        raise ValueError(
            f"summary(positions=...) needs {len(headers)} column ends for the columns "
            f"{headers}; got {list(positions)!r}."
        )
    widths = _widths(line_length, positions, len(headers))
    aligns = {2: "r", **({len(headers) - 1: "c"} if show_trainable else {})}
    out = [f'Model: "{model.name}"', _border(_HEAD, widths)]
    out += _cells(headers, widths, "┃", aligns)
    out.append(_border(_RULE, widths))
    rows = [(layer, 0) for layer in layers]
    if expand_nested:
        rows = [pair for layer in layers for pair in _expanded(layer, 0)]
    for i, (layer, depth) in enumerate(rows):
        cells = _row(layer, connected, show_trainable)
        cells[0] = "   " * depth + "└ " * bool(depth) + cells[0]
        out += _cells(cells, widths, "│", aligns)
        out.append(_border(_SEP if i < len(rows) - 1 else _FOOT, widths))
    if not rows:
        out.append(_border(_FOOT, widths))
    trainable, frozen, size = _counts(model)
    t_size = sum(w.numel() * w.element_size() for w, t in _weights(model) if t)
    out.append(f" Total params: {trainable + frozen:,} ({readable_memory_size(size)})")
    out.append(f" Trainable params: {trainable:,} ({readable_memory_size(t_size)})")
    out.append(f" Non-trainable params: {frozen:,} ({readable_memory_size(size - t_size)})")
    for line in out:
        print_fn(line)


def _is_sequential(model) -> bool:
    return type(model).__name__ == "Sequential" or not hasattr(model, "inputs")


def _listed(model) -> list:
    """The layers a summary lists: a Sequential's without its InputLayer."""
    hide_inputs = _is_sequential(model)
    return [
        layer
        for layer in model.layers
        if not (hide_inputs and type(layer).__name__ == "InputLayer")
    ]


def _expanded(layer, depth: int) -> list:
    """[(layer, depth)]: `layer`, then the layers of a nested model one level deeper."""
    rows = [(layer, depth)]
    if getattr(layer, "layers", None) is not None and hasattr(layer, "summary"):
        for inner in _listed(layer):
            rows += _expanded(inner, depth + 1)
    return rows


def _select(layers, layer_range):
    if layer_range is None:
        return layers
    names = [layer.name for layer in layers]
    if len(layer_range) != 2 or any(n not in names for n in layer_range):
        raise ValueError(
            f"summary(layer_range=...) must be [first_name, last_name] of layers in the model; "
            f"got {layer_range!r}; layers: {names}."
        )
    first, last = names.index(layer_range[0]), names.index(layer_range[1])
    return layers[first : last + 1]
