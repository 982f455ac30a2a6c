"""Derivative rules for Python's operators and the builtins `abs`, `min`, `max`, `float`.

NumPy's ufuncs of the same operations (`np.add`, `np.multiply`, ...) share these rules.

Binary operators broadcast, so each adjoint sums its contribution back to the argument's shape
with `unbroadcast`; the transformation leaves that call out where the shapes provably agree.
"""

import copy
import operator

import numpy as np

from adgen.rules.registry import (
    adjoint,
    container_result,
    guarded,
    linear,
    nondifferentiable,
    tangent,
)
from adgen.runtime import fill_like, sign, unbroadcast

# y = a + b


@tangent(operator.add, np.add)
def add_dot(y, a, b, *, a_dot, b_dot):
    return a_dot + b_dot


@adjoint(operator.add, np.add)
def add_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar, a), unbroadcast(y_bar, b)


# y = a - b


@tangent(operator.sub, np.subtract)
def sub_dot(y, a, b, *, a_dot, b_dot):
    return a_dot - b_dot


@adjoint(operator.sub, np.subtract)
def sub_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar, a), unbroadcast(-y_bar, b)


# y = a * b


@tangent(operator.mul, np.multiply)
def mul_dot(y, a, b, *, a_dot, b_dot):
    return a_dot * b + a * b_dot


@adjoint(operator.mul, np.multiply)
def mul_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar * b, a), unbroadcast(a * y_bar, b)


# y = a / b


@tangent(operator.truediv, np.divide, np.true_divide)
def truediv_dot(y, a, b, *, a_dot, b_dot):
    return a_dot / b - b_dot * y / b


@adjoint(operator.truediv, np.divide, np.true_divide)
def truediv_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar / b, a), unbroadcast(-y_bar * a / b / b, b)  # not `b * b`: it
    # underflows to 0 for |b| < 1e-154 (ZeroDivisionError for Python floats) where a / b is fine


guarded(operator.truediv, np.divide, np.true_divide, operator.mod, b=1.0, singular=(0.0,))


# y = a ** b: rules/limits.py (0 ** b and a ** 0 take their limits)


# y = a % b  (a - b * floor(a / b))


@tangent(operator.mod)
def mod_dot(y, a, b, *, a_dot, b_dot):
    return a_dot - b_dot * np.floor(a / b)


@adjoint(operator.mod)
def mod_bar(y, a, b, *, y_bar):
    return unbroadcast(y_bar, a), unbroadcast(-y_bar * np.floor(a / b), b)


# y = -x, y = +x


@tangent(operator.neg, np.negative)
def neg_dot(y, x, *, x_dot):
    return -x_dot


@adjoint(operator.neg, np.negative)
def neg_bar(y, x, *, y_bar):
    return -y_bar


@tangent(operator.pos, np.positive)
def pos_dot(y, x, *, x_dot):
    return x_dot


@adjoint(operator.pos, np.positive)
def pos_bar(y, x, *, y_bar):
    return y_bar


# y = abs(x); the derivative at 0 is taken to be 0


@tangent(abs, operator.abs)
def abs_dot(y, x, *, x_dot):
    return x_dot * sign(x)


@adjoint(abs, operator.abs)
def abs_bar(y, x, *, y_bar):
    return y_bar * sign(x)


# y = max(a, b), y = min(a, b); on a tie the first argument takes the whole derivative


@tangent(max)
def max_dot(y, a, b, *, a_dot, b_dot):
    return a_dot if a >= b else b_dot


@adjoint(max)
def max_bar(y, a, b, *, y_bar):
    return (y_bar if a >= b else 0.0), (0.0 if a >= b else y_bar)


@tangent(min)
def min_dot(y, a, b, *, a_dot, b_dot):
    return a_dot if a <= b else b_dot


@adjoint(min)
def min_bar(y, a, b, *, y_bar):
    return (y_bar if a <= b else 0.0), (0.0 if a <= b else y_bar)


# y = float(x)

linear(float)


@adjoint(float)
def float_bar(y, x, *, y_bar):
    return y_bar


nondifferentiable(
    operator.floordiv, operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
    operator.ne, operator.not_, operator.is_, operator.is_not, operator.contains,
    operator.and_, operator.or_, operator.xor, operator.invert, operator.lshift,
    operator.rshift, round, int, bool, len, range, isinstance, type, print,
)


# y = sum(xs) over a list, tuple or array


@tangent(sum)
def sum_dot(y, xs, start=0, *, xs_dot, start_dot):
    return sum(xs_dot) + start_dot


@adjoint(sum)
def sum_bar(y, xs, start=0, *, y_bar):
    return fill_like(xs, y_bar), y_bar


linear(copy.copy, copy.deepcopy)  # a copy of the tangent; the adjoint passes back
container_result(copy.copy, copy.deepcopy)  # perhaps a list or a dict: adjoints add by item


@adjoint(copy.copy, copy.deepcopy)
def copy_module_bar(y, x, *, y_bar):
    return y_bar
