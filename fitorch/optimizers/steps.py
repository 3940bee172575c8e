"""Small gradient transformations shared by every optimizer (optax-style building blocks).

Each function takes lists of tensors that share one device and dtype and works with
multi-tensor `torch._foreach_*` kernels. None of them reads a value back to the host, so an
optimizer step built from them never synchronizes with the accelerator.

A `Scalar` is a Python float or a 0-d tensor on the tensors' device (for example a learning
rate produced by a schedule from the device-side iteration counter).
"""

from __future__ import annotations

from collections import defaultdict

import torch

__all__ = [
    "Scalar",
    "group_by_device_and_dtype",
    "bucket_indices",
    "like",
    "computed_once",
    "add_scaled",
    "add_ratio",
    "clip_by_norm",
    "clip_by_global_norm",
    "clip_by_value",
    "clip_gradients",
    "global_norm",
    "decay_weights",
    "ema_update",
    "all_finite",
]

Scalar = float | torch.Tensor


def group_by_device_and_dtype(*lists: list[torch.Tensor]) -> list[tuple[list, ...]]:
    """Split parallel lists into buckets whose tensors share the first list's device and dtype.

    Multi-tensor kernels need one device and one dtype per call; a model with float32 and
    float16 parameters (or parameters on two devices) gets one bucket for each combination.
    """
    buckets: dict[tuple, tuple[list, ...]] = defaultdict(lambda: tuple([] for _ in lists))
    for items in zip(*lists):
        key = (items[0].device, items[0].dtype)
        for bucket, item in zip(buckets[key], items):
            bucket.append(item)
    return list(buckets.values())


def like(factor: Scalar, tensors: list[torch.Tensor]) -> Scalar:
    """`factor` in the tensors' dtype when it is a tensor (multi-tensor CUDA kernels take
    their fast path only for a scalar tensor of the list's dtype); floats pass through."""
    if isinstance(factor, torch.Tensor) and factor.dtype != tensors[0].dtype:
        return factor.to(tensors[0].dtype)
    return factor


def computed_once(*scalars: Scalar) -> tuple[Scalar, ...]:
    """The per-step scalars of an update (bias corrections, step sizes), each computed once.

    Eagerly, the 0-d tensors are returned as they are (each was computed once already). Under
    `torch.compile`, inductor would inline a 0-d tensor expression into every loop that
    reads it and recompute it (pow, sqrt and divisions, in float64) for every vector of
    parameter elements; so the tensors are stacked into one small tensor, which inductor
    computes into a buffer before the loops (a concatenation is materialized), and read back
    from it. Floats pass through; tensors come back in the first tensor's dtype.

    Example: `step, bias = computed_once(-alpha, 1 - beta_1**t)`.
    """
    tensors = [s for s in scalars if isinstance(s, torch.Tensor)]
    if not tensors or not torch.compiler.is_compiling():
        return scalars
    dtype = tensors[0].dtype
    parts = [s.to(dtype) for s in tensors]
    if len(parts) == 1:
        # inductor lowers a one-input cat as a copy, which it inlines again: pad with a zero
        parts.append(torch.zeros((), dtype=dtype, device=parts[0].device))
    values = iter(torch.stack(parts).unbind())
    return tuple(next(values) if isinstance(s, torch.Tensor) else s for s in scalars)


def bucket_indices(tensors: list[torch.Tensor]) -> list[list[int]]:
    """Indices of `tensors` grouped by (device, dtype), in order of first appearance."""
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        buckets[(t.device, t.dtype)].append(i)
    return list(buckets.values())


def add_scaled(targets: list[torch.Tensor], tensors: list[torch.Tensor], factor: Scalar) -> None:
    """In place `target += factor * tensor`; a float factor fuses into one kernel."""
    if isinstance(factor, torch.Tensor):
        torch._foreach_add_(targets, torch._foreach_mul(tensors, like(factor, tensors)))
    else:
        torch._foreach_add_(targets, tensors, alpha=factor)


def add_scalar(targets: list[torch.Tensor], value: Scalar) -> None:
    """In place `target += value`; a 0-d tensor `value` is broadcast per tensor (the
    foreach kernel reads a tensor scalar on the host, which a compiled graph cannot)."""
    if isinstance(value, torch.Tensor):
        value = value.to(targets[0].dtype)
        for target in targets:
            target.add_(value)
    else:
        torch._foreach_add_(targets, value)


def add_ratio(
    targets: list[torch.Tensor],
    numerators: list[torch.Tensor],
    denominators: list[torch.Tensor],
    factor: Scalar,
) -> None:
    """In place `target += factor * numerator / denominator`.

    `denominators` must be temporaries: a tensor factor is folded into them (one pass instead
    of scaling the numerators, which are usually optimizer slots that must stay unchanged).
    """
    if isinstance(factor, torch.Tensor):
        torch._foreach_div_(denominators, like(factor, denominators))
        torch._foreach_addcdiv_(targets, numerators, denominators)
    else:
        torch._foreach_addcdiv_(targets, numerators, denominators, value=factor)


def clip_by_norm(grads: list[torch.Tensor], clipnorm: float) -> list[torch.Tensor]:
    """Per-tensor L2 clipping (Keras 3 `clipnorm`): `g * c / max(||g||, c)`."""
    norms = torch._foreach_norm(grads)
    torch._foreach_maximum_(norms, clipnorm)  # max(||g||, c)
    torch._foreach_reciprocal_(norms)
    torch._foreach_mul_(norms, clipnorm)  # c / max(||g||, c), one 0-d tensor per gradient
    return torch._foreach_mul(grads, norms)


def global_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """sqrt(sum of squares of every element of every tensor), a 0-d float32+ tensor."""
    norms = torch._foreach_norm(grads)
    dtype = torch.promote_types(norms[0].dtype, torch.float32)
    return torch.linalg.vector_norm(torch.stack(norms).to(dtype))


def clip_by_global_norm(
    grads: list[torch.Tensor], clipnorm: float, norm: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """Keras `global_clipnorm`: `g * c / max(global_norm, c)`; a non-finite norm gives NaN.

    `norm` may be passed in when the gradients span several buckets (it must cover all of them).
    """
    if norm is None:
        norm = global_norm(grads)
    factor = clipnorm / torch.clamp(norm, min=clipnorm)
    factor = factor + (norm - norm)  # inf/NaN norm -> NaN factor, as Keras
    return torch._foreach_mul(grads, factor.to(grads[0].dtype))


def clip_by_value(grads: list[torch.Tensor], clipvalue: float) -> list[torch.Tensor]:
    """Element-wise clip to [-clipvalue, clipvalue] (Keras `clipvalue`)."""
    clipped = torch._foreach_clamp_max(grads, clipvalue)
    torch._foreach_clamp_min_(clipped, -clipvalue)
    return clipped


def clip_gradients(
    grads: list[torch.Tensor],
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    clipvalue: float | None = None,
) -> list[torch.Tensor]:
    """Keras' clipping step over gradients on any mix of devices and dtypes (at most one
    option set; a None or non-positive value disables it). Returns new tensors."""
    clipnorm, global_clipnorm, clipvalue = (
        v if v is not None and v > 0 else None for v in (clipnorm, global_clipnorm, clipvalue)
    )
    if not (clipnorm or global_clipnorm or clipvalue):
        return grads
    buckets = group_by_device_and_dtype(grads, list(range(len(grads))))
    if global_clipnorm:
        device = grads[0].device
        norm = torch.linalg.vector_norm(
            torch.stack([global_norm(gs).to(device) for gs, _ in buckets])
        )
    out: list = [None] * len(grads)
    for gs, idx in buckets:
        if clipnorm:
            gs = clip_by_norm(gs, clipnorm)
        elif global_clipnorm:
            gs = clip_by_global_norm(gs, global_clipnorm, norm.to(gs[0].device))
        else:
            gs = clip_by_value(gs, clipvalue)
        for i, g in zip(idx, gs):
            out[i] = g
    return out


def decay_weights(params: list[torch.Tensor], weight_decay: float, lr: Scalar) -> None:
    """Decoupled weight decay, in place: `p -= p * weight_decay * lr`."""
    torch._foreach_mul_(params, like(1 - weight_decay * lr, params))


def ema_update(averages: list[torch.Tensor], params: list[torch.Tensor], momentum: Scalar) -> None:
    """In place `avg = momentum * avg + (1 - momentum) * param`."""
    if isinstance(momentum, torch.Tensor):
        torch._foreach_mul_(averages, like(momentum, averages))
        torch._foreach_add_(averages, torch._foreach_mul(params, like(1 - momentum, params)))
    else:
        torch._foreach_lerp_(averages, params, 1.0 - momentum)


def all_finite(tensors: list[torch.Tensor]) -> torch.Tensor:
    """A 0-d bool tensor: True when no element of any tensor is inf or NaN (no host sync)."""
    if not tensors:
        return torch.tensor(True)
    # isfinite per tensor (norm-based checks overflow for large finite float16 values).
    return torch.stack([torch.isfinite(t).all() for t in tensors]).all()
