"""`fitorch.device(name)`: Keras 3's `keras.device` scope, as a torch device.

`with fitorch.device("gpu:0"):` creates the tensors and weights made inside the block on that
device (a `torch.device` is itself such a scope). Keras names map to torch's: "gpu" -> "cuda".
"""

from __future__ import annotations

import torch

__all__ = ["device"]


def device(device_name: str) -> torch.device:
    """The torch device named `device_name` ("cpu", "gpu", "gpu:1", "cuda:0", "mps"),
    usable as a context manager (`with fitorch.device("cpu"): ...`).

    Example:
        >>> device("gpu:1")
        device(type='cuda', index=1)
    """
    if not isinstance(device_name, str):
        raise TypeError(
            f"device: expected a device name such as 'cpu' or 'gpu:0'; received "
            f"{device_name!r} of type {type(device_name).__name__}."
        )
    kind, _, index = device_name.lower().partition(":")
    kind = "cuda" if kind == "gpu" else kind
    try:
        return torch.device(f"{kind}:{index}" if index else kind)
    except RuntimeError:
        raise ValueError(
            f"device: unknown device {device_name!r}; expected 'cpu', 'gpu', 'gpu:<index>', "
            "'cuda:<index>' or 'mps'."
        ) from None
