"""Conv1D/2D/3D and the pooling layers vs Keras 3 (torch backend), plus errors and layouts."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import check_layer, keras

CONV_CASES = [
    ("Conv1D", {"filters": 4, "kernel_size": 3}, [(2, 9, 3)]),
    ("Conv1D", {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2}, [(2, 10, 3)]),
    (
        "Conv1D",
        {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        [(2, 9, 3)],
    ),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "data_format": "channels_first"}, [(2, 3, 7)]),
    ("Conv1D", {"filters": 6, "kernel_size": 3, "groups": 3, "activation": "relu"}, [(2, 8, 6)]),
    ("Conv2D", {"filters": 5, "kernel_size": 3}, [(2, 7, 6, 3)]),
    ("Conv2D", {"filters": 5, "kernel_size": (3, 2), "strides": (2, 1)}, [(2, 9, 6, 3)]),
    ("Conv2D", {"filters": 5, "kernel_size": 3, "padding": "same"}, [(2, 7, 6, 3)]),
    ("Conv2D", {"filters": 5, "kernel_size": 4, "padding": "same"}, [(2, 7, 6, 3)]),
    ("Conv2D", {"filters": 5, "kernel_size": 3, "padding": "same", "strides": 2}, [(2, 6, 7, 3)]),
    (
        "Conv2D",
        {"filters": 5, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
        [(2, 9, 8, 2)],
    ),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, [(2, 3, 6, 5)]),
    (
        "Conv2D",
        {"filters": 4, "kernel_size": 1, "use_bias": False, "activation": "tanh"},
        [(2, 4, 4, 3)],
    ),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2}, [(2, 6, 6, 4)]),
    ("Conv3D", {"filters": 3, "kernel_size": 2}, [(2, 4, 5, 3, 2)]),
    (
        "Conv3D",
        {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 2},
        [(2, 4, 5, 6, 2)],
    ),
]

POOL_CASES = [
    ("MaxPooling1D", {}, [(2, 9, 3)]),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, [(2, 8, 3)]),
    ("MaxPooling2D", {}, [(2, 7, 6, 3)]),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, [(2, 6, 7, 3)]),
    ("MaxPooling2D", {"pool_size": (2, 3), "data_format": "channels_first"}, [(2, 3, 6, 7)]),
    ("MaxPooling3D", {"pool_size": 2, "padding": "same"}, [(2, 5, 4, 3, 2)]),
    ("AveragePooling1D", {"pool_size": 3}, [(2, 9, 3)]),
    ("AveragePooling2D", {"pool_size": 2}, [(2, 7, 6, 3)]),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, [(2, 5, 6, 3)]),
    ("AveragePooling3D", {"pool_size": (2, 2, 1)}, [(2, 4, 5, 3, 2)]),
    ("GlobalMaxPooling1D", {}, [(2, 9, 3)]),
    ("GlobalMaxPooling2D", {"keepdims": True}, [(2, 5, 4, 3)]),
    ("GlobalMaxPooling3D", {}, [(2, 3, 4, 2, 3)]),
    ("GlobalAveragePooling1D", {"data_format": "channels_first"}, [(2, 3, 9)]),
    ("GlobalAveragePooling2D", {}, [(2, 5, 4, 3)]),
    ("GlobalAveragePooling3D", {"keepdims": True}, [(2, 3, 4, 2, 3)]),
]


@pytest.mark.parametrize("cls_name,kwargs,shapes", CONV_CASES)
def test_conv_matches_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls_name,kwargs,shapes", POOL_CASES)
def test_pooling_matches_keras(cls_name, kwargs, shapes):
    check_layer(cls_name, kwargs, shapes)


def _avg_pool_real_cells(x, k, s):
    """NumPy reference: 1D average over real cells of each `same` window (extra pad after)."""
    n = x.shape[1]
    out_len = -(-n // s)
    total = max((out_len - 1) * s + k - n, 0)
    before = total // 2
    out = np.zeros((x.shape[0], out_len, x.shape[2]), "float64")
    for i in range(out_len):
        lo, hi = i * s - before, i * s - before + k
        cells = x[:, max(lo, 0) : min(hi, n)]
        out[:, i] = cells.mean(1)
    return out


def test_average_pooling_same_uneven_counts_real_cells_only():
    x = np.random.default_rng(1).normal(size=(2, 8, 3)).astype("float32")
    got = fl.AveragePooling1D(pool_size=3, strides=2, padding="same")(torch.as_tensor(x))
    np.testing.assert_allclose(
        got.numpy(), _avg_pool_real_cells(x.astype("float64"), 3, 2), rtol=1e-6
    )
    x2 = np.arange(1, 6, dtype="float32").reshape(1, 5, 1)  # k=2, s=1: pad one cell after
    got2 = fl.AveragePooling1D(pool_size=2, strides=1, padding="same")(torch.as_tensor(x2))
    np.testing.assert_allclose(got2.numpy().ravel(), [1.5, 2.5, 3.5, 4.5, 5.0])


def test_global_pooling_with_mask():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [-4.0], [6.0]]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    got = fl.GlobalAveragePooling1D()(x, mask=mask).ravel().tolist()
    assert got == pytest.approx([2.0, 4.0 / 3.0], rel=1e-6)
    assert fl.GlobalMaxPooling1D()(x, mask=mask).ravel().tolist() == [3.0, 6.0]


def test_kernel_layout_is_keras_and_storage_is_torch():
    layer = fl.Conv2D(5, (3, 2))
    layer(torch.zeros(1, 6, 6, 4))
    assert layer.get_weights()[0].shape == (3, 2, 4, 5)
    assert tuple(layer.kernel.shape) == (5, 4, 3, 2)
    kernel = np.random.default_rng(0).normal(size=(3, 2, 4, 5)).astype("float32")
    layer.set_weights([kernel, np.zeros(5, "float32")])
    np.testing.assert_array_equal(layer.kernel.detach().numpy(), kernel.transpose(3, 2, 0, 1))


def test_channels_last_reaches_torch_as_channels_last_memory_view():
    x = torch.randn(2, 8, 8, 3)
    seen = []

    layer = fl.Conv2D(4, 3, padding="same")
    layer(x)
    original = torch.nn.functional.conv2d

    def spy(inp, *args, **kwargs):
        seen.append(inp)
        return original(inp, *args, **kwargs)

    from fitorch.layers import conv as conv_mod

    conv_mod._CONV_FN[2] = spy
    try:
        out = layer(x)
    finally:
        conv_mod._CONV_FN[2] = original
    assert seen[0].data_ptr() == x.data_ptr()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert out.is_contiguous()


def test_cnn_symbolic_shapes_and_params_match_keras():
    def build(lib):
        return lib.Sequential([
            lib.Input(shape=(28, 28, 1)),
            lib.layers.Conv2D(32, 3, activation="relu"),
            lib.layers.MaxPooling2D(),
            lib.layers.Conv2D(64, 3, activation="relu"),
            lib.layers.MaxPooling2D(),
            lib.layers.Flatten(),
            lib.layers.Dense(10),
        ])  # fmt: skip

    ours, theirs = build(fitorch), build(keras)
    assert ours.count_params() == theirs.count_params() == 34826
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5
    )
    names = ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense"]
    assert [layer.name for layer in ours.layers] == names


@pytest.mark.parametrize(
    "make,shape,match",
    [
        (lambda: fl.Conv2D(4, 3), (5, 5), "expects inputs of rank 4"),
        (lambda: fl.Conv2D(4, 7), (5, 5, 3), r"kernel_size=\(7, 7\).*larger.*\(5, 5\)"),
        (lambda: fl.Conv1D(4, 3, groups=2), (9, 3), "divisible by groups=2"),
        (lambda: fl.MaxPooling2D(4), (3, 3, 2), r"pool_size=\(4, 4\) is larger"),
        (lambda: fl.GlobalAveragePooling2D(), (4, 3), "rank 4"),
    ],
)
def test_bad_input_shapes_raise_at_build(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(fitorch.Input(shape=shape))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: fl.Conv2D(4, 3, padding="causal"), "padding must be one of"),
        (lambda: fl.Conv2D(4, 3, padding="full"), "padding must be one of"),
        (lambda: fl.Conv1D(4, 3, data_format="NHWC"), "data_format must be one of"),
        (lambda: fl.Conv2D(4, (3, 3, 3)), "kernel_size must be"),
        (lambda: fl.Conv2D(0, 3), "filters must be a positive integer"),
        (lambda: fl.Conv2D(4, 3, strides=2, dilation_rate=2), "cannot be combined"),
        (lambda: fl.MaxPooling1D(padding="causal"), "padding must be one of"),
    ],
)
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_set_weights_wrong_shape_names_layer():
    layer = fl.Conv2D(4, 3, name="c")
    layer(torch.zeros(1, 5, 5, 2))
    with pytest.raises(ValueError, match="'c'.*weight 0"):
        layer.set_weights([np.zeros((3, 3, 3, 4)), np.zeros(4)])
    with pytest.raises(ValueError, match="expected 2 arrays; got 1"):
        layer.set_weights([np.zeros((3, 3, 2, 4))])


def test_conv_gradcheck_float64_same_padding_uneven():
    layer = fl.Conv2D(2, 2, strides=2, padding="same", dtype="float64")
    x = torch.randn(1, 5, 4, 2, dtype=torch.float64, requires_grad=True)
    layer(x)
    assert torch.autograd.gradcheck(lambda v: layer(v), (x,))


def test_default_names_follow_keras():
    assert fl.Conv2D(2, 3).name == "conv2d"
    assert fl.GlobalAveragePooling1D().name == "global_average_pooling1d"
    assert fl.MaxPool2D().name == "max_pooling2d"


@pytest.mark.parametrize("pool", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
def test_global_pooling_uses_embedding_mask_like_keras(pool):
    ids = np.array([[3, 5, 0, 0], [1, 2, 3, 4], [7, 0, 0, 0]])

    def build(lib):
        return lib.Sequential([lib.Input(shape=(4,), dtype="int64"),
                               lib.layers.Embedding(10, 3, mask_zero=True),
                               getattr(lib.layers, pool)()])  # fmt: skip

    ours, theirs = build(fitorch), build(keras)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(
        ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-6
    )


def test_average_pooling_uneven_same_gradcheck_float64():
    layer = fl.AveragePooling2D(pool_size=3, strides=2, padding="same")
    x = torch.randn(1, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: layer(v), (x,))


def test_compute_output_shape():
    assert fl.Conv2D(4, 3, strides=2).compute_output_shape((None, 28, 28, 1)) == (None, 13, 13, 4)
    assert fl.Conv1D(4, 3).compute_output_shape((None, None, 8)) == (None, None, 4)
    assert fl.MaxPooling2D().compute_output_shape((None, 7, 6, 3)) == (None, 3, 3, 3)


def test_text_cnn_on_variable_length_input_matches_keras():
    # Keras' text-classification example: windows longer than the 3-step placeholders.
    def build(lib):
        x = lib.Input(shape=(None,), dtype="int64")
        h = lib.layers.Embedding(50, 8)(x)
        h = lib.layers.Conv1D(6, 7, strides=3, activation="relu")(h)
        h = lib.layers.Conv1D(6, 7, strides=3, activation="relu")(h)
        return lib.Model(x, lib.layers.Dense(1)(lib.layers.GlobalMaxPooling1D()(h)))

    ours, theirs = build(fitorch), build(keras)
    conv = [layer for layer in ours.layers if isinstance(layer, fl.Conv1D)][0]
    assert conv._inbound_nodes[-1].outputs[0].shape == (None, None, 6)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(0).integers(0, 50, size=(4, 40))
    np.testing.assert_allclose(
        ours.predict(ids, verbose=0), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="larger than the input"):
        fl.Conv1D(2, 7)(fitorch.Input(shape=(5, 3)))


def test_kernel_constraint_and_regularizer_act_in_keras_layout():
    # MaxNorm(axis=[0, 1, 2]) caps each filter's norm over (kh, kw, in) in Keras' layout.
    layer = fl.Conv2D(3, 2, kernel_constraint=fitorch.constraints.MaxNorm(1.0, axis=[0, 1, 2]))
    layer(torch.zeros(1, 4, 4, 2))
    kernel = np.random.default_rng(0).normal(size=(2, 2, 2, 3)).astype("float32") * 3
    layer.set_weights([kernel, np.zeros(3, "float32")])
    (param, constraint) = layer.constrained_weights()[0]
    with torch.no_grad():
        param.copy_(constraint(param))
    theirs = keras.constraints.MaxNorm(1.0, axis=[0, 1, 2])(kernel)
    np.testing.assert_allclose(
        layer.get_weights()[0], keras.ops.convert_to_numpy(theirs), rtol=1e-5
    )
    # OrthogonalRegularizer(mode="columns") on an LSTM kernel stored transposed.
    reg = fitorch.regularizers.OrthogonalRegularizer(0.1, mode="columns")
    lstm = fl.LSTM(2, kernel_regularizer=reg)
    lstm(torch.zeros(1, 3, 5))
    k = lstm.get_weights()[0]
    penalty = keras.regularizers.OrthogonalRegularizer(0.1, mode="columns")(torch.as_tensor(k))
    (ours,) = lstm.regularization_losses()
    np.testing.assert_allclose(ours.item(), float(keras.ops.convert_to_numpy(penalty)), rtol=1e-5)


def test_default_data_format_follows_backend_setting():
    from fitorch import backend as K

    K.set_image_data_format("channels_first")
    try:
        layer = fl.Conv2D(4, 3)
        pool = fl.MaxPooling2D()
    finally:
        K.set_image_data_format("channels_last")
    assert layer.data_format == pool.data_format == "channels_first"
    assert layer(torch.zeros(1, 2, 6, 6)).shape == (1, 4, 4, 4)
    assert fl.Conv2D(4, 3).data_format == "channels_last"
