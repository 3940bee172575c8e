"""`keras.random` on torch: seeded draws and `SeedGenerator`.

`seed` in every function is one of:
- `None`: torch's global generator (reproducible after `fitorch.utils.set_random_seed`);
- an int: a fresh generator seeded with it, so the same call returns the same draw;
- a `SeedGenerator`: its next seed, so successive calls differ but the sequence repeats
  for the same initial seed (Keras's way of seeding layers).

Exact bitwise equality with Keras's draws is not a goal (its torch backend mixes seeds
differently); the distributions are the same and are tested by their moments.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from fitorch import backend
from fitorch.ops.creation import default_device

__all__ = [
    "SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical",
    "dropout", "shuffle", "gamma", "binomial", "beta",
]  # fmt: skip

_MIX = 0x9E3779B97F4A7C15  # golden-ratio increment (splitmix64): spreads consecutive counters
_MASK = (1 << 63) - 1


class SeedGenerator(torch.nn.Module):
    """A seed and a counter: `next()` returns a new seed each call, the same sequence per seed.

    The state `[seed, counter]` is an int64 CPU tensor stored in the owner's `state_dict`
    (as `<name>._extra_state`), so `model.save`/`BackupAndRestore` restore the position in the
    sequence. It stays on the CPU when the model moves to a GPU: reading it never syncs.

    >>> gen = SeedGenerator(42)
    >>> a, b = normal((2,), seed=gen), normal((2,), seed=gen)  # differ
    >>> gen2 = SeedGenerator(42); bool((normal((2,), seed=gen2) == a).all())
    True
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any):
        super().__init__()
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected arguments {sorted(kwargs)}.")
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(
                f"SeedGenerator: `seed` must be an int or None; received seed={seed!r}."
            )
        self.name = name or "seed_generator"
        self.initial_seed = seed
        self.state = torch.tensor([seed, 0], dtype=torch.int64)

    def next(self, ordered: bool = True) -> int:
        """The next 63-bit seed; advances the counter."""
        del ordered  # one stream per generator: draws are always ordered
        seed, counter = (int(v) for v in self.state.tolist())
        self.state[1] += 1
        return (seed * _MIX + (counter + 1) * 0xBF58476D1CE4E5B9) & _MASK

    def get_extra_state(self) -> torch.Tensor:
        return self.state

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.state = torch.as_tensor(state, dtype=torch.int64).detach().cpu().clone()

    def get_config(self) -> dict:
        return {"seed": self.initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)


def _device() -> torch.device:
    """Where new draws go: the CUDA device when there is one (as Keras on torch)."""
    return default_device()


def _generator(seed, device: torch.device) -> torch.Generator | None:
    """A torch.Generator for `seed` (see the module docstring), or None for the global one."""
    if seed is None:
        return None
    if isinstance(seed, SeedGenerator):
        value = seed.next()
    elif isinstance(seed, int) and not isinstance(seed, bool):
        value = seed
    else:
        raise ValueError(
            "`seed` must be None, an int or a SeedGenerator; received "
            f"{type(seed).__name__} {seed!r}."
        )
    gen = torch.Generator(device=device)
    gen.manual_seed(value & _MASK)
    return gen


def _seeded(seed, device: torch.device) -> dict:
    """The `generator=` keyword of a draw for `seed`, none for the global generator: torch's
    draws with an explicit `generator=None` need concrete sizes, so under `torch.compile`
    a draw of batch-sized (symbolic) shape would fail to trace."""
    gen = _generator(seed, device)
    return {} if gen is None else {"generator": gen}


@contextlib.contextmanager
def _global_seeded(seed, device: torch.device):
    """Seed torch's global RNG for samplers that take no generator (gamma, binomial)."""
    gen = _generator(seed, device)
    if gen is None:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(gen.initial_seed())
        yield


def _shape(shape) -> tuple[int, ...]:
    """`shape` as a tuple of ints; symbolic sizes (a batch size under `torch.compile`) stay
    symbolic, as `int()` would specialize the graph to their value."""
    if isinstance(shape, int):
        return (shape,)
    return tuple(d if isinstance(d, torch.SymInt) else int(d) for d in shape)


def _float_dtype(dtype, op: str) -> torch.dtype:
    out = backend.to_torch_dtype(dtype)
    if not out.is_floating_point:
        raise ValueError(f"{op}: `dtype` must be a float type; received dtype={dtype!r}.")
    return out


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> torch.Tensor:
    """Samples of N(mean, stddev**2)."""
    device = _device()
    out = torch.randn(_shape(shape), dtype=_float_dtype(dtype, "normal"), device=device,
                      **_seeded(seed, device))  # fmt: skip
    return out * stddev + mean


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> torch.Tensor:
    """Samples of U[minval, maxval)."""
    device = _device()
    out = torch.rand(_shape(shape), dtype=_float_dtype(dtype, "uniform"), device=device,
                     **_seeded(seed, device))  # fmt: skip
    return out * (maxval - minval) + minval


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> torch.Tensor:
    """N(mean, stddev**2) conditioned on lying within two stddev of the mean (redrawn beyond)."""
    device = _device()
    out = torch.empty(_shape(shape), dtype=_float_dtype(dtype, "truncated_normal"), device=device)
    torch.nn.init.trunc_normal_(out, 0.0, 1.0, -2.0, 2.0, generator=_generator(seed, device))
    return out * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None) -> torch.Tensor:
    """Uniform integers in [minval, maxval)."""
    device = _device()
    gen = _generator(seed, device)
    out = torch.randint(int(minval), int(maxval), _shape(shape), device=device, generator=gen)
    return out.to(backend.to_torch_dtype(dtype))


def categorical(logits, num_samples: int, dtype="int32", seed=None) -> torch.Tensor:
    """`num_samples` class indices per row of (batch, classes) `logits`, drawn from softmax."""
    logits = torch.as_tensor(logits)
    if logits.ndim != 2:
        raise ValueError(
            "categorical: `logits` must be rank 2 (batch, classes); received shape "
            f"{tuple(logits.shape)}."
        )
    probs = torch.softmax(logits.double() if logits.dtype == torch.float64 else logits.float(), -1)
    draws = torch.multinomial(probs, int(num_samples), replacement=True,
                              generator=_generator(seed, logits.device))  # fmt: skip
    return draws.to(backend.to_torch_dtype(dtype))


def dropout(inputs, rate: float, noise_shape=None, seed=None) -> torch.Tensor:
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate).

    `noise_shape` (broadcastable to the input, None = its shape) shares one draw across the
    broadcast axes.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: `rate` must be in [0, 1); received rate={rate!r}.")
    x = torch.as_tensor(inputs)
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else d for i, d in enumerate(noise_shape)
    )  # fmt: skip
    keep = torch.rand(shape, device=x.device, **_seeded(seed, x.device)) >= rate
    return torch.where(keep, x / (1.0 - rate), torch.zeros((), dtype=x.dtype, device=x.device))


def shuffle(x, axis: int = 0, seed=None) -> torch.Tensor:
    """`x` with its entries along `axis` in a random order."""
    x = torch.as_tensor(x)
    order = torch.randperm(x.shape[axis], device=x.device, generator=_generator(seed, x.device))
    return x.index_select(axis, order)


def _standard_gamma(concentration: torch.Tensor) -> torch.Tensor:
    """Gamma(concentration, rate=1) draws from torch's global generator."""
    rate = torch.ones_like(concentration)
    return torch.distributions.Gamma(concentration, rate, validate_args=False).sample()


def gamma(shape, alpha, dtype=None, seed=None) -> torch.Tensor:
    """Samples of Gamma(alpha, 1): mean alpha, variance alpha."""
    device = _device()
    dtype = _float_dtype(dtype, "gamma")
    concentration = torch.full(_shape(shape), float(alpha), dtype=dtype, device=device)
    with _global_seeded(seed, device):
        return _standard_gamma(concentration)


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> torch.Tensor:
    """Samples of Binomial(counts, probabilities): mean n p, variance n p (1 - p)."""
    device = _device()
    dtype = _float_dtype(dtype, "binomial")
    size = _shape(shape)
    n = torch.broadcast_to(torch.as_tensor(counts, dtype=dtype, device=device), size)
    p = torch.broadcast_to(torch.as_tensor(probabilities, dtype=dtype, device=device), size)
    with _global_seeded(seed, device):
        return torch.binomial(n.contiguous(), p.contiguous())


def beta(shape, alpha, beta, dtype=None, seed=None) -> torch.Tensor:  # noqa: A002
    """Samples of Beta(alpha, beta) as X / (X + Y), X ~ Gamma(alpha), Y ~ Gamma(beta)."""
    device = _device()
    dtype = _float_dtype(dtype, "beta")
    size = _shape(shape)
    a = torch.broadcast_to(torch.as_tensor(alpha, dtype=dtype, device=device), size)
    b = torch.broadcast_to(torch.as_tensor(beta, dtype=dtype, device=device), size)
    with _global_seeded(seed, device):
        x, y = _standard_gamma(a), _standard_gamma(b)
    return x / (x + y)
