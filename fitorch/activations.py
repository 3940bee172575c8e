"""Activation functions by Keras name (`activations.get("relu")`), each a torch function."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fitorch.registry import Registry
from fitorch.serialization import deserialize_with

__all__ = ["get", "serialize", "deserialize", "ACTIVATIONS"]

ACTIVATIONS = Registry("activation")


def linear(x):
    """Identity: `f(x) = x`."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """`max(x, 0)`, with Keras' optional negative slope, cap and threshold."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return torch.relu(x)
    y = torch.where(x >= threshold, x, negative_slope * (x - threshold))
    return y.clamp(max=max_value) if max_value is not None else y


def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return torch.sigmoid(x)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x), axis)`."""
    return torch.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    """`x - logsumexp(x, axis)`."""
    return torch.log_softmax(x, dim=axis)


def tanh(x):
    return torch.tanh(x)


def elu(x, alpha=1.0):
    """`x` if x > 0 else `alpha * (exp(x) - 1)`."""
    return F.elu(x, alpha=alpha)


def selu(x):
    """Scaled ELU with Keras' constants (scale 1.0507..., alpha 1.6732...)."""
    return F.selu(x)


def softplus(x):
    """`log(1 + exp(x))`."""
    return F.softplus(x)


def softsign(x):
    """`x / (1 + |x|)`."""
    return F.softsign(x)


def silu(x):
    """`x * sigmoid(x)` (alias swish)."""
    return F.silu(x)


def gelu(x, approximate=False):
    """Gaussian error linear unit (exact erf form unless `approximate`)."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def exponential(x):
    return torch.exp(x)


def hard_sigmoid(x):
    """Keras 3: `relu6(x + 3) / 6`."""
    return F.relu6(x + 3.0) / 6.0


def hard_silu(x):
    """`x * hard_sigmoid(x)`."""
    return x * hard_sigmoid(x)


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(x, negative_slope)


def relu6(x):
    return F.relu6(x)


def mish(x):
    """`x * tanh(softplus(x))`."""
    return F.mish(x)


def log_sigmoid(x):
    return F.logsigmoid(x)


def hard_tanh(x):
    return F.hardtanh(x)


def _from_ops(name: str):
    """Keras 3's newer activations are `fitorch.ops` functions (same formulas and defaults);
    looked up at call time because `fitorch.ops` imports the layers, which import this."""

    def activation(x, *args, **kwargs):
        from fitorch.ops import nn_activations

        return getattr(nn_activations, name)(x, *args, **kwargs)

    activation.__name__ = activation.__qualname__ = name
    activation.__doc__ = f"`fitorch.ops.{name}` as an activation."
    return activation


celu = _from_ops("celu")
glu = _from_ops("glu")
hard_shrink = _from_ops("hard_shrink")
soft_shrink = _from_ops("soft_shrink")
sparse_plus = _from_ops("sparse_plus")
sparse_sigmoid = _from_ops("sparse_sigmoid")
sparsemax = _from_ops("sparsemax")
squareplus = _from_ops("squareplus")
tanh_shrink = _from_ops("tanh_shrink")
threshold = _from_ops("threshold")


for _fn, *_aliases in [
    (linear, "None"),
    (relu,),
    (sigmoid,),
    (softmax,),
    (log_softmax,),
    (tanh,),
    (elu,),
    (selu,),
    (softplus,),
    (softsign,),
    (silu, "swish"),
    (gelu,),
    (exponential,),
    (hard_sigmoid,),
    (hard_silu, "hard_swish"),
    (leaky_relu,),
    (relu6,),
    (mish,),
    (log_sigmoid,),
    (hard_tanh,),
    (celu,),
    (glu,),
    (hard_shrink,),
    (soft_shrink,),
    (sparse_plus,),
    (sparse_sigmoid,),
    (sparsemax,),
    (squareplus,),
    (tanh_shrink,),
    (threshold,),
]:
    ACTIVATIONS.register(_fn, *_aliases)

swish = silu
hard_swish = hard_silu


def get(identifier):
    """None -> linear; str -> the registered function; a callable is returned unchanged."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return ACTIVATIONS.lookup(identifier)
    if isinstance(identifier, dict):
        return ACTIVATIONS.get(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable; got {identifier!r}.")


def serialize(fn) -> str | None:
    """The registered name of `fn` (None for linear), else the registered custom name."""
    from fitorch.registry import get_registered_name

    if fn is linear:
        return "linear"
    names = ACTIVATIONS.aliases_of(fn)
    return names[0] if names else get_registered_name(fn)


def deserialize(config, custom_objects=None):
    """The activation a `serialize` output (or a name) describes."""
    return deserialize_with(get, config, custom_objects)
