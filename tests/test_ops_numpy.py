"""fitorch.ops.numpy against keras.ops (torch backend) as the oracle: values and dtypes on
several shapes (broadcasting, negative axes, keepdims, empty arrays) and int/float inputs;
gradients for a sample of differentiable ops."""

import keras
import numpy as np
import pytest
import torch

import fitorch.ops as ops
from tests.ops_oracle import call, check, check_grad, rand

F = rand((2, 3))
F3 = rand((2, 3, 4), seed=1)
I = rand((2, 3), "int32", seed=2, low=-5, high=5)
I8 = rand((3,), "int8", seed=3, low=-5, high=5)
B = rand((2, 3), "bool", seed=4)
E = rand((0, 3))
H = rand((2, 3), "float16", seed=5)

# name -> (low, high) of the inputs inside the op's domain
UNARY_FLOAT = {
    "sin": (-3, 3),
    "cos": (-3, 3),
    "tan": (-1, 1),
    "arcsin": (-0.9, 0.9),
    "arccos": (-0.9, 0.9),
    "arctan": (-3, 3),
    "sinh": (-2, 2),
    "cosh": (-2, 2),
    "tanh": (-3, 3),
    "arcsinh": (-3, 3),
    "arccosh": (1.1, 4),
    "arctanh": (-0.9, 0.9),
    "exp": (-2, 2),
    "exp2": (-2, 2),
    "expm1": (-2, 2),
    "log": (0.1, 4),
    "log2": (0.1, 4),
    "log10": (0.1, 4),
    "log1p": (-0.5, 3),
    "sqrt": (0.0, 4),
    "cbrt": (-8, 8),
    "deg2rad": (-180, 180),
    "rad2deg": (-3, 3),
    "sinc": (-3, 3),
    "i0": (-3, 3),
    "reciprocal": (0.5, 3),
    "fabs": (-3, 3),
    "ceil": (-3, 3),
    "floor": (-3, 3),
    "angle": (-3, 3),
}
# Ops whose Keras torch backend casts float64 to float32 (NumPy and JAX keep float64; so does
# fitorch): their float64 cases compare values only.
KERAS_FLOAT64_TO_FLOAT32 = {
    "ceil",
    "floor",
    "cumsum",
    "cumprod",
    "prod",
    "var",
    "median",
    "nanmedian",
    "average",
    "nancumsum",
    "nancumprod",
    "nanprod",
    "nanstd",
    "nanvar",
    "nanmean",
}
UNARY_KEEP = [
    "abs",
    "absolute",
    "negative",
    "square",
    "sign",
    "trunc",
    "round",
    "conj",
    "conjugate",
    "real",
    "copy",
    "nan_to_num",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "signbit",
    "isreal",
    "logical_not",
]
BINARY = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "true_divide",
    "floor_divide",
    "mod",
    "fmod",
    "power",
    "maximum",
    "minimum",
    "fmax",
    "fmin",
    "arctan2",
    "hypot",
    "logaddexp",
    "logaddexp2",
    "heaviside",
    "nextafter",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "isclose",
    "divide_no_nan",
]
INT_BINARY = [
    "gcd",
    "lcm",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "left_shift",
    "right_shift",
]
REDUCE = [
    "all",
    "any",
    "amax",
    "amin",
    "max",
    "min",
    "sum",
    "prod",
    "mean",
    "std",
    "var",
    "ptp",
    "nanmax",
    "nanmin",
    "nansum",
    "nanprod",
    "nanmean",
    "nanstd",
    "nanvar",
    "median",
    "nanmedian",
]
ARG = ["argmax", "argmin", "nanargmax", "nanargmin"]


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
def test_unary_float_ops(name):
    lo, hi = UNARY_FLOAT[name]
    x = rand((2, 3), low=lo, high=hi)
    ints = (
        rand((4,), "int32", low=max(lo, -3), high=min(hi, 3))
        if name != "arccosh"
        else np.array([1, 2, 3], "int32")
    )
    check(name, [call(x), call(ints), call(rand((0, 2))), call(np.float32(lo + 0.3))])
    # Keras's torch ceil/floor return float32 for float64 inputs; fitorch keeps float64
    check(
        name,
        [call(rand((3, 1, 2), "float64", low=lo, high=hi))],
        dtype=name not in KERAS_FLOAT64_TO_FLOAT32,
    )
    check(name, [call(rand((4,), "float16", low=lo, high=hi))], rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", UNARY_KEEP)
def test_unary_dtype_preserving_ops(name):
    x = np.array([[-1.5, -0.0, 0.5, 2.5], [np.inf, -np.inf, np.nan, 3.0]], "float32")
    calls = [call(x), call(I), call(E), call(I8), call(H)]
    if name not in ("negative", "round"):  # Keras refuses bools there too
        calls.append(call(B))
    check(name, calls)


def test_imag_of_real_inputs_is_zero():
    # Keras's torch imag refuses real tensors; NumPy gives zeros, as fitorch
    for x in (F, I, H):
        got = ops.imag(x)
        np.testing.assert_array_equal(got, np.imag(x.astype("float32")))
        assert got.dtype == (torch.float16 if x is H else torch.float32)
    z = torch.tensor([1 + 2j, -3j])
    check("imag", [call(z)])
    check("real", [call(z)])


def test_round_decimals_and_nan_to_num_values():
    check(
        "round",
        [
            call(rand((5,)) * 100, decimals=1),
            call(rand((5,)) * 100, decimals=-1),
            call(np.array([125, -135], "int32"), decimals=-1),
        ],
    )
    x = np.array([np.nan, np.inf, -np.inf, 1.0], "float32")
    check("nan_to_num", [call(x, nan=-1.0, posinf=9.0, neginf=-9.0)])


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops(name):
    y = rand((3,), seed=9, low=0.5, high=2)  # positive, so division and powers are defined
    calls = [
        call(F, y),
        call(F3, rand((4,), seed=8, low=0.5, high=2)),
        call(rand((1, 3)), rand((2, 1), seed=7, low=0.5, high=2)),
        call(E, y),
        call(F, 1.5),
        call(I, 2),
        call(I, 1.5),
        call(2.0, y),
    ]
    if name not in ("arctan2", "hypot", "nextafter", "logaddexp", "logaddexp2", "heaviside"):
        calls.append(call(I, rand((3,), "int32", seed=6, low=1, high=4)))
    if name == "power":
        calls = [
            call(np.abs(F) + 0.1, y),
            call(I, np.array([0, 1, 2], "int32")),
            call(F, 2),
            call(H, 2),
        ]
    check(name, calls)


def test_binary_promotion_dtypes():
    for name in ("add", "multiply", "maximum", "equal", "divide"):
        check(
            name,
            [
                call(I8, rand((3,), "uint8", seed=1)),
                call(I8, 3),
                call(I8, 2.5),
                call(B, B),
                call(B, 1),
                call(rand((2, 3), "int32"), H),
            ],
        )


@pytest.mark.parametrize("name", INT_BINARY)
def test_integer_binary_ops(name):
    a = rand((2, 3), "int32", seed=1, low=1, high=12)
    b = rand((3,), "int32", seed=2, low=1, high=4)
    check(
        name,
        [
            call(a, b),
            call(a, 2),
            call(
                rand((4,), "int8", seed=3, low=0, high=9), rand((4,), "int8", seed=4, low=0, high=3)
            ),
        ],
    )


def test_bitwise_unary_and_ldexp():
    for name in ("bitwise_invert", "bitwise_not"):
        check(name, [call(I), call(I8), call(B)])
    check("ldexp", [call(F, np.array([1, 2, -1], "int32")), call(I, np.array([0, 1, 2], "int32"))])
    with pytest.raises(TypeError, match="x2 must be an integer"):
        ops.ldexp(F, F)


def test_clip_and_allclose():
    check(
        "clip",
        [
            call(F, -0.5, 0.5),
            call(I, -1, 2),
            call(I8, 0.5, 2.5),
            call(B, 0, 1),
            call(F, np.array([-1.0, 0.0, -2.0], "float32"), 1.0),
        ],
    )
    check(
        "allclose",
        [
            call(F, F + 1e-7),
            call(F, F + 1e-3),
            call(I, I),
            call(np.array([np.nan]), np.array([np.nan]), equal_nan=True),
        ],
    )


@pytest.mark.parametrize("name", REDUCE)
def test_reductions(name):
    x = F3.copy()
    if name.startswith("nan"):
        x[0, 1, 2] = x[1, 0, 0] = np.nan
    calls = [
        call(x),
        call(x, axis=-1),
        call(x, axis=(0, 2)),
        call(x, axis=1, keepdims=True),
        call(x, axis=(-1, 0), keepdims=True),
        call(I),
        call(I, axis=0),
        call(rand((5,), "int8", seed=3, low=-3, high=3)),
    ]
    if name != "ptp":  # Keras refuses bool ptp (bool subtraction)
        calls.append(call(B, axis=1))
    if name not in ("amax", "amin", "max", "min", "ptp", "nanmax", "nanmin", "median", "nanmedian"):
        calls.append(call(E, axis=0))  # empty reductions (max has no identity)
    dtype = name not in ("median", "nanmedian")  # Keras's torch median of bool is float32
    check(name, calls, dtype=dtype)


def test_max_min_initial():
    check("max", [call(F, initial=0.5), call(F, axis=0, initial=1.0)])
    # an empty reduction gives `initial` per output element (NumPy; Keras's torch gives ())
    np.testing.assert_array_equal(ops.max(rand((0, 3)), axis=0, initial=2.0), [2.0] * 3)
    check("min", [call(F, axis=-1, initial=-0.5), call(I, initial=0)])


@pytest.mark.parametrize("name", ARG)
def test_arg_reductions(name):
    x = F3.copy()
    x[0, 0, 1] = np.nan if name.startswith("nan") else x[0, 0, 1]
    check(
        name,
        [
            call(x),
            call(x, axis=-1),
            call(x, axis=0, keepdims=True),
            call(x, keepdims=True),
            call(I, axis=1),
            call(B, axis=0),
        ],
    )


def test_cumulative():
    x = F3.copy()
    for name in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
        if name.startswith("nan"):
            x[0, 1, 1] = np.nan
        check(
            name,
            [
                call(x),
                call(x, axis=-1),
                call(x, axis=0),
                call(I, axis=1),
                call(I8),
                call(B, axis=1),
            ],
        )
        got = getattr(ops, name)(x, axis=1, dtype="float64")
        assert got.dtype == torch.float64  # Keras's torch backend gives float32
        np.testing.assert_allclose(got, getattr(np, name)(x.astype("float64"), axis=1))


def test_sort_argsort_argpartition():
    x = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 5.0]], "float32")
    check("sort", [call(x), call(x, axis=0), call(I, axis=-1), call(x, axis=None), call(E)])
    check("argsort", [call(x), call(x, axis=0), call(I), call(x, axis=None)])
    got = ops.take_along_axis(x, ops.argpartition(x, 2, axis=-1), axis=-1)
    assert np.all(np.asarray(got[:, :2]) <= np.asarray(got[:, 2:3]))
    np.testing.assert_array_equal(got[:, 2], np.sort(x, axis=-1)[:, 2])
    with pytest.raises(ValueError, match="kth=9"):
        ops.argpartition(x, 9)


def test_count_nonzero_average():
    check("count_nonzero", [call(I), call(I, axis=0), call(I, axis=(0, 1)), call(B, axis=-1)])
    w = rand((3,), seed=3, low=0.5, high=1.0)
    check(
        "average",
        [
            call(F),
            call(F, axis=1),
            call(F, axis=-1, weights=w),
            call(F, axis=1, weights=rand((2, 3), seed=5, low=0.1)),
            call(I, axis=0),
        ],
    )
    w2 = rand((2, 3), seed=5, low=0.1)  # full-shape weights, all axes (Keras's torch: (2,))
    np.testing.assert_allclose(ops.average(F, weights=w2), np.average(F, weights=w2), rtol=1e-6)
    w0 = np.array([1.0, 3.0], "float32")  # 1-D weights along axis 0 (Keras's torch fails)
    np.testing.assert_allclose(
        ops.average(F, axis=0, weights=w0), np.average(F, axis=0, weights=w0), rtol=1e-6
    )


@pytest.mark.parametrize("name", ["quantile", "nanquantile", "percentile", "nanpercentile"])
def test_quantiles(name):
    scale = 100.0 if "percentile" in name else 1.0
    x = F3.copy()
    if name.startswith("nan"):
        x[0, 0, 0] = np.nan
    calls = [
        call(x, 0.3 * scale),
        call(x, np.array([0.1, 0.5, 0.9]) * scale, axis=-1),
        call(x, 0.5 * scale, axis=(0, 2), keepdims=True),
        call(I, 0.25 * scale, axis=1),
    ]
    calls += [
        call(x, 0.3 * scale, axis=1, method=m) for m in ("lower", "higher", "midpoint", "nearest")
    ]
    check(name, calls)
    with pytest.raises(ValueError, match="method"):
        getattr(ops, name)(x, 0.5, method="cubic")


def test_bincount_histogram_digitize_searchsorted():
    x = np.array([0, 1, 1, 3, 5, 1], "int32")
    check("bincount", [call(x), call(x, minlength=8), call(x, weights=rand((6,), seed=2))])
    rows = np.array([[0, 1, 1], [2, 2, 0]], "int32")  # per-row counts (Keras's torch fails)
    np.testing.assert_array_equal(ops.bincount(rows), [[1, 2, 0], [1, 0, 2]])
    check(
        "histogram",
        [call(rand((20,)), bins=4), call(rand((20,)), bins=3, range=(-1, 1))],
        dtype=False,
    )  # Keras's torch histogram returns float64 counts and edges: so do we
    bins = np.array([-1.0, 0.0, 1.0], "float32")
    check("digitize", [call(F, bins), call(np.array([-1.0, 1.0, 5.0], "float32"), bins)])
    seq = np.array([0.0, 1.0, 1.0, 3.0], "float32")
    v = np.array([1.0, -1.0, 4.0, 2.0], "float32")
    check("searchsorted", [call(seq, v), call(seq, v, side="right")])


def test_unique():
    x = np.array([3, 1, 3, 2, 1, 1], "int32")
    check(
        "unique",
        [
            call(x),
            call(x, return_counts=True),
            call(x, return_inverse=True),
            call(x, return_index=True),
            call(rand((4, 2), "int32", high=1), axis=0),
            call(x, size=5, fill_value=-1),
            call(x, size=2),
        ],
        tensors=True,
    )


# --------------------------------------------------------------------------- creation
def test_ranges():
    check(
        "arange",
        [
            call(5),
            call(2, 9, 3),
            call(0.0, 1.0, 0.25),
            call(5, dtype="float16"),
            call(-3, 3),
            call(0),
        ],
    )
    check(
        "linspace",
        [
            call(0, 1, 5),
            call(0, 1, 5, endpoint=False),
            call(2, 3, 1),
            call(np.zeros(2), np.ones(2), 4),
            call(0.0, 10.0, 6, dtype="float64"),
        ],
    )
    check("linspace", [call(-1.0, 1.0, 4, retstep=True)])
    check("logspace", [call(0, 2, 5), call(0, 2, 4, endpoint=False), call(0, 3, 4, base=2)])
    check("geomspace", [call(1, 1000, 4), call(1, 16, 4, endpoint=False), call(-1, -100, 3)])


def test_constants():
    for shape, dtype in (((2, 3), None), ((0, 2), "bool")):
        got, want = ops.empty(shape, dtype), keras.ops.empty(shape, dtype)
        assert got.shape == want.shape and got.dtype == want.dtype  # values are undefined
    for name in ("zeros", "ones"):
        check(name, [call((2, 3)), call((4,), dtype="int32"), call((0, 2), dtype="bool")])
    assert ops.zeros(4).shape == (4,)
    check(
        "full",
        [
            call((2, 2), 3),
            call((3,), 1.5, dtype="float16"),
            call((2, 3), np.array([1.0, 2.0, 3.0], "float32")),
        ],
    )
    for x, dtype in ((F, None), (I8, None), (I, "float32")):
        got, want = ops.empty_like(x, dtype), keras.ops.empty_like(x, dtype)
        assert got.shape == want.shape and got.dtype == want.dtype  # values are undefined
    for name in ("zeros_like", "ones_like"):
        check(name, [call(F), call(I8), call(I, dtype="float32"), call(E)])
    check("full_like", [call(I8, 1.7), call(F, 2), call(F, 0.5, dtype="float64")])
    check("eye", [call(3), call(2, 4), call(4, 3, k=1), call(3, k=-2, dtype="int32")])
    check("identity", [call(3), call(2, dtype="bool")])
    check("tri", [call(3), call(3, 4, k=1), call(4, 2, k=-1, dtype="int32")])
    check("array", [call([1, 2]), call(F), call([[1.0], [2.0]], dtype="float16")])


def test_meshgrid_windows_vander():
    check(
        "meshgrid",
        [
            call(np.arange(3.0), np.arange(2.0)),
            call(np.arange(2), np.arange(4), np.arange(3), indexing="ij"),
        ],
    )
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        check(name, [call(7), call(1), call(6)], atol=1e-6)
    check("kaiser", [call(7, 3.0), call(5, 0.0)], atol=1e-6)
    check(
        "vander",
        [
            call(np.array([1, 2, 3], "int32")),
            call(rand((4,)), N=3),
            call(rand((3,)), increasing=True),
        ],
    )


# ---------------------------------------------------------------------------- shaping
def test_reshape_family():
    check("reshape", [call(F3, (4, -1)), call(F, 6), call(E, (3, 0))])
    check("ravel", [call(F3), call(E)])
    check("expand_dims", [call(F, 0), call(F, -1), call(F, (0, 3))])
    check(
        "squeeze",
        [call(rand((1, 3, 1))), call(rand((1, 3, 1)), axis=-1), call(rand((1, 3, 1)), axis=(0, 2))],
    )
    check("transpose", [call(F3), call(F3, (1, 0, 2)), call(F3, axes=(-1, 0, 1))])
    check("swapaxes", [call(F3, 0, -1)])
    check("moveaxis", [call(F3, 0, -1), call(F3, (0, 1), (2, 0))])
    check("broadcast_to", [call(rand((3,)), (2, 3)), call(I8, (4, 3))])
    assert ops.ndim(F3) == keras.ops.ndim(F3) == 3
    assert int(ops.size(F3)) == int(keras.ops.size(F3)) == 24
    check("view", [call(F, "int32"), call(I, "float32")])
    with pytest.raises(ValueError, match="axis 1 has size 3"):
        ops.squeeze(F, 1)


def test_flip_roll_rot_tile_repeat():
    check("flip", [call(F3), call(F3, axis=-1), call(F3, axis=(0, 2))])
    check("fliplr", [call(F)])
    check("flipud", [call(F)])
    check("roll", [call(F3, 2), call(F3, -1, axis=1), call(F3, (1, 2), axis=(0, 2))])
    check("rot90", [call(F), call(F3, k=2), call(F3, k=-1, axes=(1, 2))])
    check("tile", [call(F, 2), call(F, (2, 1, 3)), call(I8, (0,))])
    check("repeat", [call(F, 2), call(F, 2, axis=-1), call(F, np.array([1, 2]), axis=0)])


def test_join_and_split():
    a, b = rand((2, 3)), rand((2, 3), "int32", seed=2)
    check("concatenate", [call([a, b]), call([a, b], axis=-1), call([a, E])])
    np.testing.assert_array_equal(
        ops.concatenate([a, b], axis=None),  # Keras's torch fails
        np.concatenate([a, b], axis=None),
    )
    check("append", [call(a, b), call(a, b, axis=0)])
    check("stack", [call([a, b]), call([a, b], axis=-1)])
    for name in ("hstack", "vstack", "dstack"):
        check(name, [call([a, b]), call([rand((3,)), rand((3,), seed=1)])])
    x = rand((4, 6, 2))
    check("split", [call(x, 2), call(x, [1, 3], axis=1), call(x, 3, axis=-2)])
    check("array_split", [call(x, 3), call(rand((7,)), 3)])
    check("hsplit", [call(x, 3)])
    check("vsplit", [call(x, [1])])
    check("dsplit", [call(x, 2)])
    with pytest.raises(ValueError, match="do not divide"):
        ops.split(x, 3)


def test_pad():
    x = rand((2, 3))
    calls = [
        call(x, ((1, 0), (2, 1))),
        call(x, ((1, 1), (1, 1)), constant_values=7.0),
        call(I, ((0, 1), (1, 0))),
    ]
    # Keras's torch "symmetric" repeats the edge value instead of mirroring: NumPy below
    # and has no "edge" or "wrap": NumPy below
    calls.append(call(x, ((1, 0), (2, 1)), mode="reflect"))
    calls.append(call(rand((3, 1, 5)), ((0, 0), (0, 0), (2, 3)), mode="reflect"))
    check("pad", calls)
    for mode in ("reflect", "symmetric", "edge", "wrap"):  # widths beyond the axis: NumPy
        np.testing.assert_array_equal(
            ops.pad(x, ((1, 2), (4, 3)), mode=mode), np.pad(x, ((1, 2), (4, 3)), mode=mode)
        )
    # NumPy's shorthand widths (Keras's torch pads only the last axis for an int)
    np.testing.assert_array_equal(ops.pad(x, 1), np.pad(x, 1))
    np.testing.assert_array_equal(ops.pad(x, (1, 2)), np.pad(x, (1, 2)))
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.pad(x, 1, mode="mirror")


def test_take_and_take_along_axis():
    x = rand((3, 4))
    check(
        "take",
        [
            call(x, np.array([[0, 3], [2, 1]])),
            call(x, np.array([2, 0]), axis=-1),
            call(x, 5),
            call(x, np.array([1, 2]), axis=0),
            call(x, np.zeros((0,), "int32"), axis=1),
        ],
    )
    # negative indices count from the end (NumPy; Keras's torch mis-reads them when flat)
    idx = np.array([[0, -1], [2, -5]])
    np.testing.assert_array_equal(ops.take(x, idx), np.take(x, idx))
    np.testing.assert_array_equal(ops.take(x, np.array([-1]), axis=0), x[[-1]])
    sorted_idx = np.argsort(x, axis=-1)
    check(
        "take_along_axis",
        [
            call(x, sorted_idx, axis=-1),
            call(x, np.argsort(x, axis=0)[:1], axis=0),
            call(x, np.array([[0], [3], [1]]), axis=1),
        ],
    )
    np.testing.assert_array_equal(
        ops.take_along_axis(x, np.array([5, 0])), x.reshape(-1)[[5, 0]]
    )  # flattened (Keras's torch fails)


def test_where_select_nonzero():
    check(
        "where",
        [
            call(B, F, I),
            call(B, F, 0.0),
            call(B, 1, 2),
            call(B[0], I8, 2),
            call(np.array([True]), F, rand((3,))),
        ],
    )
    got = ops.where(np.array([[0, 3], [2, 0]]))
    want = np.nonzero(np.array([[0, 3], [2, 0]]))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for arr in (I, F3 > 0, E):  # Keras's torch stacks the index arrays into one tensor
        got, want = ops.nonzero(arr), keras.ops.nonzero(arr)
        assert len(got) == len(want) and all(g.dtype == torch.int32 for g in got)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    check(
        "select",
        [
            call([F > 0, F < -1], [F, -F]),
            call([B], [I], default=-1),
            call([F > 0, F > -1], [I, np.zeros((2, 3), "int32")], default=5),
        ],
    )


def test_get_item_isin_unravel():
    x = rand((3, 4, 2))
    for key in (
        1,
        (slice(None), 2),
        (Ellipsis, 0),
        (None, 1, slice(1, 3)),
        np.array([0, 2]),
        x[..., 0] > 0,
    ):
        np.testing.assert_array_equal(ops.get_item(x, key), keras.ops.get_item(x, key))
    for key in (
        (slice(None, None, -1),),
        (Ellipsis, slice(3, 0, -2)),
        (None, 1, slice(None, None, -1)),
    ):
        np.testing.assert_array_equal(ops.get_item(x, key), x[key])
    check(
        "isin",
        [
            call(I, np.array([0, 1, -3], "int32")),
            call(I, np.array([0]), invert=True),
            call(F, F[0]),
        ],
    )
    check("unravel_index", [call(np.array([0, 5, 11]), (3, 4)), call(7, (2, 2, 2))])


def test_diagonals():
    x = rand((4, 3))
    check("diag", [call(x), call(x, k=1), call(x, k=-2), call(rand((3,))), call(rand((3,)), 1)])
    check("diagflat", [call(rand((2, 2))), call(rand((3,)), k=-1)])
    check("diagonal", [call(x), call(F3, offset=1, axis1=1, axis2=2), call(F3, 0, -1, 0)])
    check("trace", [call(x), call(F3, 1, 1, 2), call(rand((3, 3), "int8")), call(B)])
    check("tril", [call(x), call(F3, k=1), call(x, k=-1)])
    check("triu", [call(x), call(F3, k=-1), call(I, 1)])


# --------------------------------------------------------------------------- products
def test_matrix_products():
    a, b = rand((2, 3)), rand((3, 4), seed=1)
    i8 = rand((2, 2), "int8", seed=4)
    check(
        "matmul",
        [
            call(a, b),
            call(rand((5, 2, 3)), b),
            call(rand((3,)), b),
            call(a, rand((3,))),
            call(i8, i8),
            call(i8 > 0, i8 > 0),
            call(rand((0, 3)), b),
        ],
    )
    check(
        "dot",
        [
            call(a, b),
            call(rand((3,)), rand((3,))),
            call(a, 2.0),
            call(rand((2, 3, 4)), rand((4, 2))),
        ],
    )
    p, q = rand((2, 3, 4)), rand((5, 4, 2))  # N-D dot (NumPy; Keras's torch fails)
    np.testing.assert_allclose(ops.dot(p, q), np.dot(p, q), rtol=1e-5, atol=1e-6)
    check("vdot", [call(rand((4,)), rand((4,), seed=2)), call(i8[0], i8[1])], dtype=False)
    assert ops.vdot(i8[0], i8[1]).dtype == torch.int32  # int8 products accumulate in int32
    np.testing.assert_allclose(ops.vdot(a, a), np.vdot(a, a), rtol=1e-6)  # N-D: flattened
    check("inner", [call(a, a), call(rand((3,)), rand((4, 3))), call(a, 2.0)])
    check("outer", [call(rand((3,)), rand((2, 2))), call(I8, I8)])
    check(
        "tensordot",
        [
            call(F3, rand((3, 4, 2)), 2),
            call(F3, rand((4, 5)), 1),
            call(F3, rand((4, 2, 2)), ((2, 0), (0, 2))),
            call(a, b, 0),
        ],
    )
    check(
        "einsum",
        [
            call("ij,jk->ik", a, b),
            call("bij,bjk->bik", F3, rand((2, 4, 5))),
            call("ii->i", rand((3, 3))),
            call("ij->", i8),
            call("i,j->ij", rand((2,)), rand((3,))),
        ],
    )
    check("kron", [call(a, rand((2, 2))), call(I8, I8), call(B, B)])


def test_cross_slogdet_correlate():
    u, v = rand((4, 3)), rand((4, 3), seed=1)
    np.testing.assert_allclose(
        ops.cross(rand((3,)), v), np.cross(rand((3,)), v), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        ops.cross(u.T, v.T, axisa=0, axisb=0, axisc=0),
        np.cross(u.T, v.T, axisa=0, axisb=0, axisc=0),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        ops.cross(u.T, v.T, axis=0), np.cross(u.T, v.T, axis=0), rtol=1e-5, atol=1e-6
    )
    check("cross", [call(u, v), call(rand((2, 3), "int32"), rand((2, 3), "int32", seed=1))])
    p, q = rand((2,)), rand((2,), seed=3)  # 2-vectors give the z component (NumPy)
    np.testing.assert_allclose(ops.cross(p, q), p[0] * q[1] - p[1] * q[0], rtol=1e-6)
    m = rand((3, 4, 4), "float64") + 3 * np.eye(4)
    check("slogdet", [call(m), call(-rand((2, 2)))])
    for mode in ("valid", "same", "full"):
        check(
            "correlate",
            [
                call(rand((5,)), rand((3,), seed=1), mode=mode),
                call(rand((4,), "int32"), rand((2,), "int32"), mode=mode),
            ],
        )
        p, q = rand((3,)), rand((6,), seed=1)  # shorter first: NumPy (Keras's "same" is 3)
        np.testing.assert_allclose(
            ops.correlate(p, q, mode), np.correlate(p, q, mode), rtol=1e-5, atol=1e-6
        )
    check("corrcoef", [call(rand((3, 6))), call(rand((2, 5), "int32"))])


def test_trapezoid_diff_vectorize():
    check(
        "trapezoid", [call(F3), call(F3, dx=0.5, axis=0), call(F, x=np.array([0, 1, 3])), call(I)]
    )
    check("diff", [call(F3), call(F3, n=2), call(F3, axis=0), call(I, 1, -1), call(B)])
    vdot = ops.vectorize(lambda u, v: torch.dot(u, v), signature="(n),(n)->()")
    x, y = rand((4, 3)), rand((4, 3), seed=1)
    np.testing.assert_allclose(vdot(x, y), np.sum(x * y, axis=-1), rtol=1e-6)
    elementwise = ops.vectorize(lambda a, b: a * b + 1)
    np.testing.assert_allclose(elementwise(F, rand((3,))), F * rand((3,)) + 1, rtol=1e-6)
    k_ok = keras.ops.vectorize(lambda a, b: a * b + 1)(F, rand((3,)))
    np.testing.assert_allclose(elementwise(F, rand((3,))), k_ok, rtol=1e-6)


# -------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "name,lo,hi",
    [
        ("tanh", -2, 2),
        ("log", 0.5, 3),
        ("sqrt", 0.5, 3),
        ("exp", -1, 1),
        ("arctan", -2, 2),
        ("cbrt", 0.5, 3),
        ("sinc", 0.2, 2),
    ],
)
def test_unary_gradients(name, lo, hi):
    check_grad(name, [call(rand((2, 3), "float64", low=lo, high=hi))])


def test_reduction_and_product_gradients():
    x = rand((2, 3, 4), "float64")
    for name in ("mean", "std", "var", "sum", "prod", "max", "logaddexp"):
        if name == "logaddexp":
            check_grad(name, [call(x, rand((4,), "float64"))], wrt=(0, 1))
            continue
        check_grad(name, [call(x, axis=-1), call(x, axis=(0, 2), keepdims=True)])
    check_grad("matmul", [call(rand((2, 3), "float64"), rand((3, 2), "float64"))], wrt=(0, 1))
    check_grad(
        "einsum", [call("ij,jk->ik", rand((2, 3), "float64"), rand((3, 2), "float64"))], wrt=(1, 2)
    )
    check_grad("divide", [call(x, rand((4,), "float64", low=0.5, high=2))], wrt=(0, 1))
    check_grad("take_along_axis", [call(x, np.argsort(x, axis=-1), axis=-1)])
    check_grad("pad", [call(rand((2, 3), "float64"), ((1, 1), (2, 1)), mode="reflect")])
    check_grad("quantile", [call(x, 0.3, axis=1)])
    check_grad("cumsum", [call(x, axis=1)])


# --------------------------------------------------------------------------- coverage
# keras.ops names of the numpy and core groups that fitorch.ops does not provide, with the
# reason (docs/ops.md repeats this list). Empty: every name is provided.
NOT_PROVIDED: dict[str, str] = {}


def _keras_group(module_name: str) -> set[str]:
    import importlib

    module = importlib.import_module(module_name)
    return {
        n
        for n in dir(keras.ops)
        if not n.startswith("_") and getattr(keras.ops, n) is getattr(module, n, None)
    }


def test_coverage_of_keras_numpy_and_core_groups():
    wanted = _keras_group("keras.src.ops.numpy") | _keras_group("keras.src.ops.core")
    provided = {n for n in wanted if callable(getattr(ops, n, None))}
    missing = wanted - provided
    assert missing == set(NOT_PROVIDED), f"provided {len(provided)} of {len(wanted)}"
    assert set(ops.numpy.__all__) == _keras_group("keras.src.ops.numpy") - set(NOT_PROVIDED)
    assert set(ops.core.__all__) == _keras_group("keras.src.ops.core") - set(NOT_PROVIDED)


def test_every_provided_op_is_exercised_by_a_test():
    import pathlib
    import re

    here = pathlib.Path(__file__).parent
    source = (here / "test_ops_numpy.py").read_text() + (here / "test_ops_core.py").read_text()
    named = set(re.findall(r'"([a-z0-9_]+)"', source)) | set(
        re.findall(r"ops\.([a-z0-9_]+)", source)
    )
    untested = sorted((set(ops.numpy.__all__) | set(ops.core.__all__)) - named)
    assert not untested, f"ops without a test: {untested}"


# keras.ops names outside the numpy/core groups that fitorch.ops does not provide.
NOT_PROVIDED_OTHER_GROUPS: dict[str, str] = {}


def test_coverage_of_the_whole_keras_ops_namespace():
    names = {n for n in dir(keras.ops) if not n.startswith("_") and callable(getattr(keras.ops, n))}
    provided = {n for n in names if callable(getattr(ops, n, None))}
    assert names - provided == set(NOT_PROVIDED) | set(NOT_PROVIDED_OTHER_GROUPS), (
        f"provided {len(provided)} of {len(names)}"
    )
    for group in ("numpy", "nn", "image", "linalg"):  # keras.ops.<group> module paths
        assert set(getattr(ops, group).__all__) <= set(dir(getattr(keras.ops, group)))


# ---------------------------------------------------------------------------- devices
def test_results_stay_on_the_device_of_the_tensor_operand():
    # "meta" stands in for an accelerator: torch refuses to mix it with CPU tensors, as CUDA
    m = torch.ones(2, 3, device="meta")
    row = np.ones(3, "float32")
    results = [
        ops.add(m, row),
        ops.where(m > 0, m, row),
        ops.concatenate([m, F]),
        ops.select([m > 0], [m]),
        ops.clip(m, row, 2.0),
        ops.ldexp(m, np.arange(3)),
        ops.einsum("ij,j->i", m, row),
        ops.take(m, np.array([0]), axis=1),
        ops.take_along_axis(m, np.zeros((2, 1), "int64"), axis=1),
        ops.digitize(m, np.array([0.0, 1.0])),
        ops.pad(m, 1, mode="reflect"),
        ops.scatter_update(m, np.array([[0, 1]]), np.array([1.0])),
        ops.full_like(m, 2.0),
        ops.average(m, axis=1, weights=row),
        ops.vander(torch.ones(3, device="meta")),
        ops.trapezoid(m, x=row),
    ]
    assert [r.device.type for r in results] == ["meta"] * len(results)


def test_creation_ops_use_the_default_device():
    from fitorch.ops.creation import default_device

    want = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.get_default_device()
    )
    assert default_device() == want
    for t in (
        ops.arange(3),
        ops.zeros((2,)),
        ops.ones(2),
        ops.full((2,), 1.0),
        ops.eye(2),
        ops.tri(2),
        ops.linspace(0, 1, 3),
        ops.hanning(4),
        ops.meshgrid(np.arange(2))[0],
    ):
        assert t.device.type == want.type
