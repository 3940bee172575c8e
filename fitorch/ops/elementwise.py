"""Elementwise NumPy-style ops of `keras.ops` (part of `fitorch.ops.numpy`): math, comparisons,
logic and bits.

Dtypes follow `fitorch.ops.dtypes`: binary ops promote (Python numbers are weak); functions
defined on reals (`sin`, `divide`, `arctan2`, ...) compute int and bool inputs in `floatx()`;
comparisons and predicates return bool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from fitorch.ops.core import convert_to_tensor
from fitorch.ops.dtypes import floatx, result_type, to_torch_dtype

__all__: list[str] = []


# ------------------------------------------------------------------------------- helpers
def to_float(x: Any) -> torch.Tensor:
    """`x` as a tensor, int and bool inputs cast to `floatx()` (float inputs unchanged)."""
    x = convert_to_tensor(x)
    return x if x.is_floating_point() else x.to(to_torch_dtype(floatx()))


def promote(x1: Any, x2: Any, to_float_: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands as tensors of their Keras result dtype (floats with `to_float_`)."""
    dtype = to_torch_dtype(result_type(x1, x2))
    if to_float_ and not dtype.is_floating_point:
        dtype = to_torch_dtype(floatx())
    device = next((x.device for x in (x1, x2) if isinstance(x, torch.Tensor)), None)
    return (convert_to_tensor(x1).to(device=device, dtype=dtype),
            convert_to_tensor(x2).to(device=device, dtype=dtype))


def _export(fn: Callable) -> Callable:
    __all__.append(fn.__name__)
    return fn


def _unary_float(name: str, torch_fn: Callable, doc: str) -> Callable:
    """A public unary op computing `torch_fn` on floats (ints and bools become floatx)."""
    def op(x: Any) -> torch.Tensor:
        return torch_fn(to_float(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return _export(op)


def _binary(name: str, torch_fn: Callable, doc: str, floats: bool = False) -> Callable:
    """A public binary op: operands promoted (to floats with `floats`), then `torch_fn`."""
    def op(x1: Any, x2: Any) -> torch.Tensor:
        return torch_fn(*promote(x1, x2, floats))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return _export(op)


def _predicate(name: str, torch_fn: Callable, doc: str, arity: int = 2) -> Callable:
    """A public comparison/predicate op returning bool."""
    if arity == 1:
        def op(x: Any) -> torch.Tensor:
            return torch_fn(convert_to_tensor(x))
    else:
        def op(x1: Any, x2: Any) -> torch.Tensor:  # type: ignore[misc]
            return torch_fn(*promote(x1, x2))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return _export(op)


# ------------------------------------------------------------------ unary, on floats
sin = _unary_float("sin", torch.sin, "Elementwise sine (radians).")
cos = _unary_float("cos", torch.cos, "Elementwise cosine (radians).")
tan = _unary_float("tan", torch.tan, "Elementwise tangent (radians).")
arcsin = _unary_float("arcsin", torch.asin, "Elementwise inverse sine, in [-pi/2, pi/2].")
arccos = _unary_float("arccos", torch.acos, "Elementwise inverse cosine, in [0, pi].")
arctan = _unary_float("arctan", torch.atan, "Elementwise inverse tangent, in (-pi/2, pi/2).")
sinh = _unary_float("sinh", torch.sinh, "Elementwise hyperbolic sine.")
cosh = _unary_float("cosh", torch.cosh, "Elementwise hyperbolic cosine.")
tanh = _unary_float("tanh", torch.tanh, "Elementwise hyperbolic tangent.")
arcsinh = _unary_float("arcsinh", torch.asinh, "Elementwise inverse hyperbolic sine.")
arccosh = _unary_float("arccosh", torch.acosh, "Elementwise inverse hyperbolic cosine.")
arctanh = _unary_float("arctanh", torch.atanh, "Elementwise inverse hyperbolic tangent.")
exp = _unary_float("exp", torch.exp, "Elementwise `e ** x`.")
exp2 = _unary_float("exp2", torch.exp2, "Elementwise `2 ** x`.")
expm1 = _unary_float("expm1", torch.expm1, "Elementwise `exp(x) - 1`, accurate near 0.")
log = _unary_float("log", torch.log, "Elementwise natural logarithm.")
log2 = _unary_float("log2", torch.log2, "Elementwise base-2 logarithm.")
log10 = _unary_float("log10", torch.log10, "Elementwise base-10 logarithm.")
log1p = _unary_float("log1p", torch.log1p, "Elementwise `log(1 + x)`, accurate near 0.")
sqrt = _unary_float("sqrt", torch.sqrt, "Elementwise square root (NaN for negatives).")
cbrt = _unary_float("cbrt", lambda x: torch.sign(x) * torch.abs(x) ** (1.0 / 3.0),
                    "Elementwise real cube root: `sign(x) * |x| ** (1/3)`.")
deg2rad = _unary_float("deg2rad", torch.deg2rad, "Degrees to radians: `x * pi / 180`.")
rad2deg = _unary_float("rad2deg", torch.rad2deg, "Radians to degrees: `x * 180 / pi`.")
sinc = _unary_float("sinc", torch.sinc, "Normalized sinc: `sin(pi x) / (pi x)`, 1 at 0.")
i0 = _unary_float("i0", torch.i0, "Modified Bessel function of the first kind, order 0.")
reciprocal = _unary_float("reciprocal", torch.reciprocal, "Elementwise `1 / x`.")
fabs = _unary_float("fabs", torch.abs, "Elementwise absolute value, as floats.")
ceil = _unary_float("ceil", torch.ceil, "Elementwise smallest integer >= x, as floats.")
floor = _unary_float("floor", torch.floor, "Elementwise largest integer <= x, as floats.")
angle = _unary_float("angle", lambda x: torch.where(x < 0, torch.full_like(x, math.pi), 0.0),
                     "Argument of each (real) element: pi for negatives, else 0.")


# ----------------------------------------------------------- unary, dtype-preserving
@_export
def abs(x: Any) -> torch.Tensor:  # noqa: A001 (Keras name)
    """Elementwise absolute value, in the dtype of `x`."""
    x = convert_to_tensor(x)
    return x if x.dtype == torch.bool else torch.abs(x)


@_export
def absolute(x: Any) -> torch.Tensor:
    """Same as `abs`."""
    return abs(x)


@_export
def negative(x: Any) -> torch.Tensor:
    """Elementwise `-x`."""
    return torch.neg(convert_to_tensor(x))


@_export
def square(x: Any) -> torch.Tensor:
    """Elementwise `x * x` (bool inputs give int32)."""
    x = convert_to_tensor(x)
    return torch.square(x.to(torch.int32) if x.dtype == torch.bool else x)


@_export
def sign(x: Any) -> torch.Tensor:
    """Elementwise -1, 0 or 1 by the sign of `x`, in the dtype of `x`."""
    return torch.sign(convert_to_tensor(x))


@_export
def trunc(x: Any) -> torch.Tensor:
    """Elementwise rounding toward zero, in the dtype of `x`."""
    x = convert_to_tensor(x)
    return torch.trunc(x) if x.is_floating_point() else x


@_export
def round(x: Any, decimals: int = 0) -> torch.Tensor:  # noqa: A001
    """Elementwise rounding to `decimals` places, halves to even (as NumPy)."""
    x = convert_to_tensor(x)
    if x.is_floating_point():
        return torch.round(x, decimals=decimals)
    if decimals >= 0:
        return x
    scale = 10 ** (-decimals)
    return (torch.round(x.double() / scale) * scale).to(x.dtype)


@_export
def conj(x: Any) -> torch.Tensor:
    """Complex conjugate; real inputs are returned unchanged."""
    return torch.conj(convert_to_tensor(x))


@_export
def conjugate(x: Any) -> torch.Tensor:
    """Same as `conj`."""
    return conj(x)


@_export
def real(x: Any) -> torch.Tensor:
    """The real part; real inputs are returned unchanged."""
    x = convert_to_tensor(x)
    return torch.real(x) if x.is_complex() else x


@_export
def imag(x: Any) -> torch.Tensor:
    """The imaginary part: zeros (in floats) for real inputs."""
    x = convert_to_tensor(x)
    return torch.imag(x) if x.is_complex() else torch.zeros_like(to_float(x))


@_export
def copy(x: Any) -> torch.Tensor:
    """A copy of `x` (new memory)."""
    return convert_to_tensor(x).clone()


@_export
def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> torch.Tensor:
    """NaN -> `nan`, +inf -> `posinf`, -inf -> `neginf` (defaults: the dtype's max/min)."""
    x = convert_to_tensor(x)
    if not x.is_floating_point():
        return x
    return torch.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


# ------------------------------------------------------------------ unary predicates
isfinite = _predicate("isfinite", torch.isfinite, "True where `x` is finite.", 1)
isinf = _predicate("isinf", torch.isinf, "True where `x` is +inf or -inf.", 1)
isnan = _predicate("isnan", torch.isnan, "True where `x` is NaN.", 1)
isneginf = _predicate("isneginf", torch.isneginf, "True where `x` is -inf.", 1)
isposinf = _predicate("isposinf", torch.isposinf, "True where `x` is +inf.", 1)
signbit = _predicate("signbit", lambda x: torch.signbit(x) if x.dtype != torch.bool
                     else torch.zeros_like(x), "True where the sign bit is set (-0.0 too).", 1)
isreal = _predicate("isreal", torch.isreal, "True where the imaginary part is 0.", 1)
logical_not = _predicate("logical_not", torch.logical_not, "Elementwise NOT of truth values.",
                         1)


# ----------------------------------------------------------------------- binary math
add = _binary("add", torch.add, "Elementwise `x1 + x2`, broadcast.")
subtract = _binary("subtract", torch.sub, "Elementwise `x1 - x2`, broadcast.")
multiply = _binary("multiply", torch.mul, "Elementwise `x1 * x2`, broadcast.")
divide = _binary("divide", torch.div, "Elementwise true division `x1 / x2`.", floats=True)
true_divide = _binary("true_divide", torch.div, "Same as `divide`.", floats=True)
floor_divide = _binary("floor_divide", lambda a, b: torch.div(a, b, rounding_mode="floor"),
                       "Elementwise `floor(x1 / x2)`.")
mod = _binary("mod", torch.remainder, "Elementwise remainder with the sign of `x2` (NumPy).")
fmod = _binary("fmod", torch.fmod, "Elementwise C remainder with the sign of `x1`.")
maximum = _binary("maximum", torch.maximum, "Elementwise maximum (NaN propagates).")
minimum = _binary("minimum", torch.minimum, "Elementwise minimum (NaN propagates).")
fmax = _binary("fmax", torch.fmax, "Elementwise maximum ignoring NaN.")
fmin = _binary("fmin", torch.fmin, "Elementwise minimum ignoring NaN.")
arctan2 = _binary("arctan2", torch.atan2, "Elementwise angle of the point `(x2, x1)`.", True)
hypot = _binary("hypot", torch.hypot, "Elementwise `sqrt(x1**2 + x2**2)`.", True)
logaddexp = _binary("logaddexp", torch.logaddexp, "Elementwise `log(exp(x1) + exp(x2))`.",
                    True)
logaddexp2 = _binary("logaddexp2", torch.logaddexp2,
                     "Elementwise `log2(2**x1 + 2**x2)`.", True)
nextafter = _binary("nextafter", torch.nextafter,
                    "The next representable float after `x1` toward `x2`.", True)
heaviside = _binary("heaviside", torch.heaviside,
                    "Step function: 0 for x1 < 0, x2 at 0, 1 for x1 > 0.", True)
gcd = _binary("gcd", torch.gcd, "Elementwise greatest common divisor of integers.")
lcm = _binary("lcm", torch.lcm, "Elementwise least common multiple of integers.")


@_export
def power(x1: Any, x2: Any) -> torch.Tensor:
    """Elementwise `x1 ** x2`, broadcast."""
    return torch.pow(*promote(x1, x2))


@_export
def divide_no_nan(x1: Any, x2: Any) -> torch.Tensor:
    """`x1 / x2`, and 0 where `x2 == 0` (so 0/0 gives 0, not NaN)."""
    a, b = promote(x1, x2, True)
    return torch.where(b == 0, torch.zeros_like(a * b), a / torch.where(b == 0, 1, b))


@_export
def ldexp(x1: Any, x2: Any) -> torch.Tensor:
    """Elementwise `x1 * 2 ** x2` (`x2` integer)."""
    x2 = convert_to_tensor(x2)
    if x2.is_floating_point():
        raise TypeError(f"ldexp: x2 must be an integer tensor; received dtype {x2.dtype}.")
    x1 = to_float(x1)
    return x1 * torch.pow(2.0, x2.to(x1.device, torch.float64)).to(x1.dtype)


# ------------------------------------------------------------- comparisons and logic
equal = _predicate("equal", torch.eq, "Elementwise `x1 == x2`.")
not_equal = _predicate("not_equal", torch.ne, "Elementwise `x1 != x2`.")
greater = _predicate("greater", torch.gt, "Elementwise `x1 > x2`.")
greater_equal = _predicate("greater_equal", torch.ge, "Elementwise `x1 >= x2`.")
less = _predicate("less", torch.lt, "Elementwise `x1 < x2`.")
less_equal = _predicate("less_equal", torch.le, "Elementwise `x1 <= x2`.")
logical_and = _predicate("logical_and", torch.logical_and, "Elementwise AND of truth values.")
logical_or = _predicate("logical_or", torch.logical_or, "Elementwise OR of truth values.")
logical_xor = _predicate("logical_xor", torch.logical_xor, "Elementwise XOR of truth values.")


@_export
def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8,
            equal_nan: bool = False) -> torch.Tensor:
    """Elementwise `|x1 - x2| <= atol + rtol * |x2|`."""
    a, b = promote(x1, x2)
    return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@_export
def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: bool = False) -> torch.Tensor:
    """True (a bool scalar tensor) when `isclose` holds everywhere."""
    return torch.all(isclose(x1, x2, rtol, atol, equal_nan))


# ------------------------------------------------------------------------------ bits
def _bitwise(name: str, torch_fn: Callable, doc: str) -> Callable:
    def op(x: Any, y: Any) -> torch.Tensor:
        return torch_fn(*promote(x, y))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return _export(op)


bitwise_and = _bitwise("bitwise_and", torch.bitwise_and, "Elementwise `x & y`.")
bitwise_or = _bitwise("bitwise_or", torch.bitwise_or, "Elementwise `x | y`.")
bitwise_xor = _bitwise("bitwise_xor", torch.bitwise_xor, "Elementwise `x ^ y`.")
bitwise_left_shift = _bitwise("bitwise_left_shift", torch.bitwise_left_shift,
                              "Elementwise `x << y`.")
bitwise_right_shift = _bitwise("bitwise_right_shift", torch.bitwise_right_shift,
                               "Elementwise `x >> y` (arithmetic for signed ints).")
left_shift = _bitwise("left_shift", torch.bitwise_left_shift, "Same as `bitwise_left_shift`.")
right_shift = _bitwise("right_shift", torch.bitwise_right_shift,
                       "Same as `bitwise_right_shift`.")


@_export
def bitwise_invert(x: Any) -> torch.Tensor:
    """Elementwise `~x` (NOT for bools)."""
    return torch.bitwise_not(convert_to_tensor(x))


@_export
def bitwise_not(x: Any) -> torch.Tensor:
    """Same as `bitwise_invert`."""
    return bitwise_invert(x)


@_export
def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    """`x` limited to `[x_min, x_max]` elementwise, in the promoted dtype of the three
    (bools are clipped as int32)."""
    dtype = to_torch_dtype(result_type(*[v for v in (x, x_min, x_max) if v is not None]))
    x = convert_to_tensor(x).to(torch.int32 if dtype == torch.bool else dtype)
    lo = None if x_min is None else convert_to_tensor(x_min).to(x.device, x.dtype)
    hi = None if x_max is None else convert_to_tensor(x_max).to(x.device, x.dtype)
    return torch.clamp(x, lo, hi)
