"""fitorch.tree against Keras 3's keras.tree (the oracle) on nested lists, tuples, dicts,
named tuples and None leaves."""

import collections
import os

import numpy as np
import pytest

from fitorch import tree

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

Point = collections.namedtuple("Point", "y x")
STRUCTURES = [
    1,
    None,
    [],
    [1, (2, None), {"b": 3, "a": [4, 5]}],
    {"z": Point(6, 7), "a": (8,)},
    collections.OrderedDict([("b", 1), ("a", 2)]),
]


@pytest.mark.parametrize("structure", STRUCTURES, ids=repr)
def test_flatten_and_is_nested_equal_keras(structure):
    assert tree.flatten(structure) == keras.tree.flatten(structure)
    assert tree.is_nested(structure) == keras.tree.is_nested(structure)


@pytest.mark.parametrize("structure", STRUCTURES, ids=repr)
def test_map_and_pack_equal_keras(structure):
    def double(v):
        return None if v is None else v * 2

    assert tree.map_structure(double, structure) == keras.tree.map_structure(double, structure)
    flat = list(range(len(tree.flatten(structure))))
    assert tree.pack_sequence_as(structure, flat) == keras.tree.pack_sequence_as(structure, flat)


def test_flatten_with_path_equals_keras():
    s = {"a": [1, {"c": 2}], "b": 3}
    assert tree.flatten_with_path(s) == keras.tree.flatten_with_path(s)


def test_map_structure_over_several_structures():
    assert tree.map_structure(lambda a, b: a + b, [1, (2,)], [10, (20,)]) == [11, (22,)]
    mapped = tree.map_structure(lambda v: v * 10, Point(3, 1))
    assert type(mapped) is Point and mapped == Point(30, 10)
    with pytest.raises(ValueError, match="different lengths: 2 vs 1"):
        tree.map_structure(lambda a, b: a, [1, 2], [1])


def test_assert_same_structure_names_the_difference():
    tree.assert_same_structure({"a": [1, 2]}, {"a": [3, 4]})
    with pytest.raises(ValueError, match="expected list, got tuple"):
        tree.assert_same_structure([1, 2], (1, 2))
    with pytest.raises(ValueError, match="different keys"):
        tree.assert_same_structure({"a": 1}, {"b": 1})
    with pytest.raises(ValueError, match=r"at path \(1,\)"):
        tree.assert_same_structure([1, 2], [1, (2,)])
    tree.assert_same_paths([1, 2], (1, 2))  # paths equal, containers differ
    with pytest.raises(ValueError, match="same paths"):
        tree.assert_same_paths({"a": 1}, {"b": 1})


def test_pack_sequence_as_checks_the_count():
    with pytest.raises(ValueError, match="holds 2 leaves; flat_sequence has 1"):
        tree.pack_sequence_as([0, 0], [1])


def test_traverse_top_down_and_bottom_up_equal_keras():
    s = [1, [2, 3], (4,)]

    def replace_inner(x):
        return "inner" if x == [2, 3] else None

    assert tree.traverse(replace_inner, s) == keras.tree.traverse(replace_inner, s)

    def drop_fours(x):
        return tree.MAP_TO_NONE if x == 4 else None

    assert tree.traverse(drop_fours, s, top_down=False) == keras.tree.traverse(
        lambda x: keras.tree.MAP_TO_NONE if x == 4 else None, s, top_down=False
    )


def test_map_structure_up_to_and_lists_to_tuples_equal_keras():
    assert tree.map_structure_up_to([0, 0], str, [[1, 2], 3]) == keras.tree.map_structure_up_to(
        [0, 0], str, [[1, 2], 3]
    )
    assert tree.lists_to_tuples([1, [2, {"a": [3]}]]) == keras.tree.lists_to_tuples(
        [1, [2, {"a": [3]}]]
    )


def test_map_shape_structure_keeps_shapes_whole():
    shapes = {"a": (None, 3), "b": [(2,), (4, 5)]}
    got = tree.map_shape_structure(lambda s: len(s), shapes)
    assert got == keras.tree.map_shape_structure(lambda s: len(s), shapes) == {"a": 2, "b": [1, 2]}


def test_arrays_are_leaves():
    a = np.zeros(3)
    assert tree.flatten([a])[0] is a and not tree.is_nested(a)
