"""`model.summary()`: a Keras-style table of layers, output shapes and parameter counts."""

from __future__ import annotations

__all__ = ["print_summary"]


def _output_shape(layer):
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes or nodes[-1] is None:
        return "?"
    shapes = [t.shape for t in nodes[-1].outputs]
    return shapes[0] if len(shapes) == 1 else shapes


def _fmt_shape(shape) -> str:
    if shape == "?":
        return "?"
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return (
        "("
        + ", ".join("None" if s is None else str(s) for s in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def _param_count(layer) -> tuple[int, int]:
    weights = getattr(layer, "_all_weights", None)
    if weights is None:  # a plain torch module
        params = list(layer.parameters())
        return sum(p.numel() for p in params if p.requires_grad), sum(
            p.numel() for p in params if not p.requires_grad
        )
    pairs = weights()
    return sum(w.numel() for w, t in pairs if t), sum(w.numel() for w, t in pairs if not t)


def print_summary(model, line_length=None, print_fn=None) -> None:
    """Print `Layer (type) | Output Shape | Param #` rows and the parameter totals."""
    print_fn = print_fn or print
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        trainable, frozen = _param_count(layer)
        name = getattr(layer, "name", kind.lower())
        rows.append(
            (f"{name} ({kind})", _fmt_shape(_output_shape(layer)), f"{trainable + frozen:,}")
        )
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
        for i, h in enumerate(("Layer (type)", "Output Shape", "Param #"))
    ]
    widths = [max(w, d) for w, d in zip(widths, (29, 26, 10))]
    total_width = line_length or sum(widths) + 6
    line = lambda cells: "".join(c.ljust(w + 3) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    print_fn(f'Model: "{model.name}"')
    print_fn("━" * total_width)
    print_fn(line(("Layer (type)", "Output Shape", "Param #")))
    print_fn("━" * total_width)
    for i, row in enumerate(rows):
        print_fn(line(row))
        if i < len(rows) - 1:
            print_fn("─" * total_width)
    print_fn("━" * total_width)
    trainable, frozen = _param_count(model)
    print_fn(f" Total params: {trainable + frozen:,}")
    print_fn(f" Trainable params: {trainable:,}")
    print_fn(f" Non-trainable params: {frozen:,}")
