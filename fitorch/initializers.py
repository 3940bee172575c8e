"""Weight initializers with Keras names and defaults.

An initializer is called with a shape in Keras layout (a Dense kernel is (in, out), a
Conv2D kernel (kh, kw, in, out)) and returns a new float tensor. Fans follow Keras:
`fan_in = shape[-2] * receptive_field`, `fan_out = shape[-1] * receptive_field`.
"""

from __future__ import annotations

import math

import torch

from fitorch.registry import Registry
from fitorch.serialization import deserialize_with

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "Identity",
    "get",
    "INITIALIZERS",
]

INITIALIZERS = Registry("initializer")


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[float, float]:
    """Keras fans: a vector uses its length for both; kernels multiply the receptive field.
    Given both `input_axes` and `output_axes` (an EinsumDense kernel), fan_in / fan_out are the
    products of the sizes along those axes."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return float(math.prod(shape[a] for a in input_axes)), float(
            math.prod(shape[a] for a in output_axes)
        )
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base: `__call__(shape, dtype=float32) -> Tensor`; config = constructor args."""

    def __call__(self, shape, dtype=torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.zeros(tuple(shape), dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=torch.float32):
        return torch.ones(tuple(shape), dtype=dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=torch.float32):
        return torch.full(tuple(shape), float(self.value), dtype=dtype)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras default stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=torch.float32):
        return torch.normal(self.mean, self.stddev, tuple(shape), generator=_gen(self.seed)).to(
            dtype
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform(minval, maxval); Keras default [-0.05, 0.05] (Keras 2 name 'uniform')."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=torch.float32):
        u = torch.rand(tuple(shape), generator=_gen(self.seed))
        return (self.minval + (self.maxval - self.minval) * u).to(dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Normal(mean, stddev) truncated to mean +- 2 stddev; Keras default stddev 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=torch.float32):
        return _truncated(shape, self.mean, self.stddev, self.seed).to(dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Variance `scale / n` with n = fan_in, fan_out or their mean (`mode`).

    distribution: "truncated_normal" (stddev divided by 0.8796..., the std of a unit normal
    truncated at 2), "untruncated_normal", or "uniform" (limit sqrt(3 * scale / n)).
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be > 0; got {scale}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be fan_in/fan_out/fan_avg; got {mode!r}.")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "VarianceScaling: distribution must be truncated_normal, untruncated_normal or "
                f"uniform; got {distribution!r}."
            )
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)

    def __call__(self, shape, dtype=torch.float32):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            return _truncated(shape, 0.0, math.sqrt(var) / 0.87962566103423978, self.seed).to(dtype)
        if self.distribution == "untruncated_normal":
            return torch.normal(0.0, math.sqrt(var), tuple(shape), generator=_gen(self.seed)).to(
                dtype
            )
        limit = math.sqrt(3.0 * var)
        return (torch.rand(tuple(shape), generator=_gen(self.seed)) * 2 * limit - limit).to(dtype)

    def with_axes(self, input_axes, output_axes) -> VarianceScaling:
        """The same initializer with its fans taken over these kernel axes."""
        return type(self)(**{**self.get_config(), "input_axes": input_axes,
                             "output_axes": output_axes})  # fmt: skip

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class GlorotUniform(VarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (the Keras default kernel initializer)."""

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(1.0, "fan_avg", "uniform", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class HeUniform(VarianceScaling):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(2.0, "fan_in", "uniform", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class HeNormal(VarianceScaling):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(1.0, "fan_in", "uniform", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class Orthogonal(Initializer):
    """A (scaled) random orthogonal matrix, flattening all but the last axis."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def __call__(self, shape, dtype=torch.float32):
        shape = tuple(shape)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = torch.randn(max(rows, cols), min(rows, cols), generator=_gen(self.seed))
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).to(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """`gain * eye` for 2-D shapes."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=torch.float32):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape; got {tuple(shape)}.")
        return self.gain * torch.eye(*shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain}


def _gen(seed):
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def _truncated(shape, mean, stddev, seed):
    t = torch.empty(tuple(shape))
    torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, generator=_gen(seed))
    return mean + stddev * t


for _cls, *_aliases in [
    (Zeros, "zeros", "zero"),
    (Ones, "ones", "one"),
    (Constant, "constant"),
    (RandomNormal, "random_normal", "normal"),
    (RandomUniform, "random_uniform", "uniform"),
    (TruncatedNormal, "truncated_normal"),
    (VarianceScaling, "variance_scaling"),
    (GlorotUniform, "glorot_uniform", "xavier_uniform"),
    (GlorotNormal, "glorot_normal", "xavier_normal"),
    (HeUniform, "he_uniform"),
    (HeNormal, "he_normal"),
    (LecunUniform, "lecun_uniform"),
    (LecunNormal, "lecun_normal"),
    (Orthogonal, "orthogonal"),
    (Identity, "identity"),
]:
    INITIALIZERS.register(_cls, *_aliases)


# Keras 3's lower-case spellings name the same classes (`initializers.glorot_uniform(seed=1)`).
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


def get(identifier) -> Initializer:
    """str / dict / class / instance / callable -> an initializer instance (or the callable)."""
    if identifier is None:
        return None
    obj = INITIALIZERS.get(identifier)
    if isinstance(obj, type):
        return obj()
    if callable(obj):
        return obj
    raise TypeError(f"initializer must be a name, class, instance or callable; got {identifier!r}.")


def serialize(init) -> dict | None:
    if init is None:
        return None
    return {"class_name": type(init).__name__, "config": init.get_config()}


def deserialize(config, custom_objects=None):
    """The initializer a `serialize` output (or a name) describes."""
    return deserialize_with(get, config, custom_objects)
