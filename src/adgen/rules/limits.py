"""Helpers that give derivatives the limits NumPy users expect at edge values.

A derivative formula can be `0 * inf` or `0 / 0` where the function itself is perfectly
smooth, or constant; these helpers compute the product or quotient and put the limit there:

- `scaled_power(c, a, e)` is `c * a ** e`, and 0 where `c` is 0. The derivative of `a ** b`
  in `a` is `scaled_power(b, a, b - 1)`: 0 for `b = 0` even at `a = 0` (`a ** 0` is the
  constant 1), where `0.0 ** -1.0` would raise `ZeroDivisionError` for Python floats and give
  `0 * inf = nan` in NumPy. Where `c` is not 0 and `a ** e` is infinite (`a = 0`, `e < 0`:
  the slope of `sqrt` at 0) the result is an infinity, as in NumPy, for Python floats too.
- `scaled_log(s, a)` is `s * log(a)`, and 0 where `s` is 0. The derivative of `a ** b` in `b`
  is `scaled_log(a ** b, a)`: 0 at `a = 0` for `b > 0` (`0 ** b` is the constant 0 there),
  where `0 * log(0)` is `nan`. For `a < 0` it is `nan` (`a ** b` is not real around `b`).
- `divide_or_zero(n, d)` is `n / d`, and 0 where `d` is 0. `np.std` divides by the standard
  deviation: over a slice whose values are all equal (a length-1 axis above all, where `std`
  is the constant 0) its derivative is taken as 0, as for `abs` and the 2-norm at 0. The
  same convention holds for `math.hypot`/`np.hypot` at `(0, 0)`.

Python numbers stay Python numbers (no NumPy call on scalar paths); arrays are computed
elementwise with NumPy's floating-point warnings silenced where the limit replaces them.
Each helper has tangent and adjoint rules written with the helpers themselves, so the
derivatives can be differentiated again at any order.
"""

import math
import operator

import gast
import numpy as np

from adgen.rules.registry import adjoint, folds, tangent
from adgen.runtime import unbroadcast

_NUMBERS = (float, int)


def _zero_where(mask, value):
    """`value` with zeros where `mask` holds (a NumPy scalar for 0-d results)."""
    return np.where(mask, np.zeros_like(value), value)[()]


def scaled_power(c, a, e):
    """`c * a ** e`, and 0 where `c` is 0 (even where `a ** e` is infinite)."""
    if type(c) in _NUMBERS and type(a) in _NUMBERS and type(e) in _NUMBERS:
        if c == 0:
            return 0.0
        if a == 0 and e < 0:
            return c * math.inf
        return c * a ** e
    with np.errstate(divide="ignore", invalid="ignore"):
        value = c * np.power(a, e)
    return _zero_where(np.equal(c, 0), value)


def scaled_log(s, a):
    """`s * log(a)`, and 0 where `s` is 0 (even where `log(a)` is infinite)."""
    if type(s) in _NUMBERS and type(a) in _NUMBERS:
        if s == 0:
            return 0.0
        return s * (math.log(a) if a > 0 else -math.inf if a == 0 else math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = s * np.log(a)
    return _zero_where(np.equal(s, 0), value)


def divide_or_zero(n, d):
    """`n / d`, and 0 where `d` is 0."""
    if type(n) in _NUMBERS and type(d) in _NUMBERS:
        return n / d if d != 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.divide(n, d)
    return _zero_where(np.equal(d, 0), value)


# y = c * a ** e


@tangent(scaled_power)
def scaled_power_dot(y, c, a, e, *, c_dot, a_dot, e_dot):
    return (scaled_power(c_dot, a, e) + scaled_power(a_dot * c * e, a, e - 1.0)
            + scaled_log(e_dot * y, a))


@adjoint(scaled_power)
def scaled_power_bar(y, c, a, e, *, y_bar):
    return (unbroadcast(scaled_power(y_bar, a, e), c),
            unbroadcast(scaled_power(y_bar * c * e, a, e - 1.0), a),
            unbroadcast(scaled_log(y_bar * y, a), e))


# y = s * log(a)


@tangent(scaled_log)
def scaled_log_dot(y, s, a, *, s_dot, a_dot):
    return scaled_log(s_dot, a) + scaled_power(a_dot * s, a, -1.0)


@adjoint(scaled_log)
def scaled_log_bar(y, s, a, *, y_bar):
    return unbroadcast(scaled_log(y_bar, a), s), unbroadcast(scaled_power(y_bar * s, a, -1.0), a)


# y = n / d


@tangent(divide_or_zero)
def divide_or_zero_dot(y, n, d, *, n_dot, d_dot):
    return divide_or_zero(n_dot, d) - divide_or_zero(d_dot * y, d)


@adjoint(divide_or_zero)
def divide_or_zero_bar(y, n, d, *, y_bar):
    return unbroadcast(divide_or_zero(y_bar, d), n), unbroadcast(-divide_or_zero(y_bar * y, d), d)


# ---------------------------------------------------------------- powers


@folds(scaled_power)
def _constant_power(c, a, e):
    """With a constant exponent `e >= 0`, `a ** e` is finite everywhere: plain arithmetic
    (`x ** 2` differentiates to `x_dot * 2 * x`, no helper call)."""
    e = _constant(e)
    if e is None or e < 0:
        return None
    if e == 0:
        return c
    power = a if e == 1 else gast.BinOp(left=a, op=gast.Pow(), right=_number(e))
    return gast.BinOp(left=c, op=gast.Mult(), right=power)


def _constant(node):
    """The number a tree of constants and `+ - *` computes, or None."""
    if isinstance(node, gast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _constant(node.operand)
        return None if inner is None else -inner
    if isinstance(node, gast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _constant(node.left), _constant(node.right)
        if left is not None and right is not None:
            return _ARITHMETIC[type(node.op)](left, right)
    return None


def _number(value):
    if value < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-value, kind=None))
    return gast.Constant(value=value, kind=None)


_ARITHMETIC = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul}


# y = a ** b (the operator, np.power, math.pow); `b - 1` keeps an integer exponent an integer


@tangent(operator.pow, np.power, math.pow)
def pow_dot(y, a, b, *, a_dot, b_dot):
    return scaled_power(a_dot * b, a, b - 1) + scaled_log(b_dot * y, a)


@adjoint(operator.pow, np.power, math.pow)
def pow_bar(y, a, b, *, y_bar):
    return (unbroadcast(scaled_power(y_bar * b, a, b - 1), a),
            unbroadcast(scaled_log(y_bar * y, a), b))
