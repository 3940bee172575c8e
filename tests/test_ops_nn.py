"""fitorch.ops.nn against keras.ops.nn (Keras 3, torch backend) as the differential oracle."""

import inspect

import keras
import numpy as np
import pytest
import torch

from fitorch.ops import nn
from tests._opsnn_oracle import agree, missing, rand

kn = keras.ops.nn

ACTIVATIONS = [
    "relu", "relu6", "sigmoid", "sparse_sigmoid", "softplus", "softsign", "soft_shrink",
    "sparse_plus", "silu", "swish", "squareplus", "log_sigmoid", "leaky_relu", "hard_sigmoid",
    "hard_silu", "hard_swish", "elu", "selu", "gelu", "celu", "tanh_shrink", "hard_tanh",
    "hard_shrink",
]  # fmt: skip


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize(
    "shape,dtype", [((7,), "float32"), ((2, 3, 4), "float64"), ((0, 3), "float32")]
)
def test_activation_matches_keras(name, shape, dtype):
    agree(getattr(nn, name), getattr(kn, name), rand(*shape, dtype=dtype), grad=True)


@pytest.mark.parametrize("name,kw", [
    ("leaky_relu", {"negative_slope": 0.05}), ("elu", {"alpha": 0.5}), ("celu", {"alpha": 2.0}),
    ("gelu", {"approximate": False}), ("soft_shrink", {"threshold": 1.0}),
    ("hard_shrink", {"threshold": 1.5}), ("squareplus", {"b": 1.0}),
    ("threshold", {"threshold": 0.3, "default_value": -2.0}),
])  # fmt: skip
def test_activation_arguments_match_keras(name, kw):
    agree(getattr(nn, name), getattr(kn, name), rand(4, 5, dtype="float64"), grad=True, **kw)


def test_relu_hand_values():
    out = nn.relu6(torch.tensor([-1.0, 3.0, 9.0]))
    assert out.tolist() == [0.0, 3.0, 6.0]
    assert nn.hard_sigmoid(torch.tensor([-4.0, 0.0, 4.0])).tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family_axes(name, axis):
    agree(getattr(nn, name), getattr(kn, name), rand(3, 4, 5), axis=axis, grad=True)


def _sparsemax_reference(z: np.ndarray) -> np.ndarray:
    """Martins & Astudillo (2016): tau from the largest k with 1 + k z_(k) > sum_(i<=k) z_(i)."""
    ordered = np.sort(z)[::-1]
    cumulative = np.cumsum(ordered)
    k = np.arange(1, len(z) + 1)
    support = k[1 + k * ordered > cumulative].max()
    tau = (cumulative[support - 1] - 1) / support
    return np.maximum(z - tau, 0.0)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_sparsemax_matches_reference(axis):
    # Keras 3.15's torch sparsemax sums the running sums over the support (its rows do not
    # sum to 1), so the oracle here is the published algorithm in float64.
    x = rand(3, 4, 5, dtype="float64")
    out = nn.sparsemax(torch.from_numpy(x), axis=axis).numpy()
    expected = np.apply_along_axis(_sparsemax_reference, axis, x)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=axis), 1.0, atol=1e-12)


@pytest.mark.parametrize("axis", [None, (0, 2), (2, 1)])
def test_softmax_multi_axis(axis):
    agree(nn.softmax, kn.softmax, rand(3, 4, 5, dtype="float64"), axis=axis, grad=True)
    agree(nn.log_softmax, kn.log_softmax, rand(3, 4, 5, dtype="float64"), axis=axis)


def test_softmax_negative_axes_tuple():
    # Keras 3.15 on torch fails on a tuple with negative axes; the result must equal (2, 1).
    x = torch.from_numpy(rand(3, 4, 5, dtype="float64"))
    assert torch.allclose(nn.softmax(x, axis=(-1, 1)), nn.softmax(x, axis=(2, 1)))
    assert torch.allclose(nn.softmax(x, axis=(-1, 1)).sum(dim=(1, 2)), torch.ones(3, dtype=x.dtype))


def test_softmax_float16_keeps_dtype():
    agree(nn.softmax, kn.softmax, rand(2, 6, dtype="float16"), atol=1e-3)


def test_glu_and_odd_axis_error():
    agree(nn.glu, kn.glu, rand(3, 6), grad=True)
    agree(nn.glu, kn.glu, rand(4, 3), axis=0)
    with pytest.raises(ValueError, match="even"):
        nn.glu(torch.ones(3, 5))


def test_int_inputs_become_float():
    x = np.array([-2, 0, 3], dtype="int32")
    for name in ("sigmoid",):
        agree(getattr(nn, name), getattr(kn, name), x)
    # Keras 3.15 on torch raises for these on ints; fitorch computes them in floatx.
    for name in ("silu", "gelu", "selu", "elu", "log_sigmoid", "softplus", "softmax"):
        out = getattr(nn, name)(torch.from_numpy(x))
        assert out.dtype == torch.float32
        assert torch.allclose(out, getattr(nn, name)(torch.from_numpy(x).float()))


# -------------------------------------------------------------------- convolution, pooling
CONV_CASES = [
    # (input shape channels_last, kernel shape, kwargs)
    ((2, 9, 3), (3, 3, 4), {}),
    ((2, 9, 3), (4, 3, 2), {"strides": 2, "padding": "same"}),
    ((1, 8, 7, 2), (3, 3, 2, 5), {"padding": "same"}),
    ((1, 8, 7, 2), (2, 3, 2, 3), {"strides": (2, 1), "padding": "same"}),
    ((1, 9, 9, 2), (3, 3, 2, 2), {"dilation_rate": 2}),
    ((1, 8, 7, 4), (3, 3, 2, 6), {"padding": "same"}),  # groups = 2
    ((1, 5, 6, 4, 2), (2, 3, 2, 2, 3), {"strides": 2, "padding": "same"}),
]


@pytest.mark.parametrize("xs,ks,kw", CONV_CASES)
def test_conv_matches_keras(xs, ks, kw):
    agree(nn.conv, kn.conv, rand(*xs), rand(*ks, seed=1), grad=True, atol=1e-4, **kw)


def test_conv_channels_first():
    x, k = rand(2, 3, 8, 7), rand(3, 3, 3, 4, seed=1)
    agree(nn.conv, kn.conv, x, k, data_format="channels_first", padding="same", atol=1e-4)


@pytest.mark.parametrize("xs,ks,kw", [
    ((2, 9, 3), (3, 3, 2), {"padding": "same"}),
    ((1, 8, 7, 3), (3, 3, 3, 2), {"strides": 2, "padding": "same"}),
    ((1, 8, 7, 3), (2, 2, 3, 1), {"dilation_rate": 2}),
])  # fmt: skip
def test_depthwise_conv_matches_keras(xs, ks, kw):
    agree(nn.depthwise_conv, kn.depthwise_conv, rand(*xs), rand(*ks, seed=1), grad=True,
          atol=1e-4, **kw)  # fmt: skip


def test_separable_conv_matches_keras():
    x, dk = rand(1, 8, 7, 3, low=-1, high=1), rand(3, 3, 3, 2, seed=1, low=-1, high=1)
    pk = rand(1, 1, 6, 4, seed=2, low=-1, high=1)
    agree(nn.separable_conv, kn.separable_conv, x, dk, pk, padding="same", grad=True, atol=1e-4)


@pytest.mark.parametrize("xs,ks,kw", [
    ((2, 5, 3), (3, 4, 3), {}),
    ((2, 5, 3), (3, 4, 3), {"strides": 2, "padding": "same"}),
    ((1, 4, 5, 2), (3, 3, 3, 2), {"strides": 2}),
    ((1, 4, 5, 2), (3, 3, 3, 2), {"strides": 2, "padding": "same"}),
    ((1, 4, 5, 2), (4, 4, 3, 2), {"strides": 2, "padding": "same"}),
    ((1, 4, 5, 2), (3, 3, 3, 2), {"strides": 3, "padding": "same", "output_padding": 1}),
    ((1, 4, 5, 2), (3, 2, 3, 2), {"strides": 2, "output_padding": (1, 0)}),
    ((1, 4, 5, 2), (3, 3, 3, 2), {"dilation_rate": 2, "padding": "same"}),
    ((1, 3, 4, 3, 2), (2, 3, 2, 1, 2), {"strides": 2, "padding": "same"}),
])  # fmt: skip
def test_conv_transpose_matches_keras(xs, ks, kw):
    agree(nn.conv_transpose, kn.conv_transpose, rand(*xs), rand(*ks, seed=1), grad=True,
          atol=1e-4, **kw)  # fmt: skip


def test_conv_kernel_error_names_argument():
    with pytest.raises(ValueError, match="kernel"):
        nn.conv(torch.ones(1, 5, 3), torch.ones(3, 2, 4))
    with pytest.raises(ValueError, match="padding"):
        nn.conv(torch.ones(1, 5, 3), torch.ones(3, 3, 4), padding="full")
    with pytest.raises(ValueError, match="strides"):
        nn.conv(torch.ones(1, 5, 5, 3), torch.ones(3, 3, 3, 4), strides=(1, 2, 3))


@pytest.mark.parametrize("name", ["max_pool", "average_pool"])
@pytest.mark.parametrize("xs,kw", [
    ((2, 9, 3), {"pool_size": 3}),
    ((2, 9, 3), {"pool_size": 3, "strides": 1, "padding": "same"}),
    ((1, 6, 7, 2), {"pool_size": 2}),
    ((1, 6, 7, 2), {"pool_size": (3, 3), "strides": 1, "padding": "same"}),
    ((1, 4, 5, 6, 2), {"pool_size": 2, "strides": 2}),
])  # fmt: skip
def test_pool_matches_keras(name, xs, kw):
    agree(getattr(nn, name), getattr(kn, name), rand(*xs), grad=True, **kw)


def test_pool_same_asymmetric_padding_by_hand():
    # Length 4, window 2, stride 2 needs no pad; length 5 needs one pad at the end.
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    assert nn.max_pool(x, 2, padding="same").flatten().tolist() == [2.0, 4.0, 5.0]
    assert nn.average_pool(x, 2, padding="same").flatten().tolist() == [1.5, 3.5, 5.0]
    y = -x  # all negative: the -inf pad must not win
    assert nn.max_pool(y, 2, padding="same").flatten().tolist() == [-1.0, -3.0, -5.0]


def test_pool_channels_first():
    agree(nn.max_pool, kn.max_pool, rand(1, 2, 6, 7), pool_size=2, data_format="channels_first")


@pytest.mark.parametrize("name", ["adaptive_max_pool", "adaptive_average_pool"])
@pytest.mark.parametrize("xs,size", [((2, 9, 3), 4), ((1, 7, 6, 2), (3, 2)), ((1, 4, 5, 6, 2), 2)])
def test_adaptive_pool_matches_keras(name, xs, size):
    agree(getattr(nn, name), getattr(kn, name), rand(*xs), output_size=size, grad=True)


def test_unfold_fold_match_keras():
    x = rand(2, 3, 6, 5)
    agree(nn.unfold, kn.unfold, x, kernel_size=(2, 3), stride=1, padding=1, grad=True)
    blocks = rand(2, 3 * 4, 12)
    agree(nn.fold, kn.fold, blocks, output_size=(4, 5), kernel_size=2, grad=True)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_depth_space_match_keras(fmt):
    deep = (2, 3, 4, 8) if fmt == "channels_last" else (2, 8, 3, 4)
    agree(nn.depth_to_space, kn.depth_to_space, rand(*deep), block_size=2, data_format=fmt)
    agree(nn.space_to_depth, kn.space_to_depth, rand(2, 4, 6, 4), block_size=2, data_format=fmt)
    x = torch.from_numpy(rand(1, 8, 4, 8))
    back = nn.space_to_depth(nn.depth_to_space(x, 2, data_format=fmt), 2, data_format=fmt)
    assert torch.equal(back, x)


# ------------------------------------------------------------------------------- encodings
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_matches_keras(axis):
    x = np.array([[0, 2, -1], [3, 1, 1]], dtype="int32")
    agree(nn.one_hot, kn.one_hot, x, num_classes=4, axis=axis)
    agree(nn.one_hot, kn.one_hot, x, num_classes=4, axis=axis, dtype="int32")


def test_multi_hot_matches_keras():
    x = np.array([[0, 2, 2], [3, 1, 0]], dtype="int32")
    agree(nn.multi_hot, kn.multi_hot, x, num_classes=5)
    agree(nn.multi_hot, kn.multi_hot, np.array([1, 3], dtype="int64"), num_classes=4)
    assert nn.multi_hot(torch.tensor([[1]]), num_tokens=3).tolist() == [[0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match="num_classes"):
        nn.multi_hot(torch.tensor([1]))


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("axes,keepdims", [([0], False), ([0, 2], True), ([-1], False)])
def test_moments_match_keras(axes, keepdims):
    agree(nn.moments, kn.moments, rand(4, 3, 5, dtype="float64"), axes=axes, keepdims=keepdims,
          grad=True)  # fmt: skip


def test_moments_float16():
    agree(nn.moments, kn.moments, rand(8, 3, dtype="float16"), axes=[0], atol=1e-3)


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_normalization_matches_keras(axis):
    x = rand(4, 3, 3)
    m, v = rand(3, seed=1), rand(3, seed=2, low=0.1, high=2.0)
    o, s = rand(3, seed=3), rand(3, seed=4)
    agree(nn.batch_normalization, kn.batch_normalization, x, m, v, axis, o, s, grad=True)
    agree(nn.batch_normalization, kn.batch_normalization, x, m, v, axis, epsilon=0.1)


@pytest.mark.parametrize("order,axis", [(2, -1), (1, 0), (3, 1)])
def test_normalize_matches_keras(order, axis):
    agree(nn.normalize, kn.normalize, rand(3, 4, dtype="float64"), axis=axis, order=order,
          grad=True)  # fmt: skip
    zero = nn.normalize(torch.zeros(2, 3))
    assert torch.equal(zero, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="order"):
        nn.normalize(torch.ones(3), order=0)


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize("axis", [-1, (1, 2)])
def test_rms_and_layer_normalization_match_keras(axis):
    x = rand(2, 3, 4)
    shape = (4,) if axis == -1 else (3, 4)
    g, b = rand(*shape, seed=1), rand(*shape, seed=2)
    agree(nn.rms_normalization, kn.rms_normalization, x, g, axis=axis, grad=True, atol=1e-4)
    agree(nn.layer_normalization, kn.layer_normalization, x, g, b, axis=axis, grad=True,
          atol=1e-4)  # fmt: skip
    agree(nn.layer_normalization, kn.layer_normalization, x, g, axis=axis, rms_scaling=True,
          atol=1e-4)  # fmt: skip


def test_normalizations_inner_axis_by_formula():
    # Keras 3.15 on torch hands axis=1 of a rank-3 input to F.rms_norm/F.layer_norm, which
    # normalise trailing dims only (it raises); the reference here is the formula.
    x = torch.from_numpy(rand(2, 3, 4, dtype="float64"))
    g, b = (torch.from_numpy(rand(3, dtype="float64", seed=s)) for s in (1, 2))
    rms = x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-7) * g.reshape(3, 1)
    assert torch.allclose(nn.rms_normalization(x, g.reshape(3, 1), axis=1), rms, atol=1e-12)
    mean, var = x.mean(dim=1, keepdim=True), x.var(dim=1, unbiased=False, keepdim=True)
    layer = (x - mean) / torch.sqrt(var + 1e-7) * g.reshape(3, 1) + b.reshape(3, 1)
    assert torch.allclose(nn.layer_normalization(x, g, b, axis=1), layer, atol=1e-12)


# ---------------------------------------------------------------------------------- losses
def test_crossentropies_match_keras():
    p = rand(4, 5, low=0.01, high=1.0)
    t = np.eye(5, dtype="float32")[[0, 3, 4, 1]]
    logits = rand(4, 5, seed=3)
    for from_logits, out in ((False, p), (True, logits)):
        agree(nn.categorical_crossentropy, kn.categorical_crossentropy, t, out,
              from_logits=from_logits, grad=True)  # fmt: skip
        agree(nn.binary_crossentropy, kn.binary_crossentropy, t, out / 1.01 if not from_logits
              else out, from_logits=from_logits, grad=True)  # fmt: skip
        agree(nn.sparse_categorical_crossentropy, kn.sparse_categorical_crossentropy,
              np.array([0, 3, 4, 1]), out, from_logits=from_logits, grad=True)  # fmt: skip


def test_crossentropy_axis_and_shape_errors():
    t, p = np.eye(3, dtype="float32")[[0, 2]].T.copy(), rand(3, 2, low=0.1, high=1.0)
    agree(nn.categorical_crossentropy, kn.categorical_crossentropy, t, p, axis=0)
    with pytest.raises(ValueError, match="shape"):
        nn.categorical_crossentropy(torch.ones(2, 3), torch.ones(2, 4))


def test_ctc_loss_matches_keras():
    target = np.array([[1, 2, 2, 0], [3, 1, 0, 0]], dtype="int32")
    logits = rand(2, 7, 5)
    tl, ol = np.array([3, 2], dtype="int32"), np.array([7, 5], dtype="int32")
    agree(nn.ctc_loss, kn.ctc_loss, target, logits, tl, ol, grad=True, atol=1e-4)
    agree(nn.ctc_loss, kn.ctc_loss, target + 1, logits, tl, ol, mask_index=0, atol=1e-4)


def test_ctc_decode_greedy_matches_keras():
    logits = rand(3, 8, 5)
    lengths = np.array([8, 5, 3], dtype="int32")
    agree(nn.ctc_decode, kn.ctc_decode, logits, lengths)
    agree(nn.ctc_decode, kn.ctc_decode, logits, lengths, merge_repeated=False, mask_index=2)
    with pytest.raises(ValueError, match="strategy"):
        nn.ctc_decode(torch.from_numpy(logits), torch.from_numpy(lengths), strategy="beam")


def test_psnr_matches_keras():
    a, b = rand(2, 4, 4, 3, low=0, high=1), rand(2, 4, 4, 3, seed=5, low=0, high=1)
    agree(nn.psnr, kn.psnr, a, b, 1.0, grad=True)
    with pytest.raises(ValueError, match="shape"):
        nn.psnr(torch.ones(2), torch.ones(3), 1.0)


# ------------------------------------------------------------------------------- attention
@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_dot_product_attention_matches_keras(kv_heads):
    q, k, v = rand(2, 5, 4, 8), rand(2, 6, kv_heads, 8, seed=1), rand(2, 6, kv_heads, 8, seed=2)
    agree(nn.dot_product_attention, kn.dot_product_attention, q, k, v, grad=True, atol=1e-4)


def test_dot_product_attention_mask_bias_causal_scale():
    q, k, v = rand(2, 5, 2, 4), rand(2, 5, 2, 4, seed=1), rand(2, 5, 2, 4, seed=2)
    mask = rand(2, 2, 5, 5, seed=3) > -2.0
    bias = rand(1, 2, 5, 5, seed=4)
    f, r = nn.dot_product_attention, kn.dot_product_attention
    agree(f, r, q, k, v, mask=mask, atol=1e-4)
    agree(f, r, q, k, v, bias=bias, scale=0.3, grad=True, atol=1e-4)
    agree(f, r, q, k, v, is_causal=True, atol=1e-4)
    agree(f, r, q, k, v, mask=mask, is_causal=True, atol=1e-4)


def test_dot_product_attention_soft_cap_by_hand():
    # Keras 3.15 supports the cap on JAX/TPU only; the reference here is the formula.
    q, k, v = (torch.from_numpy(rand(1, 3, 1, 2, seed=s)).double() for s in (0, 1, 2))
    logits = torch.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(2)
    weights = torch.softmax(2.0 * torch.tanh(logits / 2.0), dim=-1)
    expected = torch.einsum("bhqk,bkhd->bqhd", weights, v)
    out = nn.dot_product_attention(q, k, v, attn_logits_soft_cap=2.0)
    assert torch.allclose(out, expected, atol=1e-12)
    with pytest.raises(ValueError, match="rank 4"):
        nn.dot_product_attention(torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(2, 3, 4))


def test_polar_matches_keras():
    agree(nn.polar, kn.polar, rand(3, 2, low=0, high=2), rand(3, 2, seed=1))


# ---------------------------------------------------------------------------------- coverage
NOT_PROVIDED: dict[str, str] = {}


def test_every_keras_nn_op_is_provided_or_listed():
    keras_names = [
        n for n in dir(kn) if not n.startswith("_") and inspect.isfunction(getattr(kn, n))
    ]
    assert missing(nn, keras_names) == sorted(NOT_PROVIDED)


def test_signatures_match_keras():
    for name in nn.__all__:
        ours = list(inspect.signature(getattr(nn, name)).parameters)
        theirs = list(inspect.signature(getattr(kn, name)).parameters)
        assert ours == theirs, name


def test_python_and_numpy_inputs_follow_keras_conversion():
    # Python floats become floatx, NumPy arrays keep their dtype (Keras's convert_to_tensor).
    assert nn.softmax([1.0, 2.0]).dtype == torch.float32
    assert nn.relu(np.array([-1.0, 2.0])).dtype == torch.float64
    assert nn.one_hot([0, 2], 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    agree(nn.softplus, kn.softplus, [[1.0, 2.0, 3.0]])  # Keras softmax needs .shape
