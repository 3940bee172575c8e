"""models/summary.py: `model.summary()` against Keras 3's printed summary of the same model
(cells of every row compared after whitespace is stripped, totals lines compared exactly)."""

import keras
import pytest

import fitorch


def _table(model, **kwargs):
    """(title, header cells, [row cells], totals lines) of a printed summary."""
    lines = []
    model.summary(print_fn=lambda line, *a, **k: lines.extend(str(line).splitlines()), **kwargs)
    rows, header, current = [], None, None
    for line in lines:
        if line[:1] in "┃│":
            cells = [c.strip() for c in line[1:-1].split(line[0])]
            if line[0] == "┃":
                header = cells
            elif current is not None and not cells[0]:  # a wrapped continuation line
                current[:] = [f"{a} {b}".strip() for a, b in zip(current, cells)]
            else:
                current = cells
                rows.append(current)
    totals = [line for line in lines if "params:" in line]
    return lines[0], header, rows, totals


def _both(build, **kwargs):
    fitorch.utils.set_random_seed(0)
    ours = _table(build(fitorch), **kwargs)
    theirs = _table(build(keras), **kwargs)
    return ours, theirs


def _sequential(k):
    stack = [k.layers.Conv2D(4, 3, name="conv"), k.layers.BatchNormalization(name="bn"),
             k.layers.Flatten(name="flat"), k.layers.Dense(2, name="head")]  # fmt: skip
    return k.Sequential([k.Input((8, 8, 3)), *stack], name="seq")


def _functional(k):
    a, b = k.Input((5,), name="a"), k.Input((3,), name="b")
    joined = k.layers.Concatenate(name="cat")([a, b])
    frozen = k.layers.Dense(4, name="frozen")
    frozen.trainable = False
    return k.Model([a, b], k.layers.Dense(2, name="out")(frozen(joined)), name="fn")


def _chain(k):
    x = k.Input((4,), name="x")
    return k.Model(x, k.layers.Dense(1, name="d")(k.layers.Dense(3, name="h")(x)), name="chain")


def _nested(k):
    x = k.Input((3,), name="ix")
    func = k.Model(x, k.layers.Dense(2, name="f1")(x), name="func")
    inner = k.Sequential([k.Input((3,)), func, k.layers.Dense(2, name="i2")], name="inner")
    return k.Sequential([k.Input((3,)), inner, k.layers.Dense(1, name="top")], name="outer")


def _unbuilt(k):
    return k.Sequential([k.layers.Dense(2, name="later")], name="lazy")


@pytest.mark.parametrize("build", [_sequential, _functional, _chain, _nested, _unbuilt])
@pytest.mark.parametrize("show_trainable", [False, True])
def test_summary_cells_match_keras(build, show_trainable):
    ours, theirs = _both(build, show_trainable=show_trainable)
    assert ours[0] == theirs[0]  # Model: "name"
    n = len(theirs[1]) - show_trainable  # Keras truncates the narrow "Trainable" header
    assert ours[1][:n] == theirs[1][:n]
    assert ours[2] == theirs[2]
    assert ours[3] == theirs[3]


@pytest.mark.parametrize("build", [_nested, _functional])
def test_expand_nested_matches_keras(build):
    ours, theirs = _both(build, expand_nested=True)
    assert ours[2] == theirs[2] and ours[3] == theirs[3]


def test_expand_nested_indents_each_level():
    (_, _, rows, _), _ = _both(_nested, expand_nested=True)
    assert [r[0] for r in rows] == [
        "inner (Sequential)", "└ func (Functional)", "└ ix (InputLayer)", "└ f1 (Dense)",
        "└ i2 (Dense)", "top (Dense)"]  # fmt: skip
    lines = []
    _nested(fitorch).summary(expand_nested=True, print_fn=lines.append)
    firsts = [line.split("│")[1] for line in lines if line.startswith("│")]
    assert [f[: len(f) - len(f.lstrip())] for f in firsts] == [" ", "    ", "       ", "       ",
                                                               "    ", " "]  # fmt: skip


def test_functional_rows_connect_inputs():
    (_, header, rows, _), _ = _both(_functional, show_trainable=True)
    assert header == ["Layer (type)", "Output Shape", "Param #", "Connected to", "Trainable"]
    assert rows[2] == ["cat (Concatenate)", "(None, 8)", "0", "a[0][0], b[0][0]", "-"]
    assert rows[3][-1] == "N" and rows[4][-1] == "Y"


def test_line_length_and_positions_set_the_widths():
    lines = []
    _sequential(fitorch).summary(line_length=60, positions=[30, 50, 60], print_fn=lines.append)
    assert lines[1].index("┳") == 30 and lines[1].rindex("┳") == 50 and len(lines[1]) == 61
    with pytest.raises(ValueError, match=r"needs 3 column ends .* got \[0.5, 1.0\]"):
        _sequential(fitorch).summary(positions=[0.5, 1.0], print_fn=lines.append)


def test_layer_range_and_argument_errors():
    lines = []
    _sequential(fitorch).summary(layer_range=["bn", "flat"], print_fn=lines.append)
    assert [line.split("│")[1].strip() for line in lines if line.startswith("│")] == [
        "bn (BatchNormalization)", "flat (Flatten)"]  # fmt: skip
    with pytest.raises(ValueError, match=r"layer_range=...\) must be .*'nope'"):
        _sequential(fitorch).summary(layer_range=["conv", "nope"])
    with pytest.raises(
        TypeError,
        match=r"unexpected keyword argument 'show_trainables'\. Did you mean 'show_trainable'",
    ):
        _sequential(fitorch).summary(show_trainables=True)
