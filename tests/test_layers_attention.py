"""MultiHeadAttention, Attention and AdditiveAttention vs Keras 3 (torch backend)."""

import numpy as np
import pytest
import torch

import fitorch
import fitorch.layers as fl
from tests._layer_oracle import assert_close, keras

RNG = np.random.default_rng(0)
Q = RNG.normal(size=(2, 4, 5)).astype("float32")
V = RNG.normal(size=(2, 6, 7)).astype("float32")
K = RNG.normal(size=(2, 6, 3)).astype("float32")
V_MASK = np.array([[1, 1, 1, 0, 0, 1], [1, 0, 1, 1, 1, 1]], bool)
Q_MASK = np.array([[1, 1, 0, 1], [1, 1, 1, 1]], bool)


def _pair(kwargs, *args, **call):
    theirs = keras.layers.MultiHeadAttention(**kwargs)
    ours = fl.MultiHeadAttention(**kwargs)
    t = [torch.as_tensor(a) for a in args]
    expected = theirs(*args, **call)
    ours(*t, **{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()})
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    return ours, theirs, t, expected


MHA_CASES = [
    ({"num_heads": 2, "key_dim": 3}, (Q, Q), {}),
    ({"num_heads": 2, "key_dim": 3}, (Q, V), {}),
    ({"num_heads": 3, "key_dim": 2, "value_dim": 4, "output_shape": 8}, (Q, V, K), {}),
    ({"num_heads": 2, "key_dim": 3, "use_bias": False}, (Q, V), {"return_attention_scores": True}),
    ({"num_heads": 2, "key_dim": 3}, (Q, Q), {"use_causal_mask": True}),
    (
        {"num_heads": 2, "key_dim": 3},
        (Q, V),
        {"attention_mask": np.broadcast_to(V_MASK[:, None], (2, 4, 6))},
    ),
    ({"num_heads": 2, "key_dim": 3, "dropout": 0.5}, (Q, V), {"return_attention_scores": True}),
]


@pytest.mark.parametrize("kwargs,args,call", MHA_CASES)
def test_multi_head_attention_matches_keras(kwargs, args, call):
    ours, theirs, t, expected = _pair(kwargs, *args, **call)
    call_t = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()}
    assert_close(ours(*t, training=False, **call_t), expected)
    clone = fl.MultiHeadAttention.from_config(ours.get_config())
    clone(*t)
    clone.set_weights(ours.get_weights())
    assert_close(clone(*t, training=False, **call_t), expected)


def test_multi_head_attention_masks_carried_by_tensors_match_keras():
    # Keras reads the query mask from the tensor (its query_mask= argument is ignored), so
    # both get masks the way Embedding(mask_zero=True) attaches them.
    ours, theirs, t, _ = _pair({"num_heads": 2, "key_dim": 3}, Q, V)
    qk, vk = torch.as_tensor(Q), torch.as_tensor(V)
    qk._keras_mask, vk._keras_mask = torch.as_tensor(Q_MASK), torch.as_tensor(V_MASK)
    expected = theirs(qk, vk)
    qo, vo = torch.as_tensor(Q), torch.as_tensor(V)
    qo._keras_mask, vo._keras_mask = torch.as_tensor(Q_MASK), torch.as_tensor(V_MASK)
    assert_close(ours(qo, vo, training=False), expected)


def test_multi_head_attention_output_carries_query_mask_and_ignores_query_mask_arg():
    ours, theirs, t, _ = _pair({"num_heads": 2, "key_dim": 3}, Q, V)
    q_mask, v_mask = torch.as_tensor(Q_MASK), torch.as_tensor(V_MASK)
    expected = theirs(Q, V, query_mask=Q_MASK, value_mask=V_MASK)
    assert_close(ours(*t, query_mask=q_mask, value_mask=v_mask), expected)
    qo = torch.as_tensor(Q)
    qo._keras_mask = q_mask
    np.testing.assert_array_equal(ours(qo, t[1])._keras_mask.numpy(), Q_MASK)


def test_multi_head_attention_in_functional_model_and_fit():
    x = fitorch.Input(shape=(4, 5))
    y = fl.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    model = fitorch.Model(x, fl.Dense(1)(fl.GlobalAveragePooling1D()(y)))
    assert model.count_params() == (5 * 6 + 6) * 3 + (6 * 5 + 5) + 6
    model.compile("adam", "mse")
    hist = model.fit(Q.repeat(8, 0), np.ones((16, 1), "float32"), epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


ATTENTION_CASES = [
    ("Attention", {}, {}),
    ("Attention", {"use_scale": True}, {"return_attention_scores": True}),
    ("Attention", {"score_mode": "concat", "use_scale": True}, {}),
    ("Attention", {}, {"use_causal_mask": True}),
    ("Attention", {}, {"mask": [Q_MASK[:, :4], V_MASK[:, :4]]}),
    ("AdditiveAttention", {}, {}),
    ("AdditiveAttention", {"use_scale": False}, {"return_attention_scores": True}),
    ("AdditiveAttention", {}, {"mask": [Q_MASK[:, :4], V_MASK[:, :4]]}),
]


@pytest.mark.parametrize("cls_name,kwargs,call", ATTENTION_CASES)
@pytest.mark.parametrize("with_key", [False, True])
def test_attention_matches_keras(cls_name, kwargs, call, with_key):
    q = Q
    v = RNG.normal(size=(2, 4, 5)).astype("float32")
    inputs = [q, v, RNG.normal(size=(2, 4, 5)).astype("float32")] if with_key else [q, v]
    theirs, ours = getattr(keras.layers, cls_name)(**kwargs), getattr(fl, cls_name)(**kwargs)
    expected = theirs(inputs, **call)
    t = [torch.as_tensor(a) for a in inputs]
    call_t = dict(call)
    if "mask" in call:
        call_t["mask"] = [torch.as_tensor(m) for m in call["mask"]]
    ours(t, **call_t)
    ours.set_weights([w * 0.7 + 0.1 for w in theirs.get_weights()])
    theirs.set_weights(ours.get_weights())
    expected = theirs(inputs, **call)
    assert_close(ours(t, training=False, **call_t), expected)
    assert ours.count_params() == theirs.count_params()
    clone = type(ours).from_config(ours.get_config())
    clone(t)
    clone.set_weights(ours.get_weights())
    assert_close(clone(t, training=False, **call_t), expected)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: fl.MultiHeadAttention(0, 3), "num_heads must be a positive integer"),
        (lambda: fl.Attention(score_mode="cosine"), "score_mode must be one of"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_shapes():
    with pytest.raises(ValueError, match="query and key must share"):
        fl.Attention()([fitorch.Input(shape=(4, 5)), fitorch.Input(shape=(4, 6))])
    with pytest.raises(ValueError, match="key and value must have the same length"):
        fl.MultiHeadAttention(2, 3)(
            torch.zeros(1, 4, 5), torch.zeros(1, 6, 5), torch.zeros(1, 5, 5)
        )


def test_attention_gradcheck_float64():
    q = torch.randn(1, 3, 2, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 4, 2, dtype=torch.float64, requires_grad=True)
    for layer in (
        fl.AdditiveAttention(dtype="float64"),
        fl.Attention(use_scale=True, score_mode="concat", dtype="float64"),
    ):
        layer([q, v])
        assert torch.autograd.gradcheck(lambda a, b, f=layer: f([a, b]), (q, v))
    mha = fl.MultiHeadAttention(2, 2, dtype="float64")
    mha(q, v)
    assert torch.autograd.gradcheck(lambda a, b: mha(a, b, use_causal_mask=False), (q, v))


@pytest.mark.parametrize(
    "kwargs,shapes,call",
    [
        ({"num_heads": 2, "key_dim": 3}, [(2, 3, 4, 5), (2, 3, 4, 5)], {}),
        (
            {"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)},
            [(2, 3, 4, 5), (2, 2, 5, 6)],
            {},
        ),
        (
            {"num_heads": 2, "key_dim": 3, "attention_axes": (2,)},
            [(2, 3, 4, 5), (2, 3, 6, 5)],
            {"return_attention_scores": True},
        ),
        (
            {"num_heads": 2, "key_dim": 2, "attention_axes": 1, "value_dim": 3},
            [(2, 3, 4, 2, 5), (2, 5, 4, 2, 5)],
            {},
        ),
    ],
)
def test_multi_head_attention_attention_axes_match_keras(kwargs, shapes, call):
    rng = np.random.default_rng(5)
    q, v = (rng.normal(size=s).astype("float32") for s in shapes)
    ours, theirs, t, expected = _pair(kwargs, q, v, **call)
    assert_close(ours(*t, training=False, **call), expected)


def test_multi_head_attention_bad_axes_raise():
    with pytest.raises(ValueError, match="attention_axes"):
        fl.MultiHeadAttention(2, 3, attention_axes=(0,))(torch.zeros(1, 3, 4), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="masks are supported for rank-3"):
        fl.MultiHeadAttention(2, 3)(
            torch.zeros(1, 3, 4, 5), torch.zeros(1, 3, 4, 5), use_causal_mask=True
        )
