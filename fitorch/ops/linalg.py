"""`keras.ops.linalg` on torch: decompositions, solves, norms and inverses.

Matrices live in the last two axes; leading axes are batch axes. Inputs must be float (ints
become floatx), at least rank 2 and, where the maths needs it, square.
"""

from __future__ import annotations

import torch

from fitorch import backend
from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.tensor_args import as_float

__all__ = [
    "cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lu_factor", "norm", "qr",
    "solve", "solve_triangular", "svd", "lstsq", "matrix_rank", "pinv", "jvp",
]  # fmt: skip


def _matrix(x, op: str, square: bool = True) -> torch.Tensor:
    """`x` as a float tensor of rank >= 2 (square in the last two axes when `square`)."""
    x = as_float(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: `x` must have rank >= 2; received shape {tuple(x.shape)}.")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"{op}: expected square matrices in the last two axes; received shape {tuple(x.shape)}."
        )
    return x


def _system(a, b, op: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(a, b as a matrix, whether b was a vector) for a square system a @ x = b."""
    a = _matrix(a, op)
    b = as_float(b).to(a.dtype)
    vector = b.ndim == a.ndim - 1
    rows = b.shape[-1] if vector else b.shape[-2] if b.ndim >= 2 else -1
    if b.ndim < 1 or rows != a.shape[-1]:
        raise ValueError(
            f"{op}: `b` must have a.shape[-1]={a.shape[-1]} rows (or be a batch of vectors of "
            f"that length); received a.shape={tuple(a.shape)}, b.shape={tuple(b.shape)}."
        )
    return a, (b.unsqueeze(-1) if vector else b), vector


def cholesky(x, upper: bool = False) -> torch.Tensor:
    """L with x = L L^T (lower), or U with x = U^T U when `upper`; x symmetric positive definite."""
    x = _matrix(x, "cholesky")
    factor, info = torch.linalg.cholesky_ex(x, upper=upper)
    if bool(torch.any(info != 0)):
        raise ValueError("cholesky: `x` is not positive definite (the factorisation failed).")
    return factor


def cholesky_inverse(x, upper: bool = False) -> torch.Tensor:
    """inv(A) from its Cholesky factor `x` (A = x x^T, or x^T x when `upper`)."""
    return torch.cholesky_inverse(_matrix(x, "cholesky_inverse"), upper=upper)


def det(x) -> torch.Tensor:
    """The determinant of each matrix."""
    return torch.linalg.det(_matrix(x, "det"))


def eig(x):
    """(eigenvalues, eigenvectors) of general square matrices, both complex."""
    return torch.linalg.eig(_matrix(x, "eig"))


def eigh(x):
    """(eigenvalues ascending, eigenvectors) of symmetric matrices (the lower triangle is read)."""
    return torch.linalg.eigh(_matrix(x, "eigh"))


def inv(x) -> torch.Tensor:
    """The inverse of each square matrix."""
    return torch.linalg.inv(_matrix(x, "inv"))


def lu_factor(x):
    """(LU, pivots) with LAPACK's packed factors and 0-based pivot rows (Keras's convention)."""
    factors, pivots = torch.linalg.lu_factor(_matrix(x, "lu_factor", square=False))
    return factors, pivots - 1


def norm(x, ord=None, axis=None, keepdims: bool = False) -> torch.Tensor:  # noqa: A002
    """Vector norm over an int `axis`, matrix norm over a pair of axes, as `numpy.linalg.norm`.

    `axis=None`: the 2-norm of the flattened input (or the `ord` norm of a rank-1/2 input).
    Keras's dtype rule: float16/bfloat16/float32 are kept, anything else (float64 included)
    is computed in floatx.
    """
    x = as_tensor(x)
    if x.dtype not in (torch.float16, torch.bfloat16, torch.float32):
        x = x.to(backend.to_torch_dtype(backend.floatx()))
    return torch.linalg.norm(x, ord=ord, dim=axis, keepdim=keepdims)


def qr(x, mode: str = "reduced"):
    """(q, r) with x = q r; `mode` "reduced" (k = min(m, n) columns) or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: `mode` must be 'reduced' or 'complete'; received mode={mode!r}.")
    return torch.linalg.qr(_matrix(x, "qr", square=False), mode=mode)


def solve(a, b) -> torch.Tensor:
    """x with a @ x = b for square `a`; `b` is a matrix or a (batch of) vector(s)."""
    a, b, vector = _system(a, b, "solve")
    out = torch.linalg.solve(a, b)
    return out.squeeze(-1) if vector else out


def solve_triangular(a, b, lower: bool = False) -> torch.Tensor:
    """x with a @ x = b for triangular `a` (upper unless `lower`); the other triangle is ignored."""
    a, b, vector = _system(a, b, "solve_triangular")
    out = torch.linalg.solve_triangular(a, b, upper=not lower)
    return out.squeeze(-1) if vector else out


def svd(x, full_matrices: bool = True, compute_uv: bool = True):
    """(u, s, vh) with x = u diag(s) vh, or the singular values only when not `compute_uv`."""
    x = _matrix(x, "svd", square=False)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    return torch.linalg.svd(x, full_matrices=full_matrices)


def lstsq(a, b, rcond=None) -> torch.Tensor:
    """The least-squares solution x minimising ||a @ x - b||; singular values below
    rcond * max(s) are treated as zero."""
    a = _matrix(a, "lstsq", square=False)
    b = as_float(b).to(a.dtype)
    vector = b.ndim == 1
    matrix_b = b.unsqueeze(-1) if vector else b
    if rcond is None:
        out = torch.linalg.lstsq(a, matrix_b).solution
    else:
        out = torch.linalg.pinv(a, rtol=rcond) @ matrix_b
    return out.squeeze(-1) if vector else out


def matrix_rank(x, tol=None) -> torch.Tensor:
    """The number of singular values above `tol` (default: max(m, n) * eps * max(s)), int32."""
    return torch.linalg.matrix_rank(_matrix(x, "matrix_rank", square=False), atol=tol).int()


def pinv(x, rcond=None) -> torch.Tensor:
    """The Moore-Penrose pseudo-inverse; singular values below rcond * max(s) are dropped."""
    return torch.linalg.pinv(_matrix(x, "pinv", square=False), rtol=rcond)


def jvp(fun, primals, tangents, has_aux: bool = False):
    """(fun(*primals), J(primals) @ tangents), plus `aux` when `has_aux` (forward-mode AD)."""
    return torch.func.jvp(fun, tuple(primals), tuple(tangents), has_aux=has_aux)
