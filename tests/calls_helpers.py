"""User functions in a second module, called from `tests/catalog_calls.py`.

The catalog imports these two ways, `from tests.calls_helpers import square` and
`from tests import calls_helpers as ch` (then `ch.poly(x)`), so that adgen has to resolve a
callee through another module's namespace: its own globals (`SCALE`, `np`, `math`), its own
module-level callees (`uses_square` calls `square` here) and its default arguments.
"""

import math

import numpy as np

SCALE = 1.5


def square(x):
    return x * x


def poly(x, a=1.0, b=0.5):
    return a * x * x + b * x


def softplus(x):
    return math.log(1.0 + math.exp(x))


def scaled_sin(x):
    return SCALE * math.sin(x)


def uses_square(x):
    return square(x) + math.cos(x)


def weighted_norm(v, w):
    return np.sum(w * v * v)


def pair(x, y):
    return x * y, x - y


def horner(coeffs, x):
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc
