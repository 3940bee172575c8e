"""fitorch.ops.math against the math group of keras.ops (Keras 3, torch backend)."""

import inspect

import keras
import numpy as np
import pytest
import torch
from keras.src.ops import math as keras_math_module

from fitorch.ops import math as om
from tests._opsnn_oracle import agree, missing, rand

ko = keras.ops


@pytest.mark.parametrize("name", ["segment_sum", "segment_max", "segment_min", "segment_prod"])
@pytest.mark.parametrize("shape", [(6,), (6, 3), (6, 2, 2)])
def test_segments_match_keras(name, shape):
    ids = np.array([0, 2, 0, 1, 2, 2], dtype="int32")
    agree(getattr(om, name), getattr(ko, name), rand(*shape), ids, grad=name == "segment_sum")
    agree(getattr(om, name), getattr(ko, name), rand(*shape), ids, num_segments=4)


def test_segment_drops_out_of_range_ids_and_keeps_int_dtype():
    data = np.array([1, 2, 3, 4], dtype="int32")
    ids = np.array([0, 1, 5, -1], dtype="int32")
    agree(om.segment_sum, ko.segment_sum, data, ids, num_segments=2)
    out = om.segment_sum(torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0, 1, 5, -1]), 2)
    assert out.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="segment_ids"):
        om.segment_sum(torch.ones(3), torch.tensor([0, 1]))


@pytest.mark.parametrize("shape,k", [((7,), 3), ((3, 6), 2), ((2, 3, 5), 5)])
def test_top_k_matches_keras(shape, k):
    agree(om.top_k, ko.top_k, rand(*shape), k, grad=True)
    agree(om.top_k, ko.top_k, rand(*shape, dtype="int32", low=0, high=50), k)


def test_in_top_k_matches_keras():
    preds = rand(5, 4)
    targets = np.array([0, 3, 1, 2, 2], dtype="int32")
    for k in (1, 2, 4):
        agree(om.in_top_k, ko.in_top_k, targets, preds, k)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, True), (-1, False), ((0, 2), True)])
def test_logsumexp_matches_keras(axis, keepdims):
    agree(om.logsumexp, ko.logsumexp, rand(3, 4, 5, dtype="float64"), axis=axis,
          keepdims=keepdims, grad=True)  # fmt: skip


def test_logsumexp_is_stable():
    out = om.logsumexp(torch.tensor([1000.0, 1000.0]))
    assert out.item() == pytest.approx(1000.0 + np.log(2.0))


def test_cdist_matches_keras():
    agree(om.cdist, ko.cdist, rand(4, 3), rand(5, 3, seed=1), grad=True)
    agree(om.cdist, ko.cdist, rand(2, 4, 3), rand(2, 5, 3, seed=1))
    with pytest.raises(ValueError, match="last dim"):
        om.cdist(torch.ones(2, 3), torch.ones(2, 4))


def test_extract_sequences_matches_keras():
    agree(om.extract_sequences, ko.extract_sequences, rand(2, 10), 4, 3, grad=True)
    agree(om.extract_sequences, ko.extract_sequences, rand(10), 5, 5)


@pytest.mark.parametrize("name", ["fft", "fft2", "ifft2"])
def test_complex_ffts_match_keras(name):
    pair = (rand(3, 4, 6), rand(3, 4, 6, seed=1))
    agree(lambda a, b: getattr(om, name)((a, b)), lambda a, b: getattr(ko, name)((a, b)), *pair,
          grad=True, atol=1e-4)  # fmt: skip


@pytest.mark.parametrize("n", [None, 8, 5])
def test_rfft_irfft_match_keras(n):
    agree(om.rfft, ko.rfft, rand(3, 8, dtype="float64"), fft_length=n, grad=True)
    real, imag = rand(3, 5, dtype="float64"), rand(3, 5, seed=1, dtype="float64")
    agree(lambda a, b: om.irfft((a, b), n), lambda a, b: ko.irfft((a, b), n), real, imag, grad=True)


def test_fft_rejects_a_bare_tensor():
    with pytest.raises(ValueError, match="real, imag"):
        om.fft(torch.ones(4))


@pytest.mark.parametrize("length,stride,n,window,center", [
    (8, 4, 8, "hann", True), (6, 3, 8, "hamming", False), (8, 2, 16, None, True),
])  # fmt: skip
def test_stft_matches_keras(length, stride, n, window, center):
    agree(om.stft, ko.stft, rand(2, 32, dtype="float64"), length, stride,
          n, window=window, center=center, grad=True)  # fmt: skip


@pytest.mark.parametrize("length,stride,n,window,center,out_len", [
    (8, 4, 8, "hann", True, None), (8, 2, 8, "hann", True, 30), (6, 3, 8, "hamming", False, None),
    (8, 2, 16, "hann", True, None),
])  # fmt: skip
def test_istft_matches_keras_and_inverts_stft(length, stride, n, window, center, out_len):
    x = rand(2, 32, dtype="float64")
    spec = tuple(t.numpy() for t in om.stft(torch.from_numpy(x), length, stride, n, window, center))
    agree(lambda a, b: om.istft((a, b), length, stride, n, out_len, window, center),
          lambda a, b: ko.istft((a, b), length, stride, n, out_len, window, center),
          *spec, atol=1e-6)  # fmt: skip
    if center and out_len is None and n == length:
        back = om.istft(spec, length, stride, n, window=window, center=center)
        np.testing.assert_allclose(back.numpy(), x, atol=1e-9)


@pytest.mark.parametrize("name,low,high", [
    ("rsqrt", 0.1, 4.0), ("erf", -3, 3), ("erfc", -3, 3), ("erfinv", -0.99, 0.99),
])  # fmt: skip
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_functions_match_keras(name, low, high, dtype):
    agree(getattr(om, name), getattr(ko, name), rand(3, 4, dtype=dtype, low=low, high=high),
          grad=True, atol=1e-4)  # fmt: skip


def test_logdet_matches_keras():
    a = rand(3, 4, 4, dtype="float64")
    spd = a @ np.swapaxes(a, -1, -2) + 4 * np.eye(4)
    agree(om.logdet, ko.logdet, spd, grad=True)


def test_view_as_complex_real_match_keras():
    agree(om.view_as_complex, ko.view_as_complex, rand(3, 2))
    z = torch.complex(torch.ones(3), torch.arange(3.0))
    assert torch.equal(om.view_as_real(z), torch.stack([torch.ones(3), torch.arange(3.0)], -1))
    assert torch.equal(om.view_as_real(z), ko.view_as_real(z))
    with pytest.raises(ValueError, match="last dim"):
        om.view_as_complex(torch.ones(3, 3))


# ---------------------------------------------------------------------------------- coverage
NOT_PROVIDED: dict[str, str] = {}


def keras_math_names() -> list[str]:
    """The math-group functions that keras.ops exports."""
    return [
        n
        for n, f in inspect.getmembers(keras_math_module, inspect.isfunction)
        if not n.startswith("_") and getattr(ko, n, None) is f
    ]


def test_every_keras_math_op_is_provided_or_listed():
    names = keras_math_names()
    assert len(names) == 23
    assert missing(om, names) == sorted(NOT_PROVIDED)


def test_signatures_match_keras():
    for name in om.__all__:
        ours = list(inspect.signature(getattr(om, name)).parameters)
        assert ours == list(inspect.signature(getattr(ko, name)).parameters), name
