"""Derivative rules for the `math` module.

Every `math` function returns a Python float, so these adjoints need no `unbroadcast`.
`math.log(x, base)` is lowered to `math.log(x) / math.log(base)` before these rules apply.
`math.sqrt` divides like NumPy (`inf` at 0, not `ZeroDivisionError`; so `math.sqrt(x * x)`
has derivative `nan` at 0 in both modes, as `np.sqrt(x * x)` does: write `abs(x)` or
`math.hypot`); so do `asin`/`acos` (`inf` at ±1) and `atan2` (`nan` at `(0, 0)`, where it jumps).
`math.hypot` takes derivative 0 at `(0, 0)` (as `abs` and the 2-norm do at
0); `math.pow` shares the rules of `**` (`rules/limits.py`).

Special functions: `erf`/`erfc` (`±2/√π·exp(−x²)`), `lgamma` (ψ) and `gamma` (`Γ·ψ`), with ψ
and its derivatives from `adgen.rules.special.polygamma` (no SciPy). `fmod(a, b)` has the
derivatives 1 and `−trunc(a/b)`, written `−(a − y)/b` (a float, and right at second order);
`copysign(a, b)` is `±1` in `a` and constant in `b` (at `a = 0` the derivative is taken from
the sign of zero, as `copysign(1.0, a)` reads it).
"""

import math

import numpy as np

from adgen.rules.limits import divide_or_zero
from adgen.rules.registry import adjoint, guarded, nondifferentiable, scalar_result, tangent
from adgen.rules.special import digamma
from adgen.runtime import sign

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@tangent(math.exp)
def exp_dot(y, x, *, x_dot):
    return x_dot * y


@adjoint(math.exp)
def exp_bar(y, x, *, y_bar):
    return y_bar * y


@tangent(math.expm1)
def expm1_dot(y, x, *, x_dot):
    return x_dot * (y + 1.0)


@adjoint(math.expm1)
def expm1_bar(y, x, *, y_bar):
    return y_bar * (y + 1.0)


@tangent(math.log)
def log_dot(y, x, *, x_dot):
    return x_dot / x


@adjoint(math.log)
def log_bar(y, x, *, y_bar):
    return y_bar / x


@tangent(math.log1p)
def log1p_dot(y, x, *, x_dot):
    return x_dot / (1.0 + x)


@adjoint(math.log1p)
def log1p_bar(y, x, *, y_bar):
    return y_bar / (1.0 + x)


@tangent(math.log2)
def log2_dot(y, x, *, x_dot):
    return x_dot / (x * math.log(2.0))


@adjoint(math.log2)
def log2_bar(y, x, *, y_bar):
    return y_bar / (x * math.log(2.0))


@tangent(math.log10)
def log10_dot(y, x, *, x_dot):
    return x_dot / (x * math.log(10.0))


@adjoint(math.log10)
def log10_bar(y, x, *, y_bar):
    return y_bar / (x * math.log(10.0))


@tangent(math.sqrt)
def sqrt_dot(y, x, *, x_dot):
    return np.divide(x_dot * 0.5, y)


@adjoint(math.sqrt)
def sqrt_bar(y, x, *, y_bar):
    return np.divide(y_bar * 0.5, y)


@tangent(math.sin)
def sin_dot(y, x, *, x_dot):
    return x_dot * math.cos(x)


@adjoint(math.sin)
def sin_bar(y, x, *, y_bar):
    return y_bar * math.cos(x)


@tangent(math.cos)
def cos_dot(y, x, *, x_dot):
    return -x_dot * math.sin(x)


@adjoint(math.cos)
def cos_bar(y, x, *, y_bar):
    return -y_bar * math.sin(x)


@tangent(math.tan)
def tan_dot(y, x, *, x_dot):
    return x_dot * (1.0 + y * y)


@adjoint(math.tan)
def tan_bar(y, x, *, y_bar):
    return y_bar * (1.0 + y * y)


@tangent(math.asin)
def asin_dot(y, x, *, x_dot):
    return np.divide(x_dot, math.sqrt(1.0 - x * x))


@adjoint(math.asin)
def asin_bar(y, x, *, y_bar):
    return np.divide(y_bar, math.sqrt(1.0 - x * x))


@tangent(math.acos)
def acos_dot(y, x, *, x_dot):
    return np.divide(-x_dot, math.sqrt(1.0 - x * x))


@adjoint(math.acos)
def acos_bar(y, x, *, y_bar):
    return np.divide(-y_bar, math.sqrt(1.0 - x * x))


@tangent(math.atan)
def atan_dot(y, x, *, x_dot):
    return x_dot / (1.0 + x * x)


@adjoint(math.atan)
def atan_bar(y, x, *, y_bar):
    return y_bar / (1.0 + x * x)


@tangent(math.atan2)
def atan2_dot(y, a, b, *, a_dot, b_dot):
    return np.divide(a_dot * b - b_dot * a, a * a + b * b)


@adjoint(math.atan2)
def atan2_bar(y, a, b, *, y_bar):
    return np.divide(y_bar * b, a * a + b * b), np.divide(-y_bar * a, a * a + b * b)


@tangent(math.sinh)
def sinh_dot(y, x, *, x_dot):
    return x_dot * math.cosh(x)


@adjoint(math.sinh)
def sinh_bar(y, x, *, y_bar):
    return y_bar * math.cosh(x)


@tangent(math.cosh)
def cosh_dot(y, x, *, x_dot):
    return x_dot * math.sinh(x)


@adjoint(math.cosh)
def cosh_bar(y, x, *, y_bar):
    return y_bar * math.sinh(x)


@tangent(math.tanh)
def tanh_dot(y, x, *, x_dot):
    return x_dot * (1.0 - y * y)


@adjoint(math.tanh)
def tanh_bar(y, x, *, y_bar):
    return y_bar * (1.0 - y * y)


# math.pow: rules/limits.py, with `**` and np.power


@tangent(math.hypot)
def hypot_dot(y, a, b, *, a_dot, b_dot):
    return divide_or_zero(a_dot * a + b_dot * b, y)


@adjoint(math.hypot)
def hypot_bar(y, a, b, *, y_bar):
    return divide_or_zero(y_bar * a, y), divide_or_zero(y_bar * b, y)


@tangent(math.fabs)
def fabs_dot(y, x, *, x_dot):
    return x_dot * sign(x)


@adjoint(math.fabs)
def fabs_bar(y, x, *, y_bar):
    return y_bar * sign(x)


@tangent(math.erf)
def erf_dot(y, x, *, x_dot):
    return x_dot * _TWO_OVER_SQRT_PI * math.exp(-x * x)


@adjoint(math.erf)
def erf_bar(y, x, *, y_bar):
    return y_bar * _TWO_OVER_SQRT_PI * math.exp(-x * x)


@tangent(math.erfc)
def erfc_dot(y, x, *, x_dot):
    return -x_dot * _TWO_OVER_SQRT_PI * math.exp(-x * x)


@adjoint(math.erfc)
def erfc_bar(y, x, *, y_bar):
    return -y_bar * _TWO_OVER_SQRT_PI * math.exp(-x * x)


@tangent(math.lgamma)
def lgamma_dot(y, x, *, x_dot):
    return x_dot * digamma(x)


@adjoint(math.lgamma)
def lgamma_bar(y, x, *, y_bar):
    return y_bar * digamma(x)


@tangent(math.gamma)
def gamma_dot(y, x, *, x_dot):
    return x_dot * y * digamma(x)


@adjoint(math.gamma)
def gamma_bar(y, x, *, y_bar):
    return y_bar * y * digamma(x)


@tangent(math.fmod)
def fmod_dot(y, a, b, *, a_dot, b_dot):
    return a_dot - b_dot * (a - y) / b


@adjoint(math.fmod)
def fmod_bar(y, a, b, *, y_bar):
    return y_bar, -y_bar * (a - y) / b


@tangent(math.copysign)
def copysign_dot(y, a, b, *, a_dot):
    return a_dot * math.copysign(1.0, a) * math.copysign(1.0, b)


@adjoint(math.copysign)
def copysign_bar(y, a, b, *, y_bar):
    return y_bar * math.copysign(1.0, a) * math.copysign(1.0, b)


scalar_result(
    math.exp, math.expm1, math.log, math.log1p, math.log2, math.log10, math.sqrt, math.sin,
    math.cos, math.tan, math.asin, math.acos, math.atan, math.atan2, math.sinh, math.cosh,
    math.tanh, math.pow, math.hypot, math.fabs, math.erf, math.erfc, math.lgamma, math.gamma,
    math.fmod, math.copysign,
)
nondifferentiable(
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
    math.factorial, math.gcd,
)


# under a mask (`np.where` of 0-d values), partials infinite at some operands take safe ones
# where the mask discards them (rules/registry.py, `guarded`)

guarded(math.sqrt, y=1.0, singular=(0.0,))
guarded(math.tan, y=0.0, singular=())
guarded(math.log, math.log2, math.log10, x=1.0, singular=(0.0,))
guarded(math.log1p, x=0.0, singular=(-1.0,))
guarded(math.asin, math.acos, x=0.0, singular=(-1.0, 1.0))
guarded(math.sinh, math.cosh, x=0.0, singular=())
guarded(math.lgamma, math.gamma, x=1.0, singular=(0.0,))
guarded(math.atan2, a=1.0, b=1.0, singular=(0.0,))
guarded(math.fmod, b=1.0, singular=(0.0,))
