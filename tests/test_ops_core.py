"""fitorch.ops.core against keras.ops (torch backend) as the oracle."""

import keras
import numpy as np
import pytest
import torch

import fitorch.ops as ops
from tests.ops_oracle import call, check, check_grad, rand


def test_convert_to_tensor_default_dtypes():
    check(
        "convert_to_tensor",
        [
            call([1, 2]),
            call([1.0, 2.0]),
            call(3),
            call(2.5),
            call(True),
            call(rand((2, 3), "int64")),
            call(rand((2,), "float64")),
            call([1, 2], dtype="float16"),
            call(rand((0, 3))),
        ],
    )


def test_convert_to_tensor_rejects_sparse():
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor([1.0], sparse=True)


def test_convert_to_numpy_and_is_tensor():
    t = torch.arange(3.0, requires_grad=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(t), [0.0, 1.0, 2.0])
    assert ops.is_tensor(t) and not ops.is_tensor(np.ones(2)) and not ops.is_tensor(1.0)
    assert keras.ops.is_tensor(t)


def test_cast_and_saturate_cast():
    x = np.array([-1.7, 0.5, 256.0, 300.2], "float32")
    check(
        "cast",
        [
            call(x, "int32"),
            call(x, "uint8"),
            call(x, "bool"),
            call(x, "float16"),
            call(rand((2, 2), "int32"), "float32"),
        ],
    )
    check(
        "saturate_cast",
        [
            call(x, "uint8"),
            call(x, "int8"),
            call(x, "float16"),
            call(rand((3,), "int32", high=1000), "int8"),
        ],
    )
    np.testing.assert_array_equal(ops.saturate_cast(x, "uint8"), [0, 0, 255, 255])


def test_dtype_and_shape():
    for x in (rand((2, 3)), rand((0,), "int8"), torch.tensor([1, 2], dtype=torch.int16)):
        assert ops.dtype(x) == keras.ops.dtype(x)
        assert ops.shape(x) == tuple(keras.ops.shape(x))
    assert ops.dtype([1, 2]) == "int32" and ops.dtype(1.5) == "float32"
    assert ops.shape(2.0) == ()
    with pytest.raises(ValueError, match="dtype"):
        ops.cast([1.0], "floot32")


def test_stop_gradient_blocks_gradient():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * ops.stop_gradient(x)).sum()
    (g,) = torch.autograd.grad(y, [x])
    np.testing.assert_array_equal(g, [1.0, 2.0])  # d(x*c)/dx = c = x


def test_unstack():
    check(
        "unstack",
        [call(rand((3, 2))), call(rand((3, 2)), axis=-1), call(rand((2, 4)), num=4, axis=1)],
        tensors=True,
    )
    with pytest.raises(ValueError, match="num=3"):
        ops.unstack(rand((2, 4)), num=3)


def test_cond_switch():
    for pred in (True, False, np.array(1), torch.tensor(0)):
        assert ops.cond(pred, lambda: 1, lambda: 2) == keras.ops.cond(pred, lambda: 1, lambda: 2)
    branches = [lambda x: x + 1, lambda x: x * 10, lambda x: -x]
    for i in (-3, 0, 1, 2, 7):
        check("switch", [call(i, branches, rand((3,)))])


def test_while_loop_and_fori_loop():
    check(
        "while_loop",
        [
            call(lambda i, s: i < 5, lambda i, s: (i + 1, s * 2.0), (0, np.ones(2, "float32"))),
            call(lambda x: x.sum() < 100, lambda x: x * 3, np.ones(2, "float32")),
            call(lambda i: i < 100, lambda i: i + 1, 0, maximum_iterations=7),
        ],
    )
    check(
        "fori_loop",
        [
            call(0, 5, lambda i, v: v + i, np.zeros(2, "float32")),
            call(3, 3, lambda i, v: v * 0, np.ones(1, "float32")),
        ],
    )


def test_scan_and_map():
    def step(carry, x):
        carry = carry + x
        return carry, carry * 2

    xs = rand((5, 3))
    check(
        "scan",
        [
            call(step, np.zeros(3, "float32"), xs),
            call(step, np.zeros(3, "float32"), xs, reverse=True),
            call(lambda c, _: (c + 1, c), np.zeros((), "float32"), None, length=4),
        ],
        tensors=True,
    )
    check(
        "map",
        [
            call(lambda x: x.sum(), rand((4, 3))),
            call(lambda x: (x[0], x[1] * 2), (rand((3, 2)), rand((3,), seed=1))),
        ],
        tensors=True,
    )
    with pytest.raises(ValueError, match="xs or length"):
        ops.scan(step, 0.0)


def test_vectorized_map():
    check(
        "vectorized_map",
        [call(lambda x: x @ x, rand((4, 3))), call(lambda x: x.sum(0) * 2, rand((4, 2)))],
        tensors=True,
    )


def test_associative_scan():
    check(
        "associative_scan",
        [
            call(lambda a, b: a + b, rand((7, 2))),
            call(lambda a, b: a * b, rand((5,)), reverse=True),
            call(lambda a, b: torch.maximum(a, b), rand((2, 9)), axis=1),
            call(lambda a, b: (a[0] + b[0], a[1] * b[1]), (rand((6,)), rand((6,), seed=2))),
        ],
    )


def test_slice_and_slice_update():
    x = rand((4, 5, 3))
    check("slice", [call(x, (1, 0, 1), (2, 5, 2)), call(x, [0, 2, 0], [4, 1, 3])])
    check(
        "slice_update",
        [
            call(x, (1, 2, 0), rand((2, 2, 3), seed=3)),
            call(rand((4,), "int32"), (2,), np.array([9, 9], "int32")),
        ],
    )


def test_scatter_and_scatter_update():
    idx = np.array([[0, 1], [2, 0], [0, 1]])  # the duplicate row sums in scatter
    check(
        "scatter",
        [
            call(idx, np.array([1.0, 2.0, 3.0], "float32"), (3, 2)),
            call(np.array([[1], [0]]), rand((2, 4)), (3, 4)),
        ],
    )
    x = rand((3, 2))
    check(
        "scatter_update",
        [
            call(x, np.array([[0, 1], [2, 0]]), np.array([5.0, 6.0])),
            call(x, idx, np.array([1.0, 2.0, 3.0]), reduction="add"),
            call(x, idx, np.array([1.0, 2.0, 3.0]), reduction="max"),
            call(x, idx, np.array([-1.0, -5.0, 3.0]), reduction="min"),
            call(x, idx, np.array([2.0, 2.0, 3.0]), reduction="mul"),
            call(x, np.array([[1]]), np.array([[7.0, 8.0]])),
        ],
    )
    with pytest.raises(ValueError, match="reduction"):
        ops.scatter_update(x, idx, np.ones(3), reduction="sum")


def test_custom_gradient_both_signatures():
    def make(style):
        def log1pexp(x):
            e = torch.exp(x)
            if style == "torch":

                def grad(*args, upstream=None):
                    return upstream * (1.0 - 1.0 / (1 + e))
            else:

                def grad(upstream):
                    return upstream * (1.0 - 1.0 / (1 + e))

            return torch.log(1 + e), grad

        return log1pexp

    x = rand((5,), "float64")
    check_grad(
        "custom_gradient",
        [call(x)],
        ours=ops.custom_gradient(make("torch")),
        theirs=keras.ops.custom_gradient(make("torch")),
    )
    check_grad(
        "custom_gradient",
        [call(x)],
        ours=ops.custom_gradient(make("jax")),
        theirs=keras.ops.custom_gradient(make("torch")),
    )
    t = torch.tensor([100.0], requires_grad=True)  # the closed-form grad stays finite
    ops.custom_gradient(make("jax"))(t).backward()
    np.testing.assert_allclose(t.grad, [1.0])


def test_rearrange():
    x = rand((4, 6, 8, 3))
    check(
        "rearrange",
        [
            call(x, "b h w c -> b c h w"),
            call(x, "b h w c -> (b h) w c"),
            call(x, "b h w c -> h (b w) c"),
            call(x, "b h w c -> b (c h w)"),
            call(x, "b (h1 h) (w1 w) c -> (b h1 w1) h w c", h1=2, w1=2),
            call(x, "b (h h1) (w w1) c -> b h w (c h1 w1)", h1=2, w1=2),
            call(rand((2, 12), "int32"), "b (x y) -> y b x", y=3),
        ],
    )
    check_grad("rearrange", [call(rand((2, 6), "float64"), "b (h w) -> w b h", h=2)])
    for pattern, kwargs, match in [
        ("b h -> b", {}, "same axes"),
        ("b h w -> b h w", {}, "names 3 input axes"),
        ("b (h w) -> b h w", {}, "cannot infer"),
        ("b (h w) -> b h w", {"h": 4}, "does not split"),
        ("b h h -> b h", {}, "repeats"),
        ("b h", {}, "one '->'"),
    ]:
        with pytest.raises(ValueError, match=match):
            ops.rearrange(rand((2, 6)), pattern, **kwargs)


def test_convert_to_tensor_stacks_a_list_of_tensors():
    t = [torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([3.0, 4.0])]
    out = ops.convert_to_tensor(t)
    np.testing.assert_array_equal(out.detach(), [[1.0, 2.0], [3.0, 4.0]])
    assert out.requires_grad  # stacking keeps the graph
    np.testing.assert_array_equal(keras.ops.convert_to_tensor(t).detach(), out.detach())
