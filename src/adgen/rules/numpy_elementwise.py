"""Derivative rules for NumPy's elementwise functions (ufuncs), `np.where` and `np.clip`.

Every rule is keyed by the ufunc object (`np.sin`), so `np.sin`, `numpy.sin` and
`from numpy import sin` all find it. Binary ufuncs broadcast: their adjoints sum each
contribution back to the argument's shape with `unbroadcast`.

Conventions:

- Constants are Python floats (`1.0 - y * y`, `math.log(2.0)`): under NEP 50 they do not
  upcast a float32 array, so float32 in gives float32 out. No template creates a NumPy
  float64 scalar or array.
- Kinks: `abs`, `absolute` and `fabs` take derivative 0 at 0 (`sign(0) == 0`). On a tie,
  `maximum`, `minimum`, `fmax` and `fmin` give the whole derivative to the *first* argument
  (`a >= b` selects `a` for maximum). `fmax`/`fmin` give it to the argument that is not NaN.
  `clip` passes the derivative to `a` where `a` lies inside `[a_min, a_max]` (bounds
  included) and to the bound that was hit elsewhere.
- `power(a, b)` shares the rules of `**` in `rules/limits.py`: `a ** 0` has derivative 0 (also
  at `a = 0`), `0 ** b` has derivative 0 in `b` for `b > 0`; the derivative in `b` is NaN
  for `a < 0` and only computed when `b` is active. `hypot` takes derivative 0 at `(0, 0)`;
  `arctan2` divides like NumPy there (`nan`, also for Python floats: it jumps at the origin).
- `np.where(cond, a, b)` and `np.clip` have the one-argument / `min=`, `max=` keyword forms
  unsupported (the call does not bind to the template and adgen reports it).
"""

import math

import numpy as np

from adgen.rules.limits import divide_or_zero
from adgen.rules.registry import adjoint, guarded, nondifferentiable, tangent
from adgen.runtime import sign, unbroadcast

# ---------------------------------------------------------------- exponentials and logs


@tangent(np.exp)
def exp_dot(y, x, *, x_dot):
    return x_dot * y


@adjoint(np.exp)
def exp_bar(y, x, *, y_bar):
    return y_bar * y


@tangent(np.exp2)
def exp2_dot(y, x, *, x_dot):
    return x_dot * y * math.log(2.0)


@adjoint(np.exp2)
def exp2_bar(y, x, *, y_bar):
    return y_bar * y * math.log(2.0)


@tangent(np.expm1)
def expm1_dot(y, x, *, x_dot):
    return x_dot * (y + 1.0)


@adjoint(np.expm1)
def expm1_bar(y, x, *, y_bar):
    return y_bar * (y + 1.0)


# NumPy division: at x = 0 a Python float gives inf (as np.log gives -inf), not an error


@tangent(np.log)
def log_dot(y, x, *, x_dot):
    return np.divide(x_dot, x)


@adjoint(np.log)
def log_bar(y, x, *, y_bar):
    return np.divide(y_bar, x)


@tangent(np.log1p)
def log1p_dot(y, x, *, x_dot):
    return np.divide(x_dot, 1.0 + x)


@adjoint(np.log1p)
def log1p_bar(y, x, *, y_bar):
    return np.divide(y_bar, 1.0 + x)


@tangent(np.log2)
def log2_dot(y, x, *, x_dot):
    return np.divide(x_dot, x * math.log(2.0))


@adjoint(np.log2)
def log2_bar(y, x, *, y_bar):
    return np.divide(y_bar, x * math.log(2.0))


@tangent(np.log10)
def log10_dot(y, x, *, x_dot):
    return np.divide(x_dot, x * math.log(10.0))


@adjoint(np.log10)
def log10_bar(y, x, *, y_bar):
    return np.divide(y_bar, x * math.log(10.0))


# y = log(exp(a) + exp(b)); the weights exp(a - y) + exp(b - y) sum to 1


@tangent(np.logaddexp)
def logaddexp_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * np.exp(a - y) + b_dot * np.exp(b - y)


@adjoint(np.logaddexp)
def logaddexp_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * np.exp(a - y), a), unbroadcast(y_bar * np.exp(b - y), b)


@tangent(np.logaddexp2)
def logaddexp2_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * np.exp2(a - y) + b_dot * np.exp2(b - y)


@adjoint(np.logaddexp2)
def logaddexp2_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * np.exp2(a - y), a), unbroadcast(y_bar * np.exp2(b - y), b)


# ---------------------------------------------------------------- powers and roots


@tangent(np.sqrt)
def sqrt_dot(y, x, *, x_dot):
    return x_dot * 0.5 / y


@adjoint(np.sqrt)
def sqrt_bar(y, x, *, y_bar):
    return y_bar * 0.5 / y


@tangent(np.cbrt)
def cbrt_dot(y, x, *, x_dot):
    return x_dot / (3.0 * y * y)


@adjoint(np.cbrt)
def cbrt_bar(y, x, *, y_bar):
    return y_bar / (3.0 * y * y)


@tangent(np.square)
def square_dot(y, x, *, x_dot):
    return 2.0 * x * x_dot


@adjoint(np.square)
def square_bar(y, x, *, y_bar):
    return 2.0 * x * y_bar


@tangent(np.reciprocal)
def reciprocal_dot(y, x, *, x_dot):
    return -x_dot * y * y


@adjoint(np.reciprocal)
def reciprocal_bar(y, x, *, y_bar):
    return -y_bar * y * y


# np.power: rules/limits.py, with `**` and math.pow


@tangent(np.hypot)
def hypot_dot(y, a, b, *, a_dot, b_dot):
    return divide_or_zero(a_dot * a + b_dot * b, y)


@adjoint(np.hypot)
def hypot_bar(y, a, b, *, y_bar):
    return (unbroadcast(divide_or_zero(y_bar * a, y), a),
            unbroadcast(divide_or_zero(y_bar * b, y), b))


# ---------------------------------------------------------------- arithmetic


# add, subtract, multiply, divide, negative, positive: the operators' rules (rules/operators.py)


@tangent(np.absolute, np.fabs)
def absolute_dot(y, x, *, x_dot):
    return x_dot * sign(x)


@adjoint(np.absolute, np.fabs)
def absolute_bar(y, x, *, y_bar):
    return y_bar * sign(x)


# ---------------------------------------------------------------- trigonometric and hyperbolic


@tangent(np.sin)
def sin_dot(y, x, *, x_dot):
    return x_dot * np.cos(x)


@adjoint(np.sin)
def sin_bar(y, x, *, y_bar):
    return y_bar * np.cos(x)


@tangent(np.cos)
def cos_dot(y, x, *, x_dot):
    return -x_dot * np.sin(x)


@adjoint(np.cos)
def cos_bar(y, x, *, y_bar):
    return -y_bar * np.sin(x)


@tangent(np.tan)
def tan_dot(y, x, *, x_dot):
    return x_dot * (1.0 + y * y)


@adjoint(np.tan)
def tan_bar(y, x, *, y_bar):
    return y_bar * (1.0 + y * y)


@tangent(np.arcsin)
def arcsin_dot(y, x, *, x_dot):
    return x_dot / np.sqrt(1.0 - x * x)


@adjoint(np.arcsin)
def arcsin_bar(y, x, *, y_bar):
    return y_bar / np.sqrt(1.0 - x * x)


@tangent(np.arccos)
def arccos_dot(y, x, *, x_dot):
    return -x_dot / np.sqrt(1.0 - x * x)


@adjoint(np.arccos)
def arccos_bar(y, x, *, y_bar):
    return -y_bar / np.sqrt(1.0 - x * x)


@tangent(np.arctan)
def arctan_dot(y, x, *, x_dot):
    return x_dot / (1.0 + x * x)


@adjoint(np.arctan)
def arctan_bar(y, x, *, y_bar):
    return y_bar / (1.0 + x * x)


@tangent(np.arctan2)
def arctan2_dot(y, a, b, *, a_dot, b_dot):
    return np.divide(a_dot * b - b_dot * a, a * a + b * b)


@adjoint(np.arctan2)
def arctan2_bar(y, a, b, *, y_bar):
    return (unbroadcast(np.divide(y_bar * b, a * a + b * b), a),
            unbroadcast(np.divide(-y_bar * a, a * a + b * b), b))


@tangent(np.sinh)
def sinh_dot(y, x, *, x_dot):
    return x_dot * np.cosh(x)


@adjoint(np.sinh)
def sinh_bar(y, x, *, y_bar):
    return y_bar * np.cosh(x)


@tangent(np.cosh)
def cosh_dot(y, x, *, x_dot):
    return x_dot * np.sinh(x)


@adjoint(np.cosh)
def cosh_bar(y, x, *, y_bar):
    return y_bar * np.sinh(x)


@tangent(np.tanh)
def tanh_dot(y, x, *, x_dot):
    return x_dot * (1.0 - y * y)


@adjoint(np.tanh)
def tanh_bar(y, x, *, y_bar):
    return y_bar * (1.0 - y * y)


@tangent(np.arcsinh)
def arcsinh_dot(y, x, *, x_dot):
    return x_dot / np.sqrt(x * x + 1.0)


@adjoint(np.arcsinh)
def arcsinh_bar(y, x, *, y_bar):
    return y_bar / np.sqrt(x * x + 1.0)


@tangent(np.arccosh)
def arccosh_dot(y, x, *, x_dot):
    return x_dot / np.sqrt(x * x - 1.0)


@adjoint(np.arccosh)
def arccosh_bar(y, x, *, y_bar):
    return y_bar / np.sqrt(x * x - 1.0)


@tangent(np.arctanh)
def arctanh_dot(y, x, *, x_dot):
    return x_dot / (1.0 - x * x)


@adjoint(np.arctanh)
def arctanh_bar(y, x, *, y_bar):
    return y_bar / (1.0 - x * x)


# ---------------------------------------------------------------- selections (ties: first argument)


@tangent(np.maximum)
def maximum_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * (a >= b) + b_dot * (a < b)


@adjoint(np.maximum)
def maximum_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * (a >= b), a), unbroadcast(y_bar * (a < b), b)


@tangent(np.minimum)
def minimum_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * (a <= b) + b_dot * (a > b)


@adjoint(np.minimum)
def minimum_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * (a <= b), a), unbroadcast(y_bar * (a > b), b)


@tangent(np.fmax)
def fmax_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * (y == a) + b_dot * (y != a)


@adjoint(np.fmax)
def fmax_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * (y == a), a), unbroadcast(y_bar * (y != a), b)


@tangent(np.fmin)
def fmin_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * (y == a) + b_dot * (y != a)


@adjoint(np.fmin)
def fmin_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * (y == a), a), unbroadcast(y_bar * (y != a), b)


# partials that are infinite or NaN at some operands (or overflow): under a mask, the operand
# named takes the value given where the mask discards the lane (rules/registry.py, `guarded`)

guarded(np.sqrt, np.cbrt, np.reciprocal, y=1.0, singular=(0.0,))
guarded(np.exp, np.exp2, y=1.0, singular=())
guarded(np.expm1, np.tan, y=0.0, singular=())
guarded(np.log, np.log2, np.log10, x=1.0, singular=(0.0,))
guarded(np.log1p, x=0.0, singular=(-1.0,))
guarded(np.arcsin, np.arccos, np.arctanh, x=0.0, singular=(-1.0, 1.0))
guarded(np.sinh, np.cosh, x=0.0, singular=())
guarded(np.arccosh, x=2.0, singular=(1.0,))
guarded(np.arctan2, a=1.0, b=1.0, singular=(0.0,))


# y = np.where(cond, a, b)


@tangent(np.where)
def where_dot(y, cond, a=None, b=None, *, a_dot, b_dot):
    return np.where(cond, a_dot, b_dot)


@adjoint(np.where)
def where_bar(y, cond, a=None, b=None, *, y_bar):
    return (None, unbroadcast(np.where(cond, y_bar, 0.0), a),
            unbroadcast(np.where(cond, 0.0, y_bar), b))


# y = np.clip(a, a_min, a_max): y == a inside the bounds; elsewhere y is the bound it hit


def clip_upper(y, a, a_max):
    """Where `clip` replaced `a` by `a_max` (the bound takes the derivative there)."""
    return (y != a) & (y == a_max)


def clip_lower(y, a, a_max):
    """Where `clip` replaced `a` by `a_min`."""
    return (y != a) & (y != a_max)


nondifferentiable(clip_upper, clip_lower)


@tangent(np.clip)
def clip_dot(y, a, a_min=None, a_max=None, out=None, *, a_dot, a_min_dot, a_max_dot):
    return (a_dot * (y == a) + a_min_dot * clip_lower(y, a, a_max)
            + a_max_dot * clip_upper(y, a, a_max))


@adjoint(np.clip)
def clip_bar(y, a, a_min=None, a_max=None, out=None, *, y_bar):
    return (unbroadcast(y_bar * (y == a), a),
            unbroadcast(y_bar * clip_lower(y, a, a_max), a_min),
            unbroadcast(y_bar * clip_upper(y, a, a_max), a_max))


@tangent("ndarray.clip")
def ndarray_clip_dot(y, a, min=None, max=None, out=None, *, a_dot, min_dot, max_dot):
    return a_dot * (y == a) + min_dot * clip_lower(y, a, max) + max_dot * clip_upper(y, a, max)


@adjoint("ndarray.clip")
def ndarray_clip_bar(y, a, min=None, max=None, out=None, *, y_bar):
    return (unbroadcast(y_bar * (y == a), a),
            unbroadcast(y_bar * clip_lower(y, a, max), min),
            unbroadcast(y_bar * clip_upper(y, a, max), max))
