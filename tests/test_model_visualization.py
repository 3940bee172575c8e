"""fitorch.utils.model_to_dot / plot_model against Keras 3's (the oracle): the same nodes
(label text: name, class, shapes, dtype, activation, trainable) and the same edges, for
functional, Sequential, shared-layer and nested models; ImportError naming what to install
when pydot or Graphviz is missing."""

import html
import os
import re
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import pytest  # noqa: E402

import fitorch  # noqa: E402
from fitorch.utils import model_to_dot, plot_model  # noqa: E402


def _two_inputs_nested(mod):
    a = mod.Input((3,), name="a")
    b = mod.Input((4,), name="b")
    x = mod.layers.Concatenate(name="cat")([a, b])
    y = mod.layers.Dense(2, activation="relu", name="d")(x)
    inner = mod.Sequential(
        [mod.Input((2,)), mod.layers.Dense(5, name="i1"), mod.layers.Dense(1, name="i2")],
        name="inner",
    )
    return mod.Model([a, b], inner(y))


def _shared(mod):
    a = mod.Input((3,), name="a")
    shared = mod.layers.Dense(3, name="sh")
    x = shared(shared(a))
    return mod.Model(a, mod.layers.Add(name="add")([x, a]))


def _sequential(mod):
    return mod.Sequential(
        [mod.Input((3,)), mod.layers.Dense(2, name="x"), mod.layers.Dropout(0.1, name="dr")]
    )


def _text(label: str) -> str:
    """A node's label without its markup: `name| (Class)|Output shape: |(None, 3)`."""
    return re.sub(r"\|+", "|", html.unescape(re.sub(r"<[^>]+>", "|", label)).strip("|<>"))


def _graph(dot):
    """(sorted node label texts, sorted (source text, target text) edges), clusters too."""
    labels, edges = {}, []

    def walk(graph):
        for node in graph.get_nodes():
            if node.get_name() not in ("node", "graph", "edge"):
                labels[node.get_name()] = _text(node.get("label"))
        for edge in graph.get_edges():
            edges.append((edge.get_source(), edge.get_destination()))
        for sub in graph.get_subgraphs():
            walk(sub)

    walk(dot)
    return sorted(labels.values()), sorted((labels[s], labels[d]) for s, d in edges)


OPTIONS = [
    {},
    {"show_layer_names": False},
    {
        "show_shapes": True,
        "show_dtype": True,
        "show_layer_activations": True,
        "show_trainable": True,
    },
    {"expand_nested": True, "show_shapes": True},
]


@pytest.mark.parametrize("build", [_two_inputs_nested, _shared, _sequential])
@pytest.mark.parametrize("options", OPTIONS)
def test_graph_matches_keras(build, options):
    pytest.importorskip("pydot")
    ours = _graph(model_to_dot(build(fitorch), **options))
    theirs = _graph(keras.utils.model_to_dot(build(keras), **options))
    assert ours == theirs


def test_structure_of_a_functional_graph():
    pydot = pytest.importorskip("pydot")
    model = _two_inputs_nested(fitorch)
    dot = model_to_dot(model, show_shapes=True, rankdir="LR", dpi=96)
    assert isinstance(dot, pydot.Dot)
    assert dot.get("rankdir") == "LR" and str(dot.get("dpi")) == "96"
    names, edges = _graph(dot)
    assert names == [
        "a| (InputLayer)|Output shape: |(None, 3)",
        "b| (InputLayer)|Output shape: |(None, 4)",
        "cat| (Concatenate)|Input shape: |[(None, 3), (None, 4)]|Output shape: |(None, 7)",
        "d| (Dense)|Input shape: |(None, 7)|Output shape: |(None, 2)",
        "inner| (Sequential)|Input shape: |(None, 2)|Output shape: |(None, 1)",
    ]
    short = sorted((s.split("|")[0], d.split("|")[0]) for s, d in edges)
    assert short == [("a", "cat"), ("b", "cat"), ("cat", "d"), ("d", "inner")]
    nested = model_to_dot(model, expand_nested=True)
    assert [sub.get_name() for sub in nested.get_subgraphs()] == ["cluster_inner"]
    short = sorted((s.split("|")[0], d.split("|")[0]) for s, d in _graph(nested)[1])
    assert ("d", "i1") in short and ("i1", "i2") in short and ("d", "inner") not in short


def test_op_nodes_and_subclassed_models():
    pytest.importorskip("pydot")
    x = fitorch.Input((3,), name="x")
    model = fitorch.Model(x, fitorch.layers.Dense(2, name="d")(x) * 2)
    names, edges = _graph(model_to_dot(model))
    assert len(names) == 3 and len(edges) == 2  # x -> d -> the multiply op

    class Sub(fitorch.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.d = fitorch.layers.Dense(1)

        def call(self, inputs):
            return self.d(inputs)

    sub = Sub()
    sub(fitorch.ops.ones((2, 3)))
    names, edges = _graph(model_to_dot(sub))
    assert names == ["sub| (Sub)"] and edges == []


def test_plot_model_writes_dot_text_and_needs_graphviz_for_images(tmp_path):
    pytest.importorskip("pydot")
    model = _sequential(fitorch)
    path = tmp_path / "model.dot"
    assert plot_model(model, to_file=path, show_shapes=True) is None
    text = path.read_text()
    assert text.startswith("digraph") and "Output shape" in text and "->" in text
    if shutil.which("dot") is None:
        with pytest.raises(ImportError, match="Graphviz.*pip install pydot"):
            plot_model(model, to_file=tmp_path / "model.png")
    else:
        plot_model(model, to_file=tmp_path / "model.png")
        assert (tmp_path / "model.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown arguments"):
        plot_model(model, to_file=path, layer_range=None)


def test_missing_pydot_names_pydot_graphviz_and_pip(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # `import pydot` raises ImportError
    model = _sequential(fitorch)
    for call in (lambda: model_to_dot(model), lambda: plot_model(model, "m.png")):
        with pytest.raises(ImportError) as info:
            call()
        message = str(info.value)
        assert "pydot" in message and "Graphviz" in message and "pip install pydot" in message


def test_exported_from_utils():
    assert fitorch.utils.plot_model is plot_model
    assert fitorch.utils.model_to_dot is model_to_dot
