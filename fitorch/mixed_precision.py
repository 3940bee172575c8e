"""Mixed precision as Keras: dtype policies, autocast in the step, float32 losses.

    fitorch.mixed_precision.set_global_policy("mixed_bfloat16")   # before building the model
    model = Sequential([...])      # layers: float32 variables, bfloat16 computation
    model.compile(...)             # 'mixed_float16' also wraps the optimizer for loss scaling

A policy has a `variable_dtype` (weights; float32 for the mixed policies) and a
`compute_dtype`. Layers take the global policy when they are built (or their own `dtype=`
policy). The train/test/predict steps run the model's forward under
`torch.autocast(device, compute_dtype)` when the model's compute dtype is not float32, cast the
outputs to float32, and compute the losses and metrics outside autocast, in float32 (Keras
casts the last layer's outputs to float32 for the loss). A sub-layer whose policy differs from
the model's (typically `dtype='float32'` for a final softmax) runs its forward under its own
autocast setting; under `'float32'` it receives float32 inputs, and a mixed layer inside
a float32 region hands float32 outputs to its consumers. With `'mixed_float16'`,
`compile` wraps a fitorch optimizer in `LossScaleOptimizer` (dynamic loss scaling: a step with
inf/NaN gradients is skipped and the scale halved), as Keras' `auto_scale_loss=True`.

Deviation from Keras: autocast decides the dtype per torch op (matmuls and convolutions in
the compute dtype, reductions and softmax in float32), where Keras casts every layer's inputs.
float16 autocast needs CUDA here (torch's CPU autocast supports bfloat16 only on older builds,
float16 is slow on CPU); bfloat16 runs everywhere.
"""

from __future__ import annotations

import contextlib
import types
import warnings

import torch

from fitorch.optimizers.base import Optimizer
from fitorch.optimizers.loss_scale import LossScaleOptimizer

__all__ = [
    "DTypePolicy",
    "Policy",
    "LossScaleOptimizer",
    "autocast",
    "dtype_policy",
    "global_policy",
    "policy_of",
    "prepare",
    "set_dtype_policy",
    "set_global_policy",
    "to_float32",
    "wrap_optimizer",
]

_COMPUTE = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float64": torch.float64,
    "mixed_float16": torch.float16,
    "mixed_bfloat16": torch.bfloat16,
}


_LOW = (torch.float16, torch.bfloat16)


class DTypePolicy:
    """A named dtype policy: `variable_dtype` for weights, `compute_dtype` for computation.

    `DTypePolicy('mixed_bfloat16')` -> variables float32, compute bfloat16; a plain dtype name
    (`'float32'`, `'bfloat16'`) uses that dtype for both.
    """

    def __init__(self, name: str = "float32"):
        if isinstance(name, DTypePolicy):
            name = name.name
        if isinstance(name, torch.dtype):
            name = str(name).replace("torch.", "")
        if name not in _COMPUTE:
            from fitorch.registry import suggest

            close = suggest(str(name), list(_COMPUTE))
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown dtype policy {name!r}.{hint} Known policies: {list(_COMPUTE)}."
            )
        self.name = name
        self.compute_dtype = _COMPUTE[name]
        self.variable_dtype = torch.float32 if name.startswith("mixed_") else self.compute_dtype

    @property
    def is_mixed(self) -> bool:
        return self.compute_dtype != self.variable_dtype

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        return cls(config["name"])

    def __eq__(self, other) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy  # Keras 2 name

_GLOBAL = DTypePolicy("float32")


def set_global_policy(policy) -> None:
    """Set the policy layers built from now on take (`None` resets to 'float32')."""
    global _GLOBAL
    _GLOBAL = DTypePolicy("float32" if policy is None else policy)


def global_policy() -> DTypePolicy:
    """The current global policy."""
    return _GLOBAL


dtype_policy = global_policy  # Keras 3 `keras.config.dtype_policy`
set_dtype_policy = set_global_policy


def policy_for(dtype) -> DTypePolicy:
    """The policy a layer constructed with `dtype=` gets: its own, else the global one."""
    if dtype is None:
        return _GLOBAL
    if isinstance(dtype, dict):  # a Keras {"class_name": "DTypePolicy", "config": {...}} record
        dtype = dtype.get("config", {}).get("name", "float32")
    try:
        return DTypePolicy(dtype)
    except ValueError:
        return DTypePolicy("float32")  # integer or exotic layer dtypes compute as given


def policy_of(layer) -> DTypePolicy:
    """A layer's policy (recorded at construction; 'float32' for plain torch modules)."""
    return getattr(layer, "_dtype_policy", None) or DTypePolicy("float32")


def _device_type(x) -> str:
    if isinstance(x, torch.Tensor):
        return x.device.type
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        for v in x:
            t = _device_type(v)
            if t is not None:
                return t
    return None


def autocast(model, x):
    """The context the step runs the forward pass in: autocast to the model's compute dtype
    on the inputs' device, or a no-op under a float32 policy."""
    policy = policy_of(model)
    if policy.compute_dtype in (torch.float32, torch.float64):
        return contextlib.nullcontext()
    return torch.autocast(_device_type(x) or "cpu", dtype=policy.compute_dtype)


def to_float32(value):
    """Floating tensors of lower precision cast to float32 (structures kept)."""
    if isinstance(value, torch.Tensor):
        low = value.is_floating_point() and value.dtype in (torch.float16, torch.bfloat16)
        return value.float() if low else value
    if isinstance(value, dict):
        return {k: to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_float32(v) for v in value)
    return value


def _policy_forward(self, *args, **kwargs):
    """`forward` of a layer whose policy differs from the enclosing model's: runs the class's
    forward under the layer's own autocast setting (bound to the layer in `prepare`; a plain
    `with` block, so torch.compile traces it)."""
    policy = self._dtype_policy
    device_type = _device_type((args, kwargs)) or "cpu"
    if policy.compute_dtype in (torch.float32, torch.float64):
        with torch.autocast(device_type, enabled=False):
            out = type(self).forward(self, *to_float32(args), **to_float32(kwargs))
    else:
        with torch.autocast(device_type, dtype=policy.compute_dtype):
            out = type(self).forward(self, *args, **kwargs)
    if not torch.is_autocast_enabled(device_type):
        # A low-precision layer inside a float32 region: its consumers expect float32
        # (Keras casts each layer's inputs; here the producer casts its outputs).
        out = to_float32(out)
    return out


def prepare(model) -> None:
    """Give each sub-layer whose policy differs from the model's its own autocast (once).

    The layer's `forward` becomes `_policy_forward` bound to it (a bound method, so copies of
    the model rebind it to the copied layer)."""
    outer = policy_of(model).compute_dtype
    for module in model.modules():
        if module is model or "forward" in module.__dict__:
            continue
        policy = getattr(module, "_dtype_policy", None)
        if policy is None or policy.compute_dtype == outer:
            continue
        if outer not in _LOW and policy.compute_dtype not in _LOW:
            continue  # float32 vs float64: no autocast involved
        module.forward = types.MethodType(_policy_forward, module)


def wrap_optimizer(optimizer, model, auto_scale_loss: bool = True):
    """`LossScaleOptimizer(optimizer)` when the model computes in float16 (Keras' compile)."""
    if not auto_scale_loss or policy_of(model).compute_dtype != torch.float16:
        return optimizer
    if isinstance(optimizer, LossScaleOptimizer):
        return optimizer
    if not isinstance(optimizer, Optimizer):
        warnings.warn(
            f"mixed_float16: {type(optimizer).__name__} is not a fitorch optimizer, so it is not "
            "wrapped in LossScaleOptimizer; float16 gradients may underflow.",
            stacklevel=3,
        )
        return optimizer
    return LossScaleOptimizer(optimizer)
