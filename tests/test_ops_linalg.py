"""fitorch.ops.linalg against keras.ops.linalg (Keras 3, torch backend)."""

import inspect

import keras
import numpy as np
import pytest
import torch

from fitorch.ops import linalg as ol
from tests._opsnn_oracle import agree, missing, rand

kl = keras.ops.linalg
SHAPES = [(4, 4), (2, 3, 3)]


def spd(*shape, dtype="float64"):
    a = rand(*shape, dtype=dtype)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_square_ops_match_keras(shape, dtype):
    a = spd(*shape, dtype=dtype)
    tol = 1e-4 if dtype == "float32" else 1e-9
    for name in ("det", "inv"):
        agree(getattr(ol, name), getattr(kl, name), a, grad=True, atol=tol, rtol=tol)
    for upper in (False, True):
        agree(ol.cholesky, kl.cholesky, a, upper=upper, grad=True, atol=tol, rtol=tol)
        factor = np.linalg.cholesky(a) if not upper else np.swapaxes(np.linalg.cholesky(a), -1, -2)
        agree(ol.cholesky_inverse, kl.cholesky_inverse, factor.astype(dtype), upper=upper,
              atol=tol, rtol=tol)  # fmt: skip


def test_eigh_and_eig_match_keras():
    a = spd(2, 4, 4)
    agree(ol.eigh, kl.eigh, a, atol=1e-9)
    w, _ = ol.eig(torch.from_numpy(a))
    np.testing.assert_allclose(np.sort(w.real.numpy(), -1), np.linalg.eigvalsh(a), atol=1e-9)
    agree(ol.eig, kl.eig, a, atol=1e-9)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 3, 5)])
def test_factorisations_match_keras(shape):
    x = rand(*shape, dtype="float64")
    agree(ol.lu_factor, kl.lu_factor, x)
    for mode in ("reduced", "complete"):
        agree(ol.qr, kl.qr, x, mode=mode, atol=1e-9)
    agree(ol.svd, kl.svd, x, full_matrices=False, atol=1e-9)
    agree(ol.svd, kl.svd, x, compute_uv=False, grad=True, atol=1e-9)
    agree(ol.pinv, kl.pinv, x, atol=1e-9)
    agree(ol.matrix_rank, kl.matrix_rank, x)


def test_lu_factor_reconstructs():
    x = torch.from_numpy(rand(4, 4, dtype="float64"))
    lu, piv = ol.lu_factor(x)
    p, low, up = torch.lu_unpack(lu, piv + 1)
    assert torch.allclose(p @ low @ up, x, atol=1e-12)


def test_matrix_rank_of_rank_one():
    v = torch.arange(1.0, 4.0, dtype=torch.float64)
    assert ol.matrix_rank(torch.outer(v, v)).item() == 1


@pytest.mark.parametrize("ord_,axis", [
    (None, None), (None, -1), (1, 0), (np.inf, -1), (2, 1), ("fro", (0, 1)), ("nuc", (0, 1)),
    (1, (0, 1)), (-np.inf, (1, 0)), (3, -1),
])  # fmt: skip
def test_norm_matches_keras(ord_, axis):
    agree(ol.norm, kl.norm, rand(4, 3, dtype="float64"), ord=ord_, axis=axis, grad=True, atol=1e-5)
    agree(ol.norm, kl.norm, rand(4, 3), ord=ord_, axis=axis, keepdims=True)


def test_norm_of_ints_is_float():
    agree(ol.norm, kl.norm, np.array([3, 4], dtype="int32"))
    assert ol.norm(torch.tensor([3, 4])).item() == 5.0


@pytest.mark.parametrize("b_shape", [(4,), (4, 2), (3, 4), (3, 4, 2)])
def test_solve_matches_keras(b_shape):
    a = spd(3, 4, 4) if len(b_shape) in (2, 3) and b_shape[0] == 3 else spd(4, 4)
    b = rand(*b_shape, dtype="float64", seed=1)
    agree(ol.solve, kl.solve, a, b, grad=True, atol=1e-9)
    tri = np.tril(a)
    agree(ol.solve_triangular, kl.solve_triangular, tri, b, lower=True, grad=True, atol=1e-9)
    agree(ol.solve_triangular, kl.solve_triangular, np.swapaxes(tri, -1, -2).copy(), b,
          atol=1e-9)  # fmt: skip


def test_lstsq_matches_keras():
    a, b = rand(6, 3, dtype="float64"), rand(6, 2, dtype="float64", seed=1)
    agree(ol.lstsq, kl.lstsq, a, b, atol=1e-9)
    agree(ol.lstsq, kl.lstsq, a, b[:, 0].copy(), atol=1e-9)
    agree(ol.lstsq, kl.lstsq, a, b, rcond=1e-6, atol=1e-9)
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(ol.lstsq(torch.from_numpy(a), torch.from_numpy(b)), expected)


def test_jvp_matches_keras():
    def f(x):
        return torch.sin(x) * x

    x, t = torch.linspace(0, 1, 5), torch.ones(5)
    ours, theirs = ol.jvp(f, (x,), (t,)), kl.jvp(f, (x,), (t,))
    for m, r in zip(ours, theirs):
        assert torch.allclose(m, r)
    assert torch.allclose(ours[1], torch.sin(x) + x * torch.cos(x))
    out, tangent, aux = ol.jvp(lambda x: (f(x), x.sum()), (x,), (t,), has_aux=True)
    assert aux.item() == pytest.approx(x.sum().item())


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="square"):
        ol.inv(torch.ones(2, 3))
    with pytest.raises(ValueError, match="rank >= 2"):
        ol.det(torch.ones(3))
    with pytest.raises(ValueError, match="rows"):
        ol.solve(torch.eye(3), torch.ones(4))
    with pytest.raises(ValueError, match="positive definite"):
        ol.cholesky(-torch.eye(2))
    with pytest.raises(ValueError, match="mode"):
        ol.qr(torch.eye(2), mode="full")


# ---------------------------------------------------------------------------------- coverage
NOT_PROVIDED: dict[str, str] = {}


def test_every_keras_linalg_op_is_provided_or_listed():
    names = [n for n, _ in inspect.getmembers(kl, inspect.isfunction) if not n.startswith("_")]
    assert missing(ol, names) == sorted(NOT_PROVIDED)


def test_signatures_match_keras():
    for name in ol.__all__:
        ours = list(inspect.signature(getattr(ol, name)).parameters)
        assert ours == list(inspect.signature(getattr(kl, name)).parameters), name
