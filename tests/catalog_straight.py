"""A catalog of straight-line functions (no loops, no branches) for gradient checks.

Each entry of `CASES` is `(function, args)`: a plain module-level function (or one built by a
factory, for closure constants) and arguments inside its domain, away from kinks, poles and
ties. Between them the functions use every arithmetic operator, augmented assignment, tuple
unpacking and swaps, reuse and overwriting of variables, literal, global and closure constants,
every differentiable `math` function, the builtins `abs`, `min` and `max`, and NumPy
elementwise functions in the `import numpy as np`, `import numpy` and `from numpy import ...`
spellings, with array or `np.sum` outputs. Function names are unique: they are the test ids.
"""

import math

import numpy
import numpy as np
from numpy import cos, exp, sin

SCALE = 2.5
OFFSET = -0.75

# ---------------------------------------------------------------- operators


def op_add(x, y):
    return x + y + 1.0


def op_sub(x, y):
    return x - y - 2.0 - (3.0 - x)


def op_mul(x, y):
    return x * y * 3.0


def op_div(x, y):
    return x / y + 2.0 / y - y / 4.0


def op_neg(x, y):
    return -x * y + (-y)


def op_pos(x):
    return +x * x


def op_pow_constant_exponent(x):
    return x**3 + x**0.5 - x**-1


def op_pow_active_base_and_exponent(x, y):
    return x**y


def op_pow_constant_base(y):
    return 2.0**y


def op_pow_negative_base(x):
    return x**2 + x**3 - 2.0 * x**-2


def op_mod(x, y):
    return x % y


def op_mod_constant(x):
    return x % 1.5 * x


def aug_add(x, y):
    z = x
    z += y
    z += 1.0
    return z * z


def aug_sub(x, y):
    z = x * 2.0
    z -= y
    z -= 0.5
    return z * y


def aug_mul(x, y):
    z = x
    z *= y
    z *= 3.0
    return z


def aug_div(x, y):
    z = x + 1.0
    z /= y
    z /= 2.0
    return z


def aug_self_reference(x):
    z = x + 0.5
    z *= z
    z -= x
    z /= x
    z += z
    return z


def tuple_unpacking(x, y):
    a, b = x * y, x + y
    return a * b


def tuple_swap(x, y):
    a, b = x, y
    a, b = b, a
    return a / b + a * a


def tuple_rotate_three(x, y, z):
    a, b, c = x, y, z
    a, b, c = c, a, b
    return a * b - c / a


def reuse_many_times(x):
    return x * x + x * x * x * x + math.sin(x) * x - x / (x + 1.0)


def overwrite(x):
    x = x * 2
    x = math.sin(x)
    x = x * x + x
    return x


def reuse_temporaries(x, y):
    t = x * y
    u = t * t
    v = u * t + t
    return v / t - u * x


def cancelling_to_constant(x, y):
    t = x * y
    u = t * t
    return (u * t + t) / t - u


def overwrite_array(x):
    x = x * 2.0
    x = np.sin(x)
    x = x * x + x
    return np.sum(x)


def literal_constants(x):
    return 3 * x + 2 - 0.5 * x * 4


def global_constants(x):
    return SCALE * x * x + OFFSET


def make_scaled(c):
    """A factory: the function it returns reads `c` from a closure cell."""

    def scaled_by_closure(x):
        return c * x * x + math.sin(c * x)

    return scaled_by_closure


def inactive_argument(x, n):
    return x * n + n * n


def nested_calls(x, y):
    return math.sin(math.cos(x) * y) + math.exp(-(x * x))


def bishop_example(x1, x2):
    return x1 * x2 + math.exp(x1 * x2) - math.sin(x2)


# ---------------------------------------------------------------- math


def math_exp(x):
    return math.exp(x)


def math_log(x):
    return math.log(x)


def math_log_base(x, b):
    return math.log(x, b)


def math_log_constant_base(x):
    return math.log(x, 10.0)


def math_log1p(x):
    return math.log1p(x)


def math_log2(x):
    return math.log2(x)


def math_log10(x):
    return math.log10(x)


def math_sqrt(x):
    return math.sqrt(x)


def math_sin(x):
    return math.sin(x)


def math_cos(x):
    return math.cos(x)


def math_tan(x):
    return math.tan(x)


def math_asin(x):
    return math.asin(x)


def math_acos(x):
    return math.acos(x)


def math_atan(x):
    return math.atan(x)


def math_atan2(y, x):
    return math.atan2(y, x)


def math_sinh(x):
    return math.sinh(x)


def math_cosh(x):
    return math.cosh(x)


def math_tanh(x):
    return math.tanh(x)


def math_pow(x, y):
    return math.pow(x, y)


def math_hypot(x, y):
    return math.hypot(x, y)


def math_fabs(x):
    return math.fabs(x)


def math_expm1(x):
    return math.expm1(x)


def builtin_abs(x, y):
    return abs(x) * y + abs(y)


def builtin_min(x, y):
    return min(x, y) * x


def builtin_max(x, y):
    return max(x, y) * y


# ---------------------------------------------------------------- numpy, `import numpy as np`


def np_exp(x):
    return np.sum(np.exp(x))


def np_log(x):
    return np.log(x)


def np_log1p(x):
    return np.sum(np.log1p(x))


def np_log2(x):
    return np.log2(x)


def np_log10(x):
    return np.sum(np.log10(x) * x)


def np_sqrt(x):
    return np.sqrt(x)


def np_sin(x):
    return np.sum(np.sin(x))


def np_cos(x):
    return np.cos(x) * 2.0


def np_tan(x):
    return np.sum(np.tan(x))


def np_arcsin(x):
    return np.arcsin(x)


def np_arccos(x):
    return np.sum(np.arccos(x))


def np_arctan(x):
    return np.arctan(x)


def np_arctan2(y, x):
    return np.sum(np.arctan2(y, x))


def np_sinh(x):
    return np.sinh(x)


def np_cosh(x):
    return np.sum(np.cosh(x))


def np_tanh(x):
    return np.tanh(x)


def np_power_active_exponent(x, y):
    return np.sum(np.power(x, y))


def np_power_constant_exponent(x):
    return np.power(x, 3.0)


def np_hypot(x, y):
    return np.hypot(x, y)


def np_abs(x):
    return np.sum(np.abs(x) * x)


def np_fabs(x):
    return np.fabs(x)


def np_expm1(x):
    return np.sum(np.expm1(x))


def np_square(x):
    return np.square(x)


def np_reciprocal(x):
    return np.sum(np.reciprocal(x))


def np_maximum(x, y):
    return np.maximum(x, y)


def np_minimum(x, y):
    return np.sum(np.minimum(x, y) * x)


def np_negative(x):
    return np.negative(x) * x


def np_operators_broadcast(x, s):
    return np.sum((x * s - s / x) ** 2 + x % 2.0)


def np_float32_tanh(x):
    return np.sum(np.tanh(x) * x)


def np_float32_mixed(x, y):
    return np.sin(x) * y + np.exp(y)


# ---------------------------------------------------------------- other NumPy spellings


def numpy_module_spelling(x):
    return numpy.sum(numpy.exp(x) * numpy.sin(x) + numpy.sqrt(x))


def numpy_from_import(x):
    return exp(x) * sin(x) - cos(x)


def bishop_example_arrays(x1, x2):
    return np.sum(x1 * x2 + exp(x1 * x2) - np.sin(x2))


# ---------------------------------------------------------------- the cases


def _a(*values, dtype=np.float64):
    return np.array(values, dtype=dtype)


POSITIVE = _a(0.3, 0.7, 1.6)
MIXED = _a(-0.4, 0.2, 0.9)
UNIT = _a(-0.6, 0.1, 0.45)

CASES = [
    (op_add, (1.3, -0.4)),
    (op_sub, (1.3, -0.4)),
    (op_mul, (1.3, -0.4)),
    (op_div, (1.3, -0.8)),
    (op_neg, (1.3, -0.4)),
    (op_pos, (1.3,)),
    (op_pow_constant_exponent, (1.7,)),
    (op_pow_active_base_and_exponent, (1.7, 2.3)),
    (op_pow_constant_base, (1.2,)),
    (op_pow_negative_base, (-1.3,)),
    (op_mod, (5.3, 2.0)),
    (op_mod_constant, (2.2,)),
    (aug_add, (1.3, -0.4)),
    (aug_sub, (1.3, -0.4)),
    (aug_mul, (1.3, -0.4)),
    (aug_div, (1.3, -0.8)),
    (aug_self_reference, (1.3,)),
    (tuple_unpacking, (1.3, -0.4)),
    (tuple_swap, (1.3, -0.8)),
    (tuple_rotate_three, (1.3, -0.4, 0.7)),
    (reuse_many_times, (0.9,)),
    (reuse_temporaries, (1.3, -0.4)),
    (cancelling_to_constant, (1.3, -0.4)),
    (overwrite, (0.6,)),
    (overwrite_array, (MIXED,)),
    (literal_constants, (1.3,)),
    (global_constants, (1.3,)),
    (make_scaled(1.7), (0.4,)),
    (inactive_argument, (1.3, 3)),
    (nested_calls, (0.5, 1.2)),
    (bishop_example, (1.5, 0.5)),
    (math_exp, (0.6,)),
    (math_log, (1.9,)),
    (math_log_base, (1.9, 3.0)),
    (math_log_constant_base, (1.9,)),
    (math_log1p, (0.4,)),
    (math_log2, (1.9,)),
    (math_log10, (1.9,)),
    (math_sqrt, (1.9,)),
    (math_sin, (0.6,)),
    (math_cos, (0.6,)),
    (math_tan, (0.6,)),
    (math_asin, (0.3,)),
    (math_acos, (0.3,)),
    (math_atan, (0.6,)),
    (math_atan2, (0.6, -1.1)),
    (math_sinh, (0.6,)),
    (math_cosh, (0.6,)),
    (math_tanh, (0.6,)),
    (math_pow, (1.7, 2.3)),
    (math_hypot, (0.6, -1.1)),
    (math_fabs, (-0.8,)),
    (math_expm1, (0.6,)),
    (builtin_abs, (-0.8, 1.1)),
    (builtin_min, (-0.8, 1.1)),
    (builtin_max, (-0.8, 1.1)),
    (np_exp, (MIXED,)),
    (np_log, (POSITIVE,)),
    (np_log1p, (POSITIVE,)),
    (np_log2, (POSITIVE,)),
    (np_log10, (POSITIVE,)),
    (np_sqrt, (POSITIVE,)),
    (np_sin, (MIXED,)),
    (np_cos, (MIXED,)),
    (np_tan, (MIXED,)),
    (np_arcsin, (UNIT,)),
    (np_arccos, (UNIT,)),
    (np_arctan, (MIXED,)),
    (np_arctan2, (MIXED, _a(1.1, -0.7, 0.4))),
    (np_sinh, (MIXED,)),
    (np_cosh, (MIXED,)),
    (np_tanh, (MIXED,)),
    (np_power_active_exponent, (POSITIVE, _a(2.0, -0.5, 1.3))),
    (np_power_constant_exponent, (MIXED,)),
    (np_hypot, (MIXED, _a(1.1, -0.7, 0.4))),
    (np_abs, (MIXED,)),
    (np_fabs, (MIXED,)),
    (np_expm1, (MIXED,)),
    (np_square, (MIXED,)),
    (np_reciprocal, (MIXED,)),
    (np_maximum, (MIXED, _a(0.1, 0.5, -0.3))),
    (np_minimum, (MIXED, _a(0.1, 0.5, -0.3))),
    (np_negative, (MIXED,)),
    (np_operators_broadcast, (POSITIVE, 1.3)),
    (np_float32_tanh, (MIXED.astype(np.float32),)),
    (np_float32_mixed, (MIXED.astype(np.float32), _a(0.5, 1.5, -1.0, dtype=np.float32))),
    (numpy_module_spelling, (POSITIVE,)),
    (numpy_from_import, (MIXED,)),
    (bishop_example_arrays, (_a(1.5, -0.3), _a(0.5, 0.8))),
]
