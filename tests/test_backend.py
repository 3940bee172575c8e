"""fitorch.backend (K): Keras 2 backend functions against NumPy float64 formulas."""

import numpy as np
import pytest
import torch

from fitorch import backend as K

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4, 5))


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


# ------------------------------------------------------------------------------- config
def test_epsilon_and_floatx_round_trip():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32"
    K.set_epsilon(1e-5)
    K.set_floatx("float64")
    try:
        assert K.epsilon() == 1e-5 and K.floatx() == "float64"
        assert K.mean(np.ones(2, dtype=np.float32)).dtype == torch.float64
    finally:
        K.set_epsilon(1e-7)
        K.set_floatx("float32")
    with pytest.raises(ValueError, match="floatx.*'float8'"):
        K.set_floatx("float8")


# --------------------------------------------------------------------------- reductions
REDUCTIONS = [
    (K.mean, np.mean),
    (K.sum, np.sum),
    (K.max, np.max),
    (K.min, np.min),
    (K.prod, np.prod),
    (K.std, np.std),  # population std, as Keras 2
    (K.var, np.var),
]


@pytest.mark.parametrize("ours, theirs", REDUCTIONS, ids=lambda f: getattr(f, "__name__", ""))
@pytest.mark.parametrize("axis", [None, -1, 1, (0, 2), [1, 2]], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(ours, theirs, axis, keepdims):
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    want = theirs(X, axis=np_axis, keepdims=keepdims)
    got = ours(torch.tensor(X), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)
    assert tuple(got.shape) == np.shape(want)


def test_inputs_may_be_numpy_python_or_bool():
    assert K.mean(X).dtype == torch.float32  # NumPy floats become floatx
    assert float(K.mean([1.0, 2.0, 4.0])) == pytest.approx(7 / 3)
    assert float(K.mean(3)) == 3.0
    assert float(K.mean(torch.tensor([True, False, True, True]))) == 0.75
    assert float(K.sum(np.array([1, 2, 3]))) == 6
    assert bool(K.any(np.array([0, 0, 1])))
    assert not bool(K.all(torch.tensor([[1, 0]]), axis=1)[0])
    assert K.any(torch.ones(2, 3), axis=-1, keepdims=True).shape == (2, 1)


def test_cumulative_and_arg_reductions():
    t = torch.tensor(X)
    np.testing.assert_allclose(_np(K.cumsum(t, axis=1)), np.cumsum(X, axis=1))
    np.testing.assert_allclose(_np(K.cumprod(t, axis=2)), np.cumprod(X, axis=2))
    np.testing.assert_array_equal(_np(K.argmax(t)), X.argmax(-1))
    np.testing.assert_array_equal(_np(K.argmin(t, axis=0)), X.argmin(0))
    np.testing.assert_allclose(_np(K.logsumexp(t, axis=1)), np.log(np.exp(X).sum(1)))


# --------------------------------------------------------------------------- elementwise
ELEMENTWISE = [
    (K.square, np.square),
    (K.abs, np.abs),
    (K.exp, np.exp),
    (K.sign, np.sign),
    (K.tanh, np.tanh),
    (K.cos, np.cos),
    (K.sin, np.sin),
    (K.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (K.softplus, lambda x: np.log1p(np.exp(x))),
    (K.softsign, lambda x: x / (1 + np.abs(x))),
    (K.relu, lambda x: np.maximum(x, 0)),
    (K.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    (K.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    (K.sqrt, lambda x: np.sqrt(np.maximum(x, 0))),  # negatives clipped to 0 (Keras 2)
    (K.round, np.round),  # half to even, as NumPy and TensorFlow
]


@pytest.mark.parametrize("ours, theirs", ELEMENTWISE, ids=lambda f: getattr(f, "__name__", ""))
def test_elementwise_match_numpy(ours, theirs):
    x = np.concatenate([X.ravel(), [0.5, 1.5, 2.5, -0.5, 0.0]])
    np.testing.assert_allclose(_np(ours(torch.tensor(x))), theirs(x), rtol=1e-12, atol=1e-15)


def test_log_pow_clip_maximum_minimum():
    x = torch.tensor([0.5, 2.0, 4.0])
    np.testing.assert_allclose(_np(K.log(x)), np.log([0.5, 2.0, 4.0]), rtol=1e-6)
    np.testing.assert_allclose(_np(K.pow(x, 2)), [0.25, 4.0, 16.0])
    np.testing.assert_allclose(_np(K.clip(x, 1.0, 3.0)), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(_np(K.clip(x, K.epsilon(), None)), [0.5, 2.0, 4.0])
    np.testing.assert_allclose(_np(K.clip(x, 3.0, 1.0)), [3.0, 3.0, 3.0])  # max raised to min
    assert K.maximum(x, 1.0).dtype == torch.float32
    np.testing.assert_allclose(_np(K.maximum(x, 1.0)), [1.0, 2.0, 4.0])
    np.testing.assert_allclose(_np(K.minimum(1.0, x)), [0.5, 1.0, 1.0])


def test_relu_keras2_arguments():
    x = torch.tensor([-2.0, 0.5, 3.0])
    np.testing.assert_allclose(_np(K.relu(x, alpha=0.1, max_value=2.0)), [-0.2, 0.5, 2.0])
    np.testing.assert_allclose(_np(K.relu(x, threshold=1.0)), [0.0, 0.0, 3.0])


def test_softmax_and_l2_normalize():
    t = torch.tensor(X)
    e = np.exp(X - X.max(1, keepdims=True))
    np.testing.assert_allclose(_np(K.softmax(t, axis=1)), e / e.sum(1, keepdims=True))
    np.testing.assert_allclose(
        _np(K.l2_normalize(t, axis=-1)), X / np.linalg.norm(X, axis=-1, keepdims=True)
    )
    np.testing.assert_allclose(_np(K.l2_normalize(t)), X / np.linalg.norm(X))
    assert torch.all(K.l2_normalize(torch.zeros(2, 3), axis=-1) == 0)


def test_comparisons_cast_and_switch():
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])
    assert _np(K.equal(a, b)).tolist() == [False, True, False]
    assert _np(K.not_equal(a, 2.0)).tolist() == [True, False, True]
    assert _np(K.greater(a, b)).tolist() == [False, False, True]
    assert _np(K.greater_equal(a, b)).tolist() == [False, True, True]
    assert _np(K.less(a, b)).tolist() == [True, False, False]
    assert _np(K.less_equal(a, b)).tolist() == [True, True, False]
    assert K.cast(K.equal(a, b), "float32").dtype == torch.float32
    assert K.cast(a, torch.int64).dtype == torch.int64
    assert K.dtype(a) == "float32"
    np.testing.assert_allclose(_np(K.switch(K.greater(a, b), a, b)), [3.0, 2.0, 3.0])
    # a lower-rank condition selects whole rows
    rows = K.switch(torch.tensor([True, False]), torch.ones(2, 3), lambda: torch.zeros(2, 3))
    np.testing.assert_allclose(_np(rows), [[1, 1, 1], [0, 0, 0]])


# -------------------------------------------------------------------------------- shapes
def test_shape_functions():
    t = torch.tensor(X)
    assert K.shape(t) == (3, 4, 5) and K.int_shape(t) == (3, 4, 5) and K.ndim(t) == 3
    assert K.shape(t)[0].device == t.device
    assert K.count_params(t) == 60
    assert K.flatten(t).shape == (60,)
    assert K.batch_flatten(t).shape == (3, 20)
    assert K.reshape(t, (5, -1)).shape == (5, 12)
    assert K.concatenate([t, t], axis=1).shape == (3, 8, 5)
    assert K.concatenate([t, t]).shape == (3, 4, 10)
    assert K.stack([t, t], axis=1).shape == (3, 2, 4, 5)
    assert K.expand_dims(t).shape == (3, 4, 5, 1)
    assert K.squeeze(K.expand_dims(t, 0), 0).shape == (3, 4, 5)
    assert K.permute_dimensions(t, (2, 0, 1)).shape == (5, 3, 4)
    assert K.transpose(t).shape == (5, 4, 3)
    assert K.tile(torch.ones(2, 3), (2, 1)).shape == (4, 3)
    assert K.zeros_like(t).dtype == torch.float64 and K.ones_like(t, dtype="int32").sum() == 60
    assert K.zeros((2, 3)).dtype == torch.float32 and K.ones(4).shape == (4,)
    assert torch.equal(K.eye(2), torch.eye(2))
    np.testing.assert_allclose(_np(K.one_hot(torch.tensor([0, 2]), 3)), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(_np(K.gather(t, torch.tensor([2, 0]))), X[[2, 0]])


def test_dot_and_batch_dot_match_numpy():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4))
    np.testing.assert_allclose(_np(K.dot(torch.tensor(a), torch.tensor(b))), a @ b)
    c = RNG.normal(size=(5, 3, 4))
    np.testing.assert_allclose(
        _np(K.dot(torch.tensor(a), torch.tensor(c))), np.einsum("ij,kjl->ikl", a, c)
    )
    x, y = RNG.normal(size=(6, 3)), RNG.normal(size=(6, 3))
    out = K.batch_dot(torch.tensor(x), torch.tensor(y), axes=1)
    np.testing.assert_allclose(_np(out), (x * y).sum(1, keepdims=True))  # (B, 1), as Keras 2
    p, q = RNG.normal(size=(6, 2, 3)), RNG.normal(size=(6, 3, 4))
    np.testing.assert_allclose(
        _np(K.batch_dot(torch.tensor(p), torch.tensor(q))), np.einsum("bij,bjk->bik", p, q)
    )
    np.testing.assert_allclose(
        _np(K.batch_dot(torch.tensor(p), torch.tensor(p), axes=(1, 1))),
        np.einsum("bji,bjk->bik", p, p),
    )


# -------------------------------------------------------------------------------- random
def test_random_functions():
    z = torch.zeros(7, 2)
    sample = K.random_normal(shape=(K.shape(z)[0], 3), mean=1.0, stddev=0.5)
    assert sample.shape == (7, 3) and sample.device == z.device and sample.dtype == torch.float32
    assert torch.equal(K.random_normal((4,), seed=3), K.random_normal((4,), seed=3))
    u = K.random_uniform((1000,), minval=-2.0, maxval=-1.0, seed=1)
    assert float(u.min()) >= -2.0 and float(u.max()) < -1.0
    big = K.random_normal((20000,), mean=3.0, stddev=2.0, seed=0)
    assert float(big.mean()) == pytest.approx(3.0, abs=0.05)
    assert float(big.std()) == pytest.approx(2.0, abs=0.05)


# ------------------------------------------------------------------------ crossentropies
def test_crossentropies_keras2_semantics():
    eps = 1e-7
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.2, 0.6, 0.4], [0.0, 1.0, 0.0]])  # rows not normalized; exact 0 and 1
    norm = np.clip(p / p.sum(-1, keepdims=True), eps, 1 - eps)
    want = -(t * np.log(norm)).sum(-1)
    got = K.categorical_crossentropy(torch.tensor(t), torch.tensor(p))
    np.testing.assert_allclose(_np(got), want, rtol=1e-9)
    logits = np.array([[1.0, -2.0, 0.5], [100.0, -100.0, 0.0]])
    shifted = logits - logits.max(-1, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    got = K.categorical_crossentropy(torch.tensor(t), torch.tensor(logits), from_logits=True)
    np.testing.assert_allclose(_np(got), -(t * log_sm).sum(-1), rtol=1e-9)
    labels = np.array([1, 0])
    got = K.sparse_categorical_crossentropy(torch.tensor(labels), torch.tensor(logits), True)
    np.testing.assert_allclose(_np(got), -log_sm[[0, 1], labels], rtol=1e-9)
    pc = np.clip(p, eps, 1 - eps)
    got = K.binary_crossentropy(torch.tensor(t), torch.tensor(p))
    np.testing.assert_allclose(_np(got), -(t * np.log(pc) + (1 - t) * np.log(1 - pc)), rtol=1e-9)
    got = K.binary_crossentropy(torch.tensor(t), torch.tensor(logits), from_logits=True)
    want = np.maximum(logits, 0) - logits * t + np.log1p(np.exp(-np.abs(logits)))
    np.testing.assert_allclose(_np(got), want, rtol=1e-9, atol=1e-40)
    with pytest.raises(ValueError, match=r"target.shape=\(2, 3\), output.shape=\(2, 2\)"):
        K.binary_crossentropy(torch.zeros(2, 3), torch.zeros(2, 2))


# ------------------------------------------------------------------------------ variables
def test_variables_get_and_set_value():
    v = K.variable([[1.0, 2.0]])
    assert v.dtype == torch.float32
    np.testing.assert_allclose(K.get_value(v), [[1.0, 2.0]])
    K.set_value(v, [[3.0, 4.0]])
    np.testing.assert_allclose(K.eval(v), [[3.0, 4.0]])
    param = torch.nn.Parameter(torch.zeros(2))
    K.set_value(param, np.array([1.0, 2.0]))
    np.testing.assert_allclose(K.get_value(param), [1.0, 2.0])
    K.batch_set_value([(param, [5.0, 6.0])])
    assert K.batch_get_value([param])[0].tolist() == [5.0, 6.0]
    assert K.get_value(0.01) == 0.01
    assert K.constant(2.0, shape=(2, 2)).shape == (2, 2)
    assert K.constant(1, dtype="int64").dtype == torch.int64
    assert K.stop_gradient(param).requires_grad is False

    class Holder:
        def __init__(self):
            self.value = torch.tensor(0.1)

        def assign(self, v):
            self.value = torch.tensor(v)

    holder = Holder()
    K.set_value(holder, 0.5)
    assert K.get_value(holder) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="set_value.*float"):
        K.set_value(0.1, 0.2)


def test_functions_are_differentiable():
    x = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    out = K.sum(K.mean(K.square(K.clip(x, -0.5, 1.5)), axis=-1)) + K.sum(K.sqrt(K.abs(x)))
    out.backward()
    assert torch.isfinite(x.grad).all()


def test_ctc_batch_cost_keras2_layout():
    """Blank = last class, softmax inputs, (B, 1) output; equals the CTC loss with blank 0."""
    from fitorch import losses

    rng = np.random.default_rng(1)
    logits = torch.tensor(rng.normal(size=(2, 5, 4)))
    labels = torch.tensor([[1, 3, 0], [2, 0, 0]])  # blank 0 layout, zero padded
    expected = losses.ctc(labels, logits)
    # Same problem with the blank moved to the last class: class k -> k - 1, blank 0 -> 3.
    probs = torch.softmax(torch.roll(logits, -1, dims=-1), dim=-1)
    got = K.ctc_batch_cost(labels - 1, probs, torch.tensor([[5], [5]]), torch.tensor([[2], [1]]))
    assert got.shape == (2, 1)
    torch.testing.assert_close(got[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_session_and_format_helpers():
    assert K.backend() == "torch"
    K.clear_session()
    assert K.cast_to_floatx([1, 2]).dtype == np.float32
    np.testing.assert_array_equal(_np(K.repeat_elements(torch.tensor([1, 2]), 2, 0)), [1, 1, 2, 2])
    K.set_image_data_format("channels_first")
    try:
        assert K.image_data_format() == "channels_first"
    finally:
        K.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="channels_middle"):
        K.set_image_data_format("channels_middle")
