"""`plot_model` and `model_to_dot` (Keras 3 `keras.utils`): a model's layers as a graph.

`model_to_dot(model)` returns a `pydot.Dot` with one node per layer (its id is
`str(id(layer))`) and one edge per connection between two layers of the model:

- a functional model: its layers, `InputLayer`s and op nodes (`x * 2`) included, and an
  edge from the layer that produced each input of a call to the layer called;
- a Sequential model: its layers (no `InputLayer`, as Keras), each connected to the next;
- any other (subclassed) model: one node.

A node's label reads as Keras's: `name (ClassName)` (or the class alone with
`show_layer_names=False`), then `Activation: relu` (`show_layer_activations`), `Input
shape: (None, 3)` (not for an `InputLayer`) and `Output shape: (None, 2)`
(`show_shapes`), `Output dtype: float32` (`show_dtype`) and `Trainable` / `Non-trainable`
for a layer with weights (`show_trainable`). A layer called more than once shows the shapes
of its first call (Keras' `layer.input`); one never called shows `?`. `expand_nested=True`
draws a nested functional or Sequential model as a dashed cluster holding its own layers,
edges going to its first layers and leaving from its last ones.

`plot_model(model, to_file)` writes the graph: a `.dot` file as text, any other extension
(`png`, `svg`, `pdf`, ...) rendered by Graphviz's `dot` program. pydot is needed for both
(`pip install pydot`, or `pip install fitorch[plot]`), Graphviz for rendering (a system
package: `apt-get install graphviz`, `brew install graphviz`, ...); either missing raises
`ImportError` saying what to install.
"""

from __future__ import annotations

import html
import os

from fitorch.utils.optional import require

__all__ = ["model_to_dot", "plot_model"]

_GRAPHVIZ_HINT = (
    "plot_model renders the graph with Graphviz's `dot` program, which was not found: "
    "install Graphviz (apt-get install graphviz, brew install graphviz, conda install "
    "graphviz, or https://graphviz.org/download/) and pydot (pip install pydot)."
)


def _pydot():
    return require("pydot", "model_to_dot / plot_model (with Graphviz)", extra="plot")


def _model_kind(model) -> str:
    """'functional', 'sequential' or 'other'."""
    from fitorch.models.functional import Functional
    from fitorch.models.sequential import Sequential

    if isinstance(model, Sequential):
        return "sequential"
    if isinstance(model, Functional):
        return "functional"
    return "other"


# -- what a node shows -----------------------------------------------------------------
def _format_shape(shapes) -> str:
    if shapes is None:
        return "?"
    if isinstance(shapes, dict):
        return ", ".join(f"{k}: {_format_shape(v)}" for k, v in shapes.items())
    if isinstance(shapes, list):
        return "[" + ", ".join(_format_shape(s) for s in shapes) + "]"
    return str(tuple(shapes))


def _dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def _call_node(layer, model, kind: str):
    """The call whose shapes a node shows: the layer's first, as Keras' `layer.input`."""
    calls = [node for node in getattr(layer, "_inbound_nodes", []) if node is not None]
    if not calls and kind == "functional":  # an InputLayer's own node
        calls = [node for node in model.graph_nodes() if node.layer is layer]
    return calls[0] if calls else None


def _io(layer, node):
    """(input shapes, output shapes, output dtypes); None where unknown."""
    if node is None:
        batch_shape = getattr(layer, "batch_shape", None)  # an InputLayer never called
        return None, batch_shape, None
    parents = node.parents()
    inputs = None
    if parents:
        inputs = parents[0].shape if len(parents) == 1 else [t.shape for t in parents]
    outs = node.outputs
    shapes = outs[0].shape if len(outs) == 1 else [t.shape for t in outs]
    dtypes = _dtype_name(outs[0].dtype) if len(outs) == 1 else [_dtype_name(t.dtype) for t in outs]
    return inputs, shapes, dtypes


def _activation_name(activation) -> str:
    for attr in ("name", "__name__"):
        name = getattr(activation, attr, None)
        if isinstance(name, str):
            return name
    return str(activation)


def _cell(text: str, color="white", font="black", size=14, span=None) -> str:
    colspan = f' colspan="{span}"' if span else ""
    return (
        f'<td{colspan} bgcolor="{color}"><font point-size="{size}" color="{font}">'
        f"{text}</font></td>"
    )


def _label(layer, node, options: dict) -> str:
    class_name = type(layer).__name__
    name = html.escape(layer.name)
    title = (
        f"<b>{name}</b> ({class_name})" if options["show_layer_names"] else f"<b>{class_name}</b>"
    )
    cells = []
    inputs, shapes, dtypes = _io(layer, node)
    if options["show_shapes"]:
        if class_name != "InputLayer":
            cells.append(_cell(f"Input shape: <b>{html.escape(_format_shape(inputs))}</b>"))
        cells.append(_cell(f"Output shape: <b>{html.escape(_format_shape(shapes))}</b>"))
    if options["show_dtype"]:
        cells.append(_cell(f"Output dtype: <b>{html.escape(str(dtypes or '?'))}</b>"))
    if options["show_trainable"] and list(layer.parameters()):
        if getattr(layer, "trainable", True):
            cells.append(_cell("<b>Trainable</b>", "forestgreen", "white"))
        else:
            cells.append(_cell("<b>Non-trainable</b>", "firebrick", "white"))
    span = max(len(cells), 1)
    rows = ["<tr>" + _cell(title, "black", "white", 16, span) + "</tr>"]
    activation = getattr(layer, "activation", None)
    if options["show_layer_activations"] and activation is not None:
        text = f"Activation: <b>{html.escape(_activation_name(activation))}</b>"
        rows.append("<tr>" + _cell(text, span=span) + "</tr>")
    if cells:
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
        + "".join(rows)
        + "</table>>"
    )


# -- the graph -------------------------------------------------------------------------
def _drawn_layers(model, kind: str) -> list:
    if kind == "sequential":
        return list(model.layers)
    return model.operations


def _expandable(layer, expand_nested: bool) -> bool:
    return expand_nested and _model_kind(layer) != "other"


def _entries(layer, expand_nested: bool) -> list:
    """The drawn layers an edge into `layer` points to."""
    if not _expandable(layer, expand_nested):
        return [layer]
    if _model_kind(layer) == "sequential":
        return _entries(layer.layers[0], expand_nested) if layer.layers else []
    return [t.node.layer for t in layer.inputs]


def _exits(layer, expand_nested: bool) -> list:
    """The drawn layers an edge out of `layer` leaves from."""
    if not _expandable(layer, expand_nested):
        return [layer]
    if _model_kind(layer) == "sequential":
        return _exits(layer.layers[-1], expand_nested) if layer.layers else []
    found = []
    for t in layer.outputs:
        for source in _exits(t.node.layer, expand_nested):
            if source not in found:
                found.append(source)
    return found


def _connect(pydot, dot, source, target, expand_nested: bool) -> None:
    for src in _exits(source, expand_nested):
        for dst in _entries(target, expand_nested):
            src_id, dst_id = str(id(src)), str(id(dst))
            if not dot.get_edge(src_id, dst_id):
                dot.add_edge(pydot.Edge(src_id, dst_id, penwidth="2"))


def _fill(pydot, dot, model, options: dict, expand_nested: bool) -> None:
    kind = _model_kind(model)
    if kind == "other":
        dot.add_node(_node(pydot, model, None, options))
        return
    layers = _drawn_layers(model, kind)
    for layer in layers:
        if _expandable(layer, expand_nested):
            cluster = pydot.Cluster(graph_name=layer.name, style="dashed", label=layer.name)
            cluster.set("labeljust", "l")
            _fill(pydot, cluster, layer, options, expand_nested)
            dot.add_subgraph(cluster)
        else:
            dot.add_node(_node(pydot, layer, _call_node(layer, model, kind), options))
    if kind == "sequential":
        for source, target in zip(layers, layers[1:]):
            _connect(pydot, dot, source, target, expand_nested)
        return
    for node in model.graph_nodes():
        for parent in node.parents():
            _connect(pydot, dot, parent.node.layer, node.layer, expand_nested)


def _node(pydot, layer, call, options: dict):
    return pydot.Node(
        str(id(layer)),
        label=_label(layer, call, options),
        fontname="Helvetica",
        border="0",
        margin="0",
    )


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    subgraph=False,
    show_layer_activations=False,
    show_trainable=False,
    splines="ortho",
):
    """`model`'s layers and connections as a `pydot.Dot` (see the module docstring).

    Args:
        model: a fitorch model (functional, Sequential or subclassed).
        show_shapes: label nodes with input and output shapes.
        show_dtype: label nodes with the output dtype.
        show_layer_names: `name (Class)` rather than the class alone.
        rankdir: Graphviz direction, `"TB"` (top to bottom) or `"LR"` (left to right).
        expand_nested: draw nested models' layers in a cluster.
        dpi: resolution of a rendered image.
        subgraph: return a `pydot.Cluster` (for embedding) rather than a `pydot.Dot`.
        show_layer_activations: label layers that have an `activation` with its name.
        show_trainable: mark layers with weights as trainable or not.
        splines: Graphviz edge style (`"ortho"`, `"spline"`, `"line"`, ...).

    Raises:
        ValueError: the model has not been built.
        ImportError: pydot is not installed.
    """
    if not getattr(model, "built", True):
        raise ValueError(
            "This model has not yet been built; call build() or call it on data first."
        )
    pydot = _pydot()
    if subgraph:
        dot = pydot.Cluster(graph_name=model.name, style="dashed", label=model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot(rankdir=rankdir, concentrate=True, dpi=dpi, splines=splines)
        dot.set_node_defaults(shape="record")
    options = {
        "show_shapes": show_shapes,
        "show_dtype": show_dtype,
        "show_layer_names": show_layer_names,
        "show_layer_activations": show_layer_activations,
        "show_trainable": show_trainable,
    }
    _fill(pydot, dot, model, options, expand_nested)
    return dot


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
    **kwargs,
):
    """Write `model`'s graph to `to_file` (format from the extension; `.dot` is text).

    The other arguments are `model_to_dot`'s (it also takes `splines`). Returns an
    `IPython.display.Image` of a `.png`/`.jpg` file when IPython is importable, as Keras
    does, else None.

    Raises:
        ImportError: pydot is missing, or Graphviz is (for any format but `.dot`).
    """
    splines = kwargs.pop("splines", "ortho")
    if kwargs:
        raise ValueError(f"plot_model: unknown arguments {sorted(kwargs)}.")
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        splines=splines,
    )
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension == "dot":
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(dot.to_string())
        return None
    try:
        dot.write(to_file, format=extension)
    except FileNotFoundError as err:
        if "dot" not in str(err):  # not pydot failing to start Graphviz's `dot`
            raise
        raise ImportError(_GRAPHVIZ_HINT) from err
    if extension in ("png", "jpg", "jpeg"):
        try:
            from IPython import display
        except ImportError:
            return None
        return display.Image(filename=to_file)
    return None
