"""Differential harness for the nn/math/linalg/image op tests: fitorch.ops vs Keras 3 (torch).

`agree(ours, theirs, *arrays, **kwargs)` runs both ops on the same inputs (NumPy arrays become
fresh torch tensors for each side) and asserts equal structure, dtype, shape and values. With
`grad=True`, every floating input requires grad and the gradients of the summed (real) outputs
must agree as well. Keras on its torch backend computes with torch autograd, so its gradients
are a true oracle.
"""

from __future__ import annotations

import numpy as np
import torch


def _leaves(x):
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


def _inputs(arrays, grad: bool):
    out = []
    for a in arrays:
        if isinstance(a, np.ndarray):
            t = torch.from_numpy(a.copy())
            if grad and t.is_floating_point():
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def _as_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().resolve_conj().numpy()
    return np.asarray(t)


def _loss(outputs) -> torch.Tensor:
    total = 0.0
    for t in _leaves(outputs):
        if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex()):
            total = total + (t.abs() if t.is_complex() else t * torch.cos(t)).sum()
    return total


def agree(ours, theirs, *arrays, grad: bool = False, atol=1e-5, rtol=1e-5, dtype=True, **kw):
    """Assert `ours(*arrays, **kw)` equals `theirs(*arrays, **kw)` (values, shapes, dtypes)."""
    mine_in, ref_in = _inputs(arrays, grad), _inputs(arrays, grad)
    mine, ref = ours(*mine_in, **kw), theirs(*ref_in, **kw)
    mine_leaves, ref_leaves = _leaves(mine), _leaves(ref)
    assert len(mine_leaves) == len(ref_leaves), (mine, ref)
    for m, r in zip(mine_leaves, ref_leaves):
        m_np, r_np = _as_numpy(m), _as_numpy(r)
        assert m_np.shape == r_np.shape, (m_np.shape, r_np.shape)
        if dtype:
            assert m_np.dtype == r_np.dtype, (m_np.dtype, r_np.dtype)
        np.testing.assert_allclose(m_np, r_np, atol=atol, rtol=rtol)
    if grad:
        _loss(mine).backward()
        _loss(ref).backward()
        for m, r in zip(mine_in, ref_in):
            if isinstance(m, torch.Tensor) and m.requires_grad:
                assert (m.grad is None) == (r.grad is None)
                if m.grad is not None:
                    np.testing.assert_allclose(_as_numpy(m.grad), _as_numpy(r.grad),
                                               atol=atol * 10, rtol=rtol * 10)  # fmt: skip
    return mine


def rand(*shape, dtype="float32", seed=0, low=-3.0, high=3.0) -> np.ndarray:
    """Uniform test data of `shape` and `dtype` (ints drawn in [low, high))."""
    rng = np.random.default_rng(seed + sum(shape) * 7 + len(shape))
    if np.dtype(dtype).kind in "iu":
        return rng.integers(int(low), int(high), size=shape).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


def missing(ours_module, keras_names) -> list[str]:
    """Names of `keras_names` that `ours_module.__all__` lacks."""
    return sorted(set(keras_names) - set(ours_module.__all__))
