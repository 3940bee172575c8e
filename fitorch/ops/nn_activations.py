"""The activation functions of `keras.ops.nn` (re-exported by `fitorch.ops.nn`).

Elementwise unless an `axis` is named; int inputs are computed in `floatx()`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch.ops.core import convert_to_tensor as as_tensor
from fitorch.ops.tensor_args import as_float

__all__ = [
    "relu", "relu6", "sigmoid", "sparse_sigmoid", "softplus", "softsign", "soft_shrink",
    "sparse_plus", "silu", "swish", "squareplus", "log_sigmoid", "leaky_relu", "hard_sigmoid",
    "hard_silu", "hard_swish", "elu", "selu", "gelu", "celu", "glu", "tanh_shrink", "hard_tanh",
    "hard_shrink", "threshold", "softmax", "log_softmax", "sparsemax",
]  # fmt: skip


def relu(x) -> torch.Tensor:
    """max(x, 0)."""
    return F.relu(as_tensor(x))


def relu6(x) -> torch.Tensor:
    """min(max(x, 0), 6)."""
    return F.relu6(as_tensor(x))


def sigmoid(x) -> torch.Tensor:
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(as_float(x))


def sparse_sigmoid(x) -> torch.Tensor:
    """0 for x <= -1, 1 for x >= 1, (x + 1) / 2 between."""
    return torch.clamp((as_float(x) + 1.0) * 0.5, 0.0, 1.0)


def softplus(x) -> torch.Tensor:
    """log(1 + exp(x)), computed stably."""
    return F.softplus(as_float(x))


def softsign(x) -> torch.Tensor:
    """x / (1 + |x|)."""
    return F.softsign(as_float(x))


def soft_shrink(x, threshold: float = 0.5) -> torch.Tensor:
    """x - threshold for x > threshold, x + threshold for x < -threshold, 0 between."""
    return F.softshrink(as_float(x), lambd=threshold)


def sparse_plus(x) -> torch.Tensor:
    """0 for x <= -1, (x + 1)**2 / 4 for -1 < x < 1, x for x >= 1."""
    x = as_float(x)
    middle = 0.25 * (x + 1.0) ** 2
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, middle, x))


def silu(x) -> torch.Tensor:
    """x * sigmoid(x) (also called swish)."""
    return F.silu(as_float(x))


swish = silu


def squareplus(x, b: float = 4) -> torch.Tensor:
    """(x + sqrt(x**2 + b)) / 2, a smooth relu."""
    x = as_float(x)
    return (x + torch.sqrt(x * x + b)) / 2


def log_sigmoid(x) -> torch.Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed stably."""
    return F.logsigmoid(as_float(x))


def leaky_relu(x, negative_slope: float = 0.2) -> torch.Tensor:
    """x for x >= 0, negative_slope * x otherwise."""
    return F.leaky_relu(as_float(x), negative_slope=negative_slope)


def hard_sigmoid(x) -> torch.Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, x / 6 + 0.5 between."""
    return F.hardsigmoid(as_float(x))


def hard_silu(x) -> torch.Tensor:
    """x * hard_sigmoid(x) (also called hard_swish)."""
    return F.hardswish(as_float(x))


hard_swish = hard_silu


def elu(x, alpha: float = 1.0) -> torch.Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return F.elu(as_float(x), alpha=alpha)


def selu(x) -> torch.Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (1.0507..., 1.6732...)."""
    return F.selu(as_float(x))


def gelu(x, approximate: bool = True) -> torch.Tensor:
    """x * Phi(x); `approximate=True` (Keras's default) uses the tanh approximation."""
    return F.gelu(as_float(x), approximate="tanh" if approximate else "none")


def celu(x, alpha: float = 1.0) -> torch.Tensor:
    """max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)."""
    return F.celu(as_float(x), alpha=alpha)


def glu(x, axis: int = -1) -> torch.Tensor:
    """a * sigmoid(b) where a, b are the two halves of `x` along `axis` (even length)."""
    x = as_float(x)
    if x.shape[axis] % 2:
        raise ValueError(
            f"glu: the length of axis {axis} must be even; received x.shape={tuple(x.shape)}."
        )
    return F.glu(x, dim=axis)


def tanh_shrink(x) -> torch.Tensor:
    """x - tanh(x)."""
    return F.tanhshrink(as_float(x))


def hard_tanh(x) -> torch.Tensor:
    """clip(x, -1, 1)."""
    return F.hardtanh(as_float(x), min_val=-1.0, max_val=1.0)


def hard_shrink(x, threshold: float = 0.5) -> torch.Tensor:
    """x where |x| > threshold, 0 elsewhere."""
    return F.hardshrink(as_float(x), lambd=threshold)


def threshold(x, threshold: float, default_value: float) -> torch.Tensor:  # noqa: A002
    """x where x > threshold, `default_value` elsewhere."""
    return F.threshold(as_float(x), threshold, default_value)


def _over_axis(fn, x: torch.Tensor, axis) -> torch.Tensor:
    """Apply a normalising `fn(x, dim)` along `axis`; `axis=None` means over all elements."""
    if axis is None:
        return fn(x.reshape(-1), -1).reshape(x.shape)
    if isinstance(axis, (tuple, list)):
        # Move the axes to the end, flatten them into one, normalise, and undo.
        dims = [a % x.ndim for a in axis]
        rest = [d for d in range(x.ndim) if d not in dims]
        moved = x.permute(*rest, *dims)
        out = fn(moved.reshape(*moved.shape[: len(rest)], -1), -1).reshape(moved.shape)
        return out.permute(*torch.argsort(torch.tensor(rest + dims)).tolist())
    return fn(x, axis)


def softmax(x, axis: int | None = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x), axis); `axis` may be an int, a tuple, or None (all elements)."""
    x = as_float(x)
    dtype = x.dtype
    # CPU kernels lack float16 softmax; compute in float32 and cast back as Keras does.
    compute = x.float() if dtype == torch.float16 else x
    return _over_axis(lambda t, d: torch.softmax(t, dim=d), compute, axis).to(dtype)


def log_softmax(x, axis: int | None = -1) -> torch.Tensor:
    """x - logsumexp(x, axis); `axis` may be an int, a tuple, or None (all elements)."""
    x = as_float(x)
    dtype = x.dtype
    compute = x.float() if dtype == torch.float16 else x
    return _over_axis(lambda t, d: torch.log_softmax(t, dim=d), compute, axis).to(dtype)


def sparsemax(x, axis: int = -1) -> torch.Tensor:
    """Euclidean projection of `x` onto the simplex along `axis`: max(x - tau, 0).

    tau is chosen so that the output sums to 1; large logits get exact zeros elsewhere.
    """
    x = as_float(x)
    ordered, _ = torch.sort(x, dim=axis, descending=True)
    cumulative = torch.cumsum(ordered, dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    rank = torch.arange(1, x.shape[axis] + 1, dtype=x.dtype, device=x.device).view(shape)
    support = ordered - (cumulative - 1) / rank > 0  # the k largest entries stay positive
    k = torch.sum(support, dim=axis, keepdim=True)
    tau = (torch.sum(torch.where(support, ordered, 0.0), dim=axis, keepdim=True) - 1) / k
    return torch.clamp(x - tau, min=0.0)
