"""Merge layers vs Keras 3: outputs, broadcasting, Dot axes/normalize, errors, functional forms."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import check_layer, keras

CASES = [
    ("Add", {}, [(4, 3), (4, 3)]),
    ("Add", {}, [(4, 2, 3), (4, 2, 3), (4, 2, 3)]),
    ("Add", {}, [(4, 5, 3), (4, 1, 3)]),
    ("Subtract", {}, [(4, 3), (4, 3)]),
    ("Multiply", {}, [(4, 2, 3), (4, 2, 3)]),
    ("Average", {}, [(4, 3), (4, 3), (4, 3)]),
    ("Maximum", {}, [(4, 3), (4, 3)]),
    ("Minimum", {}, [(4, 6), (4, 6), (4, 6)]),
    ("Concatenate", {}, [(4, 3), (4, 5)]),
    ("Concatenate", {"axis": 1}, [(4, 2, 3), (4, 5, 3)]),
    ("Concatenate", {"axis": -2}, [(4, 2, 3), (4, 1, 3), (4, 4, 3)]),
    ("Dot", {"axes": 1}, [(4, 5), (4, 5)]),
    ("Dot", {"axes": -1}, [(4, 5), (4, 5)]),
    ("Dot", {"axes": 1, "normalize": True}, [(4, 5), (4, 5)]),
    ("Dot", {"axes": (1, 2)}, [(4, 3, 5), (4, 2, 3)]),
    ("Dot", {"axes": 2}, [(4, 3, 5), (4, 2, 5)]),
    ("Dot", {"axes": [2, 1], "normalize": True}, [(4, 3, 5), (4, 5, 2)]),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", CASES)
def test_matches_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes)


@pytest.mark.parametrize(
    "cls_name,kwargs,shapes,match",
    [
        ("Add", {}, [(None, 3), (None, 4)], "incompatible shapes"),
        ("Subtract", {}, [(None, 3), (None, 3), (None, 3)], "needs 2 inputs"),
        ("Concatenate", {"axis": -1}, [(None, 2, 3), (None, 4, 3)], "every axis but axis=-1"),
        ("Dot", {"axes": 1}, [(None, 3), (None, 4)], r"axes=1 pairs sizes"),
        ("Multiply", {}, [(None, 3)], "needs >= 2 inputs"),
    ],
)
def test_bad_shapes_raise_at_build(cls_name, kwargs, shapes, match):
    inputs = [fitorch.Input(shape=s[1:]) for s in shapes]
    with pytest.raises(ValueError, match=match):
        getattr(fl, cls_name)(**kwargs)(inputs)


def test_single_tensor_is_rejected():
    with pytest.raises(ValueError, match="list of tensors"):
        fl.Add()(fitorch.Input(shape=(3,)))


def test_functional_forms_and_names_in_a_two_input_model():
    a, b = fitorch.Input(shape=(3,)), fitorch.Input(shape=(3,))
    merged = fl.concatenate(
        [
            fl.add([a, b]),
            fl.subtract([a, b]),
            fl.multiply([a, b]),
            fl.average([a, b]),
            fl.maximum([a, b]),
            fl.minimum([a, b]),
            fl.dot([a, b], axes=1),
        ]
    )
    assert merged.shape == (None, 19)
    model = fitorch.Model([a, b], merged)
    x, y = np.array([[1.0, -2.0, 3.0]], "float32"), np.array([[2.0, 1.0, -1.0]], "float32")
    out = model.predict([x, y], verbose=0)
    expected = np.concatenate(
        [
            x + y,
            x - y,
            x * y,
            (x + y) / 2,
            np.maximum(x, y),
            np.minimum(x, y),
            (x * y).sum(1, keepdims=True),
        ],
        1,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    names = [layer.name for layer in model.layers]
    assert "concatenate" in names and "add" in names and "dot" in names


def test_fit_two_input_model_gradients_flow():
    a, b = fitorch.Input(shape=(4,)), fitorch.Input(shape=(2,))
    h = fl.concatenate([fl.Dense(3)(a), b])
    model = fitorch.Model([a, b], fl.Dense(1)(h))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    hist = model.fit([xa, xb], xa[:, :1] + xb[:, :1], epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_dot_normalize_is_cosine():
    x = torch.tensor([[3.0, 4.0]])
    y = torch.tensor([[4.0, 3.0]])
    assert torch.allclose(fl.Dot(axes=1, normalize=True)([x, y]), torch.tensor([[24.0 / 25.0]]))


def test_config_keeps_axes():
    layer = fl.Dot(axes=(1, 2), normalize=True)
    cfg = layer.get_config()
    assert cfg["axes"] == [1, 2] and cfg["normalize"] is True
    assert keras.layers.Dot.from_config({"axes": cfg["axes"], "normalize": True}).axes == [1, 2]


def _masked_embedding_model(lib, op, second_mask_zero):
    a = lib.layers.Input((5,), dtype="int32")
    b = lib.layers.Input((5,), dtype="int32")
    ea = lib.layers.Embedding(10, 3, mask_zero=True)(a)
    eb = lib.layers.Embedding(10, 3, mask_zero=second_mask_zero)(b)
    return lib.Model([a, b], getattr(lib.layers, op)()([ea, eb]))


@pytest.mark.parametrize("op", ["Multiply", "Maximum", "Minimum"])
@pytest.mark.parametrize("second_mask_zero", [True, False])
def test_masked_steps_merge_as_keras(op, second_mask_zero):
    # Keras fills a masked-out step with 1 (Multiply) or the other inputs' value (Max/Min).
    ids = [
        np.array([[1, 2, 3, 0, 0], [4, 0, 0, 0, 0]]),
        np.array([[1, 0, 0, 0, 0], [4, 5, 6, 0, 0]]),
    ]
    ours = _masked_embedding_model(fitorch, op, second_mask_zero)
    theirs = _masked_embedding_model(keras, op, second_mask_zero)
    ours.set_weights(theirs.get_weights())
    got = ours([torch.as_tensor(i) for i in ids])
    want = keras.ops.convert_to_numpy(theirs(ids))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-6, atol=1e-6)
    if second_mask_zero:
        np.testing.assert_array_equal(got._keras_mask.numpy(), (ids[0] != 0) | (ids[1] != 0))
